"""Objects, resourceVersions and watch events of the sandbox API server.

The store keeps every object as an immutable snapshot (a new dict per change,
never mutated afterwards), stamps ``metadata`` as the API server does (uid,
resourceVersion from one global counter, generation bumped on spec changes,
creationTimestamp, names from generateName), enforces optimistic concurrency
(409 on a stale resourceVersion), separates the status subresource from the
rest, and implements deletionTimestamp + finalizers. Watches subscribe to a
per-type queue and can resume from any resourceVersion still in the bounded
event log (older ones get 410 Gone, like etcd compaction).

All methods are synchronous and run on the event loop thread, so each one is
atomic with respect to the others without locks.
"""

from __future__ import annotations

import asyncio
import copy
import secrets
import string
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tradewarden.operator.sandbox.resources import Obj, ResourceType

EVENT_LOG_LENGTH = 100_000
_SUFFIX_ALPHABET = string.ascii_lowercase + string.digits
_GENERATED_PREFIX_MAX = 58  # 63 minus the five random characters
_SYSTEM_META = ("uid", "creationTimestamp", "deletionTimestamp", "generation", "resourceVersion")


class ApiError(Exception):
    """An error the API server answers with a ``Status`` object."""

    def __init__(self, status: int, reason: str, message: str, details: Obj | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.details = details

    def as_status(self) -> Obj:
        """The ``Status`` body a real server sends."""
        return {
            "apiVersion": "v1",
            "kind": "Status",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            # Go's omitempty: a Status without details has no details key at all
            # (an empty one, as a refused JSON patch has, is still sent).
            **({"details": self.details} if self.details is not None else {}),
            "code": self.status,
        }


def details(name: str, group: str, kind: str) -> Obj:
    """A Status's details about one object: Go's omitempty drops an empty name or group
    (the core group is ""): ``{"name": "tb-x", "kind": "serviceaccounts"}``."""
    return {
        **({"name": name} if name else {}),
        **({"group": group} if group else {}),
        "kind": kind,
    }


def object_error(
    status: int, reason: str, rtype: ResourceType, name: str, message: str
) -> ApiError:
    """An error about one named object, with the details a real server attaches."""
    return ApiError(status, reason, message, details(name, rtype.group, rtype.plural))


def not_found(rtype: ResourceType, name: str) -> ApiError:
    """404 for a missing object, worded as the API server words it."""
    return object_error(404, "NotFound", rtype, name, f'{rtype.group_resource} "{name}" not found')


def conflict(rtype: ResourceType, name: str, message: str) -> ApiError:
    """409 for a stale resourceVersion or an existing name."""
    what = rtype.group_resource
    return object_error(
        409, "Conflict", rtype, name, f'Operation cannot be fulfilled on {what} "{name}": {message}'
    )


@dataclass(frozen=True)
class WatchEvent:
    """One change: the new object (or the last state for DELETED) and the previous one."""

    resource_version: int
    type: str  # ADDED, MODIFIED, DELETED
    obj: Obj
    old: Obj | None


@dataclass(eq=False)
class Subscription:
    """A live watch's queue of events for one resource type."""

    queue: asyncio.Queue[WatchEvent] = field(default_factory=asyncio.Queue)


def now_iso(clock: Callable[[], datetime]) -> str:
    """A timestamp in the API server's RFC 3339 format (seconds, Z)."""
    return clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _without_system_fields(obj: Obj) -> Obj:
    body = {k: v for k, v in obj.items() if k not in ("metadata", "status")}
    return body


_Key = tuple[str, str, str, str]  # group, plural, namespace ("" if cluster-scoped), name


class Store:
    """In-memory objects of every served type, with watch fan-out."""

    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._clock = clock
        self._objects: dict[tuple[str, str], dict[tuple[str, str], Obj]] = {}
        self._log: dict[tuple[str, str], deque[WatchEvent]] = {}
        self._subscriptions: dict[tuple[str, str], set[Subscription]] = {}
        self._revision = 1
        self.on_removed: list[Callable[[ResourceType, Obj], None]] = []
        self.on_changed: list[Callable[[ResourceType, Obj], None]] = []

    @property
    def revision(self) -> int:
        """The latest resourceVersion handed out."""
        return self._revision

    def _bucket(self, rtype: ResourceType) -> dict[tuple[str, str], Obj]:
        return self._objects.setdefault((rtype.group, rtype.plural), {})

    def _emit(self, rtype: ResourceType, kind: str, obj: Obj, old: Obj | None) -> None:
        event = WatchEvent(int(obj["metadata"]["resourceVersion"]), kind, obj, old)
        key = (rtype.group, rtype.plural)
        self._log.setdefault(key, deque(maxlen=EVENT_LOG_LENGTH)).append(event)
        for subscription in self._subscriptions.get(key, ()):
            subscription.queue.put_nowait(event)

    def _next_revision(self) -> str:
        self._revision += 1
        return str(self._revision)

    # ---- reading -------------------------------------------------------------------------

    def get(self, rtype: ResourceType, namespace: str, name: str) -> Obj:
        """One object, or 404."""
        obj = self._bucket(rtype).get((namespace if rtype.namespaced else "", name))
        if obj is None:
            raise not_found(rtype, name)
        return obj

    def find(self, rtype: ResourceType, namespace: str, name: str) -> Obj | None:
        """One object or None."""
        return self._bucket(rtype).get((namespace if rtype.namespaced else "", name))

    def list_objects(self, rtype: ResourceType, namespace: str | None) -> list[Obj]:
        """All objects of a type, in one namespace or all of them, sorted by namespace/name."""
        bucket = self._bucket(rtype)
        keys = sorted(k for k in bucket if namespace is None or k[0] == namespace)
        return [bucket[k] for k in keys]

    def items(self) -> Iterator[tuple[tuple[str, str], Obj]]:
        """Every stored object with its (group, plural), for the garbage collector."""
        for key, bucket in list(self._objects.items()):
            for obj in list(bucket.values()):
                yield key, obj

    # ---- watching ------------------------------------------------------------------------

    def subscribe(
        self, rtype: ResourceType, since: int | None
    ) -> tuple[Subscription, list[WatchEvent]]:
        """A subscription plus the logged events after ``since`` (None: none replayed).

        Raises 410 Gone when ``since`` is older than the event log.
        """
        key = (rtype.group, rtype.plural)
        log = self._log.get(key, deque())
        backlog: list[WatchEvent] = []
        if since is not None:
            if log and log[0].resource_version > since + 1 and len(log) == log.maxlen:
                raise ApiError(410, "Expired", f"too old resource version: {since}")
            backlog = [event for event in log if event.resource_version > since]
        subscription = Subscription()
        self._subscriptions.setdefault(key, set()).add(subscription)
        return subscription, backlog

    def unsubscribe(self, rtype: ResourceType, subscription: Subscription) -> None:
        """Stop delivering events to a finished watch."""
        self._subscriptions.get((rtype.group, rtype.plural), set()).discard(subscription)

    # ---- writing -------------------------------------------------------------------------

    def generate_name(self, rtype: ResourceType, namespace: str | None, prefix: str) -> str:
        """A free name: the prefix (cut to 58 characters) and five random ones, as
        kube-apiserver's name generator makes it before it validates the object."""
        bucket = self._bucket(rtype)
        while True:
            suffix = "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(5))
            candidate = prefix[:_GENERATED_PREFIX_MAX] + suffix
            if ((namespace or "") if rtype.namespaced else "", candidate) not in bucket:
                return candidate

    def create(
        self, rtype: ResourceType, namespace: str | None, body: Obj, *, dry_run: bool = False
    ) -> Obj:
        """Store a new object; 409 if the name is taken. ``dry_run``: check, stamp, not store."""
        obj = copy.deepcopy(body)
        meta = obj.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = self.generate_name(rtype, namespace, meta["generateName"])
        name = meta.get("name")
        if not name:
            raise ApiError(
                422, "Invalid", "metadata.name: Required value: name or generateName is required"
            )
        if rtype.namespaced:
            namespace = namespace or meta.get("namespace") or "default"
            if meta.get("namespace") not in (None, namespace):
                raise ApiError(
                    400,
                    "BadRequest",
                    "the namespace of the provided object does "
                    "not match the namespace sent on the request",
                )
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        key = (meta.get("namespace", ""), name)
        existing = self._bucket(rtype).get(key)
        if existing is not None:
            message = f'{rtype.group_resource} "{name}" already exists'
            if existing["metadata"].get("deletionTimestamp"):
                # Its finalizers still hold it (a TradingBot the operator drains).
                message = f"object is being deleted: {message}"
            raise object_error(409, "AlreadyExists", rtype, name, message)
        obj["apiVersion"] = rtype.api_version
        obj["kind"] = rtype.kind
        for system in _SYSTEM_META:
            meta.pop(system, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_iso(self._clock)
        meta["generation"] = 1
        if rtype.status_subresource and rtype.schema is not None:
            obj.pop("status", None)
        if dry_run:
            return obj
        meta["resourceVersion"] = self._next_revision()
        return self._put(rtype, key, obj, None)

    def update(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        body: Obj,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> Obj:
        """Replace an object (or only its status); 409 on a stale resourceVersion.

        ``dry_run``: every check, and the object as it would be, but nothing changes.

        Without the status subresource the whole object but status is taken from
        ``body``; through ``/status`` only the status is. An update that changes
        nothing keeps the resourceVersion and emits no event.
        """
        current = self.get(rtype, namespace, name)
        wanted_version = body.get("metadata", {}).get("resourceVersion")
        if wanted_version and wanted_version != current["metadata"]["resourceVersion"]:
            raise conflict(
                rtype,
                name,
                "the object has been modified; please apply your "
                "changes to the latest version and try again",
            )
        if subresource == "status":
            new = dict(current)
            if "status" in body:
                new["status"] = copy.deepcopy(body["status"])
            else:
                new.pop("status", None)
            fields = body.get("metadata", {}).get("managedFields")
            if fields is not None:
                new["metadata"] = {**current["metadata"], "managedFields": fields}
        else:
            new = copy.deepcopy(body)
            new["apiVersion"] = rtype.api_version
            new["kind"] = rtype.kind
            if rtype.status_subresource:
                if "status" in current:
                    new["status"] = current["status"]
                else:
                    new.pop("status", None)
            meta = new.setdefault("metadata", {})
            meta["name"] = name
            if rtype.namespaced:
                meta["namespace"] = current["metadata"]["namespace"]
            for system in _SYSTEM_META:
                if system in current["metadata"]:
                    meta[system] = current["metadata"][system]
                else:
                    meta.pop(system, None)
            if current["metadata"].get("deletionTimestamp"):
                # Finalizers may only be removed once deletion started.
                meta["finalizers"] = [
                    f
                    for f in meta.get("finalizers", [])
                    if f in current["metadata"].get("finalizers", [])
                ]
            if _without_system_fields(new) != _without_system_fields(current):
                meta["generation"] = int(current["metadata"].get("generation", 1)) + 1
        return self._commit(rtype, current, new, dry_run=dry_run)

    def _commit(self, rtype: ResourceType, current: Obj, new: Obj, *, dry_run: bool) -> Obj:
        if new == current:
            return current
        if dry_run:
            return copy.deepcopy(new)
        new = copy.deepcopy(new)
        new["metadata"]["resourceVersion"] = self._next_revision()
        key = (new["metadata"].get("namespace", ""), new["metadata"]["name"])
        if new["metadata"].get("deletionTimestamp") and not new["metadata"].get("finalizers"):
            del self._bucket(rtype)[key]
            self._emit(rtype, "DELETED", new, current)
            for removed in self.on_removed:
                removed(rtype, new)
            return new
        return self._put(rtype, key, new, current)

    def _put(self, rtype: ResourceType, key: tuple[str, str], obj: Obj, old: Obj | None) -> Obj:
        """Store ``obj`` and tell watchers (ADDED, or MODIFIED when it replaces ``old``)."""
        self._bucket(rtype)[key] = obj
        self._emit(rtype, "ADDED" if old is None else "MODIFIED", obj, old)
        for hook in self.on_changed:
            hook(rtype, obj)
        return obj

    def delete(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        *,
        extra_finalizers: tuple[str, ...] = (),
        precondition_uid: str | None = None,
        precondition_version: str | None = None,
        dry_run: bool = False,
    ) -> Obj:
        """Delete an object, or mark it with deletionTimestamp while finalizers remain.

        ``dry_run``: the object as the deletion would leave it; nothing changes.
        """
        current = self.get(rtype, namespace, name)
        meta = current["metadata"]
        if precondition_uid and precondition_uid != meta["uid"]:
            raise conflict(
                rtype,
                name,
                "Precondition failed: UID in precondition does not match the UID in record",
            )
        if precondition_version and precondition_version != meta["resourceVersion"]:
            raise conflict(
                rtype, name, "Precondition failed: resourceVersion in precondition does not match"
            )
        new = copy.deepcopy(current)
        new_meta = new["metadata"]
        finalizers = list(new_meta.get("finalizers", []))
        if not meta.get("deletionTimestamp"):
            finalizers += [f for f in extra_finalizers if f not in finalizers]
        if not finalizers:
            new_meta["deletionTimestamp"] = meta.get("deletionTimestamp") or now_iso(self._clock)
            return self._commit(rtype, current, new, dry_run=dry_run)
        if meta.get("deletionTimestamp"):
            return current
        new_meta["finalizers"] = finalizers
        new_meta["deletionTimestamp"] = now_iso(self._clock)
        new_meta["deletionGracePeriodSeconds"] = 0
        return self._commit(rtype, current, new, dry_run=dry_run)
