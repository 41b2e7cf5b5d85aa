"""The slippage and broker-read guards do not listen to the event log (issue 13 item 3).

The order path tells the bot what it decides on through explicit calls (an
order's first send, the reconciler's report of each pass); the
events logged at the same moments are for people and log pipelines. So a bot
whose event log records nothing, as if every event's name and fields had been
renamed, still trips both guards against the venue simulator.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.integration.conftest import SYMBOL, sim_client
from tests.support.manifests import sim_manifest
from tests.support.waiting import eventually
from tradewarden.api.tradingbot import TradingBot, TradingMode
from tradewarden.bot.model.orders import OrderIntent, OrderType, Place, Side
from tradewarden.bot.observability.events import Event, EventLog
from tradewarden.bot.runtime.bot import BotRuntime
from tradewarden.bot.venue_sim.server import RunningVenueSim, running_venue_sim
from tradewarden.bot.venue_sim.settings import SimSettings

WAIT_SECONDS = 30.0


class SilentLog(EventLog):
    """An event log that records nothing: no line written, no listener called."""

    def emit(self, event: Event, correlation_id: str | None = None, **fields: Any) -> None:
        """Drop the event."""


def manifest(sim: RunningVenueSim, guards: dict[str, Any]) -> TradingBot:
    document = sim_manifest(sim)
    document["spec"]["guards"] = guards
    return TradingBot.model_validate(document)


@asynccontextmanager
async def silent_bot(
    tmp_path: Path, settings: SimSettings, guards: dict[str, Any]
) -> AsyncIterator[tuple[BotRuntime, RunningVenueSim]]:
    """A running bot, ready to trade, whose event log records nothing."""
    async with running_venue_sim(settings) as sim:
        bot = BotRuntime(
            manifest(sim, guards),
            sim_client(sim, timeout_ms=2000),
            tmp_path,
            events=SilentLog(lambda: 0.0),
            market_streams=False,
        )
        stop = asyncio.Event()
        task = asyncio.create_task(bot.run(stop))
        try:
            await eventually(lambda: bot.ready, "the bot to be ready")
            yield bot, sim
        finally:
            stop.set()
            await asyncio.wait_for(task, WAIT_SECONDS)


def trips(bot: BotRuntime, guard: str) -> float:
    value = bot.metrics.registry.get_sample_value("tradewarden_guard_trips_total", {"guard": guard})
    return 0.0 if value is None else value


async def test_slippage_trips_with_a_silent_event_log(tmp_path: Path) -> None:
    """A market order filling 100 bps through the mark it went out at pauses the symbol."""
    settings = SimSettings(price_tick_s=0, seed=3, slippage_bps=100.0)
    guards = {"slippage": {"maxSlippageBps": 10, "maxFailures": 1}}
    async with silent_bot(tmp_path, settings, guards) as (bot, _):
        assert bot.worker is not None
        buy = OrderIntent(SYMBOL, Side.BUY, OrderType.MARKET, Decimal("0.003"))
        assert bot.worker.offer(Place(buy))
        await eventually(lambda: trips(bot, "slippage") == 1, "a slippage trip")
        assert bot.posture.mode_for(SYMBOL) is TradingMode.REDUCE_ONLY
        [(symbol, held)] = bot.posture.symbols
        assert symbol == SYMBOL
        assert held.reasons[0].startswith("guard.slippage: 1 fills beyond 10 bps")


async def test_broker_reads_trip_with_a_silent_event_log(tmp_path: Path) -> None:
    """Two reconcile passes whose position reads fail trip a guard set to two failures.

    Each failed pass counts once, through the reconciler's report (the worker's
    RECONCILE_MISMATCH ``reconcile-failed`` event, silenced here, feeds nothing).
    """
    guards = {"brokerReads": {"maxConsecutiveFailures": 2, "pauseSeconds": 600}}
    async with silent_bot(tmp_path, SimSettings(price_tick_s=0, seed=3), guards) as (bot, sim):
        await sim.set_faults(
            [
                {
                    "match": {"method": "GET", "path": "/fapi/v3/positionRisk"},
                    "times": 2,
                    "action": {"error": {"status": 503}},
                }
            ]
        )
        await eventually(lambda: trips(bot, "brokerReads") == 1, "a brokerReads trip")
        assert bot.posture.mode is TradingMode.REDUCE_ONLY
        assert bot.posture.reasons == ("guard.brokerReads: 2 broker reads failed in a row",)
