"""Guards and emergency stops against the venue simulator, through unchanged ccxt.

A rate-limit storm and a persistent clock skew must put the bot in reduce-only
by themselves; emergencyStop Halt and Flatten must leave the venue with no
working order but protective stops, and Flatten with no position, closed by
reduce-only market orders.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import ccxt
import pytest

from tests.integration.conftest import sim_client
from tests.support.clock import FakeClock
from tests.support.manifests import sim_manifest
from tests.support.waiting import eventually
from tradewarden.api.tradingbot import EmergencyAction, EmergencyStop, TradingBot, TradingMode
from tradewarden.bot.chaos.runner import WarpClock, pace_in_bot_time
from tradewarden.bot.execution.journal import Journal
from tradewarden.bot.execution.router import OrderRouter, RouterContext
from tradewarden.bot.model.order_state import OrderState
from tradewarden.bot.model.orders import OrderIntent, OrderType, Side
from tradewarden.bot.observability.events import EventLog
from tradewarden.bot.retry import RetryPolicy
from tradewarden.bot.runtime.bot import BotClocks, BotRuntime
from tradewarden.bot.venue_sim.server import RunningVenueSim, running_venue_sim
from tradewarden.bot.venue_sim.settings import SimSettings

from .conftest import SYMBOL

VENUE_SYMBOL = "BTCUSDT"
WAIT_SECONDS = 30.0
BOT_SPEED = 10.0  # bot seconds per wall second on a warped clock


def manifest(sim: RunningVenueSim) -> TradingBot:
    """The example trading at ``sim``, validated as the bot loads it."""
    return TradingBot.model_validate(sim_manifest(sim))


class Recorder:
    """Captures a bot's events."""

    def __init__(self, events: EventLog) -> None:
        self.records: list[dict[str, Any]] = []
        events.listeners.append(self.records.append)

    def named(self, name: str) -> list[dict[str, Any]]:
        return [r for r in self.records if r["event"] == name]


def metric(bot: BotRuntime, name: str, labels: dict[str, str] | None = None) -> float:
    value = bot.metrics.registry.get_sample_value(name, labels or {})
    return 0.0 if value is None else value


async def test_rate_limit_storm_trips_api_health(tmp_path: Path) -> None:
    settings = SimSettings(price_tick_s=0, seed=3, weight_limit_1m=40)
    async with running_venue_sim(settings) as sim:
        bot = BotRuntime(manifest(sim), sim_client(sim, timeout_ms=2000), tmp_path)
        # The bot assumes Binance's 2400/min; this venue allows 40 so a storm is quick.
        bot.guards.api.weight_limit = settings.weight_limit_1m
        recorder = Recorder(bot.events)
        try:
            await bot.venue.load_markets()
            rejected = 0
            # The venue counts fixed minute windows, as Binance does, and a storm may
            # straddle two: twice the limit and one more overflows one of them. It stops
            # at the first 429, before the venue's ban (418) for keeping on.
            for _ in range(2 * settings.weight_limit_1m + 1):
                try:
                    await bot.venue.fetch_mark_price(SYMBOL)
                except (ccxt.RateLimitExceeded, ccxt.DDoSProtection):
                    rejected += 1
                    break
        finally:
            await bot.venue.close()

    assert rejected > 0
    assert bot.posture.mode is TradingMode.REDUCE_ONLY
    assert any(reason.startswith("guard.apiHealth: ") for reason in bot.posture.reasons)
    [trip] = recorder.named("GUARD_TRIP")
    assert trip["guard"] == "apiHealth"
    assert "rate-limit usage" in trip["reason"]
    assert trip["until"] > trip["ts"]
    assert metric(bot, "tradewarden_guard_trips_total", {"guard": "apiHealth"}) == 1
    assert metric(bot, "tradewarden_rate_limit_usage") > 0


