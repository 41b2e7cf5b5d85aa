"""What the probe reads off a bot pod: in particular, whether its bot ever ran."""

from __future__ import annotations

from typing import Any

import pytest

from tradewarden.operator.probe import snapshot_pod


def container(**fields: Any) -> dict[str, Any]:
    return {"name": "bot", "ready": False, "restartCount": 0, **fields}


UNSCHEDULABLE = {
    "phase": "Pending",
    "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}],
}


@pytest.mark.parametrize(
    ("status", "never_started"),
    [
        # Pod statuses as kube-apiserver shows them (kubectl get pod -o yaml).
        pytest.param({"phase": "Pending"}, True, id="not scheduled (no scheduler)"),
        pytest.param(UNSCHEDULABLE, True, id="unschedulable"),
        pytest.param(
            {
                "phase": "Pending",
                "containerStatuses": [
                    container(state={"waiting": {"reason": "ContainerCreating"}})
                ],
            },
            True,
            id="container creating",
        ),
        pytest.param(
            {
                "phase": "Pending",
                "containerStatuses": [container(state={"waiting": {"reason": "ErrImagePull"}})],
            },
            True,
            id="image pull failing",
        ),
        pytest.param(
            {"phase": "Running", "containerStatuses": [container(state={"running": {}})]},
            False,
            id="running",
        ),
        pytest.param(
            {
                "phase": "Running",
                "containerStatuses": [
                    container(
                        restartCount=1,
                        state={"waiting": {"reason": "CrashLoopBackOff"}},
                        lastState={"terminated": {"exitCode": 1}},
                    )
                ],
            },
            False,
            id="restarted",
        ),
        pytest.param(
            {
                "phase": "Pending",
                "containerStatuses": [
                    container(
                        state={"waiting": {"reason": "ContainerCreating"}},
                        lastState={"terminated": {"exitCode": 137}},
                    )
                ],
            },
            False,
            id="ran before",
        ),
        pytest.param(
            {"phase": "Failed", "containerStatuses": [container(state={"terminated": {}})]},
            False,
            id="terminated",
        ),
        pytest.param({"phase": "Unknown"}, False, id="node lost"),
    ],
)
def test_a_pod_whose_bot_never_ran_cannot_be_trading(
    status: dict[str, Any], never_started: bool
) -> None:
    assert snapshot_pod({}, status).state.never_started is never_started
