"""The pure status function: the bot's /status and the pod's state -> phase, mode, conditions."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tradewarden.api.bot_status import BotStatus
from tradewarden.api.manifest import SpecError, parse_spec
from tradewarden.api.tradingbot import AbortRecord, Phase, TradingBotStatus, TradingMode
from tradewarden.operator.status_decision import (
    POD_MISSING,
    PodState,
    ProbeFindings,
    StatusDecision,
    decide_status,
    status_write_due,
)

T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
READY_POD = PodState(exists=True, ready=True)
SPEC: dict[str, Any] = {
    "symbol": "BTC/USDT:USDT",
    "risk": {"maxPosition": "0.01", "maxOrderNotional": "1000"},
}


def healthy(**changes: Any) -> dict[str, Any]:
    """A /status of a bot that is trading normally (per the contract)."""
    status: dict[str, Any] = {
        "bot": "dev/b",
        "symbol": "BTC/USDT:USDT",
        "ready": True,
        "recovered": True,
        "tradingMode": "Active",
        "modeReasons": [],
        "positions": {"BTC/USDT:USDT": "0.003"},
        "openOrders": [
            {"clientOrderId": "a", "type": "limit"},
            {"clientOrderId": "s", "type": "stop_market"},
        ],
        "incompleteLifecycles": ["x"],
        "preflight": {"passed": True, "warnOnly": False, "checks": []},
        "guards": [{"name": "apiHealth", "tripped": False, "mode": None, "reason": ""}],
        "killSwitch": {"engaged": False, "reason": "", "cleanReconciles": 0},
        "belief": {"confidence": 0.9, "mismatchStreak": 0, "debt": {}},
        "drift": {"detected": False, "strayStreak": 0, "strays": []},
        "protection": {"protected": True, "unprotectedSince": None, "stopRepairs": 0},
    }
    status.update(changes)
    return status


def decide(
    bot: Mapping[str, Any] | None,
    pod: PodState = READY_POD,
    *,
    spec: Mapping[str, Any] = SPEC,
    previous: TradingBotStatus | None = None,
    now: datetime = T0,
    clear_abort: str | None = None,
    generation: int | None = 4,
) -> StatusDecision:
    return decide_status(
        ProbeFindings(
            bot_status=None if bot is None else BotStatus.model_validate(bot),
            pod=pod,
            spec=parse_spec(spec),
            generation=generation,
            previous=previous,
            now=now,
            clear_abort=clear_abort,
        )
    )


def conditions(decision: StatusDecision) -> dict[str, tuple[str, str]]:
    return {c.type: (c.status, c.reason) for c in decision.status.conditions}


FAILED_PREFLIGHT = {
    "passed": False,
    "warnOnly": False,
    "checks": [{"name": "credentials", "ok": False, "detail": "401", "remediation": "fix key"}],
}
TRIPPED = [{"name": "markStaleness", "tripped": True, "mode": "ReduceOnly", "reason": "stale 20s"}]

# (case, /status or None, pod, spec, expected phase, reason, mode)
TABLE: list[tuple[str, dict[str, Any] | None, PodState, dict[str, Any], Phase, str, str]] = [
    ("all well", healthy(), READY_POD, SPEC, Phase.RUNNING, "Running", "Active"),
    ("preflight failed", healthy(preflight=FAILED_PREFLIGHT, tradingMode="Halted"), READY_POD,
     SPEC, Phase.ABORTED, "PreflightFailed", "Halted"),
    ("kill switch", healthy(killSwitch={"engaged": True, "reason": "divergence"},
                            tradingMode="Halted"), READY_POD, SPEC, Phase.ABORTED, "KillSwitch",
     "Halted"),
    ("drift", healthy(drift={"detected": True, "strays": ["o1"]}, tradingMode="ReduceOnly"),
     READY_POD, SPEC, Phase.REDUCE_ONLY, "DriftDetected", "ReduceOnly"),
    ("guard pause", healthy(guards=TRIPPED, tradingMode="ReduceOnly"), READY_POD, SPEC,
     Phase.PAUSED, "markStaleness", "ReduceOnly"),
    ("planned pause", healthy(tradingMode="ReduceOnly"), READY_POD, {**SPEC, "paused": True},
     Phase.PAUSED, "Paused", "ReduceOnly"),
    ("emergency halt", healthy(tradingMode="Halted"), READY_POD,
     {**SPEC, "emergencyStop": {"action": "Halt", "reason": "desk"}}, Phase.PAUSED,
     "EmergencyStop", "Halted"),
    ("emergency reduce-only", healthy(tradingMode="ReduceOnly"), READY_POD,
     {**SPEC, "emergencyStop": {"action": "ReduceOnly", "reason": "desk"}}, Phase.REDUCE_ONLY,
     "EmergencyStop", "ReduceOnly"),
    ("preflight not run yet", healthy(preflight={"passed": None}), READY_POD, SPEC,
     Phase.PREFLIGHT, "PreflightRunning", "Active"),
    ("recovering", healthy(recovered=False), READY_POD, SPEC, Phase.PREFLIGHT,
     "PreflightRunning", "Active"),
    ("not ready yet", healthy(ready=False), READY_POD, SPEC, Phase.PREFLIGHT, "NotReady",
     "Active"),
    ("no preflight reported", healthy(preflight=None), READY_POD, SPEC, Phase.RUNNING, "Running",
     "Active"),
    ("crash loop", None, PodState(exists=True, restarts=6, crash_looping=True), SPEC,
     Phase.FAILED, "CrashLoopBackOff", "Halted"),
    ("no pod yet", None, POD_MISSING, SPEC, Phase.PENDING, "PodMissing", "Halted"),
    ("pod starting", None, PodState(exists=True), SPEC, Phase.PENDING, "PodStarting", "Halted"),
    ("restarted, unreachable", None, PodState(exists=True, restarts=1), SPEC, Phase.DEGRADED,
     "BotUnreachable", "Halted"),
]  # fmt: skip


Row = tuple[str, dict[str, Any] | None, PodState, dict[str, Any], Phase, str, str]


@pytest.mark.parametrize("row", TABLE, ids=[row[0] for row in TABLE])
def test_phase_reason_and_mode(row: Row) -> None:
    _, bot, pod, spec, phase, reason, mode = row
    decision = decide(bot, pod, spec=spec)
    assert decision.status.phase is phase
    assert decision.status.trading_mode is TradingMode(mode)
    assert decision.status.last_flip is not None
    assert decision.status.last_flip.reason == reason
    assert decision.status.observed_generation == 4
    ready = conditions(decision)["Ready"]
    assert ready == (("True", "Running") if phase is Phase.RUNNING else ("False", reason))


# (case, the bot's /status drift section, the Ready message the flip Event carries)
DRIFT_MESSAGES = [
    ("strays listed", {"detected": True, "strayStreak": 3, "strays": ["tw1-9", "tw1-8"]},
     "unknown bot orders at the venue (cancelled once confirmed): tw1-9, tw1-8"),
    ("already cancelled", {"detected": True, "strayStreak": 0, "strays": []},
     "bot-owned orders unknown to the journal were found at the venue and cancelled"),
]  # fmt: skip


@pytest.mark.parametrize("row", DRIFT_MESSAGES, ids=[row[0] for row in DRIFT_MESSAGES])
def test_drift_message_names_the_strays_or_says_they_were_cancelled(
    row: tuple[str, dict[str, Any], str],
) -> None:
    _, drift, message = row
    decision = decide(healthy(drift=drift, tradingMode="ReduceOnly"))
    ready = next(c for c in decision.status.conditions if c.type == "Ready")
    assert (ready.reason, ready.message) == ("DriftDetected", message)


def test_running_bot_gets_every_condition_and_a_summary() -> None:
    decision = decide(healthy())
    assert conditions(decision) == {
        "Ready": ("True", "Running"),
        "PreflightPassed": ("True", "Passed"),
        "BotHealthy": ("True", "Healthy"),
        "InSync": ("True", "InSync"),
        "Protected": ("True", "Protected"),
        "TradingHalt": ("False", "NotHalted"),
    }
    summary = decision.status.bot
    assert summary is not None
    assert (summary.position, summary.open_orders, summary.confidence) == ("0.003", 2, 0.9)
    assert summary.incomplete_lifecycles == 1


@pytest.mark.parametrize(
    ("bot", "condition", "expected"),
    [
        (healthy(preflight=FAILED_PREFLIGHT), "PreflightPassed", ("False", "PreflightFailed")),
        (healthy(drift={"detected": True}), "InSync", ("False", "DriftDetected")),
        (healthy(belief={"confidence": 0.4, "mismatchStreak": 2}), "InSync", ("False", "Mismatch")),
        (healthy(protection={"protected": False}), "Protected", ("False", "StopMissing")),
        (healthy(ready=False), "BotHealthy", ("False", "NotReady")),
        (None, "InSync", ("Unknown", "BotUnreachable")),
    ],
)
def test_conditions_report_what_is_wrong(
    bot: dict[str, Any] | None, condition: str, expected: tuple[str, str]
) -> None:
    assert conditions(decide(bot))[condition] == expected


@pytest.mark.parametrize(
    ("bot", "pod", "blocking", "reason"),
    [
        # The bot says ready; the pod's readiness probe has not caught up (or failed).
        (healthy(), PodState(exists=True, ready=False), "BotHealthy", "NotReady"),
        (healthy(belief={"confidence": 0.4, "mismatchStreak": 2}), READY_POD, "InSync", "Mismatch"),
        (healthy(protection={"protected": False}), READY_POD, "Protected", "StopMissing"),
    ],
)
def test_ready_is_never_true_while_a_condition_it_depends_on_is_false(
    bot: dict[str, Any], pod: PodState, blocking: str, reason: str
) -> None:
    decision = decide(bot, pod)
    found = {c.type: c for c in decision.status.conditions}
    assert found[blocking].status == "False"
    assert (found["Ready"].status, found["Ready"].reason) == ("False", reason)
    assert found["Ready"].message.startswith(f"{blocking} is False")


def test_transition_time_changes_only_when_the_condition_status_changes() -> None:
    first = decide(healthy()).status
    later = T0 + timedelta(seconds=30)
    same = decide(healthy(), previous=first, now=later)
    assert same.status.conditions == first.conditions
    assert same.flip is None
    drifting = decide(healthy(drift={"detected": True}), previous=first, now=later)
    times = {c.type: c.last_transition_time for c in drifting.status.conditions}
    assert times["InSync"] == "2026-01-01T12:00:30Z"
    assert times["Protected"] == "2026-01-01T12:00:00Z"


def test_a_flip_is_reported_once_with_its_reason_and_time() -> None:
    running = decide(healthy()).status
    later = T0 + timedelta(seconds=5)
    flipped = decide(healthy(drift={"detected": True}), previous=running, now=later)
    assert flipped.flip is not None
    assert (flipped.flip.reason, flipped.flip.time) == ("DriftDetected", "2026-01-01T12:00:05Z")
    assert flipped.previous_phase is Phase.RUNNING
    again = decide(
        healthy(drift={"detected": True}), previous=flipped.status, now=later + timedelta(1)
    )
    assert again.flip is None
    assert again.status.last_flip == flipped.flip


def aborted() -> TradingBotStatus:
    status = decide(healthy(killSwitch={"engaged": True, "reason": "divergence"})).status
    assert status.abort == AbortRecord(
        reason="KillSwitch", message="divergence", time="2026-01-01T12:00:00Z"
    )
    return status


def test_an_abort_is_sticky_across_recovery_and_spec_changes() -> None:
    previous = aborted()
    # The bot's kill switch released itself and someone edited the spec: still aborted.
    later = decide(
        healthy(), previous=previous, spec={**SPEC, "paused": True}, generation=9,
        now=T0 + timedelta(minutes=5),
    )  # fmt: skip
    assert later.status.phase is Phase.ABORTED
    assert later.status.abort == previous.abort
    assert later.status.observed_generation == 9
    assert not later.abort_cleared


def test_only_the_clear_annotation_clears_an_abort() -> None:
    cleared = decide(healthy(), previous=aborted(), clear_abort="checked the venue by hand")
    assert cleared.abort_cleared
    assert cleared.status.abort is None
    assert cleared.status.phase is Phase.RUNNING


def test_clearing_while_the_bot_still_reports_the_failure_aborts_again() -> None:
    still = healthy(preflight=FAILED_PREFLIGHT)
    previous = decide(still).status
    retried = decide(still, previous=previous, clear_abort="retry", now=T0 + timedelta(1))
    assert retried.abort_cleared
    assert retried.status.phase is Phase.ABORTED
    assert retried.status.abort is not None
    assert retried.status.abort.message == "credentials: 401"


def test_unreachable_bot_keeps_its_last_summary_and_mode() -> None:
    running = decide(healthy()).status
    lost = decide(None, PodState(exists=True, restarts=0, ready=False), previous=running)
    assert lost.status.phase is Phase.DEGRADED
    assert lost.status.trading_mode is TradingMode.ACTIVE
    assert lost.status.bot == running.bot


def test_a_replacement_pod_that_never_started_is_not_trading() -> None:
    # The pod that ran is gone; its replacement is Pending (unschedulable, image pull).
    running = decide(healthy()).status
    pending = PodState(exists=True, never_started=True)
    replaced = decide(None, pending, previous=running)
    assert replaced.status.trading_mode is TradingMode.HALTED


def steady_round(previous: TradingBotStatus, **changes: Any) -> TradingBotStatus:
    """The next probe round's status of the same bot, one second later."""
    return decide(healthy(**changes), previous=previous, now=T0 + timedelta(seconds=1)).status


