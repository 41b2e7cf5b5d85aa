"""What the strategy asks for, and what the journal remembers about it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from tradewarden.bot.model.order_state import OrderState


class Side(StrEnum):
    """Order side in ccxt's spelling."""

    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        """+1 for buys, -1 for sells: the sign of the position change."""
        return 1 if self is Side.BUY else -1


class OrderType(StrEnum):
    """Order types the bot sends."""

    MARKET = "market"
    LIMIT = "limit"
    # A protective stop: ``price`` is its trigger; it becomes a market order when hit.
    STOP_MARKET = "stop_market"


class Purpose(StrEnum):
    """Why an order exists; posture and reconciliation treat them differently."""

    ENTRY = "entry"  # may add exposure
    EXIT = "exit"  # reduce-only close
    STOP = "stop"  # protective stop, kept through pauses


@dataclass(frozen=True)
class OrderIntent:
    """An order the strategy wants, before it has an id."""

    symbol: str
    side: Side
    order_type: OrderType
    quantity: Decimal
    price: Decimal | None = None
    reduce_only: bool = False
    purpose: Purpose = Purpose.ENTRY

    def __post_init__(self) -> None:
        if self.quantity <= 0:
            raise ValueError("quantity must be positive")
        if (self.order_type is not OrderType.MARKET) != (self.price is not None):
            raise ValueError("limit and stop orders need a price; market orders must not have one")
        if self.order_type is OrderType.STOP_MARKET and self.purpose is not Purpose.STOP:
            raise ValueError("stop-market orders are protective stops only")
        if self.purpose in (Purpose.STOP, Purpose.EXIT) and not self.reduce_only:
            # Protection and exits survive halts; they must never add exposure.
            raise ValueError(f"{self.purpose} orders must be reduce-only")


@dataclass(frozen=True)
class JournaledOrder:
    """One journal row: an intent with its id and its latest known state."""

    client_order_id: str
    sequence: int
    intent: OrderIntent
    state: OrderState
    filled: Decimal
    average_price: Decimal | None
    exchange_order_id: str | None
    attempts: int
    created_at: float
    updated_at: float
    last_error: str | None
    venue_client_id: str

    @property
    def remaining(self) -> Decimal:
        """Quantity not yet filled."""
        return self.intent.quantity - self.filled


@dataclass(frozen=True)
class Place:
    """Send a new order."""

    intent: OrderIntent


@dataclass(frozen=True)
class Cancel:
    """Cancel one of the bot's working orders."""

    client_order_id: str
    reason: str


Proposal = Place | Cancel
