"""What a venue snapshot of one order means for the journal. Pure logic.

Snapshots can be late (a replica behind, a cached reply) and the venue can
contradict us; neither may silently rewrite the journal. A snapshot is
applied only when it is the order the intent asked for (symbol, side, type,
quantity, price within a tick, reduce-only: :func:`mismatch`) and it moves
the order forward along the state machine. An order under the same client id
that is not the intent (an old journal's order, another bot's) is a conflict,
never a fill.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from tradewarden.bot.model.order_state import TRANSITIONS
from tradewarden.bot.model.orders import JournaledOrder, OrderIntent, OrderType
from tradewarden.bot.model.outcomes import Verdict
from tradewarden.bot.model.venue import VenueOrder


@dataclass(frozen=True)
class Judgement:
    """A verdict and the reason for it."""

    verdict: Verdict
    reason: str


def _kind(seen: VenueOrder) -> OrderType | None:
    if seen.trigger_price is not None:
        return OrderType.STOP_MARKET if seen.order_type == "market" else None
    return {"limit": OrderType.LIMIT, "market": OrderType.MARKET}.get(seen.order_type)


def _capped_stop(intent: OrderIntent, seen: VenueOrder) -> bool:
    """A triggered reduce-only stop the venue cut down to the position it could reduce."""
    return (
        intent.order_type is OrderType.STOP_MARKET
        and intent.reduce_only
        and Decimal(0) < seen.amount < intent.quantity
    )


def _price_differs(wanted: Decimal | None, seen: Decimal | None, tick: Decimal) -> bool:
    if wanted is None or seen is None:
        return True
    return abs(seen - wanted) >= tick if tick > 0 else seen != wanted


def mismatch(intent: OrderIntent, seen: VenueOrder, tick: Decimal) -> str | None:
    """Why ``seen`` is not the order ``intent`` asked for, or None when it is.

    Prices (a limit's, a stop's trigger) match within one ``tick`` of the
    symbol (the venue may print them differently); quantities exactly (the bot
    sends them on the step), except that a reduce-only stop may show less: once
    triggered it lives on as an order the venue caps at the position it can
    reduce, which is still this stop. A reply that does not state reduce-only
    is not held against it.
    """
    differences = []
    if seen.symbol != intent.symbol:
        differences.append(f"symbol {seen.symbol}")
    if seen.side is not intent.side:
        differences.append(f"side {seen.side}")
    kind = _kind(seen)
    if kind is not intent.order_type:
        differences.append(f"type {seen.order_type}" + (" stop" if seen.trigger_price else ""))
    if seen.amount != intent.quantity and not _capped_stop(intent, seen):
        differences.append(f"quantity {seen.amount}")
    if kind is intent.order_type is OrderType.LIMIT and _price_differs(
        intent.price, seen.price, tick
    ):
        differences.append(f"price {seen.price}")
    if kind is intent.order_type is OrderType.STOP_MARKET and _price_differs(
        intent.price, seen.trigger_price, tick
    ):
        differences.append(f"trigger {seen.trigger_price}")
    if seen.reduce_only is not None and seen.reduce_only != intent.reduce_only:
        differences.append(f"reduce-only {seen.reduce_only}")
    if not differences:
        return None
    return f"venue order {seen.exchange_order_id} is not this intent: " + ", ".join(differences)


def judge(known: JournaledOrder, seen: VenueOrder, tick: Decimal) -> Judgement:
    """Compare the journal's view of an order with a venue snapshot of it.

    ``tick`` is the symbol's price tick, for :func:`mismatch`.
    """
    different = mismatch(known.intent, seen, tick)
    if different is not None:
        return Judgement(Verdict.CONFLICT, different)
    if seen.filled < known.filled:
        return Judgement(
            Verdict.STALE, f"venue shows filled {seen.filled} < journaled {known.filled}"
        )
    if seen.state is known.state and seen.filled == known.filled:
        return Judgement(Verdict.SAME, "no change")
    if known.state.is_terminal:
        return Judgement(
            Verdict.CONFLICT,
            f"journal says {known.state} (filled {known.filled}), "
            f"venue says {seen.state} (filled {seen.filled})",
        )
    if seen.state in TRANSITIONS[known.state] or seen.state is known.state:
        return Judgement(Verdict.APPLY, f"{known.state} -> {seen.state}")
    # A move the lifecycle cannot make from here (REJECTED after OPEN, say):
    # keep the journal and let the mismatch count speak.
    return Judgement(Verdict.STALE, f"venue shows {seen.state} while journal says {known.state}")
