"""Request weights: the used-weight header, 429 over the limit, 418 for clients that keep going."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import ccxt
import pytest

from tests.support.clock import FakeClock
from tradewarden.bot.execution.classification import classify
from tradewarden.bot.model.outcomes import ErrorClass, Operation
from tradewarden.bot.venue.ccxt_client import build_exchange
from tradewarden.bot.venue_sim.server import running_venue_sim
from tradewarden.bot.venue_sim.settings import SimSettings

SETTINGS = SimSettings(price_tick_s=0, weight_limit_1m=12, ban_after_429s=2)


@pytest.fixture
async def limited_exchange() -> AsyncIterator[Any]:
    """A client on a venue whose clock is frozen, so the test never straddles a minute window."""
    frozen = time.time()
    async with running_venue_sim(SETTINGS, clock=lambda: frozen) as sim:
        exchange = build_exchange(
            "binanceusdm", api_key="sim-key", api_secret="sim-secret", url_override=sim.base_url
        )
        exchange.enableRateLimit = False  # the point is to exceed the venue's limit
        try:
            yield exchange
        finally:
            await exchange.close()


def last_headers(exchange: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in exchange.last_response_headers.items()}


def used_weight(exchange: Any) -> int:
    return int(last_headers(exchange)["x-mbx-used-weight-1m"])


async def test_weight_header_429_and_418(limited_exchange: Any) -> None:
    await limited_exchange.load_markets()  # exchangeInfo, weight 1
    assert used_weight(limited_exchange) == 1
    await limited_exchange.fetch_balance()  # account, weight 5
    assert used_weight(limited_exchange) == 6
    for _ in range(6):
        await limited_exchange.fetch_time()
    assert used_weight(limited_exchange) == 12
    for _ in range(2):
        with pytest.raises(ccxt.DDoSProtection, match="429") as throttled:
            await limited_exchange.fetch_time()
        assert '"code": -1003' in str(throttled.value)
        assert int(last_headers(limited_exchange)["retry-after"]) > 0
    with pytest.raises(ccxt.DDoSProtection, match="418") as banned:
        await limited_exchange.fetch_time()
    assert "IP banned until" in str(banned.value)
    assert last_headers(limited_exchange)["retry-after"] == "120"
    assert used_weight(limited_exchange) == 15  # rejected requests count too


async def test_orders_per_10s_and_per_minute_with_headers_and_1015() -> None:
    # The venue's clock stands at the start of a minute, so no window turns by itself.
    clock = FakeClock(time.time() // 60 * 60 + 0.5)
    settings = SimSettings(price_tick_s=0, order_limit_10s=3, order_limit_1m=5)
    async with running_venue_sim(settings, clock=clock) as sim:
        exchange = build_exchange(
            "binanceusdm", api_key="sim-key", api_secret="sim-secret", url_override=sim.base_url
        )
        exchange.enableRateLimit = False
        try:
            await exchange.load_time_difference()  # sign with the venue's clock
            info = await exchange.fapiPublicGetExchangeInfo()
            orders = [r for r in info["rateLimits"] if r["rateLimitType"] == "ORDERS"]
            assert [(r["interval"], r["intervalNum"], r["limit"]) for r in orders] == [
                ("SECOND", 10, 3),
                ("MINUTE", 1, 5),
            ]
            await exchange.load_markets()
            await exchange.fetch_balance()
            assert "x-mbx-order-count-10s" not in last_headers(exchange)  # not an order request
            for placed in (1, 2, 3):
                await exchange.create_order("BTC/USDT:USDT", "market", "buy", 0.003)
                headers = last_headers(exchange)
                assert (headers["x-mbx-order-count-10s"], headers["x-mbx-order-count-1m"]) == (
                    str(placed),
                    str(placed),
                )
            with pytest.raises(ccxt.DDoSProtection, match="-1015") as refused:
                await exchange.create_order("BTC/USDT:USDT", "market", "buy", 0.003)
            assert "current limit is 3 orders per 10 SECOND" in str(refused.value)
            # The bot backs off a -1015 as a rate limit rather than dropping the order.
            verdict = classify(refused.value, Operation.CREATE)
            assert verdict.error_class is ErrorClass.RATE_LIMITED
            clock.advance(10)  # a new 10 s window, same minute
            await exchange.load_time_difference()
            for _ in range(2):
                await exchange.create_order("BTC/USDT:USDT", "market", "buy", 0.003)
            with pytest.raises(ccxt.DDoSProtection, match="orders per 1 MINUTE"):
                await exchange.create_order("BTC/USDT:USDT", "market", "buy", 0.003)
            headers = last_headers(exchange)
            assert (headers["x-mbx-order-count-10s"], headers["x-mbx-order-count-1m"]) == ("2", "5")
            positions = (await sim.state())["positions"]
            assert [p["positionAmt"] for p in positions] == ["0.015"]
        finally:
            await exchange.close()
