"""Owner garbage collection through ownerReferences, background and foreground.

Background: once an owner is gone, each dependent loses that owner reference
and is deleted when no owner is left. Foreground: the owner carries the
``foregroundDeletion`` finalizer; its dependents are deleted first and the
finalizer is removed when the last one is gone. Runs synchronously inside the
store's change hooks, so a cascade is complete when the DELETE call returns
(or, with finalizers on dependents, when those are released).
"""

from __future__ import annotations

import copy
from collections.abc import Callable

from tradewarden.operator.sandbox.resources import Obj, ResourceType
from tradewarden.operator.sandbox.storage import Store

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"

Resolver = Callable[[str, str], ResourceType | None]


def owner_uids(obj: Obj) -> list[str]:
    """The uids of an object's owners."""
    return [ref["uid"] for ref in obj.get("metadata", {}).get("ownerReferences", [])]


class GarbageCollector:
    """Deletes dependents of deleted owners; attach with :meth:`attach`."""

    def __init__(self, store: Store, resolve: Resolver) -> None:
        self._store = store
        self._resolve = resolve

    def attach(self) -> None:
        """Register the collector's hooks on the store."""
        self._store.on_removed.append(self._removed)
        self._store.on_changed.append(self._changed)

    def _dependents(self, uid: str) -> list[tuple[ResourceType, Obj]]:
        found = []
        for (group, plural), obj in self._store.items():
            if uid in owner_uids(obj):
                rtype = self._resolve(group, plural)
                if rtype is not None:
                    found.append((rtype, obj))
        return found

    def _alive(self, uid: str) -> bool:
        return any(obj["metadata"]["uid"] == uid for _, obj in self._store.items())

    def _delete(self, rtype: ResourceType, obj: Obj) -> None:
        meta = obj["metadata"]
        if self._store.find(rtype, meta.get("namespace", ""), meta["name"]) is not None:
            self._store.delete(rtype, meta.get("namespace", ""), meta["name"])

    def _removed(self, rtype: ResourceType, owner: Obj) -> None:
        uid = owner["metadata"]["uid"]
        for dep_type, dependent in self._dependents(uid):
            remaining = [u for u in owner_uids(dependent) if u != uid and self._alive(u)]
            if remaining:
                updated = copy.deepcopy(dependent)
                updated["metadata"]["ownerReferences"] = [
                    ref for ref in updated["metadata"]["ownerReferences"] if ref["uid"] != uid
                ]
                meta = updated["metadata"]
                self._store.update(dep_type, meta.get("namespace", ""), meta["name"], updated)
            else:
                self._delete(dep_type, dependent)
        self._release_foreground_owners(owner)

    def _changed(self, rtype: ResourceType, obj: Obj) -> None:
        meta = obj["metadata"]
        if not meta.get("deletionTimestamp"):
            return
        finalizers = meta.get("finalizers", [])
        if ORPHAN in finalizers:
            for dep_type, dependent in self._dependents(meta["uid"]):
                updated = copy.deepcopy(dependent)
                updated["metadata"]["ownerReferences"] = [
                    ref
                    for ref in updated["metadata"]["ownerReferences"]
                    if ref["uid"] != meta["uid"]
                ]
                dep_meta = updated["metadata"]
                self._store.update(
                    dep_type, dep_meta.get("namespace", ""), dep_meta["name"], updated
                )
            self._drop_finalizer(rtype, obj, ORPHAN)
        elif FOREGROUND in finalizers:
            dependents = self._dependents(meta["uid"])
            for dep_type, dependent in dependents:
                if not dependent["metadata"].get("deletionTimestamp"):
                    self._delete(dep_type, dependent)
            current = self._store.find(rtype, meta.get("namespace", ""), meta["name"])
            if current is not None and not self._dependents(meta["uid"]):
                self._drop_finalizer(rtype, current, FOREGROUND)

    def _release_foreground_owners(self, dependent: Obj) -> None:
        for ref in dependent["metadata"].get("ownerReferences", []):
            for (group, plural), owner in self._store.items():
                if owner["metadata"]["uid"] != ref["uid"]:
                    continue
                rtype = self._resolve(group, plural)
                finalizers = owner["metadata"].get("finalizers", [])
                if (
                    rtype is not None
                    and FOREGROUND in finalizers
                    and not self._dependents(ref["uid"])
                ):
                    self._drop_finalizer(rtype, owner, FOREGROUND)

    def _drop_finalizer(self, rtype: ResourceType, obj: Obj, finalizer: str) -> None:
        updated = copy.deepcopy(obj)
        meta = updated["metadata"]
        meta["finalizers"] = [f for f in meta.get("finalizers", []) if f != finalizer]
        meta.pop("resourceVersion", None)
        self._store.update(rtype, meta.get("namespace", ""), meta["name"], updated)
