"""Fills as Binance USD-M makes them: the reply type, commission, funding, depth, margin type."""

from __future__ import annotations

from typing import Any

import ccxt
import pytest

from tests.venue_sim.symbols import BTC, ETH
from tradewarden.bot.venue_sim.server import RunningVenueSim

MARKET_BUY = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.01"}


async def test_a_new_order_is_acknowledged_before_it_fills_by_default(exchange: Any) -> None:
    # Binance USD-M's newOrderRespType defaults to ACK: the reply is the order
    # as accepted, so a market order that fills at once still reads NEW.
    ack = await exchange.fapiPrivatePostOrder({**MARKET_BUY, "newClientOrderId": "ack-1"})
    assert (ack["status"], ack["executedQty"], ack["cumQuote"]) == ("NEW", "0", "0")
    later = await exchange.fapiPrivateGetOrder({"symbol": "BTCUSDT", "orderId": ack["orderId"]})
    assert (later["status"], later["executedQty"]) == ("FILLED", "0.01")

    result = await exchange.fapiPrivatePostOrder({**MARKET_BUY, "newOrderRespType": "RESULT"})
    assert (result["status"], result["executedQty"]) == ("FILLED", "0.01")


async def test_ccxt_asks_for_the_result_and_can_ask_for_the_ack(exchange: Any) -> None:
    filled = await exchange.create_order(BTC, "market", "buy", 0.01)
    assert (filled["status"], filled["filled"]) == ("closed", 0.01)
    acked = await exchange.create_order(
        BTC, "market", "buy", 0.01, None, {"newOrderRespType": "ACK"}
    )
    assert (acked["status"], acked["filled"]) == ("open", 0.0)
    assert (await exchange.fetch_order(acked["id"], BTC))["status"] == "closed"


async def test_batch_orders_honour_each_response_type(exchange: Any) -> None:
    batch = [
        {**MARKET_BUY, "newClientOrderId": "b-ack"},
        {**MARKET_BUY, "newClientOrderId": "b-result", "newOrderRespType": "RESULT"},
    ]
    replies = await exchange.fapiPrivatePostBatchOrders({"batchOrders": batch})
    assert [r["status"] for r in replies] == ["NEW", "FILLED"]


async def test_an_unknown_response_type_is_refused(
    exchange: Any, venue_sim: RunningVenueSim
) -> None:
    with pytest.raises(ccxt.BadRequest, match="-1136"):
        await exchange.fapiPrivatePostOrder({**MARKET_BUY, "newOrderRespType": "FULL"})
    assert (await venue_sim.state())["orders"] == []


async def test_every_fill_pays_commission_at_the_advertised_rate(
    exchange: Any, venue_sim: RunningVenueSim
) -> None:
    fee = await exchange.fetch_trading_fee(BTC)
    assert (fee["maker"], fee["taker"]) == (0.0002, 0.0005)
    await exchange.create_order(BTC, "market", "buy", 0.01)  # taker: 500.001 * 0.0005
    bid = await exchange.create_order(BTC, "limit", "buy", 0.01, 49000)
    for price in ("48950", "48940"):  # fills in two halves, maker: 245 * 0.0002 each
        await venue_sim.set_price("BTCUSDT", price)
    trades = await exchange.fetch_my_trades(BTC)
    assert [(t["takerOrMaker"], t["fee"]["cost"], t["fee"]["currency"]) for t in trades] == [
        ("taker", 0.2500005, "USDT"),
        ("maker", 0.049, "USDT"),
        ("maker", 0.049, "USDT"),
    ]
    assert trades[2]["order"] == bid["id"]
    balance = await exchange.fetch_balance()
    # 10000 - 0.2500005 - 2 * 0.049
    assert balance["info"]["assets"][0]["walletBalance"] == "9999.6519995"


