"""The simulator's HTTP server: request pipeline, app factory, and run helpers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
from aiohttp import web

from tradewarden.bot.venue_sim import admin, errors, signing, streams, userdata
from tradewarden.bot.venue_sim.admin_client import SimAdmin
from tradewarden.bot.venue_sim.context import CONTEXT_KEY, Call, VenueContext
from tradewarden.bot.venue_sim.fapi import ROUTES, Route
from tradewarden.bot.venue_sim.faults import Disturbance, ErrorReply
from tradewarden.bot.venue_sim.markets import SymbolSpec
from tradewarden.bot.venue_sim.models import Side
from tradewarden.bot.venue_sim.params import Params
from tradewarden.bot.venue_sim.prices import PriceWalk
from tradewarden.bot.venue_sim.settings import SimSettings

log = logging.getLogger(__name__)

USED_WEIGHT_HEADER = "X-MBX-USED-WEIGHT-1M"
ORDER_COUNT_HEADER = "X-MBX-ORDER-COUNT-"  # + 10S / 1M, on the replies of order requests
# Held and delayed requests are released on shutdown, so this only bounds a stuck handler.
SHUTDOWN_TIMEOUT_S = 2.0
# Each step of the random walk prints one trade of about this many USDT on the public tape.
PRINT_NOTIONAL = Decimal(500)


def _parse_params(raw_query: str, raw_body: str) -> Params:
    values = dict(parse_qsl(raw_query, keep_blank_values=True))
    values.update(parse_qsl(raw_body, keep_blank_values=True))
    return Params(values)


def _fault_error(reply: ErrorReply) -> errors.VenueError:
    headers = {"Retry-After": "1"} if reply.status in (418, 429) else {}
    return errors.VenueError(reply.code, reply.msg, status=reply.status, headers=headers)


def _drop_fields(body: object, fields: set[str]) -> object:
    if isinstance(body, dict):
        return {k: v for k, v in body.items() if k not in fields}
    if isinstance(body, list):
        return [_drop_fields(item, fields) for item in body]
    return body


async def _pause(ctx: VenueContext, seconds: float) -> None:
    """Sleep for a delay fault, but wake up at once when the server shuts down."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(ctx.closing.wait(), seconds)


async def _hold_until_shutdown(request: web.Request, ctx: VenueContext) -> None:
    """Accept-then-drop: the work is done, but the client never hears back."""
    await ctx.closing.wait()
    if request.transport is not None:
        request.transport.close()


def _authenticate(
    ctx: VenueContext,
    request: web.Request,
    raw_query: str,
    raw_body: str,
    call: Call,
    *,
    lag_ms: int,
) -> None:
    settings = ctx.settings
    signing.check_api_key(request.headers.get("X-MBX-APIKEY"), settings.api_key)
    signing.check_signature(raw_query, raw_body, settings.api_secret)
    # A request that lagged on its way in is checked against the clock it arrived at.
    arrived_ms = call.server_ms + lag_ms
    signing.check_timestamp(call.params.raw(), arrived_ms, settings.recv_window_ms)


async def _serve(
    ctx: VenueContext, request: web.Request, route: Route | None, disturbance: Disturbance
) -> tuple[int, object, dict[str, str]]:
    """Run one Binance request through weight, auth and the handler; errors become replies."""
    try:
        if disturbance.error is not None:
            raise _fault_error(disturbance.error)
        raw_query = request.rel_url.raw_query_string
        raw_body = (await request.read()).decode("utf-8", errors="replace")
        params = _parse_params(raw_query, raw_body)
        ctx.limiter.charge(route.weight(params) if route else 1, ctx.clock())
        if route is None:
            raise errors.invalid_path(request.method, request.path)
        now_ms = ctx.engine.now_ms()
        hidden_after = now_ms - disturbance.hide_new_orders_ms
        call = Call(
            params,
            now_ms + disturbance.skew_ms,
            disturbance.stale_ms,
            hidden_after if disturbance.hide_new_orders_ms else None,
        )
        if route.signed:
            _authenticate(ctx, request, raw_query, raw_body, call, lag_ms=disturbance.lag_ms)
        elif route.keyed:
            signing.check_api_key(request.headers.get("X-MBX-APIKEY"), ctx.settings.api_key)
        if route.orders is not None:
            ctx.order_limiter.charge(route.orders(params), ctx.clock())
        return 200, route.handler(ctx, call), {}
    except errors.VenueError as exc:
        return exc.status, exc.body(), dict(exc.headers)


