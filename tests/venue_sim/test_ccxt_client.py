"""build_exchange: which client, which URLs, which options; nothing may leak to the internet."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import ccxt
import pytest

from tradewarden.bot.venue.ccxt_client import build_exchange

LOCAL = "http://127.0.0.1:9"  # discard port: nothing listens, so nothing can answer


@pytest.fixture
async def build() -> AsyncIterator[Callable[..., Any]]:
    """build_exchange, closing every client it made."""
    made: list[Any] = []

    def make(exchange_id: str = "binanceusdm", **kwargs: Any) -> Any:
        kwargs.setdefault("api_key", "k")
        kwargs.setdefault("api_secret", "s3cr3t")
        client = build_exchange(exchange_id, **kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        await client.close()


async def test_override_points_every_futures_api_at_the_local_url(build: Any) -> None:
    client = build(url_override=LOCAL + "/", timeout_ms=1234, adjust_for_time_difference=True)
    assert client.urls["api"] == {
        "fapiPublic": LOCAL + "/fapi/v1",
        "fapiPublicV2": LOCAL + "/fapi/v2",
        "fapiPublicV3": LOCAL + "/fapi/v3",
        "fapiPrivate": LOCAL + "/fapi/v1",
        "fapiPrivateV2": LOCAL + "/fapi/v2",
        "fapiPrivateV3": LOCAL + "/fapi/v3",
        "fapiData": LOCAL + "/futures/data",
    }
    assert client.timeout == 1234
    options = client.options
    assert options["defaultType"] == "future"
    assert options["fetchCurrencies"] is False
    assert options["leverageBrackets"] == {}
    assert options["adjustForTimeDifference"] is True


async def test_non_futures_apis_fail_inside_ccxt(build: Any) -> None:
    client = build(url_override=LOCAL)
    with pytest.raises(ccxt.NotSupported):
        await client.sapiGetSystemStatus()
    with pytest.raises(ccxt.NotSupported):
        await client.publicGetTime()


async def test_local_url_uses_the_futures_error_table(build: Any) -> None:
    client = build(url_override=LOCAL)
    table = client.get_exceptions_by_url(LOCAL + "/fapi/v1/order", "exact")
    assert table["-4116"] is ccxt.InvalidOrder
    assert table["-2019"] is ccxt.InsufficientFunds
    assert client.get_exceptions_by_url("http://127.0.0.1:10/fapi/v1/order", "exact") == {}
    real = client.get_exceptions_by_url("https://fapi.binance.com/fapi/v1/order", "exact")
    assert real is table  # the very table ccxt uses on fapi.binance.com


async def test_without_override_the_stock_class_is_used(build: Any) -> None:
    client = build()
    assert type(client) is ccxt.async_support.binanceusdm
    assert client.urls["api"]["fapiPublic"] == "https://fapi.binance.com/fapi/v1"
    other = build("kraken")
    assert type(other) is ccxt.async_support.kraken


async def test_sandbox_switches_to_the_testnet_urls(build: Any) -> None:
    client = build(sandbox=True)
    assert client.isSandboxModeEnabled
    assert client.urls["api"]["fapiPublic"].startswith("https://testnet.binancefuture.com/")


async def test_credentials_reach_ccxt_but_not_its_repr(build: Any) -> None:
    client = build(url_override=LOCAL)
    assert (client.apiKey, client.secret) == ("k", "s3cr3t")
    assert "s3cr3t" not in repr(client) and "s3cr3t" not in str(client)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"exchange_id": "no-such-exchange"},
        {"exchange_id": "kraken", "url_override": LOCAL},
        {"exchange_id": "binanceusdm", "url_override": LOCAL, "sandbox": True},
    ],
)
def test_invalid_combinations_are_rejected(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        build_exchange(api_key=None, api_secret=None, **kwargs)
