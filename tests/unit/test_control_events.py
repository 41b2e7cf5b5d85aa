"""Watch events of the bot's own TradingBot -> the controls it obeys, or why it keeps the last."""

from __future__ import annotations

from typing import Any

import pytest

from tradewarden.api.tradingbot import EmergencyAction
from tradewarden.bot.control.controls import WatchOutcome, interpret_event

NAME = "btc-grid"


def bot(spec: dict[str, Any] | None = None, status: Any = None, name: str = NAME) -> Any:
    resource: dict[str, Any] = {
        "apiVersion": "tradewarden.io/v1alpha1",
        "kind": "TradingBot",
        "metadata": {"name": name, "namespace": "trading", "resourceVersion": "42"},
        "spec": {
            "symbol": "BTC/USDT:USDT",
            "risk": {"maxPosition": "0.01", "maxOrderNotional": 2000},
            **(spec or {}),
        },
    }
    if status is not None:
        resource["status"] = status
    return resource


def event(kind: str, resource: Any) -> dict[str, Any]:
    return {"type": kind, "object": resource}


HALT = {"emergencyStop": {"action": "Halt", "reason": "oncall: venue incident"}}
ABORT = {"abort": {"reason": "PreflightFailed", "message": "credentials", "time": "t"}}


def test_emergency_stop_is_read() -> None:
    outcome = interpret_event(event("MODIFIED", bot(HALT)), NAME)
    assert outcome.controls is not None
    assert outcome.controls.emergency_stop is not None
    assert outcome.controls.emergency_stop.action is EmergencyAction.HALT
    assert outcome.controls.paused is False
    assert outcome.resource_version == "42"


def test_cleared_emergency_stop_reads_as_none() -> None:
    outcome = interpret_event(event("MODIFIED", bot({"emergencyStop": None})), NAME)
    assert outcome.controls is not None and outcome.controls.emergency_stop is None


def test_pause_and_dead_man_timeout_are_read() -> None:
    spec = {"paused": True, "guards": {"deadMan": {"apiUnreachableSeconds": 2.5}}}
    outcome = interpret_event(event("ADDED", bot(spec)), NAME)
    assert outcome.controls is not None
    assert outcome.controls.paused is True
    assert outcome.controls.dead_man.api_unreachable_seconds == 2.5


def test_dead_man_timeout_defaults_to_the_api_default() -> None:
    outcome = interpret_event(event("ADDED", bot()), NAME)
    assert outcome.controls is not None
    assert outcome.controls.dead_man.api_unreachable_seconds == 60


def test_operator_abort_is_read_next_to_status_fields_the_bot_does_not_know() -> None:
    status = {**ABORT, "phase": "Aborted", "kopf": {"progress": {}}}
    outcome = interpret_event(event("MODIFIED", bot(status=status)), NAME)
    assert outcome.controls is not None and outcome.controls.abort is not None
    assert outcome.controls.abort.reason == "PreflightFailed"


def test_a_spec_field_from_a_newer_crd_does_not_make_the_bot_deaf() -> None:
    outcome = interpret_event(event("MODIFIED", bot({**HALT, "futureField": 1})), NAME)
    assert outcome.controls is not None and outcome.controls.emergency_stop is not None


# (case, resource) whose control fields are malformed: report, apply nothing
MALFORMED = [
    ("unknown emergency action", bot({"emergencyStop": {"action": "Panic", "reason": "x"}})),
    ("emergency stop without reason", bot({"emergencyStop": {"action": "Halt"}})),
    ("paused is a string", bot({"paused": "yes"})),
    ("abort without message", bot(status={"abort": {"reason": "KillSwitch", "time": "t"}})),
    ("dead-man timeout not positive", bot({"guards": {"deadMan": {"apiUnreachableSeconds": 0}}})),
    ("spec missing", {"metadata": {"name": NAME}}),
    ("status not an object", bot(status=["Aborted"])),
]


@pytest.mark.parametrize(("case", "resource"), MALFORMED, ids=[row[0] for row in MALFORMED])
def test_malformed_controls_are_reported_not_applied(case: str, resource: Any) -> None:
    outcome = interpret_event(event("MODIFIED", resource), NAME)
    assert outcome.controls is None
    assert outcome.problem
    assert not outcome.relist


# (case, event, expected outcome)
OTHERS = [
    (
        "another bot's object (selector ignored by the server)",
        event("MODIFIED", bot(HALT, name="other")),
        WatchOutcome(resource_version="42"),
    ),
    (
        "bookmark moves the resume point only",
        event("BOOKMARK", {"metadata": {"resourceVersion": "99"}}),
        WatchOutcome(resource_version="99"),
    ),
    ("deleted", event("DELETED", bot()), WatchOutcome(resource_version="42", deleted=True)),
    (
        "410 Gone: relist",
        event("ERROR", {"kind": "Status", "code": 410, "message": "too old resource version"}),
        WatchOutcome(relist=True, problem="too old resource version"),
    ),
    ("no object", {"type": "ADDED"}, WatchOutcome(problem="ADDED event without an object")),
    (
        "no metadata",
        event("ADDED", {"spec": {}}),
        WatchOutcome(problem="ADDED event without metadata"),
    ),
]


@pytest.mark.parametrize(("case", "raw", "expected"), OTHERS, ids=[row[0] for row in OTHERS])
def test_other_events(case: str, raw: dict[str, Any], expected: WatchOutcome) -> None:
    assert interpret_event(raw, NAME) == expected
