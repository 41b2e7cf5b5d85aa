"""``/healthz``, ``/readyz``, ``/status`` and ``/metrics`` for probes and people."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from tradewarden.bot.runtime.bot import BotRuntime
from tradewarden.bot.runtime.status import render_status


def create_app(bot: BotRuntime) -> web.Application:
    """The bot's HTTP app; handlers only read state."""

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def readyz(_: web.Request) -> web.Response:
        ready = bot.ready
        preflight = None if bot.preflight is None else bot.preflight.passed
        body = {"ready": ready, "preflightPassed": preflight}
        return web.json_response(body, status=200 if ready else 503)

    async def status(_: web.Request) -> web.Response:
        return web.json_response(render_status(bot).to_json())

    async def metrics(_: web.Request) -> web.Response:
        bot.refresh_gauges()
        return web.Response(
            body=generate_latest(bot.metrics.registry),
            headers={"Content-Type": CONTENT_TYPE_LATEST},
        )

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/status", status)
    app.router.add_get("/metrics", metrics)
    return app


@asynccontextmanager
async def serving(bot: BotRuntime, host: str, port: int) -> AsyncIterator[int]:
    """Serve the bot's endpoints; yields the bound port (``port=0`` picks one)."""
    runner = web.AppRunner(create_app(bot), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    try:
        yield int(runner.addresses[0][1])
    finally:
        await runner.cleanup()
