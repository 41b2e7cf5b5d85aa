"""A journaled order as a test needs one, without spelling out the journal's twelve fields."""

from __future__ import annotations

from decimal import Decimal

from tradewarden.bot.model.order_state import OrderState
from tradewarden.bot.model.orders import JournaledOrder, OrderIntent


def journaled(
    intent: OrderIntent,
    client_order_id: str = "twabc-1",
    *,
    sequence: int = 1,
    state: OrderState = OrderState.OPEN,
    filled: str = "0",
    average_price: str | None = None,
    exchange_order_id: str | None = None,
    attempts: int = 1,
    created_at: float = 0.0,
    updated_at: float = 0.0,
    last_error: str | None = None,
    venue_client_id: str | None = None,
) -> JournaledOrder:
    """``intent`` as a journal row: working (OPEN), unfilled, sent once, at time 0.

    Every field the journal keeps can be overridden; amounts are decimal
    strings. The venue knows the order by its own id unless ``venue_client_id``
    says otherwise (as after a rotation).
    """
    return JournaledOrder(
        client_order_id=client_order_id,
        sequence=sequence,
        intent=intent,
        state=state,
        filled=Decimal(filled),
        average_price=None if average_price is None else Decimal(average_price),
        exchange_order_id=exchange_order_id,
        attempts=attempts,
        created_at=created_at,
        updated_at=updated_at,
        last_error=last_error,
        venue_client_id=client_order_id if venue_client_id is None else venue_client_id,
    )
