"""``events.k8s.io/v1`` Events as a view of the core ``v1`` Events, as kube-apiserver serves them.

Both APIs show the same stored objects; the field names differ (the
conversion of ``k8s.io/kubernetes/pkg/apis/events/v1``): involvedObject is
``regarding``, message is ``note``, the core-only source, firstTimestamp,
lastTimestamp and count are ``deprecated*``, reportingComponent is
``reportingController``. Empty fields are left out.
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]

# core field -> events.k8s.io/v1 field
_RENAMED = {
    "involvedObject": "regarding",
    "message": "note",
    "source": "deprecatedSource",
    "firstTimestamp": "deprecatedFirstTimestamp",
    "lastTimestamp": "deprecatedLastTimestamp",
    "count": "deprecatedCount",
    "reportingComponent": "reportingController",
}
_SHARED = ("metadata", "eventTime", "series", "reportingInstance", "action", "reason",
           "related", "type")  # fmt: skip
API_VERSION = "events.k8s.io/v1"


def to_v1(core: Obj) -> Obj:
    """A stored core Event as ``events.k8s.io/v1`` shows it."""
    out: Obj = {"apiVersion": API_VERSION, "kind": "Event"}
    for name in _SHARED:
        if core.get(name) not in (None, "", {}):
            out[name] = core[name]
    for old, new in _RENAMED.items():
        if core.get(old) not in (None, "", {}, 0):
            out[new] = core[old]
    return out


def from_v1(event: Obj) -> Obj:
    """An ``events.k8s.io/v1`` Event as the core Event that is stored."""
    out: Obj = {"apiVersion": "v1", "kind": "Event"}
    for name in _SHARED:
        if name in event:
            out[name] = event[name]
    for old, new in _RENAMED.items():
        if new in event:
            out[old] = event[new]
    return out
