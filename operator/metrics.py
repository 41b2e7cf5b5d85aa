"""The operator's Prometheus metrics: reconcile time, flips by reason, bots by phase."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from tradewarden.api.tradingbot import Phase


class OperatorMetrics:
    """``tradewarden_operator_*`` in their own registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.reconcile_seconds = Histogram(
            "tradewarden_operator_reconcile_seconds",
            "Time to render and apply one TradingBot's children.",
            registry=self.registry,
        )
        self.flips = Counter(
            "tradewarden_operator_flips_total",
            "Phase changes written to TradingBot status, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.bots = Gauge(
            "tradewarden_operator_bots",
            "TradingBots by phase.",
            ["phase"],
            registry=self.registry,
        )
        self._phases: dict[tuple[str, str], Phase] = {}
        for phase in Phase:
            self.bots.labels(phase=phase.value).set(0)

    def observe_phase(self, namespace: str, name: str, phase: Phase | None) -> None:
        """Record a bot's phase; ``None`` forgets a deleted bot."""
        key = (namespace, name)
        before = self._phases.pop(key, None)
        if before is not None:
            self.bots.labels(phase=before.value).dec()
        if phase is not None:
            self._phases[key] = phase
            self.bots.labels(phase=phase.value).inc()
