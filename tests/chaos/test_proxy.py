"""The in-process fault plan (pure, by tables) and the proxy on a real ccxt client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import ccxt.async_support as ccxt_async
import pytest

from tests.support.clock import FakeClock
from tradewarden.bot.chaos.proxy import (
    Delay,
    FaultyExchange,
    ProxyFault,
    ProxyPlan,
    Raise,
    Return,
    Scale,
    When,
)
from tradewarden.bot.venue.ccxt_client import build_exchange
from tradewarden.bot.venue_sim.server import RunningVenueSim

BOOM = Raise(ccxt_async.NetworkError)
SYMBOL = "BTC/USDT:USDT"


@pytest.mark.parametrize(
    ("faults", "calls", "hit"),
    [
        # (plan, methods called in order, whether each call was disturbed)
        ((ProxyFault("fetch_ticker", BOOM),), ["fetch_ticker"] * 2, [True, False]),
        (
            (ProxyFault("fetch_ticker", BOOM, after=2),),
            ["fetch_ticker"] * 4,
            [False, False, True, False],
        ),
        ((ProxyFault("fetch_ticker", BOOM, times=None),), ["fetch_ticker"] * 3, [True, True, True]),
        (
            (ProxyFault("fetch_ticker", BOOM, after=1, times=2),),
            ["fetch_ticker"] * 4,
            [False, True, True, False],
        ),
        ((ProxyFault("create_order", BOOM),), ["fetch_ticker", "create_order"], [False, True]),
        ((), ["create_order"], [False]),
    ],
)
def test_plan_counts_calls_per_fault(
    faults: tuple[ProxyFault, ...], calls: list[str], hit: list[bool]
) -> None:
    plan = ProxyPlan()
    plan.replace(faults)
    assert [bool(plan.take(method)) for method in calls] == hit


def test_replacing_the_plan_resets_its_counters() -> None:
    plan = ProxyPlan()
    plan.replace([ProxyFault("fetch_ticker", BOOM)])
    assert plan.take("fetch_ticker")
    plan.replace([ProxyFault("fetch_ticker", BOOM)])
    assert plan.take("fetch_ticker")
    plan.clear()
    assert not plan.take("fetch_ticker")


@pytest.fixture
async def proxied(
    sim: RunningVenueSim,
) -> AsyncIterator[tuple[FaultyExchange, ProxyPlan, list[float]]]:
    plan, time = ProxyPlan(), FakeClock()
    exchange = build_exchange(
        "binanceusdm",
        api_key=sim.settings.api_key,
        api_secret=sim.settings.api_secret,
        url_override=sim.base_url,
    )
    proxy = FaultyExchange(exchange, plan, time.sleep)
    try:
        yield proxy, plan, time.slept
    finally:
        await exchange.close()


async def test_raise_before_the_call_never_reaches_the_venue(
    proxied: tuple[FaultyExchange, ProxyPlan, list[float]], sim: RunningVenueSim
) -> None:
    proxy, plan, _ = proxied
    plan.replace([ProxyFault("create_order", Raise(ccxt_async.RequestTimeout))])
    with pytest.raises(ccxt_async.RequestTimeout):
        await proxy.create_order(SYMBOL, "limit", "buy", 0.003, 48000, {"clientOrderId": "a-1"})
    assert (await sim.state())["orders"] == []
    order: Any = await proxy.create_order(
        SYMBOL, "limit", "buy", 0.003, 48000, {"clientOrderId": "a-2"}
    )
    assert order["clientOrderId"] == "a-2"


async def test_raise_after_the_call_leaves_an_accepted_order(
    proxied: tuple[FaultyExchange, ProxyPlan, list[float]], sim: RunningVenueSim
) -> None:
    proxy, plan, _ = proxied
    plan.replace([ProxyFault("create_order", Raise(ccxt_async.RequestTimeout), when=When.AFTER)])
    with pytest.raises(ccxt_async.RequestTimeout):
        await proxy.create_order(SYMBOL, "limit", "buy", 0.003, 48000, {"clientOrderId": "b-1"})
    assert [o["clientOrderId"] for o in (await sim.state())["orders"]] == ["b-1"]


async def test_return_delay_and_scale(
    proxied: tuple[FaultyExchange, ProxyPlan, list[float]],
) -> None:
    proxy, plan, slept = proxied
    plan.replace(
        [
            ProxyFault("fetch_ticker", Return({"last": 1.0})),
            ProxyFault("fetch_time", Delay(7.5)),
            ProxyFault("fetch_ticker", Scale("last", 2.0), after=1, when=When.AFTER),
        ]
    )
    assert await proxy.fetch_ticker(SYMBOL) == {"last": 1.0}
    await proxy.fetch_time()
    assert slept == [7.5]
    real = await proxy.inner.fetch_ticker(SYMBOL)
    scaled = await proxy.fetch_ticker(SYMBOL)
    assert scaled["last"] == pytest.approx(real["last"] * 2.0)
    assert proxy.calls["fetch_ticker"] == 2


async def test_hooks_set_on_the_proxy_land_on_the_client(
    proxied: tuple[FaultyExchange, ProxyPlan, list[float]],
) -> None:
    proxy, _, _ = proxied
    proxy.some_hook = "installed"
    assert proxy.inner.some_hook == "installed"
