"""Request weights: the used-weight header, 429 over the limit, 418 for clients that keep going."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import ccxt
import pytest

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
