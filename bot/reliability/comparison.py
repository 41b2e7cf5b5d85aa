"""Compare the journal with one read of the venue. Pure logic.

The order states themselves are settled before this runs (each live order
adopted from the open-orders snapshot or looked up by client id), so what is
left to find is disagreement *between* the venue's snapshots and the journal:

- a bot-owned order at the venue the journal never issued (a stray candidate);
- an order open at the venue that the journal had already closed when the
  venue was read (one the journal closes *after* the read, because a lookup
  found it filled since, was simply read a moment before it closed);
- an order the journal holds open that the venue's open lists leave out,
  unless its lookup missed it too within the absence grace: Binance's reads
  lag its writes, so an order it accepted moments ago is simply not shown yet;
- a position that the journal's fills cannot explain. The journal sums every
  fill it adopted; the venue position should differ from that sum by a fixed
  offset (whatever the account held before the journal began), so a change of
  that offset means one of the two snapshots is late or wrong.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from tradewarden.bot.model.order_state import OrderState
from tradewarden.bot.model.orders import JournaledOrder, OrderType
from tradewarden.bot.model.venue import VenueOrder, VenueStop

_SHOWN_OPEN = (OrderState.OPEN, OrderState.PARTIALLY_FILLED)


@dataclass(frozen=True)
class VenueView:
    """What one reconcile read from the venue for one symbol."""

    open_orders: Sequence[VenueOrder]
    open_stops: Sequence[VenueStop]
    position: Decimal


@dataclass(frozen=True)
class Comparison:
    """Disagreements found; empty tuples and False mean journal and venue agree."""

    mismatches: tuple[str, ...]
    unknown_owned: tuple[str, ...]  # bot-owned venue ids the journal never issued
    contradictory: bool


def compare(
    view: VenueView,
    live: Sequence[JournaledOrder],
    owned: Mapping[str, JournaledOrder | None],
    *,
    net_filled: Decimal,
    offset: Decimal | None,
    live_when_read: frozenset[str] = frozenset(),
    unseen: frozenset[str] = frozenset(),
) -> Comparison:
    """Compare one venue view with the journal.

    ``live``: the journal's non-terminal orders of the symbol, already
    settled. ``owned``: every bot-prefixed venue id in the view mapped to its
    journal order (None when the journal never issued it). ``offset``: the
    position the account held apart from the journal's fills, None until known.
    ``live_when_read``: the venue ids the journal held non-terminal when the
    venue's lists were read. ``unseen``: the venue ids of live orders the venue's
    reads do not show yet, within the absence grace (not a mismatch).
    """
    mismatches: list[str] = []
    unknown: list[str] = []
    for venue_id, order in owned.items():
        if order is None:
            unknown.append(venue_id)
        elif order.state.is_terminal and venue_id not in live_when_read:
            mismatches.append(
                f"{order.client_order_id}: open at the venue, journal says {order.state}"
            )
    listed_orders = {o.venue_client_id for o in view.open_orders}
    listed_stops = {s.venue_client_id for s in view.open_stops}
    for order in live:
        if order.state not in _SHOWN_OPEN or order.venue_client_id in unseen:
            continue
        is_stop = order.intent.order_type is OrderType.STOP_MARKET
        if order.venue_client_id not in (listed_stops if is_stop else listed_orders):
            kind = "open stops" if is_stop else "open orders"
            mismatches.append(
                f"{order.client_order_id}: {order.state} in the journal, "
                f"missing from the venue's {kind}"
            )
    expected = None if offset is None else offset + net_filled
    contradictory = expected is not None and view.position != expected
    if contradictory:
        mismatches.append(f"position {view.position} at the venue, journal fills imply {expected}")
    return Comparison(tuple(mismatches), tuple(unknown), contradictory)
