"""Fills as Binance USD-M makes them: the reply type, commission, funding, depth, margin type."""

from __future__ import annotations

from typing import Any

import ccxt
import pytest

from tests.venue_sim.symbols import BTC
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
