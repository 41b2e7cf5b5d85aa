"""Server lifecycle: injected clock, the background price walk, serve_forever, clean shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re

import aiohttp
import pytest

from tradewarden.bot.venue_sim.server import running_venue_sim, serve_forever
from tradewarden.bot.venue_sim.settings import SimSettings


async def test_the_injected_clock_is_the_server_time() -> None:
    async with (
        running_venue_sim(SimSettings(price_tick_s=0), clock=lambda: 1_700_000_000.5) as sim,
        aiohttp.ClientSession() as http,
        http.get(sim.base_url + "/fapi/v1/time") as reply,
    ):
        assert await reply.json() == {"serverTime": 1_700_000_000_500}


class _UrlCatcher(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.url: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def emit(self, record: logging.LogRecord) -> None:
        match = re.search(r"http://\S+", record.getMessage())
        if match and not self.url.done():
            self.url.set_result(match.group(0))


async def test_serve_forever_walks_prices_until_cancelled() -> None:
    catcher = _UrlCatcher()
    logger = logging.getLogger("tradewarden.bot.venue_sim.server")
    logger.addHandler(catcher)
    logger.setLevel(logging.INFO)
    task = asyncio.create_task(serve_forever(SimSettings(price_tick_s=0.01, seed=3)))
    try:
        url = await asyncio.wait_for(catcher.url, 5)
        async with aiohttp.ClientSession() as http:
            first = None
            for _ in range(500):  # each round trip lets the 10 ms walk run; stop once it moved
                async with http.get(url + "/_sim/state") as reply:
                    marks = (await reply.json())["marks"]
                first = first or marks
                if marks != first:
                    break
            assert marks != first
    finally:
        logger.removeHandler(catcher)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    with pytest.raises(aiohttp.ClientConnectionError):
        async with aiohttp.ClientSession() as http, http.get(url + "/_sim/state"):
            pass


async def test_held_requests_do_not_block_shutdown() -> None:
    async with aiohttp.ClientSession() as http:
        async with running_venue_sim(SimSettings(price_tick_s=0)) as sim:
            await sim.set_faults([{"action": {"accept_then_drop": True}}])
            held = asyncio.create_task(http.get(sim.base_url + "/fapi/v1/time"))
            while not (await sim.state())["requests"]:
                pass
        # Leaving the context released the held request: the client sees the connection close.
        with pytest.raises(aiohttp.ClientError):
            await asyncio.wait_for(held, 5)


async def test_a_paused_walk_holds_the_marks_until_resumed() -> None:
    async with running_venue_sim(SimSettings(price_tick_s=0.005, seed=5)) as sim:
        await sim.pause_walk()
        held = (await sim.state())["marks"]
        # Each round trip yields to the 5 ms walk; 100 of them span many ticks.
        for _ in range(100):
            assert (await sim.state())["marks"] == held
        await sim.pause_walk(paused=False)
        for _ in range(500):
            if (await sim.state())["marks"] != held:
                break
        assert (await sim.state())["marks"] != held
