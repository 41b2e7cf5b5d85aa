"""Binance USD-M market streams over WebSocket: what ccxt.pro's ``binanceusdm`` subscribes to.

ccxt connects to ``<ws base>/market/ws/<n>`` and sends
``{"method": "SUBSCRIBE", "params": ["btcusdt@markPrice@1s"], "id": 1}``; the venue
answers ``{"result": null, "id": 1}`` and then pushes ``markPriceUpdate`` and
``24hrMiniTicker`` events with Binance's one-letter field names. Tests steer the
streams through :class:`StreamHub`: drop every connection, refuse new ones.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from tradewarden.bot.venue_sim import views
from tradewarden.bot.venue_sim.context import CONTEXT_KEY, VenueContext

# How often a connection looks for changed marks, and the longest silence on a stream
# (Binance pushes markPrice@1s and miniTicker about once a second).
SCAN_INTERVAL_S = 0.1
PUSH_INTERVAL_S = 1.0
# Binance's reply to a malformed or unknown request on a market stream.
INVALID_REQUEST = 2

Json = dict[str, Any]


@dataclass
class StreamHub:
    """Open stream connections and the refusal plan, shared by the handler and /_sim."""

    clock: Callable[[], float]
    sockets: set[web.WebSocketResponse] = field(default_factory=set)
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
        }


HUB_KEY = web.AppKey("venue_streams", StreamHub)


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


def _mini_ticker_event(ctx: VenueContext, symbol: str) -> Json:
    now_ms = ctx.engine.now_ms()
    row = views.ticker_24hr(
        symbol, ctx.engine.mark(symbol), ctx.engine.ticker_stats(symbol), now_ms
    )
    return {
        "e": "24hrMiniTicker",
        "E": now_ms,
        "s": symbol,
        "c": row["lastPrice"],
        "o": row["openPrice"],
        "h": row["highPrice"],
        "l": row["lowPrice"],
        "v": row["volume"],
        "q": row["quoteVolume"],
    }


_EVENTS: dict[str, Callable[[VenueContext, str], Json]] = {
    "markPrice": _mark_event,
    "markPrice@1s": _mark_event,
    "miniTicker": _mini_ticker_event,
}


def _stream_symbol(ctx: VenueContext, name: str) -> str | None:
    """The venue symbol of a stream name like ``btcusdt@markPrice@1s``, or None if unknown."""
    symbol, _, kind = name.partition("@")
    if kind not in _EVENTS or symbol.upper() not in ctx.engine.marks():
        return None
    return symbol.upper()


def _answer(ctx: VenueContext, subscriptions: set[str], raw: str) -> Json:
    """Apply one SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS request and build the reply."""
    try:
        request = json.loads(raw)
    except json.JSONDecodeError:
        return {"error": {"code": INVALID_REQUEST, "msg": "Invalid JSON"}, "id": None}
    request_id = request.get("id") if isinstance(request, dict) else None
    method = request.get("method") if isinstance(request, dict) else None
    params = request.get("params", []) if isinstance(request, dict) else None
    if method == "LIST_SUBSCRIPTIONS":
        return {"result": sorted(subscriptions), "id": request_id}
    if method not in ("SUBSCRIBE", "UNSUBSCRIBE") or not isinstance(params, list):
        return {"error": {"code": INVALID_REQUEST, "msg": "Invalid request"}, "id": request_id}
    unknown = [
        name for name in params if not isinstance(name, str) or not _stream_symbol(ctx, name)
    ]
    if unknown:
        message = f"Invalid request: unknown stream(s) {unknown}"
        return {"error": {"code": INVALID_REQUEST, "msg": message}, "id": request_id}
    if method == "SUBSCRIBE":
        subscriptions.update(params)
    else:
        subscriptions.difference_update(params)
    return {"result": None, "id": request_id}


async def _push(ctx: VenueContext, socket: web.WebSocketResponse, subscriptions: set[str]) -> None:
    """Send each subscribed stream when its mark moves, and at least once a second."""
    last: dict[str, tuple[Decimal, float]] = {}
    loop = asyncio.get_running_loop()
    while not socket.closed:
        for name in sorted(subscriptions):
            symbol = _stream_symbol(ctx, name)
            if symbol is None:
                continue
            mark, now = ctx.engine.mark(symbol), loop.time()
            previous = last.get(name)
            if previous is None or previous[0] != mark or now - previous[1] >= PUSH_INTERVAL_S:
                kind = name.partition("@")[2]
                await socket.send_json(_EVENTS[kind](ctx, symbol))
                last[name] = (mark, now)
        await asyncio.sleep(SCAN_INTERVAL_S)


async def market_stream(request: web.Request) -> web.StreamResponse:
    """GET /market/ws/{n}: one ccxt stream connection (refused with 503 while the plan says so)."""
    ctx, hub = request.app[CONTEXT_KEY], request.app[HUB_KEY]
    if not hub.admit():
        return web.json_response(
            {"code": -1001, "msg": "Stream refused by the simulator."}, status=503
        )
    socket = web.WebSocketResponse()
    await socket.prepare(request)
    hub.sockets.add(socket)
    subscriptions: set[str] = set()
    pusher = asyncio.create_task(_push(ctx, socket, subscriptions))
    try:
        async for message in socket:
            if message.type == WSMsgType.TEXT:
                await socket.send_json(_answer(ctx, subscriptions, message.data))
    finally:
        pusher.cancel()
        await asyncio.gather(pusher, return_exceptions=True)
        hub.sockets.discard(socket)
    return socket


async def _close_streams(app: web.Application) -> None:
    await app[HUB_KEY].drop()


def add_routes(app: web.Application, clock: Callable[[], float]) -> None:
    """Serve the market streams and close them on shutdown."""
    app[HUB_KEY] = StreamHub(clock)
    app.router.add_get("/market/ws/{stream}", market_stream)
    app.on_shutdown.append(_close_streams)
