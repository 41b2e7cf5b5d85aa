"""Pure kubelet decisions of the pod runner: the Pod status it reports and the restart back-off.

The runner keeps a :class:`ContainerView` per pod (what the process is doing)
and renders it with :func:`pod_status` into the ``status`` a kubelet would
write, in the shapes ``kubectl get pods`` and the operator's probe read:
phase, Ready/ContainersReady conditions, podIP and one containerStatus with
``state`` (running, waiting with a reason, or terminated), ``lastState`` and
``restartCount``. With ``restartPolicy: Always`` a crashing container keeps the
pod Running and waits in CrashLoopBackOff; only a template the runner cannot
run at all makes it Failed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from tradewarden.operator.sandbox.pod_spec import LOCAL_HOST
from tradewarden.operator.sandbox.resources import Obj

KUBELET_BACKOFF_BASE_S = 10.0
KUBELET_BACKOFF_CAP_S = 300.0


class Stage(enum.Enum):
    """Where the container is in its life."""

    CREATING = "ContainerCreating"  # volumes or env sources not there yet
    CONFIG_ERROR = "CreateContainerConfigError"
    RUNNING = "Running"
    BACKOFF = "CrashLoopBackOff"
    UNSUPPORTED = "Unsupported"  # the template cannot be run locally: pod Failed


@dataclass(frozen=True)
class Terminated:
    """How a process ended."""

    exit_code: int
    started_at: str
    finished_at: str

    @property
    def reason(self) -> str:
        """The kubelet's words for the exit."""
        return "Completed" if self.exit_code == 0 else "Error"

    def render(self) -> Obj:
        """As a containerStatus ``terminated`` state."""
        return {
            "exitCode": self.exit_code,
            "reason": self.reason,
            "startedAt": self.started_at,
            "finishedAt": self.finished_at,
        }


@dataclass(frozen=True)
class ContainerView:
    """What the runner knows about the pod's one container."""

    stage: Stage
    message: str = ""
    started_at: str | None = None
    ready: bool = False
    restart_count: int = 0
    last: Terminated | None = None


def crash_backoff(crashes: int, base_s: float, cap_s: float) -> float:
    """Seconds to wait before restarting after the ``crashes``-th crash in a row (>= 1).

    Doubles from ``base_s`` up to ``cap_s``, like the kubelet's 10 s .. 5 min.
    """
    return float(min(cap_s, base_s * 2 ** max(0, crashes - 1)))


def _condition(kind: str, true: bool, since: str, reason: str = "") -> Obj:
    condition: Obj = {
        "type": kind,
        "status": "True" if true else "False",
        "lastProbeTime": None,
        "lastTransitionTime": since,
    }
    if reason and not true:
        condition["reason"] = reason
    return condition


def _state(view: ContainerView) -> Obj:
    if view.stage is Stage.RUNNING:
        return {"running": {"startedAt": view.started_at}}
    if view.stage is Stage.UNSUPPORTED and view.last is not None:
        return {"terminated": view.last.render()}
    return {"waiting": {"reason": view.stage.value, "message": view.message}}


def pod_status(
    container: str, image: str, view: ContainerView, *, start_time: str, ready_since: str
) -> Obj:
    """The Pod ``status`` for the container's view.

    ``start_time`` is when the pod was accepted; ``ready_since`` when readiness
    last changed (the Ready conditions' lastTransitionTime).
    """
    if view.stage is Stage.UNSUPPORTED:
        phase = "Failed"
    elif view.stage in (Stage.CREATING, Stage.CONFIG_ERROR) and view.last is None:
        phase = "Pending"
    else:
        phase = "Running"
    not_ready = "ContainersNotReady"
    status: Obj = {
        "phase": phase,
        "conditions": [
            _condition("PodScheduled", True, start_time),
            _condition("Initialized", True, start_time),
            _condition("ContainersReady", view.ready, ready_since, not_ready),
            _condition("Ready", view.ready, ready_since, not_ready),
        ],
        "hostIP": LOCAL_HOST,
        "podIP": LOCAL_HOST,
        "podIPs": [{"ip": LOCAL_HOST}],
        "startTime": start_time,
        "qosClass": "Burstable",
        "containerStatuses": [
            {
                "name": container,
                "image": image,
                "imageID": "",
                "ready": view.ready,
                "started": view.stage is Stage.RUNNING,
                "restartCount": view.restart_count,
                "state": _state(view),
                "lastState": {"terminated": view.last.render()} if view.last else {},
            }
        ],
    }
    if view.stage is Stage.UNSUPPORTED:
        status["reason"] = Stage.UNSUPPORTED.value
        status["message"] = view.message
    return status
