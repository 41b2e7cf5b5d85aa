"""Shutdown with a live market stream whose WebSocket close is never answered.

A venue (or a network path) that does not answer the close handshake must not
keep the market-data task past the shutdown grace: the bot stops its tasks
first and closes the stream client afterwards, bounded (issue 12 item 14).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.support.waiting import eventually
from tradewarden.api.tradingbot import ExchangeSpec
from tradewarden.bot.runtime import bot as bot_module
from tradewarden.bot.runtime.bot import BotRuntime
from tradewarden.bot.venue.ccxt_client import streams_for
from tradewarden.bot.venue_sim.server import running_venue_sim
from tradewarden.bot.venue_sim.settings import SimSettings

from .conftest import sim_client
from .test_guards_sim import WAIT_SECONDS, Recorder, manifest


async def test_a_stream_close_that_never_completes_does_not_hold_the_market_data_task(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clients: list[Any] = []
    close_started = asyncio.Event()

    def unanswered_close(spec: ExchangeSpec) -> Any:
        """The real ccxt.pro client, whose close waits for an answer that never comes."""
        client = streams_for(spec)
        assert client is not None
        clients.append(client)

        async def close() -> None:
            close_started.set()
            await asyncio.Event().wait()

        client.close = close
        return client

    monkeypatch.setattr(bot_module, "streams_for", unanswered_close)
    async with running_venue_sim(SimSettings(price_tick_s=0.05, seed=5)) as sim:
        bot = BotRuntime(manifest(sim), sim_client(sim, timeout_ms=2000), tmp_path)
        recorder = Recorder(bot.events)
        stop = asyncio.Event()
        task = asyncio.create_task(bot.run(stop))

        def live() -> bool:
            return bot.ready and bool(recorder.named("WS_CONNECTED"))

        try:
            await eventually(live, "the bot ready with its stream connected")
            stop.set()
            # The close is abandoned after the grace; the rest of the shutdown is not timed here.
            exit_code = await asyncio.wait_for(task, WAIT_SECONDS)
        finally:
            if not task.done():
                task.cancel()
            for client in clients:
                await type(client).close(client)

    assert exit_code == 0
    assert close_started.is_set()
    assert recorder.named("BOT_FATAL") == []
    assert [r["event"] for r in recorder.records][-1] == "BOT_STOP"
