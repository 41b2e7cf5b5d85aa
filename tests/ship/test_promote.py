"""The promotion gate over canary TradingBot statuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tradewarden.operator.promote import evaluate_gate

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
SOAK = timedelta(minutes=60)
LONG_AGO = "2026-11-21T09:00:00Z"
RECENT = "2026-11-21T11:50:00Z"


def bot(
    *,
    phase: str = "Running",
    in_sync: str = "True",
    in_sync_since: str = LONG_AGO,
    flipped: str = LONG_AGO,
    abort: dict[str, str] | None = None,
    incomplete: int = 0,
    generation: int = 2,
    observed: int = 2,
    paused: bool = False,
    emergency: dict[str, str] | None = None,
    status: bool = True,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"paused": paused}
    if emergency:
        spec["emergencyStop"] = emergency
    doc: dict[str, Any] = {"metadata": {"name": "btc", "generation": generation}, "spec": spec}
    if status:
        doc["status"] = {
            "observedGeneration": observed,
            "phase": phase,
            "conditions": [
                {
                    "type": "InSync",
                    "status": in_sync,
                    "reason": "Clean",
                    "lastTransitionTime": in_sync_since,
                }
            ],
            "lastFlip": {"reason": "Running", "time": flipped},
            "abort": abort,
            "bot": {"incompleteLifecycles": incomplete},
        }
    return doc


@pytest.mark.parametrize(
    ("doc", "blocker"),
    [
        (bot(), None),
        (bot(paused=True, phase="Paused"), None),
        (bot(phase="Paused"), "phase Paused, want Running"),
        (bot(phase="ReduceOnly"), "phase ReduceOnly"),
        (
            bot(phase="Aborted", abort={"reason": "KillSwitch", "message": "divergence"}),
            "aborted: KillSwitch",
        ),
        (bot(in_sync="False"), "InSync is not True"),
        (bot(in_sync_since=RECENT), "InSync only for 10 min"),
        (bot(flipped=RECENT), "phase Running only for 10 min"),
        (bot(incomplete=2), "2 incomplete order lifecycle(s)"),
        (bot(observed=1), "status is for generation 1"),
        (bot(emergency={"action": "Halt", "reason": "ops"}), "emergency stop set"),
        (bot(status=False), "no status yet"),
    ],
)
def test_gate_per_bot(doc: dict[str, Any], blocker: str | None) -> None:
    result = evaluate_gate("canary", [doc], NOW, SOAK)
    assert result.open is (blocker is None)
    if blocker:
        assert any(blocker in b for b in result.bots[0].blockers), result.bots[0].blockers


def test_one_blocked_bot_closes_the_gate() -> None:
    assert not evaluate_gate("canary", [bot(), bot(incomplete=1)], NOW, SOAK).open


def test_empty_namespace_is_closed() -> None:
    result = evaluate_gate("canary", [], NOW, SOAK)
    assert not result.open
    assert result.as_dict()["blockers"] == ["no TradingBots in namespace canary"]


def test_shorter_soak_opens_a_recently_synced_bot() -> None:
    assert evaluate_gate("canary", [bot(in_sync_since=RECENT)], NOW, timedelta(minutes=5)).open
