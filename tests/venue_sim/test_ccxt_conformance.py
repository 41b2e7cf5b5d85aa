"""Unchanged ccxt binanceusdm calls against the simulator, checked against /_sim/state."""

from __future__ import annotations

from typing import Any

import ccxt
import pytest

from tests.venue_sim.symbols import BTC, ETH
from tradewarden.bot.venue_sim.server import RunningVenueSim
from tradewarden.bot.venue_sim.settings import SimSettings


async def test_market_data(exchange: Any, venue_sim: RunningVenueSim) -> None:
    market = exchange.market(BTC)
    assert (market["id"], market["swap"], market["linear"], market["settle"]) == (
        "BTCUSDT",
        True,
        True,
        "USDT",
    )
    assert (market["precision"]["price"], market["precision"]["amount"]) == (0.1, 0.001)
    assert market["limits"]["cost"]["min"] == 100
    assert abs(await exchange.fetch_time() - exchange.milliseconds()) < 5000
    ticker = await exchange.fetch_ticker(BTC)
    assert ticker["last"] == 50000
    book = await exchange.fetch_order_book(BTC, 5)
    assert book["bids"][0][0] < 50000 < book["asks"][0][0]
    assert len(book["bids"]) == 5
    mark = await exchange.fetch_mark_price(ETH)
    assert mark["markPrice"] == 3000
    # ccxt must not have called anything outside the simulated futures API, nor brackets.
    assert "GET /fapi/v1/leverageBracket" not in (await venue_sim.state())["requests"]


async def test_set_leverage(exchange: Any, venue_sim: RunningVenueSim) -> None:
    reply = await exchange.set_leverage(20, BTC)
    assert reply["leverage"] == 20
    assert (await venue_sim.state())["leverage"]["BTCUSDT"] == 20


async def test_market_order_with_client_order_id(exchange: Any, venue_sim: RunningVenueSim) -> None:
    order = await exchange.create_order(BTC, "market", "buy", 0.01, None, {"clientOrderId": "m-1"})
    assert (order["clientOrderId"], order["status"], order["filled"], order["average"]) == (
        "m-1",
        "closed",
        0.01,
        50000.1,  # the best ask, a tick over the mark
    )
    by_id = await exchange.fetch_order(order["id"], BTC)
    by_client_id = await exchange.fetch_order(None, BTC, {"clientOrderId": "m-1"})
    assert by_id["id"] == by_client_id["id"] == order["id"]
    state = await venue_sim.state()
    assert [(o["clientOrderId"], o["status"]) for o in state["orders"]] == [("m-1", "FILLED")]
    assert state["fills"][0]["price"] == "50000.1"
    trades = await exchange.fetch_my_trades(BTC)
    assert [(t["order"], t["amount"], t["price"]) for t in trades] == [(order["id"], 0.01, 50000.1)]


async def test_limit_orders_open_cancel_and_cancel_all(exchange: Any) -> None:
    first = await exchange.create_order(BTC, "limit", "buy", 0.01, 49000, {"clientOrderId": "l-1"})
    second = await exchange.create_order(
        BTC, "limit", "sell", 0.01, 51000, {"clientOrderId": "l-2"}
    )
    third = await exchange.create_order(BTC, "limit", "buy", 0.01, 48000)
    assert first["status"] == "open" and first["price"] == 49000
    open_ids = {o["id"] for o in await exchange.fetch_open_orders(BTC)}
    assert open_ids == {first["id"], second["id"], third["id"]}
    cancelled = await exchange.cancel_order(first["id"], BTC)
    assert cancelled["status"] == "canceled"
    cancelled = await exchange.cancel_order(None, BTC, {"clientOrderId": "l-2"})
    assert (cancelled["id"], cancelled["status"]) == (second["id"], "canceled")
    await exchange.cancel_all_orders(BTC)
    assert await exchange.fetch_open_orders(BTC) == []
    assert (await exchange.fetch_order(third["id"], BTC))["status"] == "canceled"


