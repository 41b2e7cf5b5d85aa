"""Belief debt: mismatches and bad snapshots raise it, clean reconciles pay it down."""

from __future__ import annotations

import pytest

from tradewarden.bot.reliability.belief import (
    BeliefLevel,
    BeliefSettings,
    BeliefState,
    absorb,
    clean_evidence,
    confidence,
    level,
)
from tradewarden.bot.reliability.report import ReconcileReport

SETTINGS = BeliefSettings()
BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


def report(kind: str, symbol: str = BTC) -> ReconcileReport:
    return {
        "clean": ReconcileReport(symbol, 0.0, snapshot_age_seconds=0.5),
        "mismatch": ReconcileReport(symbol, 0.0, mismatches=("filled 0.1 not in journal",)),
        "stray": ReconcileReport(symbol, 0.0, strays=("tw-x-9",)),
        "contradictory": ReconcileReport(symbol, 0.0, contradictory=True),
        "delayed": ReconcileReport(symbol, 0.0, snapshot_age_seconds=30.0),
        "read_failed": ReconcileReport(symbol, 0.0, read_failed=True),
    }[kind]


def run(*kinds: str) -> BeliefState:
    state = BeliefState()
    for kind in kinds:
        state = absorb(state, report(kind), SETTINGS)
    return state


# (case, reports in order, streak, BTC debt, level)
TABLE = [
    ("nothing seen", (), 0, 0.0, BeliefLevel.TRUST),
    ("clean stays clean", ("clean", "clean"), 0, 0.0, BeliefLevel.TRUST),
    ("one mismatch is tolerated", ("mismatch",), 1, 1.0, BeliefLevel.TRUST),
    ("a delayed snapshot costs half", ("delayed",), 1, 0.5, BeliefLevel.TRUST),
    ("contradictions add up", ("contradictory", "contradictory"), 2, 2.0, BeliefLevel.REDUCE_ONLY),
    ("strays raise debt", ("stray", "stray"), 2, 2.0, BeliefLevel.REDUCE_ONLY),
    ("clean pays down", ("contradictory", "contradictory", "clean"), 0, 1.5, BeliefLevel.TRUST),
    ("paid down to zero", ("mismatch", "clean", "clean"), 0, 0.0, BeliefLevel.TRUST),
    (
        "intermittent contradictions accumulate",
        ("contradictory", "clean") * 4,
        0,
        2.0,
        BeliefLevel.REDUCE_ONLY,
    ),
    ("streak alone reaches reduce-only", ("delayed",) * 3, 3, 1.5, BeliefLevel.REDUCE_ONLY),
    ("persistent divergence kills", ("contradictory",) * 5, 5, 5.0, BeliefLevel.KILL),
    ("a read failure is no evidence", ("mismatch", "read_failed"), 1, 1.0, BeliefLevel.TRUST),
    (
        "a read failure does not pay down",
        ("mismatch", "read_failed", "read_failed"),
        1,
        1.0,
        BeliefLevel.TRUST,
    ),
]


@pytest.mark.parametrize(
    ("kinds", "streak", "debt", "expected"), [pytest.param(*row[1:], id=row[0]) for row in TABLE]
)
def test_belief_table(
    kinds: tuple[str, ...], streak: int, debt: float, expected: BeliefLevel
) -> None:
    state = run(*kinds)

    assert state.streak == streak
    assert state.debt.get(BTC, 0.0) == pytest.approx(debt)
    assert level(state, SETTINGS)[0] is expected


def test_debt_is_kept_per_symbol() -> None:
    state = absorb(BeliefState(), report("contradictory", ETH), SETTINGS)
    state = absorb(state, report("clean", BTC), SETTINGS)

    assert state.debt == {ETH: 1.0}


def test_confidence_falls_with_debt_and_streak() -> None:
    values = [confidence(run(*("contradictory",) * n), SETTINGS) for n in range(6)]

    assert values[0] == 1.0
    assert values == sorted(values, reverse=True)
    assert values[-1] == 0.0
    assert all(0.0 <= value <= 1.0 for value in values)


def test_reasons_name_the_symbol_and_threshold() -> None:
    _, reason = level(run("contradictory", "contradictory"), SETTINGS)
    assert BTC in reason
    assert "2" in reason


@pytest.mark.parametrize(
    ("kind", "clean"),
    [("clean", True), ("delayed", False), ("mismatch", False), ("read_failed", False)],
)
def test_only_fresh_agreeing_snapshots_are_clean_evidence(kind: str, clean: bool) -> None:
    assert clean_evidence(report(kind), SETTINGS) is clean
