"""``/healthz``, ``/readyz``, ``/status`` and ``/metrics`` for probes and people."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from tradewarden.bot.observability.metrics import BotMetrics
from tradewarden.bot.runtime.status import StatusSource, render_status


class ServedBot(StatusSource, Protocol):
    """What the endpoints read of the bot: ``/status``'s source and the metrics."""

    @property
    def metrics(self) -> BotMetrics: ...

    def refresh_gauges(self) -> None:
        """Bring journal-derived gauges up to date."""


def create_app(bot: ServedBot) -> web.Application:
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
async def serving(bot: ServedBot, host: str, port: int) -> AsyncIterator[int]:
    """Serve the bot's endpoints; yields the bound port (``port=0`` picks one)."""
    runner = web.AppRunner(create_app(bot), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    try:
        yield int(runner.addresses[0][1])
    finally:
        await runner.cleanup()
