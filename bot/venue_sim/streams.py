"""Binance USD-M market streams over WebSocket, on the paths ccxt.pro 4.5 connects to.

ccxt connects to ``<ws base>/public/ws/<n>`` for book data and trades and to
``<ws base>/market/ws/<n>`` for the other market streams (``/ws/<n>``, the legacy path,
carries the public tier only), then sends
``{"method": "SUBSCRIBE", "params": ["btcusdt@depth@100ms"], "id": 1}``; the venue answers
``{"result": null, "id": 1}`` and pushes the streams' events with Binance's one-letter field
names (:mod:`stream_names` says which stream is served where). A malformed request is
answered with Binance's error frames (``{"error": {"code": 2, "msg": ...}, "id": ...}``).
A stream name in the path (``/market/ws/btcusdt@aggTrade``) is subscribed at connect.

What the streams send agrees with REST: depth events continue the ``lastUpdateId`` of
``GET /fapi/v1/depth`` (:mod:`book_feed`), trades are the executions ``/fapi/v1/trades``
lists, klines the candles of ``/fapi/v1/klines``, tickers the 24hr ticker's figures.
Tests steer every path through :class:`StreamHub`: drop every connection, refuse new ones.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from tradewarden.bot.venue_sim import views
from tradewarden.bot.venue_sim.book_feed import DepthDiff, as_side, drain
from tradewarden.bot.venue_sim.context import CONTEXT_KEY, VenueContext
from tradewarden.bot.venue_sim.fapi import KLINE_INTERVALS_MS
from tradewarden.bot.venue_sim.models import Fill
from tradewarden.bot.venue_sim.stream_names import Kind, StreamName, Tier, parse

# How often a connection looks for news, and the longest silence on a per-symbol mark or
# ticker stream (Binance pushes markPrice@1s and miniTicker about once a second).
SCAN_INTERVAL_S = 0.1
PUSH_INTERVAL_S = 1.0
# The all-market arrays (!miniTicker@arr, !ticker@arr, !markPrice@arr@1s) come once a second.
ARRAY_INTERVAL_S = 1.0
# Binance's error codes on a stream connection.
UNKNOWN_PROPERTY = 0
INVALID_VALUE = 1
INVALID_REQUEST = 2
INVALID_JSON = 3
METHODS = ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY")

Json = dict[str, Any]
Payload = Json | list[Json]


@dataclass
class StreamHub:
    """Open stream connections and the refusal plan, shared by the handler and /_sim."""

    clock: Callable[[], float]
    sockets: set[web.WebSocketResponse] = field(default_factory=set)
    connections: list[Connection] = field(default_factory=list)
    refuse_until: float = 0.0
    refuse_count: int = 0
    accepted: int = 0
    refused: int = 0

    def admit(self) -> bool:
        """Whether a new connection may open now; a refusal is counted."""
        if self.refuse_count > 0:
            self.refuse_count -= 1
        elif self.clock() >= self.refuse_until:
            self.accepted += 1
            return True
        self.refused += 1
        return False

    def refuse(self, seconds: float, count: int) -> None:
        """Refuse new connections for ``seconds`` (venue clock) and the next ``count`` tries."""
        self.refuse_until = self.clock() + seconds if seconds > 0 else 0.0
        self.refuse_count = count

    async def drop(self) -> int:
        """Close every open stream; returns how many were closed."""
        sockets = list(self.sockets)
        for socket in sockets:
            await socket.close(code=WSCloseCode.GOING_AWAY, message=b"dropped by the simulator")
        return len(sockets)

    def describe(self) -> Json:
        """The hub as JSON for /_sim/streams."""
        return {
            "open": len(self.sockets),
            "accepted": self.accepted,
            "refused": self.refused,
            "refuseUntil": self.refuse_until,
            "refuseCount": self.refuse_count,
            # Every stream some open connection has subscribed (tests wait on it).
            "subscriptions": sorted({name for c in self.connections for name in c.feeds}),
        }


HUB_KEY = web.AppKey("venue_streams", StreamHub)


# ----------------------------------------------------------------- events


def _mark_event(ctx: VenueContext, symbol: str) -> Json:
    now_ms = ctx.engine.now_ms()
    funding = (ctx.settings.funding_rate, ctx.engine.next_funding_ms)
    index = views.premium_index(symbol, ctx.engine.mark(symbol), funding, now_ms)
    return {
        "e": "markPriceUpdate",
        "E": now_ms,
        "s": symbol,
        "p": index["markPrice"],
        "i": index["indexPrice"],
        "P": index["estimatedSettlePrice"],
        "r": index["lastFundingRate"],
        "T": index["nextFundingTime"],
    }


def _ticker_row(ctx: VenueContext, symbol: str) -> Json:
    return views.ticker_24hr(
        symbol, ctx.engine.mark(symbol), ctx.engine.ticker_stats(symbol), ctx.engine.now_ms()
    )


def _mini_ticker_event(ctx: VenueContext, symbol: str) -> Json:
    row = _ticker_row(ctx, symbol)
    return {
        "e": "24hrMiniTicker",
        "E": row["closeTime"],
        "s": symbol,
        "c": row["lastPrice"],
        "o": row["openPrice"],
        "h": row["highPrice"],
        "l": row["lowPrice"],
        "v": row["volume"],
        "q": row["quoteVolume"],
    }


def _ticker_event(ctx: VenueContext, symbol: str) -> Json:
    row = _ticker_row(ctx, symbol)
    return {
        "e": "24hrTicker",
        "E": row["closeTime"],
        "s": symbol,
        "p": row["priceChange"],
        "P": row["priceChangePercent"],
        "w": row["weightedAvgPrice"],
        "c": row["lastPrice"],
        "Q": row["lastQty"],
        "o": row["openPrice"],
        "h": row["highPrice"],
        "l": row["lowPrice"],
        "v": row["volume"],
        "q": row["quoteVolume"],
        "O": row["openTime"],
        "C": row["closeTime"],
        "F": row["firstId"],
        "L": row["lastId"],
        "n": row["count"],
    }


_SYMBOL_EVENTS: dict[Kind, Callable[[VenueContext, str], Json]] = {
    Kind.MARK_PRICE: _mark_event,
    Kind.MINI_TICKER: _mini_ticker_event,
    Kind.TICKER: _ticker_event,
}


def _levels(side: dict[str, str], descending: bool) -> list[list[str]]:
    return [
        [p, q]
        for p, q in sorted(side.items(), key=lambda level: Decimal(level[0]), reverse=descending)
    ]


def _depth_event(ctx: VenueContext, symbol: str, diff: DepthDiff) -> Json:
    now_ms = ctx.engine.now_ms()
    return {
        "e": "depthUpdate",
        "E": now_ms,
        "T": now_ms,
        "s": symbol,
        "U": diff.first,
        "u": diff.last,
        "pu": diff.previous,
        "b": _levels(diff.bids, descending=True),
        "a": _levels(diff.asks, descending=False),
    }


def _trade_event(ctx: VenueContext, kind: Kind, fill: Fill) -> Json:
    if kind == Kind.AGG_TRADE:
        row = views.agg_trade(fill)
        return {"e": "aggTrade", "E": ctx.engine.now_ms(), "s": fill.symbol, **row, "nq": row["q"]}
    row = views.public_trade(fill)
    return {
        "e": "trade",
        "E": ctx.engine.now_ms(),
        "T": row["time"],
        "s": fill.symbol,
        "t": row["id"],
        "p": row["price"],
        "q": row["qty"],
        "X": "MARKET",
        "m": row["isBuyerMaker"],
    }


def _kline_event(
    ctx: VenueContext, symbol: str, interval: str, row: list[Any], closed: bool
) -> Json:
    open_ms, close_ms = row[0], row[6]
    ids = [f.trade_id for f in ctx.engine.public_trades(symbol) if open_ms <= f.time_ms <= close_ms]
    return {
        "e": "kline",
        "E": ctx.engine.now_ms(),
        "s": symbol,
        "k": {
            "t": open_ms,
            "T": close_ms,
            "s": symbol,
            "i": interval,
            "f": ids[0] if ids else -1,
            "L": ids[-1] if ids else -1,
            "o": row[1],
            "c": row[4],
            "h": row[2],
            "l": row[3],
            "v": row[5],
            "n": row[8],
            "x": closed,
            "q": row[7],
            "V": row[9],
            "Q": row[10],
            "B": "0",
        },
    }


# ------------------------------------------------------------------ feeds


class _Feed:
    """One subscribed stream of one connection: what to send at each scan.

    ``poll`` is called every :data:`SCAN_INTERVAL_S` with the loop time; a feed with an
    update speed produces at most once per speed, a real-time feed at every scan.
    """

    def __init__(self, ctx: VenueContext, stream: StreamName) -> None:
        self.ctx = ctx
        self.stream = stream
        self._due = 0.0

    def poll(self, now: float) -> list[Payload]:
        if now < self._due:
            return []
        self._due = now + self.stream.speed_ms / 1000
        return self.produce()

    def produce(self) -> list[Payload]:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the feed holds (the depth diff queue)."""

    @property
    def symbol(self) -> str:
        assert self.stream.symbol is not None
        return self.stream.symbol


