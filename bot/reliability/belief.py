"""How much the bot may believe its own picture of the venue.

Every reconcile report either raises the debt of its symbol (mismatches,
strays, contradictory or delayed snapshots) or pays it down (a clean, fresh
report). The mismatch streak counts reports in a row that were not clean.
Debt and streak together give a confidence in 0..1 and a level: trust,
reduce-only, or the kill switch. Pure logic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from tradewarden.bot.reliability.report import ReconcileReport


class BeliefLevel(IntEnum):
    """What the belief allows, in order of severity."""

    TRUST = 0
    REDUCE_ONLY = 1
    KILL = 2


@dataclass(frozen=True)
class BeliefSettings:
    """Costs and thresholds of belief debt."""

    mismatch_cost: float = 1.0
    stray_cost: float = 1.0
    contradiction_cost: float = 1.0
    delayed_cost: float = 0.5
    # A snapshot older than this is delayed evidence, not clean evidence.
    delayed_after_seconds: float = 5.0
    # What one clean, fresh reconcile pays back.
    paydown: float = 0.5
    reduce_only_debt: float = 2.0
    kill_debt: float = 5.0
    reduce_only_streak: int = 3
    kill_streak: int = 6


@dataclass(frozen=True)
class BeliefState:
    """Mismatch streak and per-symbol debt after some reports."""

    streak: int = 0
    debt: dict[str, float] = field(default_factory=dict)


def report_cost(report: ReconcileReport, settings: BeliefSettings) -> float:
    """The debt one report adds (0 for clean, fresh evidence)."""
    cost = 0.0
    if report.mismatches:
        cost += settings.mismatch_cost
    if report.strays:
        cost += settings.stray_cost
    if report.contradictory:
        cost += settings.contradiction_cost
    age = report.snapshot_age_seconds
    if age is not None and age > settings.delayed_after_seconds:
        cost += settings.delayed_cost
    return cost


def clean_evidence(report: ReconcileReport, settings: BeliefSettings) -> bool:
    """A report that agrees with the journal on a fresh, readable snapshot."""
    return not report.read_failed and report_cost(report, settings) == 0


def absorb(state: BeliefState, report: ReconcileReport, settings: BeliefSettings) -> BeliefState:
    """The belief after ``report``; a failed read is no evidence either way."""
    if report.read_failed:
        return state
    cost = report_cost(report, settings)
    debt = dict(state.debt)
    previous = debt.get(report.symbol, 0.0)
    if cost > 0:
        debt[report.symbol] = previous + cost
        return BeliefState(state.streak + 1, debt)
    remaining = max(0.0, previous - settings.paydown)
    if remaining > 0:
        debt[report.symbol] = remaining
    else:
        debt.pop(report.symbol, None)
    return BeliefState(0, debt)


def confidence(state: BeliefState, settings: BeliefSettings) -> float:
    """1 with no debt and no streak, 0 at the kill threshold of either."""
    worst = max(state.debt.values(), default=0.0)
    by_debt = 1.0 - worst / settings.kill_debt
    by_streak = 1.0 - state.streak / settings.kill_streak
    return max(0.0, min(by_debt, by_streak, 1.0))


def level(state: BeliefState, settings: BeliefSettings) -> tuple[BeliefLevel, str]:
    """The level the belief demands, with the reason."""
    worst_symbol, worst = max(state.debt.items(), key=lambda item: item[1], default=("", 0.0))
    if worst >= settings.kill_debt:
        return (
            BeliefLevel.KILL,
            f"belief debt {worst:g} on {worst_symbol} >= {settings.kill_debt:g}",
        )
    if state.streak >= settings.kill_streak:
        return BeliefLevel.KILL, f"{state.streak} mismatched reconciles in a row"
    if worst >= settings.reduce_only_debt:
        return (
            BeliefLevel.REDUCE_ONLY,
            f"belief debt {worst:g} on {worst_symbol} >= {settings.reduce_only_debt:g}",
        )
    if state.streak >= settings.reduce_only_streak:
        return BeliefLevel.REDUCE_ONLY, f"{state.streak} mismatched reconciles in a row"
    return BeliefLevel.TRUST, ""
