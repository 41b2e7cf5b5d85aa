"""A symmetric limit-order grid around the mark price.

It keeps ``levels`` buy orders below the mark and ``levels`` sell orders above
it, ``spacingPct`` apart, and cancels orders the price has left behind. Simple
enough to read in one pass, and it trades on a random-walk venue.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from tradewarden.api.tradingbot import TradingMode
from tradewarden.bot.model.orders import Cancel, OrderIntent, OrderType, Place, Proposal, Side
from tradewarden.bot.strategy.base import MarketView, round_down


class GridParams(BaseModel):
    """``spec.strategy.params`` of the grid strategy."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    levels: int = Field(default=2, ge=1, le=20)
    spacing_pct: Decimal = Field(default=Decimal("0.2"), gt=0, lt=20, decimal_places=18)
    # Bounded digits: a quantity such as "1e400" is refused here, not deep in the order path.
    order_quantity: Decimal = Field(gt=0, max_digits=30, decimal_places=18)


class GridStrategy:
    """Keeps a grid of resting limit orders around the mark."""

    def __init__(self, params: GridParams) -> None:
        self._params = params

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> GridStrategy:
        """Build from manifest params; bad params raise ValueError naming the field."""
        try:
            return cls(GridParams.model_validate(dict(params)))
        except ValidationError as exc:
            fields = "\n".join(
                f"spec.strategy.params.{'.'.join(map(str, e['loc']))}: {e['msg']}"
                for e in exc.errors()
            )
            raise ValueError(fields) from exc

    def propose(self, view: MarketView) -> list[Proposal]:
        """Cancel orders out of band, fill empty levels within position limits."""
        if view.mode is not TradingMode.ACTIVE:
            return []
        spacing = self._params.spacing_pct / 100
        band = spacing * (self._params.levels + 1)
        low, high = view.mark * (1 - band), view.mark * (1 + band)
        entries = [o for o in view.working if not o.intent.reduce_only]
        proposals: list[Proposal] = [
            Cancel(order.client_order_id, "left the grid band")
            for order in entries
            if order.intent.price is not None and not low <= order.intent.price <= high
        ]
        kept = [o for o in entries if o.intent.price is not None and low <= o.intent.price <= high]
        quantity = round_down(self._params.order_quantity, view.quantity_step)
        if quantity <= 0:
            return proposals
        for side in (Side.BUY, Side.SELL):
            room = view.risk.max_position - side.sign * view.position
            room -= sum((o.remaining for o in kept if o.intent.side is side), Decimal(0))
            for level in range(1, self._params.levels + 1):
                price = round_down(view.mark * (1 - side.sign * spacing * level), view.price_tick)
                near = abs(price * spacing / 2)
                taken = any(
                    o.intent.side is side and abs((o.intent.price or 0) - price) < near
                    for o in kept
                )
                if taken or quantity > room:
                    continue
                room -= quantity
                proposals.append(
                    Place(OrderIntent(view.symbol, side, OrderType.LIMIT, quantity, price))
                )
        return proposals
