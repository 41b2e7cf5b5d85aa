"""The bot's order path, as production runs it, vs raw ccxt making the same venue calls.

The bot side is the execution worker the bot builds: journal, router, and after
every order the full reconcile pass (open orders, open stops, position, and the
protective stop it places or cancels). The raw side replays, through a second
ccxt client, exactly the ccxt calls the bot side made in its latest round (same
methods, arguments and order, under its own client ids), so the ratio is what
the bot adds on top of the venue calls it needs.

Run alone with ``python bench/order_path.py``; ``make bench`` runs it first.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import yaml
from sim_process import API_KEY, API_SECRET

from tradewarden.api.identity import bot_prefix
from tradewarden.api.tradingbot import TradingBot
from tradewarden.bot.execution.journal import Journal
from tradewarden.bot.execution.router import OrderRouter, RouterContext
from tradewarden.bot.model.orders import OrderIntent, OrderType, Place, Side
from tradewarden.bot.observability.events import EventLog
from tradewarden.bot.observability.metrics import BotMetrics
from tradewarden.bot.reliability.protection import ProtectionSettings
from tradewarden.bot.reliability.reconciler import Reconciler, ReconcilerSettings
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


IDENTITY = "bench/bot"
# The bot runs the settings of the manifest the README starts with.
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "tradingbot-sim.yaml"
# The ccxt methods the venue adapter calls; the recorder copies each call the bot makes.
VENUE_CALLS = (
    "create_order",
    "cancel_order",
    "cancel_orders",
    "fetch_order",
    "fetch_orders",
    "fetch_open_orders",
    "fetch_positions",
)
# Where a call carries a client id the raw side must replace with its own.
ID_PARAMS = ("clientOrderId", "origClientOrderId", "clientAlgoId")

Call = tuple[str, tuple[Any, ...]]


async def measure(base_url: str, sink: TextIO) -> dict[str, float]:
    """Median seconds per order of both loops, and the median of their paired ratios.

    Rounds alternate ABBA so neither side always runs second; each raw round
    replays the calls of the bot round before it (the warm-up round's first).
    ``sink`` takes the bot path's event lines: the bot writes every one.
    """
    raw_client = _client(base_url)
    bot_client = _client(base_url)
    calls: list[Call] = []
    _record(bot_client, calls)
    with tempfile.TemporaryDirectory() as workdir:
        worker = _worker(bot_client, Path(workdir), sink)
        try:
            await raw_client.load_markets()
            await bot_client.load_markets()
            # One warm-up round each: connection set-up is not the order path.
            await _bot_loop(worker)
            pattern = list(calls)
            await _raw_loop(raw_client, pattern, "warm")
            raw, bot = [], []
            for round_number in range(ROUNDS):
                if round_number % 2 == 0:
                    raw.append(await _raw_loop(raw_client, pattern, str(round_number)))
                calls.clear()
                bot.append(await _bot_loop(worker))
                pattern = list(calls)
                if round_number % 2 == 1:
                    raw.append(await _raw_loop(raw_client, pattern, str(round_number)))
        finally:
            worker.journal.close()
            await raw_client.close()
            await bot_client.close()
    return {
        "raw": statistics.median(raw),
        "bot": statistics.median(bot),
        "ratio": statistics.median(b / r for b, r in zip(bot, raw, strict=True)),
        "calls_per_order": len(pattern) / PER_ROUND,
    }


def _client(base_url: str):  # type: ignore[no-untyped-def]
    client = build_exchange(
        "binanceusdm", api_key=API_KEY, api_secret=API_SECRET, url_override=base_url
    )
    # ccxt's own 50 ms spacing between requests would swamp what is measured.
    client.enableRateLimit = False
    return client


def _record(client: Any, calls: list[Call]) -> None:
    """Append every venue call ``client`` makes to ``calls`` (method name, arguments)."""
    for name in VENUE_CALLS:
        method = getattr(client, name)

        def recorded(*args: Any, _name: str = name, _method: Callable[..., Any] = method) -> Any:
            calls.append((_name, args))
            return _method(*args)

        setattr(client, name, recorded)


def _worker(client, workdir: Path, sink: TextIO) -> ExecutionWorker:  # type: ignore[no-untyped-def]
    """The execution worker and reconciler as the bot wires them, with the CRD's defaults."""
    spec = TradingBot.model_validate(yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))).spec
    assert spec.symbol == SYMBOL, spec.symbol
    journal = Journal.open(workdir / "journal.sqlite", IDENTITY, time.time)
    venue = VenueAdapter(client)
    context = RouterContext(
        journal=journal,
        policy=RetryPolicy(max_retries=3, base_delay=0.1, max_delay=1, max_elapsed=10),
        events=EventLog(time.time, sink),
        metrics=BotMetrics(),
        clock=time.time,
        sleep=_no_sleep,
        rng=random.Random(0),
        absent_grace=spec.execution.absent_grace_seconds,
    )
    router = OrderRouter(venue, context)
    settings = ReconcilerSettings(
        symbols=(SYMBOL,),
        bot_prefix=bot_prefix(IDENTITY),
        absent_grace_seconds=spec.execution.absent_grace_seconds,
        drift_detections=spec.guards.drift.detections_in_a_row,
        protection=ProtectionSettings(
            spec.risk.stop_distance_pct, required=spec.risk.require_protective_stop
        ),
    )
    reconciler = Reconciler(
        venue,
        router,
        context,
        settings,
        gate=_admit_all,
        on_position=lambda symbol, size: None,
        on_report=lambda report: None,
    )
    worker_settings = WorkerSettings.from_spec(spec.execution)
    return ExecutionWorker(router, context, reconciler, settings=worker_settings, gate=_admit_all)


def _admit_all(_: OrderIntent) -> None:
    return None


async def _no_sleep(_: float) -> None:
    raise RuntimeError("the benchmark hit a retry; its figures would be meaningless")


async def _raw_loop(client: Any, pattern: list[Call], round_name: str) -> float:
    """Replay ``pattern`` through ``client`` under fresh client ids; seconds per order."""
    ids: dict[str, str] = {}

    def own(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                key: ids.setdefault(item, f"raw-{round_name}-{len(ids)}")
                if key in ID_PARAMS and isinstance(item, str)
                else item
                for key, item in value.items()
            }
        return value

    started = time.perf_counter()
    for name, args in pattern:
        await getattr(client, name)(*map(own, args))
    return (time.perf_counter() - started) / PER_ROUND


async def _bot_loop(worker: ExecutionWorker) -> float:
    started = time.perf_counter()
    for index in range(PER_ROUND):
        side = Side.BUY if index % 2 == 0 else Side.SELL
        await worker.execute(Place(OrderIntent(SYMBOL, side, OrderType.MARKET, QUANTITY)))
    return (time.perf_counter() - started) / PER_ROUND


if __name__ == "__main__":
    import asyncio
    import json
    import os

    from sim_process import simulator_process

    async def _main(sink: TextIO) -> dict[str, float]:
        async with simulator_process(seed=1) as base_url:
            return await measure(base_url, sink)

    with open(os.devnull, "w") as devnull:
        print(json.dumps(asyncio.run(_main(devnull))))