async def test_an_api_health_pause_ends_at_the_first_good_probe_after_its_time(
    tmp_path: Path,
) -> None:
    """Issue 12 item 9: reads that go through during the pause must not prolong it.

    The venue answers 503 to five reads in a row (the circuit opens), then is
    healthy; the bot keeps reading every 10 s of its clock. It stays
    reduce-only for the configured pause from the last failure, and the first
    read after it, the half-open probe, lets it trade again.
    """
    time = FakeClock(1_000_000.0)
    pause = 120.0
    async with running_venue_sim(SimSettings(price_tick_s=0, seed=3)) as sim:
        document = sim_manifest(sim)
        document["spec"].setdefault("guards", {})["apiHealth"] = {"pauseSeconds": pause}
        bot = BotRuntime(
            TradingBot.model_validate(document),
            sim_client(sim, timeout_ms=2000),
            tmp_path,
            clocks=BotClocks(clock=time),
        )
        recorder = Recorder(bot.events)
        try:
            await bot.venue.load_markets()
            await sim.set_faults(
                [{"match": {"method": "GET"}, "times": 5, "action": {"error": {"status": 503}}}]
            )
            for _ in range(5):
                with pytest.raises(ccxt.OperationFailed):
                    await bot.venue.fetch_mark_price(SYMBOL)
                time.now += 0.1
            last_failure = time.now - 0.1
            assert bot.posture.mode is TradingMode.REDUCE_ONLY
            modes = []
            while time.now < last_failure + pause - 10:
                time.now += 10
                await bot.venue.fetch_mark_price(SYMBOL)  # healthy again
                modes.append(bot.posture.mode)
            time.now = last_failure + pause + 1
            await bot.venue.fetch_mark_price(SYMBOL)  # the probe
        finally:
            await bot.venue.close()

    assert set(modes) == {TradingMode.REDUCE_ONLY}
    assert bot.posture.mode is TradingMode.ACTIVE
    [trip] = recorder.named("GUARD_TRIP")
    assert trip["until"] == pytest.approx(last_failure + pause)
    assert [r["guard"] for r in recorder.named("GUARD_CLEAR")] == ["guard.apiHealth"]


async def test_persistent_clock_skew_fails_safe(
    sim: RunningVenueSim, journal: Journal, fake_time: FakeClock, tmp_path: Path
) -> None:
    bot = BotRuntime(
        manifest(sim),
        sim_client(sim, timeout_ms=2000),
        tmp_path,
        clocks=BotClocks(clock=fake_time, sleep=fake_time.sleep),
    )
    router = OrderRouter(
        bot.venue,
        RouterContext(
            journal=journal,
            policy=RetryPolicy(max_retries=5, base_delay=0.25, max_delay=2.0, max_elapsed=20.0),
            events=bot.events,
            metrics=bot.metrics,
            clock=fake_time,
            sleep=fake_time.sleep,
            rng=random.Random(1),
        ),
    )
    recorder = Recorder(bot.events)
    try:
        await bot.venue.load_markets()
        await sim.set_faults(
            [{"match": {"method": "POST", "path": "/fapi/v1/order"}, "action": {"skew_ms": 60_000}}]
        )
        order = journal.record_intent(
            OrderIntent(SYMBOL, Side.BUY, OrderType.MARKET, Decimal("0.003"))
        )
        settled = await router.submit(order)
    finally:
        await bot.venue.close()

    codes = {r.get("venue_code") for r in recorder.named("ORDER_ERROR")}
    assert -1021 in codes
    assert settled.state is OrderState.ABANDONED
    assert [o for o in (await sim.state())["orders"] if o["symbol"] == VENUE_SYMBOL] == []
    assert bot.posture.mode is TradingMode.REDUCE_ONLY
    assert [r["guard"] for r in recorder.named("GUARD_TRIP")] == ["apiHealth"]


async def test_broker_reads_trip_after_the_configured_failed_passes(tmp_path: Path) -> None:
    """``maxConsecutiveFailures: 3`` means three failed reconcile passes, not two.

    Once the bot trades, the venue answers every position read with 503, so
    each reconcile pass fails and the worker retries it (1, 2, 4 s). The bot's
    posture is taken as each failed pass is logged: it is still Active after
    the first and second, and reduce-only for brokerReads after the third. A
    failed pass used to count twice (the reconciler's report and the worker's
    failed attempt), which tripped the guard after the second. The API health
    guard's error rate is set out of reach so that only the guard under test
    can change the posture.
    """
    async with running_venue_sim(SimSettings(price_tick_s=0, seed=3)) as sim:
        document = sim_manifest(sim)
        document["spec"]["guards"] = {
            "apiHealth": {"errorRate": 1.0},
            "brokerReads": {"maxConsecutiveFailures": 3, "pauseSeconds": 600},
        }
        warp = WarpClock(BOT_SPEED)
        exchange = sim_client(sim, timeout_ms=2000)
        pace_in_bot_time(exchange, BOT_SPEED)
        bot = BotRuntime(
            TradingBot.model_validate(document),
            exchange,
            tmp_path,
            clocks=BotClocks(warp.clock, warp.sleep),
        )
        recorder = Recorder(bot.events)
        failed_passes: list[tuple[TradingMode, tuple[str, ...]]] = []
        third_failed = asyncio.Event()

        def on_event(record: dict[str, Any]) -> None:
            if record.get("verdict") == "reconcile-failed":
                failed_passes.append((bot.posture.mode, bot.posture.reasons))
                if len(failed_passes) == 3:
                    third_failed.set()

        stop = asyncio.Event()
        task = asyncio.create_task(bot.run(stop))
        try:
            await eventually(lambda: bot.ready, "the bot to be ready")
            assert bot.posture.mode is TradingMode.ACTIVE
            bot.events.listeners.append(on_event)
            await sim.set_faults(
                [
                    {
                        "match": {"method": "GET", "path": "/fapi/v3/positionRisk"},
                        "action": {"error": {"status": 503}},
                    }
                ]
            )
            async with asyncio.timeout(WAIT_SECONDS):
                await third_failed.wait()
        finally:
            stop.set()
            await asyncio.wait_for(task, WAIT_SECONDS)

    reason = "guard.brokerReads: 3 broker reads failed in a row"
    assert failed_passes[:3] == [
        (TradingMode.ACTIVE, ()),
        (TradingMode.ACTIVE, ()),
        (TradingMode.REDUCE_ONLY, (reason,)),
    ]
    assert [r["guard"] for r in recorder.named("GUARD_TRIP")] == ["brokerReads"]
    assert metric(bot, "tradewarden_guard_trips_total", {"guard": "brokerReads"}) == 1


