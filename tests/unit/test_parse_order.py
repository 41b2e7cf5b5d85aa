"""parse_order: ccxt unified orders in, journal states out; anything doubtful is garbled."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tradewarden.bot.model.order_state import OrderState
from tradewarden.bot.model.orders import Side
from tradewarden.bot.venue.adapter import GarbledReply, parse_order

S = OrderState


def order(**overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "id": "8389765598352683202",
        "clientOrderId": "tw3f9a1c2b01-1",
        "symbol": "BTC/USDT:USDT",
        "type": "limit",
        "side": "buy",
        "status": "open",
        "amount": 0.003,
        "filled": 0.0,
        "remaining": 0.003,
        "price": 30000.0,
        "average": None,
        "info": {},
    }
    raw.update(overrides)
    return raw


@pytest.mark.parametrize(
    ("overrides", "state", "filled"),
    [
        pytest.param({}, S.OPEN, "0", id="open"),
        pytest.param({"filled": None}, S.OPEN, "0", id="open, filled unknown"),
        pytest.param(
            {"filled": 0.001, "average": 30000.5}, S.PARTIALLY_FILLED, "0.001", id="open+filled"
        ),
        pytest.param(
            {"status": "closed", "filled": 0.003, "average": 29999.9},
            S.FILLED,
            "0.003",
            id="closed",
        ),
        pytest.param({"status": "canceled"}, S.CANCELED, "0", id="canceled"),
        pytest.param({"status": "cancelled"}, S.CANCELED, "0", id="cancelled"),
        pytest.param(
            {"status": "canceled", "filled": 0.001},
            S.CANCELED,
            "0.001",
            id="canceled after a partial fill",
        ),
        pytest.param({"status": "expired"}, S.EXPIRED, "0", id="expired"),
        pytest.param({"status": "rejected"}, S.REJECTED, "0", id="rejected"),
        pytest.param(
            {"amount": "0.003", "filled": "0.002"}, S.PARTIALLY_FILLED, "0.002", id="string numbers"
        ),
    ],
)
def test_unified_orders_map_to_states(
    overrides: dict[str, Any], state: OrderState, filled: str
) -> None:
    raw = order(**overrides)

    parsed = parse_order(raw)

    assert parsed.state is state
    assert parsed.filled == Decimal(filled)
    assert parsed.amount == Decimal("0.003")
    assert parsed.venue_client_id == raw["clientOrderId"]
    assert parsed.exchange_order_id == raw["id"]
    expected_average = None if raw["average"] is None else Decimal(str(raw["average"]))
    assert parsed.average_price == expected_average


def test_numbers_keep_their_decimal_text() -> None:
    parsed = parse_order(order(amount=0.1, filled=0.1, status="closed", average=0.3))
    assert parsed.amount == Decimal("0.1")
    assert parsed.average_price == Decimal("0.3")


def test_numeric_exchange_id_becomes_text() -> None:
    assert parse_order(order(id=12345)).exchange_order_id == "12345"


def _without(key: str) -> dict[str, Any]:
    raw = order()
    del raw[key]
    return raw


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        pytest.param("<html>502 Bad Gateway</html>", "str", id="a string"),
        pytest.param(None, "NoneType", id="None"),
        pytest.param([order()], "list", id="a list"),
        pytest.param(_without("id"), "id", id="missing id"),
        pytest.param(order(id=None), "id", id="null id"),
        pytest.param(_without("clientOrderId"), "clientOrderId", id="missing clientOrderId"),
        pytest.param(_without("status"), "status", id="missing status"),
        pytest.param(order(status=None), "status", id="null status"),
        pytest.param(_without("amount"), "amount", id="missing amount"),
        pytest.param(order(amount="lots"), "amount", id="non-numeric amount"),
        pytest.param(order(amount=float("nan")), "amount", id="NaN amount"),
        pytest.param(order(amount="Infinity"), "amount", id="infinite amount"),
        pytest.param(order(filled="some"), "filled", id="non-numeric filled"),
        pytest.param(order(filled=float("nan")), "filled", id="NaN filled"),
        pytest.param(order(average="n/a"), "average", id="non-numeric average"),
        pytest.param(order(status="NEW"), "status", id="raw venue status"),
        pytest.param(order(status="pending"), "status", id="unknown status"),
        pytest.param(order(status=""), "status", id="empty status"),
        pytest.param(_without("symbol"), "symbol", id="missing symbol"),
        pytest.param(_without("side"), "side", id="missing side"),
        pytest.param(order(side="long"), "side", id="unknown side"),
        pytest.param(_without("type"), "type", id="missing type"),
        pytest.param(order(price="cheap"), "price", id="non-numeric price"),
    ],
)
def test_garbled_replies_raise(raw: Any, words: str) -> None:
    with pytest.raises(GarbledReply, match=words):
        parse_order(raw)


def test_what_the_intent_is_matched_on_is_kept() -> None:
    parsed = parse_order(order(type="LIMIT", reduceOnly=True))
    assert (parsed.symbol, parsed.side, parsed.order_type) == ("BTC/USDT:USDT", Side.BUY, "limit")
    assert (parsed.price, parsed.trigger_price, parsed.reduce_only) == (Decimal(30000), None, True)
    stop = parse_order(order(type="market", price=None, triggerPrice=47500.0, side="sell"))
    assert (stop.side, stop.trigger_price, stop.reduce_only) == (Side.SELL, Decimal(47500), None)
