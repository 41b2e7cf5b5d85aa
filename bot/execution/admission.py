"""May this intent be sent now? Posture and risk limits, as pure logic.

Reduce-only is judged against the *actual* position and what is already
working to reduce it, so a "reduce" can never flip the position.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from tradewarden.api.tradingbot import RiskSpec, TradingMode
from tradewarden.bot.model.orders import JournaledOrder, OrderIntent, Purpose
from tradewarden.bot.model.outcomes import RefusalKind


@dataclass(frozen=True)
class Exposure:
    """The position and the live orders that may still change it."""

    position: Decimal
    working: tuple[JournaledOrder, ...]

    def pending(self, sign: int, reduce_only: bool | None = None, *, stops: bool = True) -> Decimal:
        """Unfilled quantity of working orders on one side (optionally one kind)."""
        return sum(
            (
                order.remaining
                for order in self.working
                if order.intent.side.sign == sign
                and (reduce_only is None or order.intent.reduce_only == reduce_only)
                and (stops or order.intent.purpose is not Purpose.STOP)
            ),
            Decimal(0),
        )


def refusal_kind(reason: str) -> RefusalKind:
    """The kind a refusal message starts with (``OTHER`` for an unknown one)."""
    prefix = reason.split(":", 1)[0]
    return next((kind for kind in RefusalKind if kind.value == prefix), RefusalKind.OTHER)


def working_orders(orders: Iterable[JournaledOrder]) -> tuple[JournaledOrder, ...]:
    """The non-terminal orders among ``orders``."""
    return tuple(order for order in orders if not order.state.is_terminal)


def refusal(
    intent: OrderIntent,
    mode: TradingMode,
    exposure: Exposure,
    risk: RiskSpec,
    mark: Decimal,
    *,
    flattening: bool = False,
) -> str | None:
    """Why ``intent`` may not be sent, or ``None`` if it may.

    ``flattening`` (emergencyStop Flatten) lets reduce-only exits through a halt
    so positions can be closed; they are still held to the actual position.
    """
    closing = flattening and intent.purpose is Purpose.EXIT
    if mode is TradingMode.HALTED and intent.purpose is not Purpose.STOP and not closing:
        return f"{RefusalKind.HALTED}: only protective stops are maintained"
    if intent.reduce_only:
        return _reduce_refusal(intent, exposure)
    if mode is TradingMode.REDUCE_ONLY:
        return f"{RefusalKind.REDUCE_ONLY}: new exposure is blocked"
    notional = intent.quantity * (intent.price or mark)
    if notional > risk.max_order_notional:
        return (
            f"{RefusalKind.MAX_ORDER_NOTIONAL}: order notional {notional} exceeds "
            f"maxOrderNotional {risk.max_order_notional}"
        )
    sign = intent.side.sign
    worst = exposure.position + sign * (exposure.pending(sign, reduce_only=False) + intent.quantity)
    if abs(worst) > risk.max_position:
        return (
            f"{RefusalKind.MAX_POSITION}: position could reach {worst}, "
            f"beyond maxPosition {risk.max_position}"
        )
    return None


def _reduce_refusal(intent: OrderIntent, exposure: Exposure) -> str | None:
    sign = intent.side.sign
    if exposure.position == 0 or (exposure.position > 0) == (sign > 0):
        return (
            f"{RefusalKind.NOT_REDUCING}: reduce-only {intent.side} would not reduce "
            f"position {exposure.position}"
        )
    # A protective stop covers the position by itself: it neither adds to the
    # closing orders already working nor blocks one (the venue's reduce-only
    # flag stops whichever fills second).
    already = exposure.pending(sign, reduce_only=True, stops=False)
    if intent.purpose is Purpose.STOP:
        already = Decimal(0)
    if already + intent.quantity > abs(exposure.position):
        return (
            f"{RefusalKind.NOT_REDUCING}: reduce-only {intent.quantity} plus working "
            f"{already} exceeds position {exposure.position}"
        )
    return None
