"""What a posture cancels among working orders, and how Flatten closes positions."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.support.orders import journaled
from tradewarden.api.tradingbot import EmergencyAction, EmergencyStop, TradingMode
from tradewarden.bot.model.orders import (
    Cancel,
    JournaledOrder,
    OrderIntent,
    OrderType,
    Place,
    Purpose,
    Side,
)
from tradewarden.bot.posture import Posture, Restriction, decide_posture
from tradewarden.bot.reliability.enforcement import close_position, enforce

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


def order(name: str, symbol: str, side: Side, purpose: Purpose) -> JournaledOrder:
    kind = OrderType.STOP_MARKET if purpose is Purpose.STOP else OrderType.LIMIT
    intent = OrderIntent(
        symbol,
        side,
        kind,
        Decimal("0.5"),
        Decimal(100),
        reduce_only=purpose is not Purpose.ENTRY,
        purpose=purpose,
    )
    return journaled(intent, name)


ENTRY = order("entry", BTC, Side.BUY, Purpose.ENTRY)
EXIT = order("exit", BTC, Side.SELL, Purpose.EXIT)
STOP = order("stop", BTC, Side.SELL, Purpose.STOP)
ETH_ENTRY = order("eth-entry", ETH, Side.BUY, Purpose.ENTRY)
WORKING = (ENTRY, EXIT, STOP, ETH_ENTRY)


def posture(
    action: EmergencyAction | None = None, *restrictions: Restriction, paused: bool = False
) -> Posture:
    stop = None if action is None else EmergencyStop(action=action, reason="oncall")
    return decide_posture(paused, stop, restrictions)


STALE_BTC = Restriction("guard.markStaleness", TradingMode.REDUCE_ONLY, "stale", BTC)
KILL = Restriction("guard.killSwitch", TradingMode.HALTED, "divergence")

# (case, posture, BTC position, cancelled order ids, closing orders placed)
TABLE = [
    ("active keeps everything", posture(), "0.5", set(), []),
    ("paused cancels entries", posture(paused=True), "0.5", {"entry", "eth-entry"}, []),
    (
        "ReduceOnly cancels entries",
        posture(EmergencyAction.REDUCE_ONLY),
        "0.5",
        {"entry", "eth-entry"},
        [],
    ),
    (
        "a symbol pause cancels that symbol's entries",
        posture(None, STALE_BTC),
        "0.5",
        {"entry"},
        [],
    ),
    (
        "Halt keeps only stops",
        posture(EmergencyAction.HALT),
        "0.5",
        {"entry", "exit", "eth-entry"},
        [],
    ),
    (
        "kill switch keeps only stops",
        posture(None, KILL),
        "0.5",
        {"entry", "exit", "eth-entry"},
        [],
    ),
    (
        "Flatten with a closing exit working keeps it and the stop",
        posture(EmergencyAction.FLATTEN),
        "0.5",
        {"entry", "eth-entry"},
        [],
    ),
]


@pytest.mark.parametrize(
    ("decided", "position", "cancelled", "placed"),
    [pytest.param(*row[1:], id=row[0]) for row in TABLE],
)
def test_enforce(
    decided: Posture, position: str, cancelled: set[str], placed: list[OrderIntent]
) -> None:
    commands = enforce(decided, WORKING, {BTC: Decimal(position)})

    assert {c.client_order_id for c in commands if isinstance(c, Cancel)} == cancelled
    assert [c.intent for c in commands if isinstance(c, Place)] == placed


def test_flatten_closes_a_position_and_keeps_its_stop_until_flat() -> None:
    flatten = posture(EmergencyAction.FLATTEN)
    commands = enforce(flatten, (ENTRY, STOP), {BTC: Decimal("0.5"), ETH: Decimal("-0.2")})

    assert {c.client_order_id for c in commands if isinstance(c, Cancel)} == {"entry"}
    assert [c.intent for c in commands if isinstance(c, Place)] == [
        close_position(BTC, Decimal("0.5")),
        close_position(ETH, Decimal("-0.2")),
    ]
    flat = enforce(flatten, (STOP,), {BTC: Decimal(0)})
    assert flat == [Cancel("stop", "flatten: cancel everything")]


@pytest.mark.parametrize(("size", "side"), [("0.5", Side.SELL), ("-0.3", Side.BUY)])
def test_closing_orders_are_reduce_only_market_exits(size: str, side: Side) -> None:
    intent = close_position(BTC, Decimal(size))
    assert intent.side is side
    assert intent.quantity == abs(Decimal(size))
    assert intent.order_type is OrderType.MARKET
    assert intent.reduce_only
    assert intent.purpose is Purpose.EXIT
