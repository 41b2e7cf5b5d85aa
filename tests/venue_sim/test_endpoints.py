"""Endpoints a bot or a ccxt user plausibly calls, served as Binance serves them."""

from __future__ import annotations

from typing import Any

import ccxt
import pytest
from ccxt.test.exchange.base.test_ohlcv import test_ohlcv as check_ohlcv
from ccxt.test.exchange.base.test_trade import test_trade as check_trade
from ccxt.test.exchange.base.test_trading_fee import test_trading_fee as check_trading_fee

from tests.venue_sim.symbols import BTC
from tradewarden.bot.venue_sim.server import RunningVenueSim


async def test_batch_create_answers_each_order(exchange: Any, venue_sim: RunningVenueSim) -> None:
    batch = [
        {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
         "quantity": "0.003", "price": "49000", "newClientOrderId": "b-1"},
        {"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET", "quantity": "0.003",
         "reduceOnly": "true", "newClientOrderId": "b-2"},
        {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.003",
         "newClientOrderId": "b-3"},
    ]  # fmt: skip
    replies = await exchange.fapiPrivatePostBatchOrders({"batchOrders": batch})
    assert [r.get("clientOrderId", r.get("code")) for r in replies] == ["b-1", -2022, "b-3"]
    assert replies[1]["msg"] == "ReduceOnly Order is rejected."
    headers = {k.lower(): v for k, v in exchange.last_response_headers.items()}
    assert headers["x-mbx-order-count-10s"] == "3"
    # ccxt's unified create_orders goes through the same endpoint.
    orders = await exchange.create_orders(
        [
            {"symbol": BTC, "type": "limit", "side": "buy", "amount": 0.003, "price": 49100},
            {"symbol": BTC, "type": "limit", "side": "buy", "amount": 0.003, "price": 49200},
        ]
    )
    assert [o["status"] for o in orders] == ["open", "open"]
    with pytest.raises(ccxt.BadRequest, match="-4082"):
        await exchange.fapiPrivatePostBatchOrders({"batchOrders": batch * 2})
    assert len((await venue_sim.state())["orders"]) == 4


async def test_edit_order_amends_in_place(exchange: Any, venue_sim: RunningVenueSim) -> None:
    placed = await exchange.create_order(BTC, "limit", "buy", 0.003, 49000, {"clientOrderId": "e"})
    edited = await exchange.edit_order(placed["id"], BTC, "limit", "buy", 0.004, 49500)
    assert (edited["id"], edited["amount"], edited["price"]) == (placed["id"], 0.004, 49500)
    with pytest.raises(ccxt.ExchangeError, match="-5027"):
        await exchange.edit_order(placed["id"], BTC, "limit", "buy", 0.004, 49500)
    with pytest.raises(ccxt.BadRequest, match="-4016"):
        await exchange.edit_order(placed["id"], BTC, "limit", "buy", 0.004, 60000)
    # Amended across the book, it takes liquidity.
    crossed = await exchange.edit_order(placed["id"], BTC, "limit", "buy", 0.004, 50100)
    assert (crossed["status"], crossed["filled"]) == ("closed", 0.004)
    assert [o["status"] for o in (await venue_sim.state())["orders"]] == ["FILLED"]


async def test_trading_fee_trades_and_ohlcv(exchange: Any, venue_sim: RunningVenueSim) -> None:
    fee = await exchange.fetch_trading_fee(BTC)
    check_trading_fee(exchange, {}, "fetchTradingFee", BTC, fee)
    assert (fee["maker"], fee["taker"]) == (0.0002, 0.0005)
    await exchange.create_order(BTC, "market", "buy", 0.003)
    for price in ("50100", "49900", "50050"):
        await venue_sim.set_price("BTCUSDT", price)
    now = exchange.milliseconds()
    [trade] = await exchange.fetch_trades(BTC)
    check_trade(exchange, {}, "fetchTrades", trade, BTC, now, True)
    assert (trade["price"], trade["amount"], trade["side"]) == (50000.1, 0.003, "buy")
    candles = await exchange.fetch_ohlcv(BTC, "1m", limit=5)
    for candle in candles:
        check_ohlcv(exchange, {}, "fetchOHLCV", candle, BTC, now)
    last = candles[-1]
    assert last[4] == 50050 and last[2] >= 50100 and last[3] <= 49900
    assert sum(c[5] for c in candles) == pytest.approx(0.003)
    with pytest.raises(ccxt.BadRequest, match="-1120"):
        await exchange.fapiPublicGetKlines({"symbol": "BTCUSDT", "interval": "7m"})


async def test_price_ticker_and_account_config(exchange: Any) -> None:
    """GET /fapi/v{1,2}/ticker/price: one object with a symbol, every symbol without; GET
    /fapi/v1/accountConfig: fee tier 0 and the position mode, as Binance answers them."""
    one = await exchange.fapiPublicV2GetTickerPrice({"symbol": "BTCUSDT"})
    assert (one["symbol"], one["price"]) == ("BTCUSDT", "50000")
    assert isinstance(one["time"], int)
    every = await exchange.fapiPublicGetTickerPrice()
    assert [row["symbol"] for row in every] == list(exchange.markets_by_id)
    config = await exchange.fapiPrivateGetAccountConfig()
    assert (config["feeTier"], config["dualSidePosition"], config["multiAssetsMargin"]) == (
        0,
        False,
        False,
    )
