"""Which TradingHalts bind a bot, at which clock, and which wins (with the bot's own stop)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tradewarden.api.halts import (
    Halt,
    HaltError,
    binding_halt,
    halt_from_object,
    in_force,
    selects,
    strictest,
)
from tradewarden.api.tradingbot import EMERGENCY_MODE, EmergencyAction, EmergencyStop, TradingMode
from tradewarden.bot.control.halts import halt_restriction
from tradewarden.bot.posture import decide_posture

NOW = datetime(2026, 12, 3, 20, 0, tzinfo=UTC)
A = EmergencyAction


def halt(name: str = "h", created: str = "2026-12-03T19:00:00Z", **spec: Any) -> Halt:
    body: dict[str, Any] = {"action": "Halt", "reason": "desk call"}
    body.update(spec)
    return halt_from_object(
        {"metadata": {"name": name, "creationTimestamp": created}, "spec": body}
    )


DESK_A = {"desk": "a", "tier": "core"}


@pytest.mark.parametrize(
    ("spec", "namespace", "namespace_labels", "bot_labels", "expected"),
    [
        ({"allBots": True}, "any", {}, {}, True),
        ({"namespaces": ["desk-a"]}, "desk-a", {}, {}, True),
        ({"namespaces": ["desk-a"]}, "desk-b", {}, {}, False),
        ({"selector": {"matchLabels": {"desk": "a"}}}, "x", {}, DESK_A, True),
        ({"selector": {"matchLabels": {"desk": "b"}}}, "x", {}, DESK_A, False),
        ({"selector": {"matchLabels": {"desk": "a"}}}, "x", {}, {}, False),
        (
            {
                "selector": {
                    "matchExpressions": [{"key": "tier", "operator": "In", "values": ["core"]}]
                }
            },
            "x",
            {},
            DESK_A,
            True,
        ),
        (
            {
                "selector": {
                    "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["core"]}]
                }
            },
            "x",
            {},
            DESK_A,
            False,
        ),
        # NotIn and DoesNotExist hold for a label the bot does not carry, as in Kubernetes.
        (
            {
                "selector": {
                    "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["core"]}]
                }
            },
            "x",
            {},
            {},
            True,
        ),
        (
            {"selector": {"matchExpressions": [{"key": "desk", "operator": "Exists"}]}},
            "x",
            {},
            DESK_A,
            True,
        ),
        (
            {"selector": {"matchExpressions": [{"key": "desk", "operator": "DoesNotExist"}]}},
            "x",
            {},
            DESK_A,
            False,
        ),
        ({"namespaceSelector": {"matchLabels": {"env": "prod"}}}, "p", {"env": "prod"}, {}, True),
        ({"namespaceSelector": {"matchLabels": {"env": "prod"}}}, "d", {"env": "dev"}, {}, False),
        # Fail closed: the namespace's labels are not known yet.
        ({"namespaceSelector": {"matchLabels": {"env": "prod"}}}, "d", None, {}, True),
        # Every scope given must hold.
        (
            {"namespaces": ["desk-a"], "selector": {"matchLabels": {"desk": "a"}}},
            "desk-a",
            {},
            {"desk": "b"},
            False,
        ),
        (
            {"namespaces": ["desk-a"], "selector": {"matchLabels": {"desk": "a"}}},
            "desk-b",
            {},
            DESK_A,
            False,
        ),
    ],
)
def test_selects(
    spec: dict[str, Any],
    namespace: str,
    namespace_labels: dict[str, str] | None,
    bot_labels: dict[str, str],
    expected: bool,
) -> None:
    assert selects(halt(**spec).spec, namespace, namespace_labels, bot_labels) is expected


def test_expiry_and_release() -> None:
    expires = NOW + timedelta(minutes=5)
    timed = halt(allBots=True, expiresAt=expires.isoformat())
    assert in_force(timed.spec, NOW)
    assert in_force(timed.spec, expires - timedelta(microseconds=1))
    assert not in_force(timed.spec, expires)
    released = halt(allBots=True, release={"reason": "venue fixed"})
    assert not in_force(released.spec, NOW)
    assert in_force(halt(allBots=True).spec, NOW + timedelta(days=3650))


def test_the_most_restrictive_halt_binds_ties_to_the_oldest() -> None:
    reduce = halt("reduce", action="ReduceOnly", allBots=True)
    flatten = halt("flatten", action="Flatten", namespaces=["desk-a"])
    old_halt = halt("b-old", created="2026-12-03T18:00:00Z", action="Halt", allBots=True)
    new_halt = halt("a-new", created="2026-12-03T19:30:00Z", action="Halt", allBots=True)
    found = binding_halt([reduce, new_halt, old_halt, flatten], "desk-a", {}, {}, NOW)
    assert found == flatten
    found = binding_halt([reduce, new_halt, old_halt, flatten], "desk-b", {}, {}, NOW)
    assert found == old_halt
    assert binding_halt([reduce], "desk-b", {}, {}, NOW) == reduce


def test_an_expired_halt_yields_to_a_weaker_one_in_force() -> None:
    gone = halt("gone", action="Flatten", allBots=True, expiresAt="2026-12-03T19:59:59Z")
    reduce = halt("reduce", action="ReduceOnly", allBots=True)
    assert binding_halt([gone, reduce], "x", {}, {}, NOW) == reduce
    assert binding_halt([gone], "x", {}, {}, NOW) is None


def test_a_malformed_halt_is_reported_by_name() -> None:
    with pytest.raises(HaltError, match="TradingHalt broken"):
        halt_from_object({"metadata": {"name": "broken"}, "spec": {"action": "Halt"}})


def test_strictest_action() -> None:
    assert strictest(None, None) is None
    assert strictest(A.REDUCE_ONLY, None) is A.REDUCE_ONLY
    assert strictest(A.HALT, A.FLATTEN, A.REDUCE_ONLY) is A.FLATTEN


@pytest.mark.parametrize(
    ("own", "paused", "halt_action", "mode", "flatten"),
    [
        # A halt's Flatten beats the bot's own Halt, and the other way round.
        (A.HALT, False, A.FLATTEN, TradingMode.HALTED, True),
        (A.FLATTEN, False, A.REDUCE_ONLY, TradingMode.HALTED, True),
        (A.REDUCE_ONLY, False, A.HALT, TradingMode.HALTED, False),
        (None, True, A.REDUCE_ONLY, TradingMode.REDUCE_ONLY, False),
        (None, True, A.HALT, TradingMode.HALTED, False),
        (None, False, None, TradingMode.ACTIVE, False),
    ],
)
def test_a_halt_combines_with_the_bots_own_stop_and_pause(
    own: EmergencyAction | None,
    paused: bool,
    halt_action: EmergencyAction | None,
    mode: TradingMode,
    flatten: bool,
) -> None:
    stop = EmergencyStop(action=own, reason="oncall") if own else None
    demands = (
        () if halt_action is None else (halt_restriction(halt(action=halt_action, allBots=True)),)
    )
    posture = decide_posture(paused, stop, demands)
    assert (posture.mode, posture.flatten) == (mode, flatten)
    if halt_action is not None and EMERGENCY_MODE[halt_action] is mode:
        assert any(reason.startswith("tradingHalt: TradingHalt h ") for reason in posture.reasons)