class _SymbolFeed(_Feed):
    """A symbol's mark price or ticker: sent when the mark moves, at least once a second."""

    def __init__(self, ctx: VenueContext, stream: StreamName) -> None:
        super().__init__(ctx, stream)
        self._last: tuple[Decimal, float] | None = None

    def poll(self, now: float) -> list[Payload]:
        mark = self.ctx.engine.mark(self.symbol)
        if (
            self._last is not None
            and self._last[0] == mark
            and now - self._last[1] < PUSH_INTERVAL_S
        ):
            return []
        self._last = (mark, now)
        return [_SYMBOL_EVENTS[self.stream.kind](self.ctx, self.symbol)]


class _ArrayFeed(_Feed):
    """``!markPrice@arr``, ``!miniTicker@arr``, ``!ticker@arr``: every symbol in one array.

    Mark prices list every symbol; the tickers only those that changed since the last push.
    """

    def __init__(self, ctx: VenueContext, stream: StreamName) -> None:
        super().__init__(ctx, stream)
        self._sent: dict[str, Json] = {}

    def poll(self, now: float) -> list[Payload]:
        if now < self._due:
            return []
        self._due = now + (self.stream.speed_ms / 1000 or ARRAY_INTERVAL_S)
        build = _SYMBOL_EVENTS[self.stream.kind]
        events = [build(self.ctx, symbol) for symbol in self.ctx.engine.specs]
        if self.stream.kind != Kind.MARK_PRICE:
            events = [e for e in events if _sans_time(e) != self._sent.get(e["s"])]
            self._sent.update({e["s"]: _sans_time(e) for e in events})
        return [events] if events else []


