"""The request-weight budget comes from the venue's exchangeInfo, not a hard-coded 2400.

The simulator publishes its ``--weight-limit`` (``SimSettings.weight_limit_1m``) in
exchangeInfo ``rateLimits``; the bot reads it at recovery and judges rate-limit usage
against it. A venue that publishes none is held to Binance's budget.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from tests.support.waiting import eventually
from tradewarden.bot.reliability.api_health import DEFAULT_WEIGHT_LIMIT, used_weight
from tradewarden.bot.runtime.bot import BotRuntime
from tradewarden.bot.venue.adapter import VenueAdapter
from tradewarden.bot.venue_sim.server import running_venue_sim
from tradewarden.bot.venue_sim.settings import SimSettings

from .conftest import sim_client
from .test_guards_sim import WAIT_SECONDS, manifest

EXCHANGE_INFO = "/fapi/v1/exchangeInfo"


def minute_start_clock() -> Callable[[], float]:
    """Real time, set back to half a second into a minute: no minute window turns for 59 s."""
    offset = time.time() % 60 - 0.5
    return lambda: time.time() - offset


@pytest.mark.parametrize("published", [400, 6000])
async def test_the_venue_adapter_reads_the_published_budget(published: int) -> None:
    async with running_venue_sim(SimSettings(price_tick_s=0, weight_limit_1m=published)) as sim:
        venue = VenueAdapter(sim_client(sim, timeout_ms=2000))
        try:
            assert await venue.request_weight_limit() == published
        finally:
            await venue.close()


async def test_no_published_budget_reads_as_none() -> None:
    async with running_venue_sim(SimSettings(price_tick_s=0)) as sim:
        await sim.set_faults(
            [{"match": {"path": EXCHANGE_INFO}, "action": {"drop_fields": ["rateLimits"]}}]
        )
        venue = VenueAdapter(sim_client(sim, timeout_ms=2000))
        try:
            assert await venue.request_weight_limit() is None
        finally:
            await venue.close()


@pytest.mark.parametrize(("rate_limits", "expected"), [(True, 500), (False, DEFAULT_WEIGHT_LIMIT)])
async def test_the_bot_judges_usage_against_the_budget_it_read(
    tmp_path: Path, rate_limits: bool, expected: int
) -> None:
    async with running_venue_sim(SimSettings(price_tick_s=0, weight_limit_1m=500)) as sim:
        if not rate_limits:
            await sim.set_faults(
                [{"match": {"path": EXCHANGE_INFO}, "action": {"drop_fields": ["rateLimits"]}}]
            )
        bot = BotRuntime(manifest(sim), sim_client(sim, timeout_ms=2000), tmp_path)
        stop = asyncio.Event()
        task = asyncio.create_task(bot.run(stop))
        try:
            await eventually(lambda: bot.recovered, "the bot to recover")
            assert bot.guards.api.weight_limit == expected
            # One observed request; nothing else runs before its header is read back.
            await bot.venue.fetch_position(bot.spec.symbol)
            used = used_weight(bot.venue.exchange.last_response_headers)
            assert used is not None and used > 0
            assert bot.guards.api.usage(bot.clocks.clock()) == pytest.approx(used / expected)
        finally:
            stop.set()
            await asyncio.wait_for(task, WAIT_SECONDS)


async def test_the_bot_reads_the_order_limits_and_judges_the_order_count(tmp_path: Path) -> None:
    settings = SimSettings(
        price_tick_s=0, order_limit_10s=200, order_limit_1m=90, initial_balance=Decimal(10**6)
    )
    # The venue's order counts are fixed minute windows, as Binance's are: its clock
    # stands just past a minute's turn, so the 80 orders and the bot's reply share one
    # window. Both clients sign with the venue's clock (ccxt measures the offset).
    async with running_venue_sim(settings, clock=minute_start_clock()) as sim:
        client = sim_client(sim, timeout_ms=2000)
        await client.load_time_difference()
        bot = BotRuntime(manifest(sim), client, tmp_path)
        stop = asyncio.Event()
        task = asyncio.create_task(bot.run(stop))
        try:
            await eventually(lambda: bot.recovered, "the bot to recover")
            assert bot.guards.api.order_limits == {
                "x-mbx-order-count-10s": 200,
                "x-mbx-order-count-1m": 90,
            }
            # Another client of the account spends most of the minute's order budget ...
            other = sim_client(sim, timeout_ms=2000)
            other.enableRateLimit = False
            bid = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}
            try:
                await other.load_time_difference()
                for _ in range(80):
                    await other.fapiPrivatePostOrder({**bid, "quantity": "0.003", "price": "48000"})
            finally:
                await other.close()
            # ... and the bot's next order reply shows it: a fill makes the bot place its stop.
            await sim.set_price("BTCUSDT", "49700")
            await eventually(
                lambda: bot.guards.api.usage(bot.clocks.clock()) >= 0.9, "90% weight usage"
            )
        finally:
            stop.set()
            await asyncio.wait_for(task, WAIT_SECONDS)
