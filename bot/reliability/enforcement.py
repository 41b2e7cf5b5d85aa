"""What a posture requires of the orders already working, as pure decisions.

Admission keeps new orders out; this keeps old ones from outliving the mode
that allowed them: ReduceOnly (global or for one symbol) cancels entries,
Halted cancels everything but protective stops, and emergencyStop Flatten
closes positions with reduce-only market orders, then cancels the stops.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from tradewarden.api.tradingbot import TradingMode
from tradewarden.bot.model.orders import (
    Cancel,
    JournaledOrder,
    OrderIntent,
    OrderType,
    Place,
    Purpose,
    Side,
)
from tradewarden.bot.posture import Posture


def forbidden(posture: Posture, order: JournaledOrder) -> str | None:
    """Why ``order`` may not stay working under ``posture``, or ``None``."""
    intent = order.intent
    if posture.flatten:
        return None if intent.purpose is Purpose.EXIT else "flatten: cancel everything"
    mode = posture.mode_for(intent.symbol)
    if mode is TradingMode.HALTED and intent.purpose is not Purpose.STOP:
        return "halted: only protective stops stay"
    if mode is not TradingMode.ACTIVE and not intent.reduce_only:
        return f"{mode.value}: entry orders are cancelled"
    return None


def enforce(
    posture: Posture,
    working: Iterable[JournaledOrder],
    positions: Mapping[str, Decimal],
) -> list[Cancel | Place]:
    """The commands that bring working orders and positions in line with ``posture``.

    Under Flatten: every order but closing exits is cancelled, except that a
    position's stops stay until the position is flat, and a position with no
    closing order working gets a reduce-only market order for its full size.
    """
    orders = list(working)
    commands: list[Cancel | Place] = []
    for order in orders:
        why = forbidden(posture, order)
        unprotects = (
            posture.flatten
            and order.intent.purpose is Purpose.STOP
            and positions.get(order.intent.symbol, Decimal(0)) != 0
        )
        if why is not None and not unprotects:
            commands.append(Cancel(order.client_order_id, why))
    if posture.flatten:
        closing = {o.intent.symbol for o in orders if o.intent.purpose is Purpose.EXIT}
        for symbol, size in sorted(positions.items()):
            if size != 0 and symbol not in closing:
                commands.append(Place(close_position(symbol, size)))
    return commands


def close_position(symbol: str, size: Decimal) -> OrderIntent:
    """A reduce-only market order that closes a signed position ``size``."""
    side = Side.SELL if size > 0 else Side.BUY
    return OrderIntent(
        symbol, side, OrderType.MARKET, abs(size), reduce_only=True, purpose=Purpose.EXIT
    )