def _sans_time(event: Json) -> Json:
    return {k: v for k, v in event.items() if k not in ("E", "C")}


class _DepthFeed(_Feed):
    """``<symbol>@depth[@speed]``: the diff of every book version since the last event."""

    def __init__(self, ctx: VenueContext, stream: StreamName) -> None:
        super().__init__(ctx, stream)
        self._queue = ctx.books.subscribe(self.symbol)

    def produce(self) -> list[Payload]:
        self.ctx.books.current(self.symbol)
        diff = drain(self._queue)
        return [] if diff is None else [_depth_event(self.ctx, self.symbol, diff)]

    def close(self) -> None:
        self.ctx.books.unsubscribe(self.symbol, self._queue)


class _PartialDepthFeed(_Feed):
    """``<symbol>@depth<5|10|20>[@speed]``: the best levels at every update."""

    def __init__(self, ctx: VenueContext, stream: StreamName) -> None:
        super().__init__(ctx, stream)
        self._last_sent: int | None = None

    def produce(self) -> list[Payload]:
        book = self.ctx.books.current(self.symbol)
        previous = book.update_id if self._last_sent is None else self._last_sent
        self._last_sent = book.update_id
        count = self.stream.levels
        diff = DepthDiff(
            min(previous + 1, book.update_id),
            book.update_id,
            previous,
            as_side(book.bids[:count]),
            as_side(book.asks[:count]),
        )
        return [_depth_event(self.ctx, self.symbol, diff)]