@pytest.mark.parametrize(
    "changes",
    [
        {"positions": {"BTC/USDT:USDT": "0.004"}},
        {"openOrders": [{"clientOrderId": "s", "type": "stop_market"}]},
        {"belief": {"confidence": 0.8, "mismatchStreak": 0, "debt": {}}},
    ],
)
def test_a_summary_change_alone_waits_for_the_interval(changes: dict[str, Any]) -> None:
    written = decide(healthy()).status
    following = steady_round(written, **changes)
    assert following != written
    assert not status_write_due(written, following, summary_age=1.0, summary_interval=60.0)
    assert status_write_due(written, following, summary_age=60.0, summary_interval=60.0)
    assert status_write_due(written, following, summary_age=None, summary_interval=60.0)


@pytest.mark.parametrize(
    "changes",
    [
        {"tradingMode": "ReduceOnly"},
        {"positions": {"BTC/USDT:USDT": "0"}},
        {"incompleteLifecycles": []},
        {"protection": {"protected": False}},
        {"guards": TRIPPED},
    ],
)
def test_what_people_and_controllers_act_on_is_written_at_once(changes: dict[str, Any]) -> None:
    written = decide(healthy()).status
    following = steady_round(written, **changes)
    assert status_write_due(written, following, summary_age=1.0, summary_interval=60.0)


def test_an_unchanged_status_is_never_rewritten() -> None:
    written = decide(healthy()).status
    assert not status_write_due(written, steady_round(written), summary_age=600.0,
                                summary_interval=60.0)  # fmt: skip
    assert status_write_due(None, written, summary_age=None, summary_interval=60.0)


def test_a_spec_the_operator_cannot_read_is_degraded_and_named() -> None:
    """Only a CRD of another version stores one: whether a person stopped the bot is not
    known, so the phase says so instead of Running."""
    unreadable = SpecError("spec.risk.maxPosition: Field required")
    decision = decide_status(
        ProbeFindings(
            bot_status=BotStatus.model_validate(healthy()),
            pod=READY_POD,
            spec=unreadable,
            generation=2,
            previous=None,
            now=T0,
        )
    )
    assert (decision.status.phase, decision.status.trading_mode) == (
        Phase.DEGRADED,
        TradingMode.ACTIVE,
    )
    ready = next(c for c in decision.status.conditions if c.type == "Ready")
    assert (ready.reason, ready.message) == (
        "SpecInvalid",
        "the operator cannot read spec.risk.maxPosition: Field required",
    )
    assert decision.status.bot is not None
    assert decision.status.bot.position == "0.003"  # the bot's own symbol
