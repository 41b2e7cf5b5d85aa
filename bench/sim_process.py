"""Run the venue simulator as its own process, so it never shares a core's
event loop with the code being measured."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp

from tradewarden.bot.runtime.command import tradewarden_command

API_KEY, API_SECRET = "bench-key", "bench-secret"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def simulator_process(seed: int, price_tick: float = 0.0) -> AsyncIterator[str]:
    """Start ``tradewarden venue-sim`` with no weight limit; yield its base URL.

    ``price_tick`` > 0 moves the price (seconds per step) so a grid keeps trading.
    """
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        *tradewarden_command(),
        "venue-sim",
        "--port",
        str(port),
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
        stdout=asyncio.subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        await _wait_until_serving(base_url)
        yield base_url
    finally:
        process.terminate()
        await process.wait()


async def _wait_until_serving(base_url: str, attempts: int = 200) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(attempts):
            try:
                async with http.get(f"{base_url}/fapi/v1/time") as reply:
                    if reply.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            # Polling a starting process: there is no event to wait on.
            await asyncio.sleep(0.05)
    raise RuntimeError(f"simulator at {base_url} did not come up")