class _BookTickerFeed(_Feed):
    """``<symbol>@bookTicker`` / ``!bookTicker``: the best bid and ask whenever they change."""

    def __init__(self, ctx: VenueContext, stream: StreamName) -> None:
        super().__init__(ctx, stream)
        self._sent: dict[str, tuple[str, ...]] = {}

    def produce(self) -> list[Payload]:
        symbols = [self.symbol] if self.stream.symbol else list(self.ctx.engine.specs)
        events: list[Payload] = []
        for symbol in symbols:
            book = self.ctx.books.current(symbol)
            bid, ask = book.bids[0], book.asks[0]
            top = tuple(views.fmt(v) for v in (bid.price, bid.qty, ask.price, ask.qty))
            if self._sent.get(symbol) == top:
                continue
            self._sent[symbol] = top
            now_ms = self.ctx.engine.now_ms()
            events.append(
                {
                    "e": "bookTicker",
                    "u": book.update_id,
                    "s": symbol,
                    "b": top[0],
                    "B": top[1],
                    "a": top[2],
                    "A": top[3],
                    "T": now_ms,
                    "E": now_ms,
                }
            )
        return events


class _TradeFeed(_Feed):
    """``<symbol>@trade`` / ``<symbol>@aggTrade``: each trade on the tape after the subscription."""

    def __init__(self, ctx: VenueContext, stream: StreamName) -> None:
        super().__init__(ctx, stream)
        fills = ctx.engine.public_trades(self.symbol)
        self._last_id = fills[-1].trade_id if fills else 0

    def produce(self) -> list[Payload]:
        fresh = [
            f for f in self.ctx.engine.public_trades(self.symbol) if f.trade_id > self._last_id
        ]
        if fresh:
            self._last_id = fresh[-1].trade_id
        return [_trade_event(self.ctx, self.stream.kind, f) for f in fresh]


class _KlineFeed(_Feed):
    """``<symbol>@kline_<interval>``: the open candle when it changes; a closing candle once,
    with ``x: true``, when the next one opens."""

    def __init__(self, ctx: VenueContext, stream: StreamName) -> None:
        super().__init__(ctx, stream)
        self._last: list[Any] | None = None

    def produce(self) -> list[Payload]:
        symbol, interval = self.symbol, self.stream.interval
        rows = views.klines(
            self.ctx.engine.ticks(symbol),
            self.ctx.engine.public_trades(symbol),
            KLINE_INTERVALS_MS[interval],
            (None, None, self.ctx.engine.now_ms()),
            2,
        )
        current = rows[-1]
        events: list[Payload] = []
        if self._last is not None and self._last[0] != current[0] and len(rows) > 1:
            events.append(_kline_event(self.ctx, symbol, interval, rows[-2], closed=True))
        if current != self._last:
            events.append(_kline_event(self.ctx, symbol, interval, current, closed=False))
        self._last = current
        return events


