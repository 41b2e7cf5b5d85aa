"""A fill at the venue gets its protective stop at once: the user-data stream wakes the bot.

The real bot runtime against the simulator, its streams through unchanged ccxt.pro.
The periodic reconcile runs every 60 s here; a resting grid buy fills (the mark dips
through it and comes straight back, so the strategy has no reason to act), and the
venue's ground truth must show a reduce-only stop covering the new position within
``PROTECTED_WITHIN_S``, far inside that interval. With the stream turned off the same
fill stays bare past that time. The stream's failures are recovered: a forced
disconnect, and a listenKey the venue let lapse (ccxt's keepalive meets -1125).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import sim_client
from tests.support.manifests import sim_manifest
from tests.support.waiting import eventually
from tradewarden.api.tradingbot import TradingBot
from tradewarden.bot.model.order_state import OrderState
from tradewarden.bot.model.orders import Side
from tradewarden.bot.runtime.bot import BotRuntime
from tradewarden.bot.venue_sim.server import RunningVenueSim, running_venue_sim
from tradewarden.bot.venue_sim.settings import SimSettings

from .test_guards_sim import Recorder

VENUE_SYMBOL = "BTCUSDT"
RECONCILE_INTERVAL_S = 60.0
MAX_MARKS = 10
PROTECTED_WITHIN_S = 8.0  # on a loaded 2-core machine; typically well under a second


@dataclass
class RunningBot:
    bot: BotRuntime
    sim: RunningVenueSim
    recorder: Recorder


@pytest.fixture
async def running(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[RunningBot]:
    stream_on: bool = getattr(request, "param", True)
    async with running_venue_sim(SimSettings(price_tick_s=0, seed=11)) as sim:
        document = sim_manifest(sim)
        spec = document["spec"]
        spec["strategy"]["params"] = {"levels": 1, "spacingPct": "0.2", "orderQuantity": "0.003"}
        spec["execution"] = {
            "reconcileIntervalSeconds": RECONCILE_INTERVAL_S,
            "userDataStream": {"enabled": stream_on, "keepaliveSeconds": 1},
        }
        spec["guards"] = {"websocket": {"backoffBaseSeconds": 0.1, "backoffCapSeconds": 0.5}}
        bot = BotRuntime(TradingBot.model_validate(document), sim_client(sim), tmp_path)
        recorder = Recorder(bot.events)
        stop = asyncio.Event()
        task = asyncio.create_task(bot.run(stop))
        try:
            yield RunningBot(bot, sim, recorder)
        finally:
            stop.set()
            try:
                await asyncio.wait_for(task, 30)
            finally:
                if not task.done():
                    task.cancel()


def _resting(bot: BotRuntime, side: Side) -> Any:
    if bot.journal is None:
        return None
    for order in bot.journal.non_terminal():
        intent = order.intent
        if intent.side is side and not intent.reduce_only and order.state is OrderState.OPEN:
            return order
    return None


def _grid_settled(bot: BotRuntime) -> bool:
    """Both grid levels rest and no order command waits or runs: the bot is idle."""
    worker = bot.worker
    return (
        bot.ready
        and worker is not None
        and not worker.orders_pending()
        and _resting(bot, Side.BUY) is not None
        and _resting(bot, Side.SELL) is not None
    )


async def _position_and_stops(sim: RunningVenueSim) -> tuple[Decimal, Decimal]:
    state = await sim.state()
    position = sum(
        (Decimal(p["positionAmt"]) for p in state["positions"] if p["symbol"] == VENUE_SYMBOL),
        Decimal(0),
    )
    stops = sum(
        (
            Decimal(a["quantity"])
            for a in state["algoOrders"]
            if a["symbol"] == VENUE_SYMBOL
            and a["algoStatus"] == "NEW"
            and a["side"] == "SELL"
            and a["reduceOnly"]
        ),
        Decimal(0),
    )
    return position, stops


async def _fill_the_resting_buy(run: RunningBot) -> Decimal:
    """Dip the mark through the bot's resting buy and back; the venue's new position."""
    await eventually(lambda: _grid_settled(run.bot), "the grid to settle")
    buy = _resting(run.bot, Side.BUY)
    assert buy is not None and buy.intent.price is not None
    before, _ = await _position_and_stops(run.sim)
    mark = Decimal((await run.sim.state())["marks"][VENUE_SYMBOL])
    # The venue fills a resting order in steps, one per mark at its price.
    for _ in range(MAX_MARKS):
        await run.sim.set_price(VENUE_SYMBOL, buy.intent.price)
        position, _ = await _position_and_stops(run.sim)
        if position == before + buy.intent.quantity:
            break
    await run.sim.set_price(VENUE_SYMBOL, mark)
    assert position == before + buy.intent.quantity
    return position


async def _protected_within(run: RunningBot, position: Decimal, seconds: float) -> bool:
    """Whether the venue shows stops covering ``position`` within ``seconds``."""
    try:
        async with asyncio.timeout(seconds):
            while (await _position_and_stops(run.sim))[1] != position:  # noqa: ASYNC110 - venue truth
                await asyncio.sleep(0.05)
    except TimeoutError:
        return False
    return True


async def _stream_connected(run: RunningBot, times: int) -> None:
    await eventually(
        lambda: len(run.recorder.named("USER_STREAM_CONNECTED")) >= times,
        f"{times} user stream connections",
    )


@pytest.mark.parametrize("running", [True, False], ids=["stream", "no-stream"], indirect=True)
async def test_a_fill_is_protected_at_once_only_with_the_stream(running: RunningBot) -> None:
    await running.sim.pause_walk()
    stream_on = running.bot.spec.execution.user_data_stream.enabled
    if stream_on:
        await _stream_connected(running, 1)
    position = await _fill_the_resting_buy(running)
    assert await _protected_within(running, position, PROTECTED_WITHIN_S) is stream_on
    woken = [r for r in running.recorder.named("USER_STREAM_UPDATE") if r["reason"] == "fill"]
    assert bool(woken) is stream_on
    wakes = running.bot.metrics.registry.get_sample_value("tradewarden_user_stream_wakes_total")
    assert wakes == len(running.recorder.named("USER_STREAM_UPDATE"))


async def test_a_dropped_stream_and_a_stale_listen_key_are_recovered(running: RunningBot) -> None:
    await running.sim.pause_walk()
    await _stream_connected(running, 1)
    # Forced disconnect, and the first reconnect refused: the bot backs off and comes back.
    dropped = await running.sim.disrupt_user_data(refuse_count=1)
    assert dropped["dropped"] == 1
    await _stream_connected(running, 2)
    reconnects = running.recorder.named("USER_STREAM_RECONNECT")
    assert [r["attempt"] for r in reconnects] == [1, 2]
    position = await _fill_the_resting_buy(running)
    assert await _protected_within(running, position, PROTECTED_WITHIN_S)
    # The venue lets the key lapse; the socket stays open and silent. The bot's
    # renewal (or a keepalive that meets -1125) takes a new key on a new socket.
    await running.sim.disrupt_user_data(drop=False, expire_key=True)
    await _stream_connected(running, 3)
    assert (await running.sim.user_data())["listenKeyActive"]
    position = await _fill_the_resting_buy(running)
    assert await _protected_within(running, position, PROTECTED_WITHIN_S)
