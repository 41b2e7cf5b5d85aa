"""The strategy interface: a market view in, proposals out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from tradewarden.api.tradingbot import RiskSpec, TradingMode
from tradewarden.bot.model.orders import JournaledOrder, Proposal


@dataclass(frozen=True)
class MarketView:
    """Everything a strategy may look at for one decision."""

    symbol: str
    mark: Decimal
    position: Decimal
    working: tuple[JournaledOrder, ...]
    mode: TradingMode
    quantity_step: Decimal
    price_tick: Decimal
    risk: RiskSpec


class Strategy(Protocol):
    """A trading strategy. Built from the manifest's ``strategy.params``."""

    def propose(self, view: MarketView) -> list[Proposal]:
        """What to do now; an empty list means nothing."""
        ...


class StrategyFactory(Protocol):
    """Builds a strategy from its params (raises ValueError on bad params)."""

    def __call__(self, params: Mapping[str, Any]) -> Strategy: ...


def round_down(value: Decimal, step: Decimal) -> Decimal:
    """``value`` rounded down to a multiple of ``step`` (venue precision)."""
    return (value / step).to_integral_value(rounding="ROUND_FLOOR") * step