async def test_income_lists_realized_pnl_and_commission_as_binance_does(
    exchange: Any, venue_sim: RunningVenueSim
) -> None:
    await exchange.create_order(BTC, "market", "buy", 0.01)
    await venue_sim.set_price("BTCUSDT", "51000")
    await exchange.create_order(BTC, "market", "sell", 0.01, None, {"reduceOnly": True})
    rows = await exchange.fapiPrivateGetIncome({"symbol": "BTCUSDT"})
    assert [(r["incomeType"], r["income"], r["tradeId"]) for r in rows] == [
        ("COMMISSION", "-0.25000050", "1"),  # bought 0.01 at 50000.1
        ("REALIZED_PNL", "9.99800000", "2"),  # sold at 50999.9
        ("COMMISSION", "-0.25499950", "2"),
    ]
    assert set(rows[0]) == {
        "symbol", "incomeType", "income", "asset", "info", "time", "tranId", "tradeId"
    }  # fmt: skip
    assert len({r["tranId"] for r in rows}) == 3
    only = await exchange.fapiPrivateGetIncome({"incomeType": "REALIZED_PNL"})
    assert [r["income"] for r in only] == ["9.99800000"]
    paged = await exchange.fapiPrivateGetIncome({"limit": 2, "page": 2})
    assert [r["tranId"] for r in paged] == [rows[2]["tranId"]]
    with pytest.raises(ccxt.BadRequest, match="-1130"):
        await exchange.fapiPrivateGetIncome({"incomeType": "BONUS"})
    state = await venue_sim.state()
    assert state["balances"]["USDT"]["walletBalance"] == "10009.493"


async def test_the_depth_is_the_book_a_market_order_walks(
    exchange: Any, venue_sim: RunningVenueSim
) -> None:
    book = await exchange.fetch_order_book(BTC, 5)
    (bid, _), (ask, _) = book["bids"][0], book["asks"][0]
    assert (bid, ask) == (49999.9, 50000.1)  # one tick either side of the mark
    two_levels = book["asks"][0][1] + book["asks"][1][1]
    order = await exchange.create_order(BTC, "market", "buy", two_levels)
    expected = sum(price * qty for price, qty in book["asks"][:2]) / two_levels
    assert order["average"] == pytest.approx(expected)
    assert len(await exchange.fetch_my_trades(BTC)) == 2  # one trade per level
    after = await exchange.fetch_order_book(BTC, 5)
    assert after["asks"][:3] == book["asks"][2:5]  # the two levels are gone ...
    assert after["bids"] == book["bids"]
    await venue_sim.set_price("BTCUSDT", "50000")
    assert (await exchange.fetch_order_book(BTC, 5))["asks"] == book["asks"]  # ... until it moves


async def test_a_resting_order_fills_in_steps_as_the_price_moves_through(
    exchange: Any, venue_sim: RunningVenueSim
) -> None:
    order = await exchange.create_order(BTC, "limit", "buy", 0.02, 49000)
    await venue_sim.set_price("BTCUSDT", "48995")
    touched = await exchange.fetch_order(order["id"], BTC)
    assert (touched["status"], touched["filled"], touched["info"]["status"]) == (
        "open",
        0.01,
        "PARTIALLY_FILLED",
    )
    await venue_sim.set_price("BTCUSDT", "48990")
    assert (await exchange.fetch_order(order["id"], BTC))["filled"] == 0.02


async def test_margin_type_is_cross_by_default_and_changes_as_binance_allows(
    exchange: Any, venue_sim: RunningVenueSim
) -> None:
    assert (await exchange.fetch_margin_mode(BTC))["marginMode"] == "cross"
    with pytest.raises(ccxt.ExchangeError, match="-4046") as unchanged:
        await exchange.fapiPrivatePostMarginType({"symbol": "BTCUSDT", "marginType": "CROSSED"})
    assert "No need to change margin type." in str(unchanged.value)
    # ccxt recognises Binance's exact wording.
    with pytest.raises(ccxt.MarginModeAlreadySet):
        await exchange.set_margin_mode("cross", BTC)

    bid = await exchange.create_order(BTC, "limit", "buy", 0.01, 49000)
    with pytest.raises(ccxt.ExchangeError, match="-4047"):
        await exchange.set_margin_mode("isolated", BTC)
    await exchange.cancel_order(bid["id"], BTC)
    await exchange.create_order(BTC, "market", "buy", 0.01)
    with pytest.raises(ccxt.ExchangeError, match="-4048"):
        await exchange.set_margin_mode("isolated", BTC)
    [position] = await exchange.fetch_positions([BTC])
    assert (position["marginMode"], position["info"]["isolatedWallet"]) == ("cross", "0")

    await exchange.set_margin_mode("isolated", ETH)
    assert (await exchange.fetch_margin_mode(ETH))["marginMode"] == "isolated"
    await exchange.create_order(ETH, "market", "buy", 0.5)
    eth = {p["symbol"]: p for p in await exchange.fetch_positions()}[ETH]
    assert eth["marginMode"] == "isolated"
    with pytest.raises(ccxt.BadRequest, match="-1130"):
        await exchange.fapiPrivatePostMarginType({"symbol": "BTCUSDT", "marginType": "CROSS"})


