"""The order lifecycle: which moves are legal, exhaustively."""

from __future__ import annotations

import itertools

import pytest

from tradewarden.bot.model.order_state import IllegalTransition, OrderState, check_transition

S = OrderState
TERMINAL = {S.FILLED, S.CANCELED, S.REJECTED, S.EXPIRED, S.ABANDONED}
VENUE_OUTCOMES = {S.OPEN, S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.EXPIRED}

# What the lifecycle allows, written from the domain (DESIGN.md), not from the code.
ALLOWED: dict[OrderState, set[OrderState]] = {
    # journaled before the first send, outcome unknown: any venue answer, a retry
    # under the same id, or proven absent
    S.SUBMITTING: VENUE_OUTCOMES | {S.SUBMITTING, S.REJECTED, S.ABANDONED},
    # resting: fills, cancel, expiry; never back to unknown, never rejected after acceptance
    S.OPEN: {S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.EXPIRED, S.CANCELING},
    # fills arrive piecemeal, so PARTIALLY_FILLED may repeat
    S.PARTIALLY_FILLED: {S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.EXPIRED, S.CANCELING},
    # a cancel may lose the race to a fill, or be refused while the order stays open
    S.CANCELING: VENUE_OUTCOMES | {S.CANCELING},
    **{state: set() for state in TERMINAL},
}


def test_table_covers_every_state() -> None:
    assert set(ALLOWED) == set(OrderState)


@pytest.mark.parametrize(
    ("current", "target", "legal"),
    [
        pytest.param(c, t, t in ALLOWED[c], id=f"{c}->{t}")
        for c, t in itertools.product(OrderState, OrderState)
    ],
)
def test_transition_matrix(current: OrderState, target: OrderState, legal: bool) -> None:
    if legal:
        check_transition("tw-1", current, target)
    else:
        with pytest.raises(IllegalTransition):
            check_transition("tw-1", current, target)


@pytest.mark.parametrize("state", list(OrderState))
def test_terminal_flag(state: OrderState) -> None:
    assert state.is_terminal == (state in TERMINAL)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.CANCELING, S.FILLED),  # the cancel lost the race to a fill
        (S.CANCELING, S.PARTIALLY_FILLED),
        (S.PARTIALLY_FILLED, S.PARTIALLY_FILLED),  # a larger partial fill
        (S.SUBMITTING, S.SUBMITTING),  # a retry under the same id
        (S.SUBMITTING, S.REJECTED),
        (S.SUBMITTING, S.ABANDONED),  # proven absent after every lookup
    ],
)
def test_named_races_and_repeats_are_legal(current: OrderState, target: OrderState) -> None:
    check_transition("tw-1", current, target)


def test_illegal_transition_names_the_order_and_both_states() -> None:
    with pytest.raises(IllegalTransition) as caught:
        check_transition("twabc-7", S.FILLED, S.OPEN)

    assert caught.value.client_order_id == "twabc-7"
    assert caught.value.current is S.FILLED
    assert caught.value.target is S.OPEN
    assert "twabc-7" in str(caught.value)
    assert "FILLED" in str(caught.value)
    assert "OPEN" in str(caught.value)