async def test_batch_cancel_by_client_ids_answers_each_order(
    exchange: Any, venue_sim: RunningVenueSim
) -> None:
    for index, price in enumerate((49000, 48000)):
        await exchange.create_order(
            BTC, "limit", "buy", 0.01, price, {"clientOrderId": f"b-{index}"}
        )
    await exchange.create_order(BTC, "market", "buy", 0.01, None, {"clientOrderId": "b-filled"})

    # ccxt's cancel_orders: DELETE /fapi/v1/batchOrders with a JSON list of client ids.
    cancelled = await exchange.cancel_orders(
        [], BTC, {"clientOrderIds": ["b-0", "b-1", "b-filled"]}
    )

    assert sorted((o["clientOrderId"], o["status"]) for o in cancelled) == [
        ("b-0", "canceled"),
        ("b-1", "canceled"),
    ]
    assert await exchange.fetch_open_orders(BTC) == []
    # The filled order was answered with its own error, which ccxt leaves out of a
    # mixed reply and raises when it is the only entry.
    with pytest.raises(ccxt.OrderNotFound, match="-2011"):
        await exchange.cancel_orders([], BTC, {"clientOrderIds": ["b-filled"]})
    assert (await venue_sim.state())["requests"]["DELETE /fapi/v1/batchOrders"] == 2


async def test_batch_cancel_refuses_more_than_ten_orders(exchange: Any) -> None:
    with pytest.raises(ccxt.BadRequest):
        await exchange.cancel_orders([], BTC, {"clientOrderIds": [f"x-{i}" for i in range(11)]})


async def test_positions_and_balance(exchange: Any) -> None:
    assert await exchange.fetch_positions() == []
    await exchange.create_order(BTC, "market", "sell", 0.02)
    await exchange.create_order(ETH, "market", "buy", 0.5)
    positions = {p["symbol"]: p for p in await exchange.fetch_positions()}
    assert (positions[BTC]["side"], positions[BTC]["contracts"]) == ("short", 0.02)
    assert (positions[ETH]["side"], positions[ETH]["entryPrice"]) == ("long", 3000.01)
    balance = await exchange.fetch_balance()
    # Margin = 0.02 * 50000 / 10 + 0.5 * 3000 / 10; taker fees on 0.02 at the bid (49999.9)
    # and 0.5 at the ask (3000.01).
    total = 10000 - 0.0005 * (999.998 + 1500.005)
    assert balance["USDT"] == {
        "free": pytest.approx(total - 250),
        "used": 250.0,
        "total": pytest.approx(total),
    }


async def test_stop_orders_live_in_the_algo_service(
    exchange: Any, venue_sim: RunningVenueSim
) -> None:
    await exchange.create_order(BTC, "market", "buy", 0.01)
    stop = await exchange.create_order(
        BTC, "market", "sell", 0.01, None, {"stopLossPrice": 48000, "reduceOnly": True}
    )
    assert (stop["status"], stop["triggerPrice"], stop["reduceOnly"]) == ("open", 48000, True)
    assert await exchange.fetch_open_orders(BTC) == []
    triggers = await exchange.fetch_open_orders(BTC, None, None, {"trigger": True})
    assert [o["id"] for o in triggers] == [stop["id"]]
    fetched = await exchange.fetch_order(stop["id"], BTC, {"trigger": True})
    assert (fetched["info"]["orderType"], fetched["clientOrderId"]) == (
        "STOP_MARKET",
        stop["clientOrderId"],
    )
    await exchange.cancel_order(stop["id"], BTC, {"trigger": True})
    assert await exchange.fetch_open_orders(BTC, None, None, {"trigger": True}) == []
    assert (await venue_sim.state())["algoOrders"][0]["algoStatus"] == "CANCELED"


async def test_close_position_stop_by_client_id_and_cancel_all_triggers(exchange: Any) -> None:
    await exchange.create_order(BTC, "market", "buy", 0.01)
    params = {"triggerPrice": 47000, "closePosition": True, "clientOrderId": "sl-1"}
    await exchange.create_order(BTC, "market", "sell", None, None, params)
    fetched = await exchange.fetch_order(None, BTC, {"trigger": True, "clientOrderId": "sl-1"})
    assert fetched["info"]["closePosition"] is True
    await exchange.cancel_order(None, BTC, {"trigger": True, "clientOrderId": "sl-1"})
    await exchange.create_order(
        BTC, "market", "sell", None, None, {**params, "clientOrderId": "sl-2"}
    )
    await exchange.cancel_all_orders(BTC, {"trigger": True})
    assert await exchange.fetch_open_orders(BTC, None, None, {"trigger": True}) == []


