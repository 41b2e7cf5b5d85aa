"""Protective stops: where the stop goes, when it counts, and when a repair is due."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from functools import partial
from typing import Any

import pytest

from tests.support.orders import journaled
from tradewarden.bot.model.order_state import OrderState
from tradewarden.bot.model.orders import JournaledOrder, OrderIntent, OrderType, Purpose, Side
from tradewarden.bot.model.venue import VenuePosition, VenueStop
from tradewarden.bot.reliability.protection import (
    ProtectionSettings,
    ProtectionState,
    StopPlan,
    decide_protection,
    plan_stop,
)

D = Decimal
STEP, TICK = D("0.001"), D("0.1")
SETTINGS = ProtectionSettings(D("2"), cooldown_seconds=5, max_attempts=2, repair_window_seconds=10)
LONG_PLAN = StopPlan(Side.SELL, D("0.004"), D("49000"))


@pytest.mark.parametrize(
    ("position", "expected"),
    [
        (VenuePosition(D(0), None, None), None),
        (VenuePosition(D("0.004"), D("50000"), D("50100")), LONG_PLAN),
        (
            VenuePosition(D("-0.004"), D("50000"), D("49900")),
            StopPlan(Side.BUY, D("0.004"), D("51000")),
        ),
        # The mark already fell past entry - 2 %: measured from the mark instead.
        (
            VenuePosition(D("0.004"), D("50000"), D("48000")),
            StopPlan(Side.SELL, D("0.004"), D("47040")),
        ),
        # Rounded to the tick away from the mark, quantity down to the step.
        (
            VenuePosition(D("0.0041"), D("50000.55"), D("50001")),
            StopPlan(Side.SELL, D("0.004"), D("49000.5")),
        ),
    ],
    ids=["flat", "long", "short", "mark-past-entry", "rounding"],
)
def test_plan_stop(position: VenuePosition, expected: StopPlan | None) -> None:
    assert plan_stop(position, D("2"), STEP, TICK) == expected


def stop(cid: str, side: Side = Side.SELL, amount: str | None = "0.004") -> VenueStop:
    return VenueStop(
        cid,
        side,
        None if amount is None else D(amount),
        D("49000"),
        amount is not None,
        amount is None,
    )


def own(cid: str, quantity: str = "0.004") -> JournaledOrder:
    intent = OrderIntent(
        "BTC/USDT:USDT",
        Side.SELL,
        OrderType.STOP_MARKET,
        D(quantity),
        D("49000"),
        reduce_only=True,
        purpose=Purpose.STOP,
    )
    return journaled(intent, cid, exchange_order_id="1")


# (case, state, venue stops, own stops, strays, now) -> (protected, place?, cancel, reason prefix)
TABLE = [
    (
        "covered by own stop",
        ProtectionState(),
        [stop("s1")],
        [own("s1")],
        set(),
        0,
        (True, False, (), "protected"),
    ),
    (
        "closePosition stop of a person",
        ProtectionState(),
        [stop("x", amount=None)],
        [],
        set(),
        0,
        (True, False, (), "protected"),
    ),
    ("missing", ProtectionState(), [], [], set(), 0, (False, True, (), "no stop")),
    (
        "wrong size",
        ProtectionState(),
        [stop("s1", amount="0.002")],
        [own("s1", "0.002")],
        set(),
        0,
        (False, True, ("s1",), "wrong-size stop"),
    ),
    (
        "wrong side",
        ProtectionState(),
        [stop("s1", side=Side.BUY)],
        [own("s1")],
        set(),
        0,
        (False, True, ("s1",), "wrong-size stop"),
    ),
    (
        "stray never protects",
        ProtectionState(),
        [stop("tw-x")],
        [],
        {"tw-x"},
        0,
        (False, True, (), "no stop"),
    ),
    (
        "surplus own stop",
        ProtectionState(),
        [stop("s1"), stop("s2")],
        [own("s1"), own("s2")],
        set(),
        0,
        (True, False, ("s2",), "protected"),
    ),
    (
        "cooling down",
        ProtectionState(0.0, 1, 0.0, 1),
        [],
        [],
        set(),
        3,
        (False, False, (), "no stop: repair cooling down"),
    ),
    (
        "after cooldown",
        ProtectionState(0.0, 1, 0.0, 1),
        [],
        [],
        set(),
        6,
        (False, True, (), "no stop"),
    ),
    (
        "cooling down for the same position",
        ProtectionState(0.0, 1, 0.0, 1, (LONG_PLAN.side, LONG_PLAN.quantity)),
        [],
        [],
        set(),
        3,
        (False, False, (), "no stop: repair cooling down"),
    ),
    (
        "a new position needs its stop at once",
        ProtectionState(0.0, 1, 0.0, 1, (LONG_PLAN.side, LONG_PLAN.quantity * 2)),
        [],
        [],
        set(),
        3,
        (False, True, (), "no stop"),
    ),
    (
        "exhausted",
        ProtectionState(0.0, 2, 6.0, 2),
        [],
        [],
        set(),
        60,
        (False, False, (), "no stop: repairs exhausted"),
    ),
]


@pytest.mark.parametrize("case", [t[1:] for t in TABLE], ids=[t[0] for t in TABLE])
def test_decide_protection(case: tuple[Any, ...]) -> None:
    state, venue, mine, strays, now, expected = case
    new_state, decision = decide_protection(
        SETTINGS,
        state,
        plan=LONG_PLAN,
        venue_stops=venue,
        own_stops=mine,
        strays=frozenset(strays),
        now=now,
    )
    protected, place, cancel, reason = expected
    assert (decision.protected, decision.place is not None, decision.cancel) == (
        protected,
        place,
        cancel,
    )
    assert decision.reason == reason
    if protected:
        assert new_state.attempts == 0 and new_state.unprotected_since is None
    if place:
        assert decision.place == LONG_PLAN
        wanted = (LONG_PLAN.side, LONG_PLAN.quantity)
        same_position = state.repairing in (None, wanted)
        assert new_state.attempts == (state.attempts + 1 if same_position else 1)
        assert new_state.last_attempt_at == now and new_state.repairing == wanted


def test_missing_only_after_the_repair_window() -> None:
    state = ProtectionState()
    seen = []
    for now in (0, 6, 12):
        state, decision = decide_protection(
            SETTINGS,
            state,
            plan=LONG_PLAN,
            venue_stops=[],
            own_stops=[],
            strays=frozenset(),
            now=now,
        )
        seen.append((decision.missing, decision.gave_up))
    assert seen == [(False, False), (False, False), (True, True)]
    assert state.unprotected_since == 0


def test_flat_position_cancels_the_bots_stops() -> None:
    _, decision = decide_protection(
        SETTINGS,
        ProtectionState(1.0, 1, 1.0, 3),
        plan=None,
        venue_stops=[stop("s1")],
        own_stops=[own("s1")],
        strays=frozenset(),
        now=5,
    )
    assert (decision.protected, decision.cancel) == (True, ("s1",))


def test_a_stop_the_venue_accepted_but_its_reads_do_not_show_yet_stands() -> None:
    # Binance's reads lag its writes: the stop's create reply said NEW seconds ago,
    # the open-stops list leaves it out. Placing another would only stack a second
    # stop beside it (which would lag the same way), pass after pass.
    decide = partial(
        decide_protection,
        SETTINGS,
        ProtectionState(),
        plan=LONG_PLAN,
        venue_stops=[],
        strays=frozenset(),
        now=5,
    )
    _, decision = decide(own_stops=[own("s1")], unseen=frozenset({"s1"}))
    assert (decision.protected, decision.place, decision.cancel) == (True, None, ())
    # One whose create is unsettled may not exist at all; a wrong-size one does not cover.
    submitting = replace(own("s2"), state=OrderState.SUBMITTING)
    for mine in (submitting, own("s3", quantity="0.002")):
        _, decision = decide(own_stops=[mine], unseen=frozenset({mine.venue_client_id}))
        assert (decision.protected, decision.place) == (False, LONG_PLAN)
    # Seen by the reads and still missing from the list: replaced, as before.
    _, decision = decide(own_stops=[own("s1")])
    assert (decision.protected, decision.place) == (False, LONG_PLAN)
