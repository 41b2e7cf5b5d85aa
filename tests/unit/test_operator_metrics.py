"""Operator metrics: bots by phase follow each bot's latest phase; deleted bots drop out."""

from __future__ import annotations

from prometheus_client import generate_latest

from tradewarden.api.tradingbot import Phase
from tradewarden.operator.metrics import OperatorMetrics


def gauge(metrics: OperatorMetrics, phase: Phase) -> float | None:
    value = metrics.registry.get_sample_value("tradewarden_operator_bots", {"phase": phase.value})
    return value


def test_bots_by_phase_counts_each_bot_once() -> None:
    metrics = OperatorMetrics()
    metrics.observe_phase("dev", "a", Phase.PENDING)
    metrics.observe_phase("dev", "b", Phase.PENDING)
    metrics.observe_phase("dev", "a", Phase.RUNNING)
    metrics.observe_phase("dev", "a", Phase.RUNNING)
    assert (gauge(metrics, Phase.PENDING), gauge(metrics, Phase.RUNNING)) == (1, 1)
    metrics.observe_phase("dev", "b", None)
    assert (gauge(metrics, Phase.PENDING), gauge(metrics, Phase.RUNNING)) == (0, 1)
    assert gauge(metrics, Phase.ABORTED) == 0


def test_every_operator_metric_is_exported() -> None:
    metrics = OperatorMetrics()
    metrics.flips.labels(reason="DriftDetected").inc()
    with metrics.reconcile_seconds.time():
        pass
    text = generate_latest(metrics.registry).decode()
    assert 'tradewarden_operator_flips_total{reason="DriftDetected"} 1.0' in text
    assert "tradewarden_operator_reconcile_seconds_count 1.0" in text
    assert 'tradewarden_operator_bots{phase="Running"} 0.0' in text
