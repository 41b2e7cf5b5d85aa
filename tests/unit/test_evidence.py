"""judge(): a venue snapshot may only move the journal forward."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tradewarden.bot.execution.evidence import VenueOrder, Verdict, judge
from tradewarden.bot.execution.intent import JournaledOrder, OrderIntent, OrderType, Side
from tradewarden.bot.execution.order_state import OrderState

S = OrderState
V = Verdict
QTY = Decimal("1.0")


def known(state: OrderState, filled: str = "0") -> JournaledOrder:
    return JournaledOrder(
        client_order_id="twabc-1",
        sequence=1,
        intent=OrderIntent("BTC/USDT:USDT", Side.BUY, OrderType.LIMIT, QTY, Decimal("100")),
        state=state,
        filled=Decimal(filled),
        average_price=None,
        exchange_order_id="42",
        attempts=1,
        created_at=0.0,
        updated_at=0.0,
        last_error=None,
        venue_client_id="twabc-1",
    )


def seen(state: OrderState, filled: str = "0") -> VenueOrder:
    return VenueOrder("twabc-1", "42", state, QTY, Decimal(filled), None)


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
    judgement = judge(known(known_state, known_filled), seen(seen_state, seen_filled))

    assert judgement.verdict is verdict
    assert judgement.reason


def test_stale_reason_names_both_fills() -> None:
    judgement = judge(known(S.PARTIALLY_FILLED, "0.7"), seen(S.PARTIALLY_FILLED, "0.4"))
    assert "0.4" in judgement.reason
    assert "0.7" in judgement.reason


def test_conflict_reason_names_both_states() -> None:
    judgement = judge(known(S.CANCELED), seen(S.OPEN))
    assert "CANCELED" in judgement.reason
    assert "OPEN" in judgement.reason
