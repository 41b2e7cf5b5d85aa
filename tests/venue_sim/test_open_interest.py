"""Open-interest statistics as Binance USD-M publishes them: sampled at the end of each period."""

from __future__ import annotations

import time

import ccxt
import pytest
from ccxt.test.exchange.base.test_open_interest import test_open_interest as check_open_interest

from tests.venue_sim.factory import ExchangeFactory
from tests.venue_sim.symbols import BTC
from tests.venue_sim.test_funding import VenueClock

PERIOD_S = 300.0


@pytest.fixture
def sim_clock() -> VenueClock:
    """Starts 10 s into a 5-minute period, so no sample is due before the test moves the clock."""
    now = time.time()
    return VenueClock(now // PERIOD_S * PERIOD_S + PERIOD_S + 10 - now)


async def test_open_interest_is_sampled_at_each_period_end(
    exchange_factory: ExchangeFactory, sim_clock: VenueClock
) -> None:
    exchange = await exchange_factory(adjust_for_time_difference=True)
    await exchange.load_time_difference()
    # A venue that opened within the running period has no sample yet, as on a new listing.
    assert await exchange.fetch_open_interest_history(BTC, "5m") == []
    await exchange.create_order(BTC, "market", "buy", 0.01)
    sim_clock.ahead_s += PERIOD_S
    await exchange.load_time_difference()
    await exchange.create_order(BTC, "market", "sell", 0.004)
    sim_clock.ahead_s += PERIOD_S
    await exchange.load_time_difference()
    history = await exchange.fetch_open_interest_history(BTC, "5m")
    first = int(history[0]["timestamp"])
    assert first % int(PERIOD_S * 1000) == 0
    assert [(h["openInterestAmount"], h["openInterestValue"]) for h in history] == [
        (0.01, 500.0),  # the long at the mark
        (0.006, 300.0),
    ]
    assert [h["timestamp"] for h in history] == [first, first + int(PERIOD_S * 1000)]
    for entry in history:
        check_open_interest(exchange, {}, "fetchOpenInterestHistory", entry)
    # The latest `limit` samples, or `limit` from startTime on.
    assert len(await exchange.fetch_open_interest_history(BTC, "5m", None, 1)) == 1
    later = await exchange.fetch_open_interest_history(BTC, "5m", first + 1)
    assert [h["openInterestAmount"] for h in later] == [0.006]
    with pytest.raises(ccxt.BadRequest, match="-1130"):
        await exchange.fapiDataGetOpenInterestHist({"symbol": "BTCUSDT", "period": "3m"})