_FEEDS: dict[Kind, type[_Feed]] = {
    Kind.DEPTH: _DepthFeed,
    Kind.PARTIAL_DEPTH: _PartialDepthFeed,
    Kind.BOOK_TICKER: _BookTickerFeed,
    Kind.TRADE: _TradeFeed,
    Kind.AGG_TRADE: _TradeFeed,
    Kind.KLINE: _KlineFeed,
    Kind.MARK_PRICE: _SymbolFeed,
    Kind.MINI_TICKER: _SymbolFeed,
    Kind.TICKER: _SymbolFeed,
}


def _feed(ctx: VenueContext, tier: Tier, stream: StreamName) -> _Feed | None:
    """The feed that serves ``stream`` on a connection of ``tier``; None if it stays silent
    (a stream of the other tier, or of a symbol the venue does not list)."""
    if stream.tier != tier:
        return None
    if stream.symbol is None:
        return (
            _ArrayFeed(ctx, stream)
            if stream.kind in _SYMBOL_EVENTS
            else _FEEDS[stream.kind](ctx, stream)
        )
    if stream.symbol not in ctx.engine.specs:
        return None
    return _FEEDS[stream.kind](ctx, stream)


# ------------------------------------------------------------- requests


@dataclass
class Connection:
    """One stream connection: its path tier, subscriptions (in order) and combined flag."""

    ctx: VenueContext
    tier: Tier
    feeds: dict[str, _Feed | None] = field(default_factory=dict)
    combined: bool = False

    def subscribe(self, stream: StreamName) -> None:
        if stream.name not in self.feeds:
            self.feeds[stream.name] = _feed(self.ctx, self.tier, stream)

    def unsubscribe(self, name: str) -> None:
        feed = self.feeds.pop(name, None)
        if feed is not None:
            feed.close()

    def close(self) -> None:
        for name in list(self.feeds):
            self.unsubscribe(name)

    def poll(self, now: float) -> list[Json | list[Json]]:
        """Everything due on this connection now, wrapped if the combined property is set."""
        frames: list[Payload] = []
        for name, feed in list(self.feeds.items()):
            for payload in feed.poll(now) if feed is not None else []:
                frames.append({"stream": name, "data": payload} if self.combined else payload)
        return frames


def _error(code: int, msg: str, request_id: object = None) -> Json:
    return {"error": {"code": code, "msg": msg}, "id": request_id}


def _position_after(raw: str, pattern: str) -> str:
    """``line L column C`` of the end of the first match of ``pattern`` (as serde reports)."""
    match = re.search(pattern, raw)
    end = match.end() if match else len(raw)
    line_start = raw.rfind("\n", 0, end) + 1
    return f"line {raw.count(chr(10), 0, end) + 1} column {end - line_start}"


def _is_request_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def answer(conn: Connection, raw: str) -> Json:
    """Apply one request frame and build Binance's reply to it.

    SUBSCRIBE / UNSUBSCRIBE take stream names (a malformed one fails the whole request
    with ``Invalid request: invalid stream``); LIST_SUBSCRIPTIONS lists them in
    subscription order; SET_PROPERTY / GET_PROPERTY know ``combined`` only.
    """
    try:
        request = json.loads(raw)
    except json.JSONDecodeError as exc:
        return _error(
            INVALID_JSON, f"Invalid JSON: expected value at line {exc.lineno} column {exc.colno}"
        )
    if not isinstance(request, dict) or "method" not in request:
        return _error(
            INVALID_REQUEST,
            f"Invalid request: missing field `method` at {_position_after(raw, r'$')}",
        )
    method = request["method"]
    if method not in METHODS:
        expected = ", ".join(f"`{m}`" for m in METHODS)
        where = _position_after(raw, r'"method"\s*:\s*("(?:[^"\\]|\\.)*"|[^,}\s]+)')
        return _error(
            INVALID_REQUEST,
            f"Invalid request: unknown variant `{method}`, expected one of {expected} at {where}",
        )
    request_id = request.get("id")
    if not _is_request_id(request_id):
        return _error(INVALID_REQUEST, "Invalid request: request ID must be an unsigned integer")
    params = request.get("params", [])
    if method == "LIST_SUBSCRIPTIONS":
        return {"result": list(conn.feeds), "id": request_id}
    if method in ("SET_PROPERTY", "GET_PROPERTY"):
        return _property(conn, method, params, request_id)
    streams = (
        [parse(p) if isinstance(p, str) else None for p in params]
        if isinstance(params, list)
        else [None]
    )
    if any(s is None for s in streams):
        return _error(INVALID_REQUEST, "Invalid request: invalid stream", request_id)
    for stream in streams:
        assert stream is not None
        if method == "SUBSCRIBE":
            conn.subscribe(stream)
        else:
            conn.unsubscribe(stream.name)
    return {"result": None, "id": request_id}


