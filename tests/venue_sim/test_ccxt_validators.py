"""ccxt's own response validators (shipped in the ccxt package) over the unified methods the bot
uses, against the simulator with a populated account: a position, resting orders, a stop, fills.

The validators are ccxt's live-test assertions (``ccxt/test/exchange/base``); a simulator reply
that a real Binance reply would pass but ours does not fails here.
"""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from ccxt.test.exchange.base.test_balance import test_balance as check_balance
from ccxt.test.exchange.base.test_last_price import test_last_price as check_last_price
from ccxt.test.exchange.base.test_margin_mode import test_margin_mode as check_margin_mode
from ccxt.test.exchange.base.test_market import test_market as check_market
from ccxt.test.exchange.base.test_order import test_order as check_order
from ccxt.test.exchange.base.test_order_book import test_order_book as check_order_book
from ccxt.test.exchange.base.test_position import test_position as check_position
from ccxt.test.exchange.base.test_ticker import test_ticker as check_ticker
from ccxt.test.exchange.base.test_trade import test_trade as check_trade
from ccxt.test.exchange.base.test_trading_fee import test_trading_fee as check_trading_fee

from tests.venue_sim.symbols import BTC
from tradewarden.bot.venue_sim.server import RunningVenueSim

NO_SKIPS: dict[str, bool] = {}
# Binance's /fapi/v3/positionRisk has no leverage field (v2 had one), so ccxt reports None.
# A cross-margin position (Binance's default) has no isolated margin to read collateral
# from: ccxt derives it from the liquidation price and the leverage brackets, which the
# bot's client does not load (options.leverageBrackets is empty), so it reports 0, as it
# would against Binance.
POSITION_SKIPS = {"leverage": True, "collateral": True}


@pytest.fixture
async def populated(exchange: Any, venue_sim: RunningVenueSim) -> Any:
    """An account with a filled entry, a position, two resting orders and a protective stop."""
    await exchange.create_order(BTC, "market", "buy", 0.01, None, {"clientOrderId": "v-entry"})
    await exchange.create_order(BTC, "limit", "buy", 0.003, 49000, {"clientOrderId": "v-bid"})
    await exchange.create_order(BTC, "limit", "sell", 0.003, 51000, {"clientOrderId": "v-ask"})
    stop = {"triggerPrice": 48000, "reduceOnly": True, "clientOrderId": "v-stop"}
    await exchange.create_order(BTC, "STOP_MARKET", "sell", 0.01, None, stop)
    await venue_sim.set_price("BTCUSDT", "50100")
    return exchange


async def test_markets_ticker_and_book(populated: Any) -> None:
    for market in populated.markets.values():
        check_market(populated, NO_SKIPS, "loadMarkets", market)
    check_ticker(populated, NO_SKIPS, "fetchTicker", await populated.fetch_ticker(BTC), BTC)
    book = await populated.fetch_order_book(BTC, 10)
    check_order_book(populated, NO_SKIPS, "fetchOrderBook", book, BTC)


async def test_balance_and_positions(populated: Any) -> None:
    check_balance(populated, NO_SKIPS, "fetchBalance", await populated.fetch_balance())
    positions = await populated.fetch_positions([BTC])
    assert [p["contracts"] for p in positions] == [0.01]
    for position in positions:
        check_position(
            populated, POSITION_SKIPS, "fetchPositions", position, BTC, populated.milliseconds()
        )


async def test_orders_the_bot_creates_reads_and_cancels(populated: Any) -> None:
    now = populated.milliseconds()
    created = await populated.create_order(
        BTC, "limit", "buy", 0.003, 49500, {"clientOrderId": "v-new"}
    )
    check_order(populated, NO_SKIPS, "createOrder", created, BTC, now)
    open_orders = await populated.fetch_open_orders(BTC)
    assert sorted(o["clientOrderId"] for o in open_orders) == ["v-ask", "v-bid", "v-new"]
    stops = await populated.fetch_open_orders(BTC, None, None, {"trigger": True})
    assert [o["clientOrderId"] for o in stops] == ["v-stop"]
    fetched = await populated.fetch_order(None, BTC, {"clientOrderId": "v-entry"})
    cancelled = await populated.cancel_order(None, BTC, {"clientOrderId": "v-new"})
    checked = [("fetchOpenOrders", o) for o in open_orders + stops]
    checked += [("fetchOrder", fetched), ("cancelOrder", cancelled)]
    for method, order in checked:
        check_order(populated, NO_SKIPS, method, order, BTC, now)


async def test_my_trades(populated: Any) -> None:
    trades = await populated.fetch_my_trades(BTC)
    assert trades
    for trade in trades:
        check_trade(
            populated, NO_SKIPS, "fetchMyTrades", trade, BTC, populated.milliseconds(), False
        )


# ccxt's live runner calls these with the wrong arguments or asserts what no reply can pass
# (tests/support/ccxt_live.py, NOT_THE_SIMULATORS_FAULT); their checks run here.
_leverage_tiers_test = importlib.import_module("ccxt.test.exchange.async.test_fetch_leverage_tiers")


async def test_leverage_tiers_margin_modes_fees_and_last_prices(populated: Any) -> None:
    await _leverage_tiers_test.test_fetch_leverage_tiers(populated, NO_SKIPS, BTC)
    modes = await populated.fetch_margin_modes([BTC])
    assert [m["marginMode"] for m in modes.values()] == ["cross"]
    for mode in modes.values():
        check_margin_mode(populated, NO_SKIPS, "fetchMarginModes", mode)
    fees = await populated.fetch_trading_fees()
    assert fees.keys() == populated.markets.keys()
    for symbol, fee in fees.items():
        check_trading_fee(populated, NO_SKIPS, "fetchTradingFees", symbol, fee)
    prices = await populated.fetch_last_prices([BTC])
    assert [p["price"] for p in prices.values()] == [50100]
    for price in prices.values():
        check_last_price(populated, NO_SKIPS, "fetchLastPrices", price, BTC)
