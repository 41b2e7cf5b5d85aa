"""judge(): a venue snapshot may only move the journal forward."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from tests.support.orders import journaled
from tradewarden.bot.execution.evidence import judge, mismatch
from tradewarden.bot.model.order_state import OrderState
from tradewarden.bot.model.orders import JournaledOrder, OrderIntent, OrderType, Purpose, Side
from tradewarden.bot.model.outcomes import Verdict
from tradewarden.bot.model.venue import VenueOrder

S = OrderState
V = Verdict
QTY = Decimal("1.0")
TICK = Decimal("0.1")


def known(state: OrderState, filled: str = "0") -> JournaledOrder:
    intent = OrderIntent("BTC/USDT:USDT", Side.BUY, OrderType.LIMIT, QTY, Decimal("100"))
    return journaled(intent, "twabc-1", state=state, filled=filled, exchange_order_id="42")


def seen(state: OrderState, filled: str = "0", **fields: object) -> VenueOrder:
    venue = VenueOrder(
        "twabc-1", "42", state, QTY, Decimal(filled), None,
        symbol="BTC/USDT:USDT", side=Side.BUY, order_type="limit", price=Decimal("100"),
        trigger_price=None, reduce_only=False,
    )  # fmt: skip
    return replace(venue, **fields)


# (journal state, journal filled, venue state, venue filled, verdict)
TABLE = [
    # newer evidence
    (S.SUBMITTING, "0", S.OPEN, "0", V.APPLY),
    (S.SUBMITTING, "0", S.FILLED, "1.0", V.APPLY),
    (S.SUBMITTING, "0", S.REJECTED, "0", V.APPLY),
    (S.OPEN, "0", S.PARTIALLY_FILLED, "0.4", V.APPLY),
    (S.OPEN, "0", S.FILLED, "1.0", V.APPLY),
    (S.OPEN, "0", S.CANCELED, "0", V.APPLY),
    (S.PARTIALLY_FILLED, "0.4", S.PARTIALLY_FILLED, "0.7", V.APPLY),
    (S.PARTIALLY_FILLED, "0.4", S.FILLED, "1.0", V.APPLY),
    (S.PARTIALLY_FILLED, "0.4", S.CANCELED, "0.4", V.APPLY),
    (S.CANCELING, "0", S.FILLED, "1.0", V.APPLY),  # the cancel lost the race
    (S.CANCELING, "0", S.OPEN, "0", V.APPLY),  # the cancel was refused
    (S.CANCELING, "0", S.CANCELED, "0", V.APPLY),
    # nothing new
    (S.OPEN, "0", S.OPEN, "0", V.SAME),
    (S.PARTIALLY_FILLED, "0.4", S.PARTIALLY_FILLED, "0.4", V.SAME),
    (S.FILLED, "1.0", S.FILLED, "1.0", V.SAME),
    (S.CANCELED, "0.4", S.CANCELED, "0.4", V.SAME),
    # older than what we know
    (S.PARTIALLY_FILLED, "0.7", S.PARTIALLY_FILLED, "0.4", V.STALE),
    (S.PARTIALLY_FILLED, "0.4", S.OPEN, "0", V.STALE),
    (S.FILLED, "1.0", S.OPEN, "0", V.STALE),
    (S.FILLED, "1.0", S.PARTIALLY_FILLED, "0.4", V.STALE),
    (S.OPEN, "0", S.REJECTED, "0", V.STALE),  # a move the lifecycle cannot make
    # contradicts a terminal outcome
    (S.CANCELED, "0", S.OPEN, "0", V.CONFLICT),
    (S.CANCELED, "0", S.FILLED, "1.0", V.CONFLICT),
    (S.FILLED, "1.0", S.CANCELED, "1.0", V.CONFLICT),
    (S.EXPIRED, "0", S.OPEN, "0", V.CONFLICT),
    (S.REJECTED, "0", S.OPEN, "0", V.CONFLICT),
    (S.ABANDONED, "0", S.OPEN, "0", V.CONFLICT),
    (S.ABANDONED, "0", S.FILLED, "1.0", V.CONFLICT),
]


@pytest.mark.parametrize(
    ("known_state", "known_filled", "seen_state", "seen_filled", "verdict"),
    [pytest.param(*row, id=f"{row[0]}@{row[1]} vs {row[2]}@{row[3]}") for row in TABLE],
)
def test_judge(
    known_state: OrderState,
    known_filled: str,
    seen_state: OrderState,
    seen_filled: str,
    verdict: Verdict,
) -> None:
    judgement = judge(known(known_state, known_filled), seen(seen_state, seen_filled), TICK)

    assert judgement.verdict is verdict
    assert judgement.reason


def test_stale_reason_names_both_fills() -> None:
    judgement = judge(known(S.PARTIALLY_FILLED, "0.7"), seen(S.PARTIALLY_FILLED, "0.4"), TICK)
    assert "0.4" in judgement.reason
    assert "0.7" in judgement.reason


def test_conflict_reason_names_both_states() -> None:
    judgement = judge(known(S.CANCELED), seen(S.OPEN), TICK)
    assert "CANCELED" in judgement.reason
    assert "OPEN" in judgement.reason


LIMIT = known(S.SUBMITTING).intent
STOP = OrderIntent(
    "BTC/USDT:USDT", Side.SELL, OrderType.STOP_MARKET, QTY, Decimal("95"),
    reduce_only=True, purpose=Purpose.STOP,
)  # fmt: skip
MARKET = OrderIntent("BTC/USDT:USDT", Side.BUY, OrderType.MARKET, QTY)
STOP_SEEN = dict(
    side=Side.SELL, order_type="market", price=None, trigger_price=Decimal("95"), reduce_only=True
)
MARKET_SEEN = dict(order_type="market", price=Decimal("101.3"))  # ccxt prints the average


@pytest.mark.parametrize(
    ("intent", "fields"),
    [
        pytest.param(LIMIT, {}, id="limit as sent"),
        pytest.param(LIMIT, {"price": Decimal("100.00")}, id="limit, price printed differently"),
        pytest.param(LIMIT, {"price": Decimal("100.09")}, id="limit, price within a tick"),
        pytest.param(LIMIT, {"reduce_only": None}, id="reply silent on reduce-only"),
        pytest.param(STOP, STOP_SEEN, id="stop as sent"),
        pytest.param(
            STOP, {**STOP_SEEN, "amount": Decimal("0.4")}, id="triggered stop capped at position"
        ),
        pytest.param(MARKET, MARKET_SEEN, id="market, any fill price"),
    ],
)
def test_the_order_the_intent_asked_for_matches(intent: OrderIntent, fields: dict) -> None:
    assert mismatch(intent, seen(S.OPEN, **fields), TICK) is None


@pytest.mark.parametrize(
    ("intent", "fields", "words"),
    [
        pytest.param(LIMIT, {"symbol": "ETH/USDT:USDT"}, "symbol", id="symbol"),
        pytest.param(LIMIT, {"side": Side.SELL}, "side sell", id="side"),
        pytest.param(LIMIT, {"order_type": "market"}, "type market", id="type"),
        pytest.param(LIMIT, {"amount": Decimal("0.9")}, "quantity 0.9", id="quantity"),
        pytest.param(LIMIT, {"price": Decimal("100.1")}, "price 100.1", id="price a tick off"),
        pytest.param(LIMIT, {"price": None}, "price None", id="limit without a price"),
        pytest.param(LIMIT, {"reduce_only": True}, "reduce-only True", id="reduce-only"),
        pytest.param(LIMIT, {"trigger_price": Decimal("100")}, "stop", id="a stop, not a limit"),
        pytest.param(STOP, {**STOP_SEEN, "trigger_price": Decimal("96")}, "trigger", id="trigger"),
        pytest.param(STOP, {**STOP_SEEN, "trigger_price": None}, "type", id="stop, no trigger"),
        pytest.param(
            STOP, {**STOP_SEEN, "amount": Decimal("1.5")}, "quantity 1.5", id="stop, larger"
        ),
        pytest.param(
            replace(LIMIT, reduce_only=True, purpose=Purpose.EXIT),
            {"amount": Decimal("0.4"), "reduce_only": True},
            "quantity 0.4",
            id="reduce-only limit, smaller",
        ),
        pytest.param(MARKET, {"order_type": "stop"}, "type stop", id="an unknown type"),
    ],
)
def test_another_order_under_the_id_is_named(intent: OrderIntent, fields: dict, words: str) -> None:
    different = mismatch(intent, seen(S.OPEN, **fields), TICK)
    assert different is not None
    assert different.startswith("venue order 42 is not this intent")
    assert words in different


def test_an_old_filled_buy_is_never_the_fill_of_a_new_sell() -> None:
    # The lost-journal case: a fresh SELL's id collided with an old, filled BUY.
    sell = OrderIntent("BTC/USDT:USDT", Side.SELL, OrderType.LIMIT, QTY, Decimal("100"))
    fresh = replace(known(S.SUBMITTING), intent=sell)
    judgement = judge(fresh, seen(S.FILLED, "1.0"), TICK)
    assert judgement.verdict is V.CONFLICT
    assert "side buy" in judgement.reason