async def _dispatch(request: web.Request) -> web.StreamResponse:
    """Every /fapi request: count it, apply the fault plan, serve it, then disturb the reply."""
    ctx = request.app[CONTEXT_KEY]
    method, path = request.method, request.path
    ctx.requests[f"{method} {path}"] += 1
    disturbance = ctx.faults.take(method, path)
    if disturbance.delay_ms:
        await _pause(ctx, disturbance.delay_ms / 1000)
    route = ROUTES.get((method, path))
    # Funding falls due on the venue clock; settle it before the request sees the account.
    ctx.engine.settle_funding()
    status, body, headers = await _serve(ctx, request, route, disturbance)
    headers[USED_WEIGHT_HEADER] = str(ctx.limiter.used(ctx.clock()))
    if route is not None and route.orders is not None:
        for window, count in ctx.order_limiter.counts(ctx.clock()).items():
            headers[ORDER_COUNT_HEADER + window] = str(count)
    if disturbance.drop_reply:
        await _hold_until_shutdown(request, ctx)
    if disturbance.raw is not None:
        raw = disturbance.raw
        return web.Response(
            status=raw.status, text=raw.body, content_type=raw.content_type, headers=headers
        )
    if disturbance.drop_fields:
        body = _drop_fields(body, disturbance.drop_fields)
    return web.json_response(body, status=status, headers=headers)


@web.middleware
async def _json_errors(
    request: web.Request, handler: Callable[[web.Request], Any]
) -> web.StreamResponse:
    """Binance-style JSON for aiohttp's own 404/405 and for any bug that slips through."""
    try:
        response: web.StreamResponse = await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        error = errors.invalid_path(request.method, request.path)
        return web.json_response(error.body(), status=exc.status)
    except Exception:
        # A crash must still look like Binance to the client; the traceback goes to the log only.
        log.exception("venue simulator failed on %s %s", request.method, request.path)
        error = errors.unknown_error()
        return web.json_response(error.body(), status=error.status)
    return response


def _print_qty(spec: SymbolSpec, mark: Decimal) -> Decimal:
    """The size of another participant's trade: about :data:`PRINT_NOTIONAL` at the mark."""
    return max(spec.round_qty(PRINT_NOTIONAL / mark), spec.step_size)


async def _walk_prices(ctx: VenueContext) -> None:
    walk = PriceWalk(ctx.settings.seed, ctx.settings.volatility_bps)
    while True:
        await asyncio.sleep(ctx.settings.price_tick_s)
        if ctx.walk_paused:
            continue
        for symbol, price in walk.step(ctx.engine.marks()).items():
            before = ctx.engine.mark(symbol)
            after = ctx.engine.set_mark(symbol, price)
            if after != before:  # the move is someone's trade, taking the side it moved to
                taker = Side.BUY if after > before else Side.SELL
                ctx.engine.market_trade(symbol, taker, _print_qty(ctx.engine.spec(symbol), after))


async def _price_process(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(_walk_prices(app[CONTEXT_KEY]))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _release_held_requests(app: web.Application) -> None:
    app[CONTEXT_KEY].closing.set()


def create_app(settings: SimSettings, clock: Callable[[], float] = time.time) -> web.Application:
    """The simulator as an aiohttp application (no socket bound yet)."""
    app = web.Application(middlewares=[_json_errors])
    app[CONTEXT_KEY] = VenueContext.create(settings, clock)
    app.router.add_route("*", "/fapi/{tail:.*}", _dispatch)
    app.router.add_route("*", "/futures/data/{tail:.*}", _dispatch)  # market statistics
    admin.add_routes(app)
    streams.add_routes(app, clock)
    userdata.add_routes(app, app[CONTEXT_KEY].user_data)
    app.on_shutdown.append(_release_held_requests)
    if settings.price_tick_s > 0:
        app.cleanup_ctx.append(_price_process)
    return app


@dataclass(frozen=True)
class RunningVenueSim(SimAdmin):
    """A simulator bound to a local port; its /_sim admin calls are :class:`SimAdmin`'s."""

    port: int
    settings: SimSettings


@contextlib.asynccontextmanager
async def running_venue_sim(
    settings: SimSettings, *, clock: Callable[[], float] = time.time
) -> AsyncIterator[RunningVenueSim]:
    """Serve the simulator on ``settings.host``/``settings.port`` (port 0 = a free one).

    The server is stopped and every held request released on exit, even if the body raised.
    """
    runner = web.AppRunner(
        create_app(settings, clock), access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_S
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.host, settings.port)
        await site.start()
        port = int(runner.addresses[0][1])
        async with aiohttp.ClientSession() as session:
            yield RunningVenueSim(
                base_url=f"http://{settings.host}:{port}",
                port=port,
                settings=settings,
                _session=session,
            )
    finally:
        await runner.cleanup()


async def serve_forever(settings: SimSettings) -> None:
    """Run the simulator until cancelled, logging the URL it bound."""
    async with running_venue_sim(settings) as sim:
        log.info("venue simulator listening on %s", sim.base_url)
        await asyncio.Event().wait()
