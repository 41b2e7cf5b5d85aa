"""What the venue reports: an order, a waiting stop, a position, an order in the history.

Values as the bot reads them from a ccxt reply (Decimals, journal states), never
the raw reply: :mod:`tradewarden.bot.venue.adapter` parses, refusing to guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from tradewarden.bot.model.order_state import OrderState
from tradewarden.bot.model.orders import Side


@dataclass(frozen=True)
class VenueOrder:
    """An order as the venue reports it.

    ``order_type`` is the venue's (ccxt's) lower-case type: a stop reads
    ``market`` with a ``trigger_price``. ``reduce_only`` is None when the
    reply does not say.
    """

    venue_client_id: str
    exchange_order_id: str
    state: OrderState
    amount: Decimal
    filled: Decimal
    average_price: Decimal | None
    symbol: str
    side: Side
    order_type: str
    price: Decimal | None
    trigger_price: Decimal | None
    reduce_only: bool | None


@dataclass(frozen=True)
class VenueStop:
    """A waiting stop (algo) order as the venue lists it."""

    venue_client_id: str
    side: Side
    # None for a closePosition stop, which closes whatever the position is.
    amount: Decimal | None
    trigger_price: Decimal
    reduce_only: bool
    close_position: bool


@dataclass(frozen=True)
class VenuePosition:
    """One symbol's position as the venue reports it."""

    size: Decimal  # signed: long > 0, short < 0
    entry_price: Decimal | None
    mark_price: Decimal | None


@dataclass(frozen=True)
class PastOrder:
    """One order or stop in the venue's order history (open ones included)."""

    venue_client_id: str
    status: str  # ccxt's: open, closed, canceled, expired, rejected
    stop: bool
