"""The bot's view of a venue: a thin async shell over an unchanged ccxt client.

It speaks in journal terms (venue client ids, order states, Decimals) and
refuses to guess: a reply missing what the bot needs raises
:class:`GarbledReply`, which the order path treats as "outcome unknown".

Every venue call goes through one place, which reports its outcome and the
reply's headers (ccxt keeps them in ``last_response_headers``) to an optional
observer: that is how API health sees error rates and used weight.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import ccxt.async_support as ccxt_async

from tradewarden.bot.model.order_state import OrderState
from tradewarden.bot.model.orders import JournaledOrder, OrderType, Side
from tradewarden.bot.model.venue import PastOrder, VenueOrder, VenuePosition, VenueStop


class GarbledReply(Exception):
    """The venue answered, but not with something the bot can trust."""


class ReadOnlyVenue(RuntimeError):
    """A create or cancel reached a read-only (dry-run) adapter; nothing was sent."""


# Told each venue call's error (None on success) and its reply's headers (None if none came).
RequestObserver = Callable[[BaseException | None, Mapping[str, str] | None], None]


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
    required = ("id", "clientOrderId", "status", "amount", "symbol", "side", "type")
    missing = [key for key in required if raw.get(key) is None]
    if missing:
        raise GarbledReply(f"order reply lacks {', '.join(missing)}")
    try:
        side = Side(str(raw["side"]))
    except ValueError as exc:
        raise GarbledReply(f"unknown order side {raw['side']!r}") from exc
    status = str(raw["status"])
    amount = _decimal(raw["amount"], "amount")
    filled = _decimal(raw.get("filled") or 0, "filled")
    if status == "open":
        state = OrderState.PARTIALLY_FILLED if filled > 0 else OrderState.OPEN
    elif status in _STATUS_TO_STATE:
        state = _STATUS_TO_STATE[status]
    else:
        raise GarbledReply(f"unknown order status {status!r}")
    average, price = raw.get("average"), raw.get("price")
    trigger = raw.get("triggerPrice") or raw.get("stopPrice")
    reduce_only = raw.get("reduceOnly")
    return VenueOrder(
        venue_client_id=str(raw["clientOrderId"]),
        exchange_order_id=str(raw["id"]),
        state=state,
        amount=amount,
        filled=filled,
        average_price=None if average is None else _decimal(average, "average"),
        symbol=str(raw["symbol"]),
        side=side,
        order_type=str(raw["type"]).lower(),
        price=None if price is None else _decimal(price, "price"),
        trigger_price=None if trigger is None else _decimal(trigger, "triggerPrice"),
        reduce_only=None if reduce_only is None else bool(reduce_only),
    )


_NO_POSITION = VenuePosition(Decimal(0), None, None)


def parse_stop(raw: Any) -> VenueStop:
    """Turn a ccxt unified trigger order into a :class:`VenueStop`, or raise GarbledReply."""
    if not isinstance(raw, Mapping):
        raise GarbledReply(f"stop reply is {type(raw).__name__}, not an object")
    info = raw.get("info")
    if not isinstance(info, Mapping):
        info = {}
    trigger = raw.get("triggerPrice") or raw.get("stopPrice")
    missing = [
        key
        for key, value in (("clientOrderId", raw.get("clientOrderId")), ("side", raw.get("side")))
        if value is None
    ]
    if trigger is None:
        missing.append("triggerPrice")
    if missing:
        raise GarbledReply(f"stop reply lacks {', '.join(missing)}")
    close_position = bool(info.get("closePosition"))
    amount = raw.get("amount")
    if amount is None and not close_position:
        raise GarbledReply("stop reply lacks amount")
    return VenueStop(
        venue_client_id=str(raw["clientOrderId"]),
        side=Side(str(raw["side"])),
        amount=None if close_position or amount is None else _decimal(amount, "amount"),
        trigger_price=_decimal(trigger, "triggerPrice"),
        reduce_only=bool(raw.get("reduceOnly")),
        close_position=close_position,
    )


class VenueAdapter:
    """Order and account calls the execution path needs, on one ccxt client.

    ``read_only`` (a dry run): every create and cancel raises
    :class:`ReadOnlyVenue` before a byte leaves, whichever path asked.
    """

    def __init__(
        self,
        exchange: ccxt_async.Exchange,
        observer: RequestObserver | None = None,
        *,
        read_only: bool = False,
    ) -> None:
        self._exchange = exchange
        self._observer = observer
        self._read_only = read_only

    def _writable(self, what: str) -> None:
        if self._read_only:
            raise ReadOnlyVenue(f"dry run: {what} not sent")

    @property
    def exchange(self) -> ccxt_async.Exchange:
        """The ccxt client underneath (for benchmarks and fault proxies)."""
        return self._exchange

    async def _call(self, method: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        """Run one ccxt call and report its outcome to the observer."""
        before = getattr(self._exchange, "last_response_headers", None)
        try:
            reply = await method(*args)
        except Exception as error:
            self._observe(error, before)
            raise
        self._observe(None, before)
        return reply

    def _observe(self, error: BaseException | None, before: Any) -> None:
        if self._observer is None:
            return
        headers = getattr(self._exchange, "last_response_headers", None)
        # ccxt stores a new mapping per reply; the old one means no reply came (a timeout).
        fresh = headers if isinstance(headers, Mapping) and headers is not before else None
        self._observer(error, fresh)

    async def load_markets(self) -> None:
        """Fetch the venue's markets once; later calls use ccxt's cache."""
        await self._call(self._exchange.load_markets)

    def share_markets(self, lane: VenueAdapter) -> None:
        """Give ``lane`` (another client of the same venue) the markets loaded here.

        Saves the lane its own exchangeInfo request and a second copy of the markets.
        """
        lane.exchange.set_markets(self._exchange.markets, self._exchange.currencies)

    async def sync_time(self) -> None:
        """Re-measure the offset to the venue clock after a -1021."""
        await self._call(self._exchange.load_time_difference)

    async def request_weight_limit(self) -> int | None:
        """The venue's request-weight budget per minute, ``None`` if it does not publish one.

        Binance USD-M lists it in exchangeInfo ``rateLimits`` (REQUEST_WEIGHT);
        ccxt's unified markets drop that part, so the raw endpoint is read.
        """
        exchange_info = getattr(self._exchange, "fapiPublicGetExchangeInfo", None)
        if exchange_info is None:
            return None
        return weight_limit_per_minute(await self._call(exchange_info))

    async def order_count_limits(self) -> dict[str, int]:
        """The venue's ORDERS limits, keyed by the reply header that reports their use.

        Binance USD-M lists them in exchangeInfo ``rateLimits`` (orders per 10 s
        and per minute) and reports the count on every order reply as
        ``x-mbx-order-count-10s`` / ``-1m``. Empty if the venue publishes none.
        """
        exchange_info = getattr(self._exchange, "fapiPublicGetExchangeInfo", None)
        if exchange_info is None:
            return {}
        return order_limits_by_header(await self._call(exchange_info))

    async def create_order(self, order: JournaledOrder) -> VenueOrder:
        """Send ``order`` under its venue client id.

        A stop-market order goes to the venue's algo (conditional) service:
        ccxt routes any order carrying a ``triggerPrice`` there, and sends the
        client id as ``clientAlgoId``.

        Binance USD-M answers a new order before matching it unless asked for
        the result (``newOrderRespType``: ACK by default, a market order that
        filled reads NEW); the bot asks for RESULT, so the reply carries the
        fill. The router stays correct with an ACK reply too: it journals the
        order open and the next lookup or reconcile adopts the fill.
        """
        self._writable(f"create {order.venue_client_id}")
        intent = order.intent
        params: dict[str, Any] = {
            "clientOrderId": order.venue_client_id,
            "newOrderRespType": "RESULT",
        }
        if intent.reduce_only:
            params["reduceOnly"] = True
        order_type, price = intent.order_type.value, None
        if intent.order_type is OrderType.STOP_MARKET:
            order_type, params["triggerPrice"] = "STOP_MARKET", float(intent.price or 0)
        elif intent.order_type is OrderType.LIMIT:
            price = float(intent.price or 0)
        raw = await self._call(
            self._exchange.create_order,
            intent.symbol,
            order_type,
            intent.side.value,
            float(intent.quantity),
            price,
            params,
        )
        return parse_order(raw)

    async def fetch_order(
        self, venue_client_id: str, symbol: str, *, stop: bool = False
    ) -> VenueOrder:
        """Look an order up by its client id (raises ccxt.OrderNotFound if absent).

        A stop that has triggered lives on as a regular order under the same
        client id; that order carries the fill, so it is what is returned.
        """
        params: dict[str, Any] = {"origClientOrderId": venue_client_id}
        fetch = self._exchange.fetch_order
        if not stop:
            return parse_order(await self._call(fetch, None, symbol, params))
        found = parse_order(await self._call(fetch, None, symbol, {**params, "trigger": True}))
        if found.state in (OrderState.OPEN, OrderState.CANCELED, OrderState.EXPIRED):
            return found
        return parse_order(await self._call(fetch, None, symbol, params))

    async def cancel_order(
        self, venue_client_id: str, symbol: str, *, stop: bool = False
    ) -> VenueOrder:
        """Cancel by client id (raises ccxt.OrderNotFound if unknown or done).

        The venue acknowledges a stop cancel without the order's state, so the
        stop is read back after the acknowledgement.
        """
        self._writable(f"cancel {venue_client_id}")
        params: dict[str, Any] = {"origClientOrderId": venue_client_id}
        cancel = self._exchange.cancel_order
        if not stop:
            return parse_order(await self._call(cancel, None, symbol, params))
        await self._call(cancel, None, symbol, {**params, "trigger": True})
        return await self.fetch_order(venue_client_id, symbol, stop=True)

    async def cancel_orders(
        self, venue_client_ids: Sequence[str], symbol: str
    ) -> dict[str, VenueOrder]:
        """Cancel plain orders of ``symbol`` in one request; what it cancelled, by client id.

        The venue answers each order on its own (Binance's batchOrders: at most
        ten); ccxt drops the per-order errors, and an unreadable entry is
        skipped, so an id missing from the result is simply not known to be
        cancelled: the caller asks about it one by one.
        """
        self._writable(f"cancel {', '.join(venue_client_ids)}")
        raw = await self._call(
            self._exchange.cancel_orders, [], symbol, {"clientOrderIds": list(venue_client_ids)}
        )
        if not isinstance(raw, list):
            raise GarbledReply("batch cancel reply is not a list")
        cancelled: dict[str, VenueOrder] = {}
        for item in raw:
            try:
                order = parse_order(item)
            except GarbledReply:
                continue
            cancelled[order.venue_client_id] = order
        return cancelled

    async def fetch_open_orders(self, symbol: str) -> list[VenueOrder]:
        """Every open (non-stop) order on ``symbol``."""
        raw = await self._call(self._exchange.fetch_open_orders, symbol)
        if not isinstance(raw, list):
            raise GarbledReply("open orders reply is not a list")
        return [parse_order(item) for item in raw]

    async def fetch_order_history(self, symbol: str) -> list[PastOrder]:
        """Every open order and stop on ``symbol``, and the recent done ones.

        Binance's allOrders and allAlgoOrders cover the last 7 days only, so an
        older order or stop still working is read from the open lists too.
        Only the client id and status are read: foreign orders of any type pass.
        """
        found: dict[tuple[str, bool], PastOrder] = {}
        reads = (self._exchange.fetch_orders, self._exchange.fetch_open_orders)
        for read in reads:
            for stop in (False, True):
                params = {"trigger": True} if stop else {}
                raw = await self._call(read, symbol, None, None, params)
                if not isinstance(raw, list):
                    raise GarbledReply("order history reply is not a list")
                for item in raw:
                    if isinstance(item, Mapping) and item.get("clientOrderId"):
                        coid = str(item["clientOrderId"])
                        found[coid, stop] = PastOrder(coid, str(item.get("status")), stop)
        return list(found.values())

    async def fetch_open_stops(self, symbol: str) -> list[VenueStop]:
        """Every waiting stop (algo) order on ``symbol``."""
        raw = await self._call(
            self._exchange.fetch_open_orders, symbol, None, None, {"trigger": True}
        )
        if not isinstance(raw, list):
            raise GarbledReply("open stops reply is not a list")
        return [parse_stop(item) for item in raw]

    async def fetch_position(self, symbol: str) -> Decimal:
        """Signed position size in base units (long > 0, short < 0)."""
        return (await self.fetch_position_detail(symbol)).size

    async def fetch_position_detail(self, symbol: str) -> VenuePosition:
        """Signed size, entry and mark price of the (one-way mode) position on ``symbol``."""
        raw = await self._call(self._exchange.fetch_positions, [symbol])
        if not isinstance(raw, list):
            raise GarbledReply("positions reply is not a list")
        found = _NO_POSITION
        for position in raw:
            if not isinstance(position, Mapping) or position.get("symbol") != symbol:
                continue
            contracts = _decimal(position.get("contracts") or 0, "contracts")
            size = contracts * _decimal(position.get("contractSize") or 1, "contractSize")
            entry, mark = position.get("entryPrice"), position.get("markPrice")
            found = VenuePosition(
                size=found.size + (-size if position.get("side") == "short" else size),
                entry_price=None if entry is None else _decimal(entry, "entryPrice"),
                mark_price=None if mark is None else _decimal(mark, "markPrice"),
            )
        return found

    async def fetch_mark_price(self, symbol: str) -> Decimal:
        """The venue's current mark (falls back to last price)."""
        ticker = await self._call(self._exchange.fetch_ticker, symbol)
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


