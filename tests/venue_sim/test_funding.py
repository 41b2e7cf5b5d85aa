"""Funding as Binance USD-M settles it: on the venue clock, every interval, listed."""

from __future__ import annotations

import time

import pytest

from tests.support.sim import quiet
from tests.venue_sim.factory import ExchangeFactory
from tests.venue_sim.symbols import BTC, ETH
from tradewarden.bot.venue_sim.server import RunningVenueSim
from tradewarden.bot.venue_sim.settings import SimSettings


class VenueClock:
    """The venue's clock: the wall clock plus however far a test has moved it on."""

    def __init__(self, ahead_s: float) -> None:
        self.ahead_s = ahead_s

    def __call__(self) -> float:
        return time.time() + self.ahead_s


FUNDING_INTERVAL_S = 3600.0


@pytest.fixture
def sim_clock() -> VenueClock:
    """Starts just after a funding time, so none falls due before the test moves the clock."""
    now = time.time()
    after_last = now // FUNDING_INTERVAL_S * FUNDING_INTERVAL_S + FUNDING_INTERVAL_S + 10
    return VenueClock(after_last - now)


@pytest.fixture
def sim_settings() -> SimSettings:
    return quiet(funding_interval_s=FUNDING_INTERVAL_S)


async def test_funding_is_charged_on_schedule_and_listed(
    exchange_factory: ExchangeFactory, venue_sim: RunningVenueSim, sim_clock: VenueClock
) -> None:
    exchange = await exchange_factory(adjust_for_time_difference=True)
    await exchange.create_order(BTC, "market", "buy", 0.01)  # long 500 USDT
    await exchange.create_order(ETH, "market", "sell", 0.1)  # short 300 USDT
    index = await exchange.fapiPublicGetPremiumIndex({"symbol": "BTCUSDT"})
    due_ms = int(index["nextFundingTime"])
    assert due_ms % int(FUNDING_INTERVAL_S * 1000) == 0
    assert await exchange.fapiPrivateGetIncome({"incomeType": "FUNDING_FEE"}) == []

    # Two funding times pass on the venue clock: each is settled once.
    sim_clock.ahead_s += due_ms / 1000 - sim_clock() + FUNDING_INTERVAL_S + 1
    await exchange.load_time_difference()
    history = await exchange.fetch_funding_history(BTC)
    assert [(h["amount"], h["timestamp"]) for h in history] == [
        (-0.05, due_ms),  # a long pays 500 * 0.0001
        (-0.05, due_ms + int(FUNDING_INTERVAL_S * 1000)),
    ]
    eth = await exchange.fapiPrivateGetIncome({"symbol": "ETHUSDT", "incomeType": "FUNDING_FEE"})
    assert [(r["income"], r["tradeId"]) for r in eth] == [("0.03000000", "")] * 2  # a short gets
    rates = await exchange.fetch_funding_rate_history(BTC)
    assert [(r["fundingRate"], r["timestamp"]) for r in rates] == [
        (0.0001, due_ms),
        (0.0001, due_ms + int(FUNDING_INTERVAL_S * 1000)),
    ]
    state = await venue_sim.state()
    # 10000 - taker fees (0.25 + 0.15) - 2 * 0.05 + 2 * 0.03
    assert state["balances"]["USDT"]["walletBalance"] == "9999.56"
