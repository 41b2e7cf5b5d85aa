"""The bot's order path (journal + route + tight reconcile) vs raw ccxt, same calls."""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import TextIO

from sim_process import API_KEY, API_SECRET

from tradewarden.bot.execution.journal import Journal
from tradewarden.bot.execution.router import OrderRouter, RouterContext
from tradewarden.bot.model.orders import OrderIntent, OrderType, Place, Side
from tradewarden.bot.observability.events import EventLog
from tradewarden.bot.observability.metrics import BotMetrics
from tradewarden.bot.retry import RetryPolicy
from tradewarden.bot.runtime.worker import ExecutionWorker, WorkerSettings
from tradewarden.bot.venue.adapter import VenueAdapter
from tradewarden.bot.venue.ccxt_client import build_exchange

SYMBOL = "BTC/USDT:USDT"
QUANTITY = Decimal("0.003")
# Many short rounds, each paired with the raw loop next to it: a paired ratio
# cancels the machine's slow drifts, which on two shared cores swing either
# side's median by 10 %.
ROUNDS, PER_ROUND = 40, 10


async def measure(base_url: str, sink: TextIO) -> dict[str, float]:
    """Median seconds per order of both loops, and the median of their paired ratios.

    Rounds alternate ABBA so neither side always runs second. ``sink`` takes
    the bot path's event lines: the bot writes every one.
    """
    raw_client = _client(base_url)
    bot_client = _client(base_url)
    with tempfile.TemporaryDirectory() as workdir:
        worker = _worker(bot_client, Path(workdir), sink)
        try:
            await raw_client.load_markets()
            await bot_client.load_markets()
            # One warm-up round each: connection set-up is not the order path.
            await _raw_loop(raw_client, "warm")
            await _bot_loop(worker)
            raw, bot = [], []
            for round_number in range(ROUNDS):
                if round_number % 2 == 0:
                    raw.append(await _raw_loop(raw_client, str(round_number)))
                    bot.append(await _bot_loop(worker))
                else:
                    bot.append(await _bot_loop(worker))
                    raw.append(await _raw_loop(raw_client, str(round_number)))
        finally:
            worker.journal.close()
            await raw_client.close()
            await bot_client.close()
    return {
        "raw": statistics.median(raw),
        "bot": statistics.median(bot),
        "ratio": statistics.median(b / r for b, r in zip(bot, raw, strict=True)),
    }


def _client(base_url: str):  # type: ignore[no-untyped-def]
    client = build_exchange(
        "binanceusdm", api_key=API_KEY, api_secret=API_SECRET, url_override=base_url
    )
    # ccxt's own 50 ms spacing between requests would swamp what is measured.
    client.enableRateLimit = False
    return client


def _worker(client, workdir: Path, sink: TextIO) -> ExecutionWorker:  # type: ignore[no-untyped-def]
    journal = Journal.open(workdir / "journal.sqlite", "bench/bot", time.time)
    venue = VenueAdapter(client)
    context = RouterContext(
        journal=journal,
        policy=RetryPolicy(max_retries=3, base_delay=0.1, max_delay=1, max_elapsed=10),
        events=EventLog(time.time, sink),
        metrics=BotMetrics(),
        clock=time.time,
        sleep=_no_sleep,
        rng=random.Random(0),
    )
    return ExecutionWorker(
        venue,
        OrderRouter(venue, context),
        context,
        settings=WorkerSettings(symbols=(SYMBOL,), tight_loop_timeout=60, absent_grace_seconds=5),
        gate=lambda intent: None,
        on_position=lambda symbol, size: None,
    )


async def _no_sleep(_: float) -> None:
    raise RuntimeError("the benchmark hit a retry; its figures would be meaningless")


async def _raw_loop(client, round_name: str) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    for index in range(PER_ROUND):
        side = "buy" if index % 2 == 0 else "sell"
        await client.create_order(
            SYMBOL,
            "market",
            side,
            float(QUANTITY),
            None,
            {"clientOrderId": f"raw-{round_name}-{index}"},
        )
        await client.fetch_positions([SYMBOL])
    return (time.perf_counter() - started) / PER_ROUND


async def _bot_loop(worker: ExecutionWorker) -> float:
    started = time.perf_counter()
    for index in range(PER_ROUND):
        side = Side.BUY if index % 2 == 0 else Side.SELL
        await worker.execute(Place(OrderIntent(SYMBOL, side, OrderType.MARKET, QUANTITY)))
    return (time.perf_counter() - started) / PER_ROUND
