"""The divergence baseline against the venue simulator, through unchanged ccxt.

A position the account held before the bot started is the baseline, not
divergence. A position that appears later is divergence: it persists, so the
kill switch engages and holds. A person's reset vouches for what the venue
holds now, so the bot learns that as its new baseline and stays released.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import ccxt.async_support as ccxt_async
import pytest

from tests.support.waiting import eventually
from tradewarden.api.tradingbot import TradingBot, TradingMode
from tradewarden.bot.chaos.runner import WarpClock, pace_in_bot_time
from tradewarden.bot.runtime.bot import BotClocks, BotRuntime
from tradewarden.bot.venue_sim.server import RunningVenueSim, running_venue_sim
from tradewarden.bot.venue_sim.settings import SimSettings

from .conftest import SYMBOL, sim_client
from .test_guards_sim import WAIT_SECONDS, manifest

SPEED = 10.0  # bot seconds per wall second
RECONCILE_EVERY = 1.0  # bot seconds
FOREIGN = 0.01  # contracts someone else buys on the account


@dataclass
class RunningBot:
    """A bot running on a warped clock against the simulator, and a foreign client."""

    bot: BotRuntime
    sim: RunningVenueSim
    foreign: ccxt_async.Exchange

    async def buy_elsewhere(self) -> None:
        """Someone else opens exposure on the bot's account."""
        await self.foreign.create_order(SYMBOL, "market", "buy", FOREIGN)

    async def reconciles(self, count: int) -> None:
        """Wait until ``count`` more reconcile passes have reported."""
        seen: set[float] = set()
        last = self.bot.last_reconcile
        await eventually(lambda: self._observed(seen, last) >= count, f"{count} reconcile passes")

    def _observed(self, seen: set[float], before: object) -> int:
        report = self.bot.last_reconcile
        if report is not None and report is not before:
            seen.add(report.at)
        return len(seen)


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[RunningBot]:
    async with running_venue_sim(SimSettings(price_tick_s=0, seed=7)) as sim:
        foreign = sim_client(sim, timeout_ms=2000)
        try:
            # Held before the bot starts: the baseline.
            await foreign.create_order(SYMBOL, "market", "buy", FOREIGN)
            document = manifest(sim).model_dump(by_alias=True, exclude_none=True)
            document["spec"]["execution"]["reconcileIntervalSeconds"] = RECONCILE_EVERY
            document["spec"]["paused"] = True  # no grid orders: only the positions matter here
            bot_manifest = TradingBot.model_validate(document)
            warp = WarpClock(SPEED)
            exchange = sim_client(sim, timeout_ms=2000)
            pace_in_bot_time(exchange, SPEED)
            bot = BotRuntime(
                bot_manifest, exchange, tmp_path, clocks=BotClocks(warp.clock, warp.sleep)
            )
            stop = asyncio.Event()
            task = asyncio.create_task(bot.run(stop))
            try:
                await eventually(lambda: bot.ready, "the bot to be ready")
                yield RunningBot(bot, sim, foreign)
            finally:
                stop.set()
                await asyncio.wait_for(task, WAIT_SECONDS)
        finally:
            await foreign.close()


async def test_a_position_held_before_the_start_is_not_divergence(running: RunningBot) -> None:
    bot = running.bot
    await running.reconciles(4)

    assert bot.positions[SYMBOL] > 0
    assert bot.last_reconcile is not None and bot.last_reconcile.mismatches == ()
    assert bot.guards.belief.streak == 0
    assert not bot.guards.kill_switch.engaged
    assert bot.posture.mode is TradingMode.REDUCE_ONLY  # spec.paused, nothing worse


async def test_a_position_that_appears_later_engages_the_kill_switch_until_a_reset(
    running: RunningBot,
) -> None:
    bot = running.bot
    await running.reconciles(2)

    await running.buy_elsewhere()
    await eventually(lambda: bot.guards.kill_switch.engaged, "the kill switch")
    assert bot.posture.mode is TradingMode.HALTED
    # Persistent divergence gives no clean evidence: the switch holds.
    await running.reconciles(4)
    assert bot.guards.kill_switch.engaged

    assert bot.reset_kill_switch("reviewed the foreign fill", by="oncall")
    await running.reconciles(4)

    assert not bot.guards.kill_switch.engaged
    assert bot.guards.belief.streak == 0
    assert bot.last_reconcile is not None and bot.last_reconcile.mismatches == ()
    assert bot.posture.mode is TradingMode.REDUCE_ONLY