def weight_limit_per_minute(exchange_info: Any) -> int | None:
    """REQUEST_WEIGHT per minute from a Binance exchangeInfo reply, ``None`` if absent."""
    limits = exchange_info.get("rateLimits") if isinstance(exchange_info, Mapping) else None
    seconds = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86400}
    for limit in limits if isinstance(limits, list) else ():
        if not isinstance(limit, Mapping) or limit.get("rateLimitType") != "REQUEST_WEIGHT":
            continue
        try:
            window = seconds[str(limit.get("interval"))] * int(limit.get("intervalNum") or 1)
            per_minute = int(limit["limit"]) * 60 // window
        except (KeyError, TypeError, ValueError):
            continue
        if per_minute > 0:
            return per_minute
    return None


def order_limits_by_header(exchange_info: Any) -> dict[str, int]:
    """ORDERS limits of a Binance exchangeInfo reply, by header (``x-mbx-order-count-10s``)."""
    limits = exchange_info.get("rateLimits") if isinstance(exchange_info, Mapping) else None
    units = {"SECOND": "s", "MINUTE": "m", "HOUR": "h", "DAY": "d"}
    found: dict[str, int] = {}
    for limit in limits if isinstance(limits, list) else ():
        if not isinstance(limit, Mapping) or limit.get("rateLimitType") != "ORDERS":
            continue
        try:
            window = f"{int(limit.get('intervalNum') or 1)}{units[str(limit.get('interval'))]}"
            found[f"x-mbx-order-count-{window}"] = int(limit["limit"])
        except (KeyError, TypeError, ValueError):
            continue
    return found
