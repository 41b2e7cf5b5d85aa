"""Settle the journal against the venue: after a restart and on every reconcile.

Every non-terminal intent is looked up by its client id. What absence means
depends on the state: a SUBMITTING order not found is abandoned only after a
grace period (its create can still be in flight); a live order the venue no
longer knows is done. Either way absence is judged only once the order's last
journal change is older than the grace: Binance's reads can miss an order it
accepted moments ago (-2013 "Order does not exist."), and calling that order
cancelled would hide the fill that follows.

A reconcile pass that has just read the venue's open orders hands them in as
a snapshot: an order listed there is adopted from it (partial fills
included) without a request of its own; only the others are looked up.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from tradewarden.bot.execution.journal import Journal
from tradewarden.bot.execution.router import OrderRouter
from tradewarden.bot.model.order_state import OrderState
from tradewarden.bot.model.venue import VenueOrder


async def sweep(
    journal: Journal,
    router: OrderRouter,
    *,
    clock: Callable[[], float],
    absent_grace_seconds: float,
    symbol: str | None = None,
    snapshot: Mapping[str, VenueOrder] | None = None,
) -> list[str]:
    """Look up every non-terminal intent and settle what the venue says.

    Returns the orders still absent within their grace period (the journal's
    audit trail records what was settled). Raises
    :class:`~tradewarden.bot.execution.router.LookupFailed` if the venue
    cannot be asked; nothing is decided on a failed lookup.

    ``symbol`` limits the sweep to one symbol; ``snapshot`` maps venue client
    ids to what an open-orders read of that symbol showed.
    """
    still_unknown: list[str] = []
    for order in journal.non_terminal():
        coid = order.client_order_id
        if symbol is not None and order.intent.symbol != symbol:
            continue
        listed = None if snapshot is None else snapshot.get(order.venue_client_id)
        if listed is not None:
            router.adopt(order, listed, "open-orders snapshot")
            continue
        if await router.resolve(order) is not None:
            continue
        if clock() - order.updated_at < absent_grace_seconds:
            still_unknown.append(coid)
        elif order.state is not OrderState.SUBMITTING:
            journal.transition(coid, OrderState.CANCELED, detail="venue no longer knows the order")
        else:
            journal.transition(coid, OrderState.ABANDONED, detail="absent at the venue")
    return still_unknown
