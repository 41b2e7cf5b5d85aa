"""The drain by deletionPolicy: the stop it sets, when it is done, what its Events say."""

from __future__ import annotations

from typing import Any

import pytest

from tradewarden.api.bot_status import BotStatus
from tradewarden.api.manifest import parse_spec
from tradewarden.api.tradingbot import (
    DeletionPolicy,
    EmergencyAction,
    EmergencyStop,
    TradingBotSpec,
)
from tradewarden.operator.drain import (
    DRAIN_REASON,
    deletion_policy,
    drain_pending,
    drain_stop,
    drained_message,
    draining_message,
)

SYMBOL = "BTC/USDT:USDT"
STOP = {"clientOrderId": "s", "type": "stop_market"}
ENTRY = {"clientOrderId": "e", "type": "limit"}


def bot(mode: str, position: str, *orders: dict[str, str]) -> BotStatus:
    return BotStatus.model_validate(
        {"tradingMode": mode, "positions": {SYMBOL: position}, "openOrders": list(orders)}
    )


def spec(policy: str | None = None, action: str | None = None) -> TradingBotSpec:
    found: dict[str, Any] = {
        "symbol": SYMBOL,
        "risk": {"maxPosition": "0.01", "maxOrderNotional": "1000"},
    }
    if policy is not None:
        found["deletionPolicy"] = policy
    if action is not None:
        found["emergencyStop"] = {"action": action, "reason": "desk"}
    return parse_spec(found)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (spec(), "Halt"),
        (spec("Halt"), "Halt"),
        (spec("Halt", "ReduceOnly"), "Halt"),
        (spec("Halt", "Halt"), None),
        (spec("Halt", "Flatten"), None),
        (spec("Flatten"), "Flatten"),
        (spec("Flatten", "ReduceOnly"), "Flatten"),
        (spec("Flatten", "Halt"), "Flatten"),
        (spec("Flatten", "Flatten"), None),
    ],
)
def test_the_stop_the_drain_sets(spec: TradingBotSpec, expected: str | None) -> None:
    stop = drain_stop(spec)
    wanted = None if expected is None else {"action": expected, "reason": DRAIN_REASON}
    assert (stop and stop.model_dump(mode="json", by_alias=True)) == wanted


def test_a_spec_the_operator_cannot_read_drains_by_halt() -> None:
    """Only a CRD of another version stores one; nothing a person did not ask for is closed."""
    assert deletion_policy(None) is DeletionPolicy.HALT
    assert drain_stop(None) == EmergencyStop(action=EmergencyAction.HALT, reason=DRAIN_REASON)
    assert draining_message(None).startswith("deletionPolicy Halt: emergencyStop Halt;")


@pytest.mark.parametrize(
    ("status", "policy", "pending"),
    [
        (bot("Halted", "0.003", STOP), DeletionPolicy.HALT, None),
        (bot("Halted", "0.003", STOP, ENTRY), DeletionPolicy.HALT, "1 open non-protective"),
        (bot("Active", "0", STOP), DeletionPolicy.HALT, "mode Active"),
        (bot("Halted", "0.003", STOP), DeletionPolicy.FLATTEN, "position 0.003 BTC/USDT:USDT"),
        (bot("Halted", "0", STOP), DeletionPolicy.FLATTEN, "1 protective stops"),
        (bot("Halted", "0"), DeletionPolicy.FLATTEN, None),
        (bot("ReduceOnly", "0"), DeletionPolicy.FLATTEN, "mode ReduceOnly"),
    ],
)
def test_when_the_drain_is_done(
    status: BotStatus, policy: DeletionPolicy, pending: str | None
) -> None:
    found = drain_pending(status, SYMBOL, policy)
    if pending is None:
        assert found is None
    else:
        assert found is not None
        assert pending in found


def test_events_say_what_stays_at_the_venue() -> None:
    assert draining_message(spec()) == (
        "deletionPolicy Halt: emergencyStop Halt; orders are cancelled; the position stays at "
        "the venue with its protective stop"
    )
    assert draining_message(spec("Flatten")) == (
        "deletionPolicy Flatten: emergencyStop Flatten; the position is closed and its "
        "protective stop cancelled before the bot goes"
    )
    assert drained_message(bot("Halted", "-0.002", STOP), SYMBOL, DeletionPolicy.HALT) == (
        "deletionPolicy Halt: no open orders; position -0.002 BTC/USDT:USDT stays at the venue "
        "with 1 protective stop; children go now"
    )
    assert drained_message(bot("Halted", "0"), SYMBOL, DeletionPolicy.FLATTEN) == (
        "deletionPolicy Flatten: flat, no orders left at the venue; children go now"
    )
    assert "pod is not running" in drained_message(None, SYMBOL, DeletionPolicy.HALT)
