"""Field ownership (``metadata.managedFields``) and server-side apply, as pure functions.

Every write records which manager set which fields (``fieldsV1``, ``f:`` keys):

- an Update (create, PUT, a non-apply PATCH) gives its manager the fields whose
  values it changed and takes them from every other manager;
- an Apply gives its manager exactly the fields of the applied configuration.
  A field another manager owns with a different value is a conflict (409)
  unless the apply is forced, which takes the field over. Fields the manager
  applied before and leaves out now are released, and removed from the
  object when nobody else owns them.

Simplifications against structured-merge-diff: lists are atomic (owned and
replaced as a whole), and only ``labels``, ``annotations``, ``finalizers``
and ``ownerReferences`` of ``metadata`` are tracked.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]
Path = tuple[str, ...]
_TRACKED_METADATA = ("labels", "annotations", "finalizers", "ownerReferences")
_MISSING = object()


class ApplyConflict(Exception):
    """An apply that would change fields other managers own; the message is kube-apiserver's."""

    def __init__(self, conflicts: list[tuple[str, Path]]) -> None:
        self.conflicts = conflicts
        super().__init__(conflict_message(conflicts))


@dataclass(frozen=True)
class Writer:
    """Who writes, with which apiVersion, when."""

    manager: str
    api_version: str
    time: str


@dataclass
class Entry:
    """One managedFields entry."""

    manager: str
    operation: str  # Apply or Update
    api_version: str
    time: str
    subresource: str = ""
    fields: set[Path] = field(default_factory=set)

    @property
    def label(self) -> str:
        """How conflicts name the manager (an updater with the version it wrote)."""
        if self.operation == "Apply":
            return f'"{self.manager}"'
        return f'"{self.manager}" using {self.api_version}'


def _walk(value: Any, prefix: Path, out: dict[Path, Any]) -> None:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            _walk(item, (*prefix, str(key)), out)
    else:
        out[prefix] = value


def leaves(obj: Obj, subresource: str = "") -> dict[Path, Any]:
    """The tracked leaf fields of an object (lists and empty maps are leaves)."""
    out: dict[Path, Any] = {}
    for key, value in obj.items():
        if key in ("apiVersion", "kind"):
            continue
        if key == "metadata":
            for name in _TRACKED_METADATA:
                if name in (value or {}):
                    _walk(value[name], ("metadata", name), out)
        elif (key == "status") == (subresource == "status"):
            _walk(value, (key,), out)
    return out


def fields_v1(paths: Iterable[Path]) -> Obj:
    """A set of paths as ``fieldsV1`` (``{"f:spec": {"f:paused": {}}}``)."""
    tree: Obj = {}
    for path in sorted(paths):
        node = tree
        for part in path:
            node = node.setdefault(f"f:{part}", {})
    return tree


def _paths(tree: Obj, prefix: Path = ()) -> set[Path]:
    found: set[Path] = set()
    for key, sub in tree.items():
        if not key.startswith("f:"):
            continue
        path = (*prefix, key[2:])
        below = _paths(sub, path) if isinstance(sub, dict) else set()
        found |= below or {path}
    return found


def read_entries(obj: Obj) -> list[Entry]:
    """The managedFields of a stored object."""
    return [
        Entry(
            manager=str(raw.get("manager", "")),
            operation=str(raw.get("operation", "Update")),
            api_version=str(raw.get("apiVersion", "")),
            time=str(raw.get("time", "")),
            subresource=str(raw.get("subresource", "")),
            fields=_paths(raw.get("fieldsV1") or {}),
        )
        for raw in (obj.get("metadata") or {}).get("managedFields") or []
    ]


def write_entries(entries: list[Entry]) -> list[Obj]:
    """Entries as stored, without the ones that own nothing any more."""
    written = []
    for entry in entries:
        if not entry.fields:
            continue
        raw: Obj = {
            "manager": entry.manager,
            "operation": entry.operation,
            "apiVersion": entry.api_version,
            "time": entry.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": fields_v1(entry.fields),
        }
        if entry.subresource:
            raw["subresource"] = entry.subresource
        written.append(raw)
    return written