def liquidation(
    wallet: float, amount: float, entry: float, mmr: float = 0.004, cum: float = 0.0
) -> float:
    """Binance's one-way formula with no other position, for one notional tier."""
    side = 1 if amount > 0 else -1
    size = abs(amount)
    return (wallet + cum - side * size * entry) / (size * mmr - side * size)


async def test_positions_carry_binance_liquidation_price(
    exchange: Any, venue_sim: RunningVenueSim
) -> None:
    await exchange.set_leverage(20, BTC)
    await exchange.create_order(BTC, "market", "buy", 1.5)  # 75,000 USDT on a 10,000 wallet
    [position] = await exchange.fetch_positions([BTC])
    wallet = float((await venue_sim.state())["balances"]["USDT"]["walletBalance"])
    # About 65,000 USDT at the liquidation price: the second tier (0.5 %, amount 50).
    expected = liquidation(wallet, 1.5, position["entryPrice"], 0.005, 50)
    assert 50_000 < 1.5 * expected < 250_000
    assert position["liquidationPrice"] == pytest.approx(expected, abs=1e-6)
    assert 43_000 < position["liquidationPrice"] < 44_000  # a 13 % fall takes the wallet
    # A short the wallet covers at any price it can reach still shows the level that takes it.
    await exchange.create_order(BTC, "market", "sell", 1.5, None, {"reduceOnly": True})
    await exchange.set_margin_mode("isolated", BTC)
    await exchange.create_order(BTC, "market", "sell", 0.1)
    [short] = await exchange.fetch_positions([BTC])
    isolated_wallet = float(short["info"]["isolatedWallet"])  # 0.1 * mark / 20
    expected = liquidation(isolated_wallet, -0.1, short["entryPrice"])
    assert short["liquidationPrice"] == pytest.approx(expected, abs=1e-6)
    assert short["entryPrice"] < short["liquidationPrice"] < short["entryPrice"] * 1.05


async def test_maintenance_and_liquidation_follow_the_notional_tiers(
    exchange: Any, venue_sim: RunningVenueSim
) -> None:
    # GET /fapi/v1/leverageBracket lists Binance's BTCUSDT tiers; positionRisk's
    # maintMargin takes the rate and maintenance amount of the tier the notional is in,
    # and the liquidation price those of the tier its own notional falls in (Binance's
    # liquidation-price FAQ: recompute with that tier when it differs).
    tiers = (await exchange.fetch_leverage_tiers([BTC]))[BTC]
    assert [
        (t["maxNotional"], t["maintenanceMarginRate"], t["maxLeverage"]) for t in tiers[:3]
    ] == [
        (50_000, 0.004, 125),
        (250_000, 0.005, 100),
        (3_000_000, 0.01, 50),
    ]
    assert [t["info"]["cum"] for t in tiers[:3]] == [0.0, 50.0, 1300.0]
    reply = await exchange.set_leverage(20, BTC)
    assert reply["maxNotionalValue"] == "20000000"  # tier 4 is the last to allow 20x

    await exchange.create_order(BTC, "market", "buy", 1.1)  # 55,000 USDT: the second tier
    [position] = await exchange.fetch_positions([BTC])
    notional = abs(position["notional"])
    assert 50_000 < notional < 250_000
    assert position["maintenanceMargin"] == pytest.approx(notional * 0.005 - 50, abs=1e-6)
    wallet = float((await venue_sim.state())["balances"]["USDT"]["walletBalance"])
    # At the liquidation price the position is worth under 50,000: the first tier's rate.
    expected = liquidation(wallet, 1.1, position["entryPrice"])
    assert 1.1 * expected < 50_000
    assert position["liquidationPrice"] == pytest.approx(expected, abs=1e-6)
