"""Market breadth as Binance lists it: real filters, perpetuals, a quarterly, position mode."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import ccxt
import pytest

from tests.support.sim import quiet
from tests.venue_sim.symbols import BTC, ETH
from tradewarden.bot.execution.classification import classify
from tradewarden.bot.model.outcomes import ErrorClass, Operation
from tradewarden.bot.venue_sim.markets import quarterly_symbol
from tradewarden.bot.venue_sim.server import RunningVenueSim


async def test_the_majors_carry_binances_filters(exchange: Any) -> None:
    listed = {
        symbol: (m["precision"]["price"], m["precision"]["amount"], m["limits"]["cost"]["min"])
        for symbol, m in exchange.markets.items()
        if m["swap"]
    }
    assert listed == {
        BTC: (0.1, 0.001, 100.0),
        ETH: (0.01, 0.001, 20.0),
        "BNB/USDT:USDT": (0.01, 0.01, 5.0),
        "SOL/USDT:USDT": (0.01, 1.0, 5.0),
        "XRP/USDT:USDT": (0.0001, 0.1, 5.0),
    }
    info = exchange.market(BTC)["info"]
    assert (info["pricePrecision"], info["quantityPrecision"]) == (2, 3)
    assert {f["filterType"] for f in info["filters"]} >= {
        "PRICE_FILTER",
        "LOT_SIZE",
        "MARKET_LOT_SIZE",
        "MIN_NOTIONAL",
        "PERCENT_PRICE",
        "MAX_NUM_ORDERS",
        "MAX_NUM_ALGO_ORDERS",
    }


async def test_a_dated_quarterly_contract_is_listed_and_trades(exchange: Any) -> None:
    [future] = [m for m in exchange.markets.values() if m["future"]]
    pair_date = quarterly_symbol("BTCUSDT", datetime.now(UTC))
    assert future["id"] == pair_date
    assert future["symbol"] == f"BTC/USDT:USDT-{pair_date[-6:]}"
    assert future["info"]["contractType"] == "CURRENT_QUARTER"
    expiry = datetime.fromtimestamp(future["expiry"] / 1000, UTC)
    assert (expiry.weekday(), expiry.hour, expiry.month % 3) == (4, 8, 0)  # a Friday, 08:00 UTC
    # A quarterly's minimum notional is 5: 0.001 BTC is enough there, not on the perpetual.
    order = await exchange.create_order(future["symbol"], "market", "buy", 0.001)
    assert order["status"] == "closed"
    with pytest.raises(ccxt.InvalidOrder, match="-4164"):
        await exchange.create_order(BTC, "market", "buy", 0.001)


@pytest.mark.parametrize("sim_settings", [quiet(hedge_mode=True)])
async def test_a_hedge_mode_account_refuses_one_way_orders(
    exchange: Any, venue_sim: RunningVenueSim
) -> None:
    assert (await exchange.fetch_position_mode(BTC))["hedged"] is True
    with pytest.raises(ccxt.OperationRejected, match="-4061") as refused:
        await exchange.create_order(BTC, "market", "buy", 0.003)
    assert "Order's position side does not match user's setting." in str(refused.value)
    assert classify(refused.value, Operation.CREATE).error_class is ErrorClass.REJECTED
    with pytest.raises(ccxt.OperationRejected, match="-4061"):
        await exchange.create_order(
            BTC, "market", "sell", None, None, {"triggerPrice": 45000, "closePosition": True}
        )
    # Back to one-way mode, orders go through; the mode is locked while a position is open.
    await exchange.set_position_mode(False, BTC)
    await exchange.create_order(BTC, "market", "buy", 0.003)
    with pytest.raises(ccxt.ExchangeError, match="-4068"):
        await exchange.set_position_mode(True, BTC)
    with pytest.raises(ccxt.ExchangeError, match="-4059"):
        await exchange.set_position_mode(False, BTC)
    assert (await venue_sim.state())["orders"][0]["status"] == "FILLED"


async def test_a_one_way_account_refuses_hedge_orders(exchange: Any) -> None:
    with pytest.raises(ccxt.OperationRejected, match="-4061"):
        await exchange.create_order(BTC, "market", "buy", 0.003, None, {"positionSide": "LONG"})
    with pytest.raises(ccxt.BadRequest, match="-4060"):
        await exchange.create_order(BTC, "market", "buy", 0.003, None, {"positionSide": "UP"})
