"""The bot's view of a venue: a thin async shell over an unchanged ccxt client.

It speaks in journal terms (venue client ids, order states, Decimals) and
refuses to guess: a reply missing what the bot needs raises
:class:`GarbledReply`, which the order path treats as "outcome unknown".
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import ccxt.async_support as ccxt_async

from tradewarden.bot.execution.evidence import VenueOrder
from tradewarden.bot.execution.intent import JournaledOrder, OrderType
from tradewarden.bot.execution.order_state import OrderState


class GarbledReply(Exception):
    """The venue answered, but not with something the bot can trust."""


_STATUS_TO_STATE = {
    "closed": OrderState.FILLED,
    "canceled": OrderState.CANCELED,
    "cancelled": OrderState.CANCELED,
    "expired": OrderState.EXPIRED,
    "rejected": OrderState.REJECTED,
}


def _decimal(raw: Any, name: str) -> Decimal:
    try:
        value = Decimal(str(raw))
    except (InvalidOperation, ValueError) as exc:
        raise GarbledReply(f"field {name!r} is not a number: {raw!r}") from exc
    if not value.is_finite():
        raise GarbledReply(f"field {name!r} is not finite: {raw!r}")
    return value


def parse_order(raw: Any) -> VenueOrder:
    """Turn a ccxt unified order into a :class:`VenueOrder`, or raise GarbledReply."""
    if not isinstance(raw, Mapping):
        raise GarbledReply(f"order reply is {type(raw).__name__}, not an object")
    missing = [key for key in ("id", "clientOrderId", "status", "amount") if raw.get(key) is None]
    if missing:
        raise GarbledReply(f"order reply lacks {', '.join(missing)}")
    status = str(raw["status"])
    amount = _decimal(raw["amount"], "amount")
    filled = _decimal(raw.get("filled") or 0, "filled")
    if status == "open":
        state = OrderState.PARTIALLY_FILLED if filled > 0 else OrderState.OPEN
    elif status in _STATUS_TO_STATE:
        state = _STATUS_TO_STATE[status]
    else:
        raise GarbledReply(f"unknown order status {status!r}")
    average = raw.get("average")
    return VenueOrder(
        venue_client_id=str(raw["clientOrderId"]),
        exchange_order_id=str(raw["id"]),
        state=state,
        amount=amount,
        filled=filled,
        average_price=None if average is None else _decimal(average, "average"),
    )


class VenueAdapter:
    """Order and account calls the execution path needs, on one ccxt client."""

    def __init__(self, exchange: ccxt_async.Exchange) -> None:
        self._exchange = exchange

    @property
    def exchange(self) -> ccxt_async.Exchange:
        """The ccxt client underneath (for benchmarks and fault proxies)."""
        return self._exchange

    async def load_markets(self) -> None:
        """Fetch the venue's markets once; later calls use ccxt's cache."""
        await self._exchange.load_markets()

    async def sync_time(self) -> None:
        """Re-measure the offset to the venue clock after a -1021."""
        await self._exchange.load_time_difference()

    async def create_order(self, order: JournaledOrder) -> VenueOrder:
        """Send ``order`` under its venue client id."""
        intent = order.intent
        params: dict[str, Any] = {"clientOrderId": order.venue_client_id}
        if intent.reduce_only:
            params["reduceOnly"] = True
        raw = await self._exchange.create_order(
            intent.symbol,
            intent.order_type.value,
            intent.side.value,
            float(intent.quantity),
            None if intent.order_type is OrderType.MARKET else float(intent.price or 0),
            params,
        )
        return parse_order(raw)

    async def fetch_order(self, venue_client_id: str, symbol: str) -> VenueOrder:
        """Look an order up by its client id (raises ccxt.OrderNotFound if absent)."""
        raw = await self._exchange.fetch_order(None, symbol, {"origClientOrderId": venue_client_id})
        return parse_order(raw)

    async def cancel_order(self, venue_client_id: str, symbol: str) -> VenueOrder:
        """Cancel by client id (raises ccxt.OrderNotFound if unknown or done)."""
        raw = await self._exchange.cancel_order(
            None, symbol, {"origClientOrderId": venue_client_id}
        )
        return parse_order(raw)

    async def fetch_open_orders(self, symbol: str) -> list[VenueOrder]:
        """Every open (non-stop) order on ``symbol``."""
        raw = await self._exchange.fetch_open_orders(symbol)
        if not isinstance(raw, list):
            raise GarbledReply("open orders reply is not a list")
        return [parse_order(item) for item in raw]

    async def fetch_position(self, symbol: str) -> Decimal:
        """Signed position size in base units (long > 0, short < 0)."""
        raw = await self._exchange.fetch_positions([symbol])
        if not isinstance(raw, list):
            raise GarbledReply("positions reply is not a list")
        total = Decimal(0)
        for position in raw:
            if not isinstance(position, Mapping) or position.get("symbol") != symbol:
                continue
            contracts = _decimal(position.get("contracts") or 0, "contracts")
            size = contracts * _decimal(position.get("contractSize") or 1, "contractSize")
            total += -size if position.get("side") == "short" else size
        return total

    async def fetch_mark_price(self, symbol: str) -> Decimal:
        """The venue's current mark (falls back to last price)."""
        ticker = await self._exchange.fetch_ticker(symbol)
        if not isinstance(ticker, Mapping):
            raise GarbledReply("ticker reply is not an object")
        for key in ("markPrice", "last", "close"):
            if ticker.get(key) is not None:
                return _decimal(ticker[key], key)
        info = ticker.get("info")
        if isinstance(info, Mapping) and info.get("markPrice") is not None:
            return _decimal(info["markPrice"], "markPrice")
        raise GarbledReply("ticker reply has no price")

    def market_limits(self, symbol: str) -> tuple[Decimal, Decimal]:
        """``(quantity step, price tick)`` of ``symbol`` from the loaded markets."""
        market = self._exchange.market(symbol)
        precision = market.get("precision", {})
        return (
            _decimal(precision.get("amount"), "precision.amount"),
            _decimal(precision.get("price"), "precision.price"),
        )

    async def close(self) -> None:
        """Close the HTTP session."""
        await self._exchange.close()
