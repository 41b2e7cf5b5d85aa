"""TradingBot manifests: the example loads, defaults follow DESIGN.md, errors name the field."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.manifests import EXAMPLE, example_manifest
from tradewarden.api.manifest import ManifestError, load_manifest, parse_manifest
from tradewarden.api.tradingbot import EmergencyAction, TradingBot


def write(tmp_path: Path, document: Any, name: str = "bot.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def test_example_manifest_loads() -> None:
    bot = load_manifest(EXAMPLE)

    assert isinstance(bot, TradingBot)
    assert bot.metadata.name == "btc-grid-sim"
    assert bot.spec.symbol == "BTC/USDT:USDT"
    assert bot.spec.exchange.url_override == "http://127.0.0.1:18080"
    assert bot.spec.risk.max_position == Decimal("0.02")
    assert bot.spec.risk.max_order_notional == Decimal("2000")
    assert bot.spec.strategy.type == "grid"
    assert bot.spec.execution.reconcile_interval_seconds == 2
    assert bot.spec.exchange.credentials_secret == "sim-credentials"
    assert bot.spec.emergency_stop is None
    assert bot.spec.paused is False


# (attribute path below spec.guards, DESIGN.md degradation-matrix default)
GUARD_DEFAULTS = [
    ("api_health.error_rate", 0.2),
    ("api_health.rate_limit_usage", 0.9),
    ("api_health.pause_seconds", 300.0),
    ("mark_staleness.pause_seconds", 120.0),
    ("slippage.max_failures", 3),
    ("slippage.pause_seconds", 60.0),
    ("broker_reads.max_consecutive_failures", 3),
    ("broker_reads.pause_seconds", 120.0),
    ("drift.detections_in_a_row", 3),
    ("websocket.max_reconnects", 10),
    ("websocket.backoff_base_seconds", 2.0),
    ("websocket.backoff_multiplier", 2.0),
    ("websocket.backoff_cap_seconds", 60.0),
    ("websocket.jitter", 0.25),
    ("websocket.stable_reset_seconds", 60.0),
    ("websocket.pause_seconds", 300.0),
]


@pytest.mark.parametrize(("attribute", "expected"), GUARD_DEFAULTS)
def test_guard_defaults_follow_the_degradation_matrix(attribute: str, expected: float) -> None:
    value: Any = load_manifest(EXAMPLE).spec.guards
    for part in attribute.split("."):
        value = getattr(value, part)
    assert value == expected


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(document: dict[str, Any]) -> None:
        *parents, leaf = path.split(".")
        node = document
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value

    return mutate


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    def mutate(document: dict[str, Any]) -> None:
        *parents, leaf = path.split(".")
        node = document
        for part in parents:
            node = node[part]
        del node[leaf]

    return mutate


def _live_without_opt_in(document: dict[str, Any]) -> None:
    exchange = document["spec"]["exchange"]
    exchange["sandbox"] = False
    del exchange["urlOverride"]


# (case, mutation of the example, text the error message must contain)
BAD_MANIFESTS = [
    ("missing required field", _drop("spec.risk.maxPosition"), "spec.risk.maxPosition"),
    ("missing symbol", _drop("spec.symbol"), "spec.symbol"),
    ("typo'd field", _set("spec.risk.maxPositon", "1"), "spec.risk.maxPositon"),
    ("snake_case top-level typo", _set("spec.emergency_stp", {}), "spec.emergency_stp"),
    ("negative number", _set("spec.risk.maxPosition", "-1"), "spec.risk.maxPosition"),
    ("zero notional", _set("spec.risk.maxOrderNotional", 0), "spec.risk.maxOrderNotional"),
    (
        "negative guard",
        _set("spec.guards.apiHealth.errorRate", -0.1),
        "spec.guards.apiHealth.errorRate",
    ),
    ("wrong type int", _set("spec.execution.retryBudget", "lots"), "spec.execution.retryBudget"),
    ("wrong type bool", _set("spec.paused", "maybe"), "spec.paused"),
    ("wrong type object", _set("spec.risk", "big"), "spec.risk"),
    (
        "bad emergencyStop.action",
        _set("spec.emergencyStop", {"action": "Panic", "reason": "x"}),
        "spec.emergencyStop.action",
    ),
    (
        "emergencyStop without reason",
        _set("spec.emergencyStop", {"action": "Halt"}),
        "spec.emergencyStop.reason",
    ),
    ("bad environment", _set("spec.environment", "staging"), "spec.environment"),
    ("non-testnet venue without allowLive", _live_without_opt_in, "spec.exchange"),
]


@pytest.mark.parametrize(
    ("mutate", "field_path"),
    [pytest.param(m, p, id=case) for case, m, p in BAD_MANIFESTS],
)
def test_malformed_manifest_names_the_field_in_camel_case(
    tmp_path: Path, mutate: Callable[[dict[str, Any]], None], field_path: str
) -> None:
    document = example_manifest()
    mutate(document)
    path = write(tmp_path, document)

    with pytest.raises(ManifestError) as caught:
        load_manifest(path)

    message = str(caught.value)
    assert f"{field_path}:" in message
    assert str(path) in message
    assert any(problem.startswith(f"{field_path}:") for problem in caught.value.problems)


def test_non_testnet_venue_error_says_allow_live(tmp_path: Path) -> None:
    document = example_manifest()
    _live_without_opt_in(document)

    with pytest.raises(ManifestError, match="allowLive"):
        load_manifest(write(tmp_path, document))


def test_non_testnet_venue_with_allow_live_loads(tmp_path: Path) -> None:
    document = example_manifest()
    _live_without_opt_in(document)
    document["spec"]["exchange"]["allowLive"] = True

    bot = load_manifest(write(tmp_path, document))

    assert bot.spec.exchange.sandbox is False
    assert bot.spec.exchange.allow_live is True


def test_every_problem_is_reported_not_just_the_first(tmp_path: Path) -> None:
    document = example_manifest()
    document["spec"]["risk"]["maxPosition"] = "-1"
    document["spec"]["execution"]["retryBudget"] = "lots"

    with pytest.raises(ManifestError) as caught:
        load_manifest(write(tmp_path, document))

    paths = {problem.split(":")[0] for problem in caught.value.problems}
    assert paths == {"spec.risk.maxPosition", "spec.execution.retryBudget"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("spec: [unclosed\n", "not valid YAML", id="not YAML"),
        pytest.param("- just\n- a list\n", "expected a mapping", id="a list"),
        pytest.param("just a string\n", "expected a mapping", id="a scalar"),
        pytest.param("", "expected a mapping", id="empty file"),
    ],
)
def test_unusable_documents(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bot.yaml"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(ManifestError, match=expected) as caught:
        load_manifest(path)

    assert caught.value.problems[0].startswith("<root>:")


@pytest.mark.parametrize("name", ["missing.yaml", "a-directory"])
def test_unreadable_file(tmp_path: Path, name: str) -> None:
    (tmp_path / "a-directory").mkdir()
    path = tmp_path / name

    with pytest.raises(ManifestError, match="cannot read") as caught:
        load_manifest(path)

    assert caught.value.source == str(path)


def test_manifest_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="<doc>"):
        parse_manifest("[]", "<doc>")


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ("ReduceOnly", EmergencyAction.REDUCE_ONLY),
        ("Halt", EmergencyAction.HALT),
        ("Flatten", EmergencyAction.FLATTEN),
    ],
)
def test_emergency_stop_parses_every_action(
    tmp_path: Path, action: str, expected: EmergencyAction
) -> None:
    document = example_manifest()
    document["spec"]["emergencyStop"] = {"action": action, "reason": "oncall: venue incident"}

    bot = load_manifest(write(tmp_path, document))

    assert bot.spec.emergency_stop is not None
    assert bot.spec.emergency_stop.action is expected
    assert bot.spec.emergency_stop.reason == "oncall: venue incident"
