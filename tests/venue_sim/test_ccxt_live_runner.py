"""ccxt's own live test runner (shipped in the ccxt package) against the simulator, limited to
the unified methods the bot uses; ``make ccxt-live`` runs all of them (tests/support/ccxt_live.py).

The runner is the one ccxt runs against the real exchange: it builds its own plain
``binanceusdm`` client from ``keys.local.json``, calls each method and checks every reply with
ccxt's response validators. A reply Binance would pass but the simulator's does not fails here.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.support.ccxt_live import (
    RunnerReport,
    populate,
    run_runner,
    sim_client,
    trade_meanwhile,
)
from tradewarden.bot.venue_sim.server import RunningVenueSim

# The runner's tests for what the bot calls: markets, ticker, book, balance, open orders,
# the order history (fetch_orders), fills and positions. The runner has no test of its own for
# fetch_order, cancel_order, fetch_time or set_leverage; createOrder's scenarios run in
# test_ccxt_validators.py.
BOT_METHODS = (
    "loadMarkets",
    "fetchTicker",
    "fetchOrderBook",
    "fetchBalance",
    "fetchOpenOrders",
    "fetchOrders",
    "fetchMyTrades",
    "fetchPositions",
)


@pytest.mark.timeout(90)
async def test_the_runner_passes_the_methods_the_bot_uses(venue_sim: RunningVenueSim) -> None:
    settings = venue_sim.settings
    client = sim_client(venue_sim.base_url, settings.api_key, settings.api_secret)
    try:
        await populate(client)
    finally:
        await client.close()
    report = await run_runner(
        venue_sim.base_url,
        settings.api_key,
        settings.api_secret,
        methods=BOT_METHODS[1:],
        flags=("--private",),
        timeout_s=75,
    )
    assert report.exit_code == 0, report.output
    assert report.failed == {}, report.summary()
    assert report.warnings == {}, report.summary()
    assert set(report.passed) == set(BOT_METHODS), report.summary()


@pytest.mark.timeout(90)
async def test_the_whole_runner_fails_only_where_the_simulator_is_not_at_fault(
    venue_sim: RunningVenueSim,
) -> None:
    """Every public and private method of the runner (make ccxt-live); what fails is only what
    tests/support/ccxt_live.py's NOT_THE_SIMULATORS_FAULT explains (with its error text)."""
    settings = venue_sim.settings
    client = sim_client(venue_sim.base_url, settings.api_key, settings.api_secret)
    try:
        await populate(client)
    finally:
        await client.close()
    report = await run_runner(
        venue_sim.base_url, settings.api_key, settings.api_secret, timeout_s=75
    )
    assert report.simulator_failures == {}, report.summary()
    assert {"fetchLastPrices", "fetchTradingFees", "fetchOpenInterestHistory"} <= set(
        report.passed
    ), report.summary()


@pytest.mark.timeout(90)
async def test_the_runner_passes_the_streams_the_bot_watches(venue_sim: RunningVenueSim) -> None:
    """watch_ticker (market data) and watch_orders (the user-data stream), with the account
    trading meanwhile, as make ccxt-live ARGS=--ws runs them."""
    settings = venue_sim.settings
    client = sim_client(venue_sim.base_url, settings.api_key, settings.api_secret)
    try:
        await populate(client)
        trading = asyncio.create_task(trade_meanwhile(client))
        try:
            report = await run_runner(
                venue_sim.base_url,
                settings.api_key,
                settings.api_secret,
                methods=("watchTicker", "watchOrders"),
                flags=("--private", "--ws"),
                timeout_s=60,
            )
        finally:
            trading.cancel()
            await asyncio.gather(trading, return_exceptions=True)
    finally:
        await client.close()
    assert report.failed == {}, report.summary()
    assert set(report.passed) == {"loadMarkets", "watchTicker", "watchOrders"}, report.summary()


def test_the_report_reads_the_runners_lines() -> None:
    output = "\n".join(
        [
            "[INFO] TESTING DONE       binanceusdm loadMarkets",
            "[INFO] TESTING DONE       binanceusdm fetchTicker",
            "[INFO] TESTING FAILED     binanceusdm fetchStatus",
            "[TEST_FAILURE] binanceusdm fetchStatus []  (Last url: x ) [ExchangeError] boom",
            "ccxt.base.errors.ExchangeError: Path /sapi/v1/system/status, Method GET is invalid",
            "[INFO] TESTING FAILED     binanceusdm fetchBalance",
            "[TEST_FAILURE] binanceusdm fetchBalance []  [AssertionError] wrong",
            "[INFO] TESTING FAILED     binanceusdm fetchDeposits",
            "[TEST_FAILURE] binanceusdm fetchDeposits []  [AssertionError] a wrong field",
            "[INFO] UNSUPPORTED_TEST   binanceusdm signIn",
            "[TEST_FAILURE] binanceusdm PUBLIC_TESTS Failed methods : fetchStatus, fetchBalance",
        ]
    )
    report = RunnerReport.parse(0, output)
    assert report.passed == ["fetchTicker", "loadMarkets"]
    assert sorted(report.failed) == ["fetchBalance", "fetchDeposits", "fetchStatus"]
    assert "/sapi/v1/system/status" in report.failed["fetchStatus"]
    # A known method failing for another reason than the known one is the simulator's.
    assert list(report.simulator_failures) == ["fetchBalance", "fetchDeposits"]
    assert report.not_run == {"UNSUPPORTED_TEST": ["signIn"]}
    assert "3 failed (2 the simulator's)" in report.summary()
