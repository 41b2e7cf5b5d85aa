"""Run the venue simulator as its own process, so it never shares a core's
event loop with the code being measured."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from tradewarden.bot.runtime.command import tradewarden_command

API_KEY, API_SECRET = "bench-key", "bench-secret"


@asynccontextmanager
async def simulator_process(seed: int, price_tick: float = 0.0) -> AsyncIterator[str]:
    """Start ``tradewarden venue-sim`` with no weight limit; yield its base URL.

    ``price_tick`` > 0 moves the price (seconds per step) so a grid keeps trading.
    """
    process = await asyncio.create_subprocess_exec(
        *tradewarden_command(),
        "venue-sim",
        "--port",
        "0",
        "--seed",
        str(seed),
        "--price-tick",
        str(price_tick),
        "--volatility-bps",
        "20",
        "--api-key",
        API_KEY,
        "--api-secret",
        API_SECRET,
        "--weight-limit",
        "100000000",
        # The benchmarks send orders as fast as the venue answers: far past Binance's
        # 300 per 10 s, which would turn the measurement into a rate-limit test.
        "--order-limit-10s",
        "100000000",
        "--order-limit-1m",
        "100000000",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        yield await _listening_url(process)
    finally:
        process.terminate()
        await process.wait()


async def _listening_url(process: asyncio.subprocess.Process) -> str:
    """The URL from the simulator's "listening on" line."""
    assert process.stderr is not None
    while line := await asyncio.wait_for(process.stderr.readline(), 30):
        text = line.decode().strip()
        if "listening on " in text:
            return text.rsplit(" ", 1)[-1]
    raise RuntimeError("the simulator exited before listening")
