"""The /status contract (api/bot_status.py): its wire names, what a reader tolerates, refuses."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tradewarden.api.bot_status import (
    BotStatus,
    ControlStatus,
    GuardStatus,
    HaltBinding,
    OpenOrder,
    PreflightCheck,
    PreflightStatus,
    ProtectionStatus,
    read_bot_status,
)
from tradewarden.api.tradingbot import EmergencyAction, TradingMode

FULL = BotStatus(
    bot="dev/b/uid",
    symbol="BTC/USDT:USDT",
    trading_mode=TradingMode.REDUCE_ONLY,
    marks={"BTC/USDT:USDT": Decimal("50000.10")},
    positions={"BTC/USDT:USDT": Decimal("-0.0030")},
    open_orders=[
        OpenOrder(
            client_order_id="tw1-1",
            side="buy",
            type="limit",
            price=Decimal("49000"),
            quantity=Decimal("0.003"),
            state="OPEN",
        ),
        OpenOrder(client_order_id="tw1-2", side="buy", type="stop_market", quantity=Decimal(1)),
    ],
    preflight=PreflightStatus(passed=True, checks=[PreflightCheck(name="credentials", ok=True)]),
    guards=[GuardStatus(name="slippage", tripped=True, mode=TradingMode.REDUCE_ONLY, until=5.0)],
    protection=ProtectionStatus(protected=True),
    control=ControlStatus(
        enabled=True,
        trading_halt=HaltBinding(name="desk", action=EmergencyAction.HALT, reason="r"),
    ),
)


def test_the_document_keeps_its_camel_case_wire_names() -> None:
    document = FULL.to_json()
    assert list(document) == [
        "bot", "symbol", "dryRun", "ready", "recovered", "tradingMode", "modeReasons", "marks",
        "positions", "openOrders", "journal", "incompleteLifecycles", "executionQueue",
        "lastErrors", "preflight", "guards", "killSwitch", "belief", "drift", "protection",
        "control",
    ]  # fmt: skip
    assert document["openOrders"][0] == {
        "clientOrderId": "tw1-1", "side": "buy", "type": "limit", "price": "49000",
        "quantity": "0.003", "filled": "0", "state": "OPEN",
    }  # fmt: skip
    # Decimals travel as the strings str() gives, trailing zeros and all.
    assert document["positions"] == {"BTC/USDT:USDT": "-0.0030"}
    assert document["tradingMode"] == "ReduceOnly"
    assert document["killSwitch"] == {"engaged": False, "reason": "", "cleanReconciles": 0}
    assert document["belief"] == {"confidence": 1.0, "mismatchStreak": 0, "debt": {}}
    assert document["drift"] == {"detected": False, "strayStreak": 0, "strays": []}
    assert document["protection"] == {"protected": True, "unprotectedSince": None, "stopRepairs": 0}
    assert document["preflight"] == {
        "passed": True,
        "warnOnly": False,
        "checks": [{"name": "credentials", "ok": True, "detail": "", "remediation": ""}],
    }
    assert document["guards"] == [
        {"name": "slippage", "tripped": True, "mode": "ReduceOnly", "reason": "", "until": 5.0,
         "symbol": None},
    ]  # fmt: skip
    assert document["control"] == {
        "tradingHalt": {"name": "desk", "action": "Halt", "reason": "r"},
        "haltsReadable": False, "enabled": True, "apiServerReachable": False,
        "lastContact": None, "leaseHeld": False, "leaseName": None, "operatorAbort": None,
    }  # fmt: skip
    assert read_bot_status(document) == FULL


def test_a_reader_takes_a_sparse_document_as_the_operator_always_did() -> None:
    """Bot and operator roll out apart: what a document leaves out reads as its default."""
    sparse = read_bot_status({"tradingMode": "Active", "fieldOfANewerBot": {"x": 1}})
    assert sparse is not None
    assert (sparse.ready, sparse.recovered, sparse.preflight, sparse.protection) == (
        True, True, None, None
    )  # fmt: skip
    assert sparse.position("BTC/USDT:USDT") == 0
    assert not sparse.kill_switch.engaged
    assert sparse.belief.confidence == 1.0


def test_only_non_protective_orders_are_entries() -> None:
    assert [order.client_order_id for order in FULL.entries()] == ["tw1-1"]


@pytest.mark.parametrize(
    "document",
    [
        [],
        "ok",
        None,
        {"tradingMode": "Sideways"},
        {"positions": {"BTC/USDT:USDT": "lots"}},
        {"openOrders": {"clientOrderId": "a"}},
        {"killSwitch": {"engaged": "maybe"}},
        {"preflight": {"passed": True, "checks": [{"ok": False}]}},
    ],
)
def test_a_document_that_does_not_fit_is_unreadable(document: Any) -> None:
    assert read_bot_status(document) is None
