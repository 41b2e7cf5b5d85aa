"""``kubectl get pods`` columns as the sandbox renders them: what a person reads off a pod."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tradewarden.operator.sandbox.resources import ResourceType
from tradewarden.operator.sandbox.tables import json_path, pod_state_reason, table

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
PODS = ResourceType(group="", version="v1", plural="pods", kind="Pod")


def pod(
    *,
    phase: str = "Running",
    state: dict[str, Any] | None = None,
    ready: bool = True,
    restarts: int = 0,
    last_finished: str | None = None,
    deleting: bool = False,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "tb-alpha-0", "creationTimestamp": "2026-01-01T11:55:00Z"}
    if deleting:
        metadata["deletionTimestamp"] = "2026-01-01T11:59:59Z"
    last = {"terminated": {"finishedAt": last_finished}} if last_finished else {}
    return {
        "metadata": metadata,
        "spec": {"containers": [{"name": "bot"}]},
        "status": {
            "phase": phase,
            "podIP": "127.0.0.1",
            "containerStatuses": [
                {
                    "name": "bot",
                    "ready": ready,
                    "restartCount": restarts,
                    "state": state or {"running": {"startedAt": "2026-01-01T11:55:01Z"}},
                    "lastState": last,
                }
            ],
        },
    }


STATUS_TABLE = [
    ("running", pod(), "Running"),
    ("creating", pod(phase="Pending", state={"waiting": {"reason": "ContainerCreating"}}), None),
    ("crash loop", pod(state={"waiting": {"reason": "CrashLoopBackOff"}}, ready=False), None),
    ("exited", pod(state={"terminated": {"reason": "Error", "exitCode": 1}}, ready=False), None),
    ("no reason", pod(state={"terminated": {"exitCode": 137}}, ready=False), "ExitCode:137"),
    ("deleting", pod(deleting=True), "Terminating"),
    ("failed pod", {"metadata": {"name": "x"}, "status": {"phase": "Failed"}}, "Failed"),
]


@pytest.mark.parametrize(
    ("obj", "expected"),
    [(case[1], case[2]) for case in STATUS_TABLE],
    ids=[case[0] for case in STATUS_TABLE],
)
def test_status_column(obj: dict[str, Any], expected: str | None) -> None:
    state = obj["status"].get("containerStatuses", [{}])[0].get("state", {})
    reason = (state.get("waiting") or state.get("terminated") or {}).get("reason")
    assert pod_state_reason(obj) == (expected or reason)


def test_pod_row_has_ready_status_restarts_age_and_wide_columns() -> None:
    rendered = table(
        PODS,
        [pod(restarts=2, last_finished="2026-01-01T11:59:30Z", ready=False)],
        "7",
        NOW,
    )
    names = [(c["name"], c["priority"]) for c in rendered["columnDefinitions"]]
    assert names == [
        ("Name", 0),
        ("Ready", 0),
        ("Status", 0),
        ("Restarts", 0),
        ("Age", 0),
        ("IP", 1),
        ("Node", 1),
    ]
    [row] = rendered["rows"]
    assert row["cells"] == [
        "tb-alpha-0",
        "0/1",
        "Running",
        "2 (30s ago)",
        "5m",
        "127.0.0.1",
        "<none>",
    ]


def test_other_built_in_kinds_keep_name_and_age() -> None:
    config_maps = ResourceType(group="", version="v1", plural="configmaps", kind="ConfigMap")
    obj = {"metadata": {"name": "cm", "creationTimestamp": "2026-01-01T11:00:00Z"}}
    rendered = table(config_maps, [obj], "1", NOW)
    assert [c["name"] for c in rendered["columnDefinitions"]] == ["Name", "Age"]
    assert rendered["rows"][0]["cells"] == ["cm", "60m"]


def test_a_printer_column_reads_an_annotation_with_escaped_dots() -> None:
    # The TradingHalt's By column, as client-go's JSONPath reads it.
    halt = {"metadata": {"annotations": {"tradewarden.io/created-by": "alice"}}}
    assert json_path(halt, r".metadata.annotations.tradewarden\.io/created-by") == "alice"
    assert json_path(halt, ".metadata.annotations.tradewarden.io/created-by") is None
