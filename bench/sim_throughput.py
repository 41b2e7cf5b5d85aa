"""Signed create_order requests per second the simulator sustains on one core."""

from __future__ import annotations

import asyncio
import time

from sim_process import API_KEY, API_SECRET

from tradewarden.bot.venue.ccxt_client import build_exchange

CLIENTS, DURATION_SECONDS = 4, 5.0


async def measure(base_url: str) -> float:
    clients = [
        build_exchange("binanceusdm", api_key=API_KEY, api_secret=API_SECRET, url_override=base_url)
        for _ in range(CLIENTS)
    ]
    for client in clients:
        # The simulator is what is measured, not ccxt's client-side spacing.
        client.enableRateLimit = False
    try:
        await asyncio.gather(*(client.load_markets() for client in clients))
        deadline = time.perf_counter() + DURATION_SECONDS
        started = time.perf_counter()
        counts = await asyncio.gather(*(_hammer(client, deadline) for client in clients))
        return sum(counts) / (time.perf_counter() - started)
    finally:
        await asyncio.gather(*(client.close() for client in clients))


async def _hammer(client, deadline: float) -> int:  # type: ignore[no-untyped-def]
    sent = 0
    while time.perf_counter() < deadline:
        # Alternating market orders keep margin flat while every request is
        # signed, checked, matched and booked into the position.
        side = "buy" if sent % 2 == 0 else "sell"
        await client.create_order("BTC/USDT:USDT", "market", side, 0.003)
        sent += 1
    return sent