@pytest.fixture
async def trading_bot(tmp_path: Path) -> AsyncIterator[tuple[BotRuntime, RunningVenueSim]]:
    """A running bot with a long position opened before it started and grid orders working."""
    async with running_venue_sim(SimSettings(price_tick_s=0, seed=5)) as sim:
        opener = sim_client(sim, timeout_ms=2000)
        try:
            await opener.create_order(SYMBOL, "market", "buy", 0.006)
        finally:
            await opener.close()
        bot = BotRuntime(manifest(sim), sim_client(sim, timeout_ms=2000), tmp_path)
        stop = asyncio.Event()
        task = asyncio.create_task(bot.run(stop))
        try:
            yield bot, sim
        finally:
            stop.set()
            await asyncio.wait_for(task, WAIT_SECONDS)


def working_entries(bot: BotRuntime) -> list[str]:
    assert bot.journal is not None
    return [o.client_order_id for o in bot.journal.non_terminal() if not o.intent.reduce_only]


async def open_at_venue(sim: RunningVenueSim) -> list[dict[str, Any]]:
    orders = (await sim.state())["orders"]
    return [o for o in orders if o["status"] in ("NEW", "PARTIALLY_FILLED")]


async def position_at_venue(sim: RunningVenueSim) -> Decimal:
    positions = (await sim.state())["positions"]
    return sum(
        (Decimal(p["positionAmt"]) for p in positions if p["symbol"] == VENUE_SYMBOL), Decimal(0)
    )


async def test_emergency_halt_cancels_every_non_protective_order(
    trading_bot: tuple[BotRuntime, RunningVenueSim],
) -> None:
    bot, sim = trading_bot
    recorder = Recorder(bot.events)
    await eventually(lambda: len(working_entries(bot)) >= 2, "two working entries")

    bot.update_controls(False, EmergencyStop(action=EmergencyAction.HALT, reason="oncall: test"))
    await eventually(lambda: not working_entries(bot), "no working entries")

    assert await open_at_venue(sim) == []
    assert await position_at_venue(sim) == Decimal("0.006")
    assert bot.posture.mode is TradingMode.HALTED
    modes = [r["mode"] for r in recorder.named("MODE_CHANGE")]
    assert modes[-1] == TradingMode.HALTED


async def test_emergency_flatten_closes_positions_with_reduce_only_market_orders(
    trading_bot: tuple[BotRuntime, RunningVenueSim],
) -> None:
    bot, sim = trading_bot
    await eventually(lambda: len(working_entries(bot)) >= 2, "two working entries")

    bot.update_controls(False, EmergencyStop(action=EmergencyAction.FLATTEN, reason="oncall"))
    await eventually(
        lambda: bot.positions.get(SYMBOL) == 0 and not working_entries(bot),
        "flat, no working entries",
    )

    assert await position_at_venue(sim) == 0
    assert await open_at_venue(sim) == []
    closes = [
        o
        for o in (await sim.state())["orders"]
        if o["type"] == "MARKET" and o["clientOrderId"].startswith("tw")
    ]
    assert closes
    assert all(o["reduceOnly"] and o["side"] == "SELL" for o in closes)
    assert bot.posture.mode is TradingMode.HALTED