async def test_fills_move_positions_and_wallet(exchange: Any, venue_sim: RunningVenueSim) -> None:
    await exchange.create_order(BTC, "market", "buy", 0.01)
    await venue_sim.set_price("BTCUSDT", "52000")
    await exchange.create_order(BTC, "market", "buy", 0.01)
    state = await venue_sim.state()
    assert state["positions"] == [
        {
            "symbol": "BTCUSDT",
            "positionAmt": "0.02",
            "entryPrice": "51000.1",  # bought at the asks, 50000.1 and 52000.1
            "markPrice": "52000",
            "unrealizedProfit": "19.998",
        }
    ]
    await venue_sim.set_price("BTCUSDT", "53000")
    await exchange.create_order(BTC, "market", "sell", 0.03)  # close 0.02, open 0.01 short
    state = await venue_sim.state()
    # Realized 0.02 * (52999.9 - 51000.1), less taker fees on 500.001 + 520.001 + 1589.997.
    assert state["balances"]["USDT"]["walletBalance"] == "10038.6910005"
    assert [(p["positionAmt"], p["entryPrice"]) for p in state["positions"]] == [
        ("-0.01", "52999.9")
    ]
    position = (await exchange.fetch_positions([BTC]))[0]
    assert (position["side"], position["contracts"], position["entryPrice"]) == (
        "short",
        0.01,
        52999.9,
    )


async def test_limit_order_fills_when_the_mark_crosses(
    exchange: Any, venue_sim: RunningVenueSim
) -> None:
    order = await exchange.create_order(BTC, "limit", "buy", 0.01, 49000)
    await venue_sim.set_price("BTCUSDT", "49100")
    assert (await exchange.fetch_order(order["id"], BTC))["status"] == "open"
    await venue_sim.set_price("BTCUSDT", "48950")  # half: the level's queue takes the rest
    assert (await exchange.fetch_order(order["id"], BTC))["filled"] == 0.005
    await venue_sim.set_price("BTCUSDT", "48940")
    filled = await exchange.fetch_order(order["id"], BTC)
    assert (filled["status"], filled["average"]) == ("closed", 49000)
    assert (await exchange.fetch_positions([BTC]))[0]["entryPrice"] == 49000


@pytest.mark.parametrize("sim_settings", [SimSettings(price_tick_s=0, partial_fill_ratio=0.5)])
async def test_partial_fills(exchange: Any, venue_sim: RunningVenueSim) -> None:
    order = await exchange.create_order(BTC, "limit", "sell", 0.04, 51000)
    await venue_sim.set_price("BTCUSDT", "51000")
    partial = await exchange.fetch_order(order["id"], BTC)
    assert (partial["status"], partial["filled"], partial["info"]["status"]) == (
        "open",
        0.02,
        "PARTIALLY_FILLED",
    )
    assert (await exchange.fetch_positions([BTC]))[0]["contracts"] == 0.02
    await venue_sim.set_price("BTCUSDT", "51050")
    assert (await exchange.fetch_order(order["id"], BTC))["filled"] == 0.04


async def test_stop_trigger_closes_the_position(exchange: Any, venue_sim: RunningVenueSim) -> None:
    await exchange.create_order(BTC, "market", "sell", 0.02)
    params = {"triggerPrice": 51000, "closePosition": True}
    stop = await exchange.create_order(BTC, "market", "buy", None, None, params)
    await venue_sim.set_price("BTCUSDT", "51200")
    assert await exchange.fetch_positions([BTC]) == []
    assert (await exchange.fetch_order(stop["id"], BTC, {"trigger": True}))["status"] == "closed"
    state = await venue_sim.state()
    # Sold at 49999.9, bought back at 51200.1: lost 24.004, less taker fees on 999.998 + 1024.002.
    assert state["balances"]["USDT"]["walletBalance"] == "9974.984"
    triggered = [
        o for o in state["orders"] if o["orderId"] == state["algoOrders"][0]["actualOrderId"]
    ]
    assert (triggered[0]["reduceOnly"], triggered[0]["avgPrice"]) == (True, "51200.1")