def _property(conn: Connection, method: str, params: object, request_id: object) -> Json:
    name = params[0] if isinstance(params, list) and params else None
    if not isinstance(name, str):
        return _error(
            INVALID_REQUEST, "Invalid request: property name must be a string", request_id
        )
    if name != "combined":
        return _error(UNKNOWN_PROPERTY, "Unknown property", request_id)
    if method == "GET_PROPERTY":
        return {"result": conn.combined, "id": request_id}
    assert isinstance(params, list)
    value = params[1] if len(params) > 1 else None
    if not isinstance(value, bool):
        return _error(INVALID_VALUE, "Invalid value type: expected Boolean", request_id)
    conn.combined = value
    return {"result": None, "id": request_id}


# ------------------------------------------------------------ connection


async def _push(conn: Connection, socket: web.WebSocketResponse) -> None:
    """Send what each subscription has due, every scan, until the socket closes."""
    loop = asyncio.get_running_loop()
    while not socket.closed:
        for frame in conn.poll(loop.time()):
            await socket.send_json(frame)
        await asyncio.sleep(SCAN_INTERVAL_S)


async def _serve(request: web.Request, tier: Tier) -> web.StreamResponse:
    """One stream connection of ``tier`` (refused with 503 while the plan says so)."""
    ctx, hub = request.app[CONTEXT_KEY], request.app[HUB_KEY]
    if not hub.admit():
        return web.json_response(
            {"code": -1001, "msg": "Stream refused by the simulator."}, status=503
        )
    socket = web.WebSocketResponse()
    await socket.prepare(request)
    hub.sockets.add(socket)
    conn = Connection(ctx, tier)
    hub.connections.append(conn)
    in_path = parse(request.match_info.get("stream", ""))
    if in_path is not None:
        conn.subscribe(in_path)
    pusher = asyncio.create_task(_push(conn, socket))
    try:
        async for message in socket:
            if message.type == WSMsgType.TEXT:
                await socket.send_json(answer(conn, message.data))
    finally:
        pusher.cancel()
        await asyncio.gather(pusher, return_exceptions=True)
        conn.close()
        hub.connections.remove(conn)
        hub.sockets.discard(socket)
    return socket


async def public_stream(request: web.Request) -> web.StreamResponse:
    """GET /public/ws[/{stream}] and the legacy /ws[/{stream}]: the public tier."""
    return await _serve(request, Tier.PUBLIC)


async def market_stream(request: web.Request) -> web.StreamResponse:
    """GET /market/ws[/{stream}]: the market tier."""
    return await _serve(request, Tier.MARKET)


async def _close_streams(app: web.Application) -> None:
    await app[HUB_KEY].drop()


def add_routes(app: web.Application, clock: Callable[[], float]) -> None:
    """Serve the market streams on every path and close them on shutdown."""
    app[HUB_KEY] = StreamHub(clock)
    for root, handler in (
        ("/public/ws", public_stream),
        ("/ws", public_stream),
        ("/market/ws", market_stream),
    ):
        app.router.add_get(root, handler)
        app.router.add_get(root + "/{stream}", handler)
    app.on_shutdown.append(_close_streams)