def _entry(entries: list[Entry], writer: Writer, operation: str, sub: str) -> Entry:
    for entry in entries:
        if (entry.manager, entry.operation, entry.subresource) == (writer.manager, operation, sub):
            entry.api_version, entry.time = writer.api_version, writer.time
            return entry
    created = Entry(writer.manager, operation, writer.api_version, writer.time, sub)
    entries.append(created)
    return created


def _covers(owned: Path, path: Path) -> bool:
    """Whether two paths overlap (one is the other or lies under it)."""
    shorter = min(len(owned), len(path))
    return owned[:shorter] == path[:shorter]


def record_update(
    old: Obj | None, new: Obj, writer: Writer, subresource: str = ""
) -> list[Obj] | None:
    """The managedFields after an Update by ``writer``; None when it changed no field."""
    entries = read_entries(old or {})
    before = leaves(old or {}, subresource)
    after = leaves(new, subresource)
    changed = {p for p, v in after.items() if before.get(p, _MISSING) != v}
    gone = set(before) - set(after)
    if not changed and not gone:
        return None
    for entry in entries:
        if entry.subresource == subresource:
            entry.fields = {
                p for p in entry.fields if not any(_covers(p, c) for c in changed | gone)
            }
    _entry(entries, writer, "Update", subresource).fields |= changed
    return write_entries(entries)


def _remove(obj: Obj, path: Path) -> None:
    node: Any = obj
    for part in path[:-1]:
        if not isinstance(node, dict) or part not in node:
            return
        node = node[part]
    if isinstance(node, dict):
        node.pop(path[-1], None)


def _merge(target: Any, config: Any) -> Any:
    if not isinstance(config, dict) or not isinstance(target, dict):
        return copy.deepcopy(config)
    result = dict(target)
    for key, value in config.items():
        result[key] = _merge(result.get(key), value)
    return result


def apply(current: Obj, config: Obj, writer: Writer, *, force: bool) -> Obj:
    """The object after ``writer`` applies ``config`` (ApplyConflict unless forced)."""
    entries = read_entries(current)
    wanted = leaves(config)
    conflicts: list[tuple[str, Path]] = []
    taken: set[Path] = set()
    for entry in entries:
        if (entry.manager, entry.operation) == (writer.manager, "Apply") or entry.subresource:
            continue
        for owned in sorted(entry.fields):
            touched = any(_covers(owned, path) for path in wanted)
            if touched and _get(config, owned) != _get(current, owned):
                conflicts.append((entry.label, owned))
                taken.add(owned)
    if conflicts and not force:
        raise ApplyConflict(conflicts)
    for entry in entries:
        entry.fields -= taken
    own = _entry(entries, writer, "Apply", "")
    released = own.fields - set(wanted)
    own.fields = set(wanted)
    result: Obj = _merge(
        current, {k: v for k, v in config.items() if k not in ("apiVersion", "kind")}
    )
    still_owned: set[Path] = set().union(*(e.fields for e in entries if e is not own))
    for path in released:
        if not any(_covers(path, other) for other in still_owned | own.fields):
            _remove(result, path)
    metadata = result.setdefault("metadata", {})
    for name in _TRACKED_METADATA:
        if name in metadata and not metadata[name]:
            del metadata[name]  # ObjectMeta omits an empty map or list
    result.setdefault("metadata", {})["managedFields"] = write_entries(entries)
    return result


def _get(obj: Any, path: Path) -> Any:
    node = obj
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def conflict_message(conflicts: list[tuple[str, Path]]) -> str:
    """``Apply failed with N conflict(s): ...`` worded as structured-merge-diff words it."""
    shown = [(label, "." + ".".join(path)) for label, path in conflicts]
    if len(shown) == 1:
        label, path = shown[0]
        detail = f"conflict with {label}: {path}"
    else:
        managers = {label for label, _ in shown}
        if len(managers) == 1:
            detail = f"conflicts with {shown[0][0]}:\n" + "".join(f"- {p}\n" for _, p in shown)
        else:
            detail = "conflicts with multiple managers:\n" + "".join(
                f"- {label}: {p}\n" for label, p in shown
            )
    plural = "conflict" if len(shown) == 1 else "conflicts"
    return f"Apply failed with {len(shown)} {plural}: {detail}"
