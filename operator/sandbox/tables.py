"""Server-side ``Table`` rendering, which is how ``kubectl get`` shows printer columns.

kubectl asks for ``application/json;as=Table;v=v1;g=meta.k8s.io``; the server
answers with column definitions and one row of cells per object. Custom
resources get Name plus their additionalPrinterColumns (``date`` columns are
shown as an age); Pods get the kubelet-derived columns of a real server (Ready,
Status, Restarts, Age; IP and Node with ``-o wide``); other built-in kinds get
Name and Age.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

from tradewarden.operator.sandbox.resources import Obj, PrinterColumn, ResourceType

_TOKEN = re.compile(
    r"\.([A-Za-z0-9_-]+)|\[(\d+)\]|\[\?\(@\.([A-Za-z0-9_.-]+)==['\"]([^'\"]*)['\"]\)\]"
)
_AGE = PrinterColumn("Age", "date", ".metadata.creationTimestamp")


def wants_table(accept: str) -> bool:
    """Whether an Accept header asks for a meta.k8s.io Table."""
    return "as=Table" in accept


def json_path(obj: Any, path: str) -> Any:
    """Evaluate the small JSONPath subset printer columns use (fields, [n], [?(@.k=="v")])."""
    node = obj
    for field, index, filter_key, filter_value in _TOKEN.findall(path.strip("{}")):
        if node is None:
            return None
        if field:
            node = node.get(field) if isinstance(node, dict) else None
        elif index:
            node = node[int(index)] if isinstance(node, list) and int(index) < len(node) else None
        else:
            matches = [
                item
                for item in (node if isinstance(node, list) else [])
                if str(json_path(item, "." + filter_key)) == filter_value
            ]
            node = matches[0] if matches else None
    return node


def human_age(timestamp: str, now: datetime) -> str:
    """kubectl's short age format: 45s, 12m, 5h, 3d."""
    then = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    seconds = max(0, int((now - then).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size * (2 if unit != "d" else 1):
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def pod_state_reason(pod: Obj) -> str:
    """The STATUS column of ``kubectl get pods``, derived as the real server prints it.

    The phase, unless the pod or a container says more: a waiting reason
    (ContainerCreating, CrashLoopBackOff), a terminated reason, or Terminating
    once the pod is being deleted.
    """
    status = pod.get("status") or {}
    reason = str(status.get("reason") or status.get("phase") or "Pending")
    running = False
    for container in reversed(status.get("containerStatuses") or []):
        state = container.get("state") or {}
        waiting, terminated = state.get("waiting"), state.get("terminated")
        if waiting and waiting.get("reason"):
            reason = str(waiting["reason"])
        elif terminated:
            reason = str(terminated.get("reason") or f"ExitCode:{terminated.get('exitCode')}")
        elif container.get("ready") and "running" in state:
            running = True
    if reason == "Completed" and running:
        reason = "Running"
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        reason = "Terminating"
    return reason


def _pod_restarts(pod: Obj, now: datetime) -> str:
    containers = (pod.get("status") or {}).get("containerStatuses") or []
    restarts = sum(int(c.get("restartCount") or 0) for c in containers)
    finished = [
        c["lastState"]["terminated"]["finishedAt"]
        for c in containers
        if ((c.get("lastState") or {}).get("terminated") or {}).get("finishedAt")
    ]
    if restarts and finished:
        return f"{restarts} ({human_age(max(finished), now)} ago)"
    return str(restarts)


def _pod_ready(pod: Obj, _now: datetime) -> str:
    spec_containers = (pod.get("spec") or {}).get("containers") or []
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    ready = sum(1 for c in statuses if c.get("ready"))
    return f"{ready}/{len(spec_containers) or len(statuses)}"


def _age(obj: Obj, now: datetime) -> str | None:
    created = obj["metadata"].get("creationTimestamp")
    return human_age(created, now) if created else None


_Computed = Callable[[Obj, datetime], Any]
# Built-in kinds whose columns the real server computes in Go rather than by JSONPath:
# plural -> (column definition, cell) pairs, in kubectl's order.
_BUILTIN_COLUMNS: dict[tuple[str, str], list[tuple[PrinterColumn, _Computed]]] = {
    ("", "pods"): [
        (PrinterColumn("Ready", "string", "", description="ready/total containers"), _pod_ready),
        (PrinterColumn("Status", "string", ""), lambda pod, _now: pod_state_reason(pod)),
        (PrinterColumn("Restarts", "string", "", description="container restarts"), _pod_restarts),
        (PrinterColumn("Age", "string", ""), _age),
        (
            PrinterColumn("IP", "string", "", priority=1),
            lambda pod, _now: (pod.get("status") or {}).get("podIP") or "<none>",
        ),
        (
            PrinterColumn("Node", "string", "", priority=1),
            lambda pod, _now: (pod.get("spec") or {}).get("nodeName") or "<none>",
        ),
    ],
}


def _columns(rtype: ResourceType) -> list[tuple[PrinterColumn, _Computed]]:
    builtin = _BUILTIN_COLUMNS.get((rtype.group, rtype.plural))
    if builtin is not None and rtype.schema is None:
        return builtin
    custom = rtype.schema is not None and rtype.printer_columns
    columns = list(rtype.printer_columns) if custom else [_AGE]
    return [(column, partial(_cell, column)) for column in columns]


def _cell(column: PrinterColumn, obj: Obj, now: datetime) -> Any:
    value = json_path(obj, column.json_path)
    if value is None:
        return None
    if column.type == "date" and isinstance(value, str):
        return human_age(value, now)
    if column.type in ("string",) and not isinstance(value, str):
        return str(value)
    return value


def table(rtype: ResourceType, objects: list[Obj], resource_version: str, now: datetime) -> Obj:
    """A ``meta.k8s.io/v1`` Table of the objects."""
    columns = _columns(rtype)
    definitions = [
        {"name": "Name", "type": "string", "format": "name", "description": "Name", "priority": 0}
    ] + [
        {
            "name": column.name,
            "type": column.type,
            "format": column.format,
            "description": column.description,
            "priority": column.priority,
        }
        for column, _ in columns
    ]
    rows = [
        {
            "cells": [obj["metadata"]["name"], *(cell(obj, now) for _, cell in columns)],
            "object": {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj["metadata"],
            },
        }
        for obj in objects
    ]
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": definitions,
        "rows": rows,
    }
