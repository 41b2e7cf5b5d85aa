"""Server-side ``Table`` rendering, which is how ``kubectl get`` shows printer columns.

kubectl asks for ``application/json;as=Table;v=v1;g=meta.k8s.io``; the server
answers with column definitions and one row of cells per object. Custom
resources get Name plus their additionalPrinterColumns (``date`` columns are
shown as an age); Pods, StatefulSets, Services and Events get the columns a
real server prints for them (``-o wide`` shows the priority-1 ones); other
built-in kinds get Name and Age. Rows carry the object as ``includeObject``
asks (``--sort-by`` needs whole objects).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

from tradewarden.operator.sandbox.resources import Obj, PrinterColumn, ResourceType

# A field may escape a dot (``.metadata.annotations.tradewarden\.io/created-by``), as in
# client-go's JSONPath.
_TOKEN = re.compile(
    r"\.((?:[A-Za-z0-9_/-]|\\\.)+)|\[(\d+)\]|\[\?\(@\.([A-Za-z0-9_.-]+)==['\"]([^'\"]*)['\"]\)\]"
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
            key = field.replace("\\.", ".")
            node = node.get(key) if isinstance(node, dict) else None
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


def _service_ports(service: Obj, _now: datetime) -> str:
    ports = []
    for port in (service.get("spec") or {}).get("ports") or []:
        node = f":{port['nodePort']}" if port.get("nodePort") else ""
        ports.append(f"{port.get('port')}{node}/{port.get('protocol') or 'TCP'}")
    return ",".join(ports) or "<none>"


def _service_cluster_ip(service: Obj, _now: datetime) -> str:
    ips = (service.get("spec") or {}).get("clusterIPs") or []
    return str(ips[0]) if ips else "<none>"


def _external_ip(service: Obj, _now: datetime) -> str:
    spec = service.get("spec") or {}
    external = list(spec.get("externalIPs") or [])
    if spec.get("type") == "LoadBalancer":
        ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        external += [i.get("ip") or i.get("hostname") for i in ingress]
        return ",".join(str(e) for e in external) or "<pending>"
    if spec.get("type") == "ExternalName":
        return str(spec.get("externalName") or "<none>")
    return ",".join(external) or "<none>"


def _selector(service: Obj, _now: datetime) -> str:
    selector = (service.get("spec") or {}).get("selector") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items())) or "<none>"


def _containers(stateful_set: Obj, _now: datetime) -> tuple[str, str]:
    template = ((stateful_set.get("spec") or {}).get("template") or {}).get("spec") or {}
    containers = template.get("containers") or []
    return (
        ",".join(str(c.get("name")) for c in containers),
        ",".join(str(c.get("image")) for c in containers),
    )


def _ready_replicas(stateful_set: Obj, _now: datetime) -> str:
    ready = int((stateful_set.get("status") or {}).get("readyReplicas") or 0)
    desired = (stateful_set.get("spec") or {}).get("replicas")
    return f"{ready}/{1 if desired is None else int(desired)}"


def _event_times(event: Obj, now: datetime) -> tuple[str, str, int]:
    """(last seen, first seen, count) as ``kubectl get events`` prints them."""

    def since(stamp: object) -> str:
        if not isinstance(stamp, str) or not stamp:
            return "<unknown>"
        return human_age(stamp[:19] + "Z", now)

    first_stamp = event.get("firstTimestamp") or event.get("eventTime")
    first = since(first_stamp)
    last = since(event["lastTimestamp"]) if event.get("lastTimestamp") else first
    count = int(event.get("count") or 0)
    series = event.get("series")
    if series:
        last = since(series.get("lastObservedTime"))
        count = int(series.get("count") or 0)
    elif count == 0:
        count = 1  # singleton events of the new API carry no count
    return last, first, count


def _event_object(event: Obj, _now: datetime) -> str:
    involved = event.get("involvedObject") or {}
    kind = str(involved.get("kind") or "").lower()
    return f"{kind}/{involved['name']}" if involved.get("name") else kind


def _event_source(event: Obj, _now: datetime) -> str:
    source = event.get("source") or {}
    component = source.get("component") or event.get("reportingComponent") or ""
    host = source.get("host") or event.get("reportingInstance") or ""
    return ", ".join(p for p in (component, host) if p) or "<none>"


def _field(name: str) -> Callable[[Obj, datetime], str]:
    return lambda obj, _now: str(obj.get(name) or "").strip()


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
    ("apps", "statefulsets"): [
        (
            PrinterColumn("Ready", "string", "", description="ready/desired replicas"),
            _ready_replicas,
        ),
        (PrinterColumn("Age", "string", ""), _age),
        (PrinterColumn("Containers", "string", "", priority=1), lambda o, n: _containers(o, n)[0]),
        (PrinterColumn("Images", "string", "", priority=1), lambda o, n: _containers(o, n)[1]),
    ],
    ("", "services"): [
        (
            PrinterColumn("Type", "string", ""),
            lambda svc, _now: (svc.get("spec") or {}).get("type"),
        ),
        (PrinterColumn("Cluster-IP", "string", ""), _service_cluster_ip),
        (PrinterColumn("External-IP", "string", ""), _external_ip),
        (PrinterColumn("Port(s)", "string", ""), _service_ports),
        (PrinterColumn("Age", "string", ""), _age),
        (PrinterColumn("Selector", "string", "", priority=1), _selector),
    ],
    # Events lead with when, not the name (which is last, and wide only).
    ("", "events"): [
        (PrinterColumn("Last Seen", "string", ""), lambda e, now: _event_times(e, now)[0]),
        (PrinterColumn("Type", "string", ""), _field("type")),
        (PrinterColumn("Reason", "string", ""), _field("reason")),
        (PrinterColumn("Object", "string", ""), _event_object),
        (
            PrinterColumn("Subobject", "string", "", priority=1),
            lambda e, _now: str((e.get("involvedObject") or {}).get("fieldPath") or ""),
        ),
        (PrinterColumn("Source", "string", "", priority=1), _event_source),
        (PrinterColumn("Message", "string", ""), _field("message")),
        (PrinterColumn("First Seen", "string", "", priority=1), lambda e, n: _event_times(e, n)[1]),
        (PrinterColumn("Count", "string", "", priority=1), lambda e, n: _event_times(e, n)[2]),
        (
            PrinterColumn("Name", "string", "", priority=1, format="name"),
            lambda e, _now: e["metadata"]["name"],
        ),
    ],
}
_NAME_NOT_FIRST = frozenset({("", "events")})


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


def _row_object(obj: Obj, include: str) -> Obj | None:
    """What a row carries: ``includeObject`` Metadata (default), Object or None."""
    if include == "None":
        return None
    if include == "Object":
        return obj
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj["metadata"],
    }


def table(
    rtype: ResourceType,
    objects: list[Obj],
    resource_version: str,
    now: datetime,
    include_object: str = "Metadata",
) -> Obj:
    """A ``meta.k8s.io/v1`` Table of the objects (rows carry ``include_object``)."""
    columns = _columns(rtype)
    name_first = (rtype.group, rtype.plural) not in _NAME_NOT_FIRST
    definitions = [
        {"name": "Name", "type": "string", "format": "name", "description": "Name", "priority": 0}
    ] * name_first + [
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
            "cells": [obj["metadata"]["name"]] * name_first
            + [cell(obj, now) for _, cell in columns],
            "object": _row_object(obj, include_object),
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
