"""Patch formats the API server accepts, as pure functions on JSON documents.

JSON merge patch (RFC 7386), JSON patch (RFC 6902, including ``test``), and
strategic merge patch, which the sandbox treats as a merge patch (good enough
for the core kinds it serves: nobody here relies on list merge keys).
"""

from __future__ import annotations

import copy
from typing import Any

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"


# What kube-apiserver answers (422 Invalid, empty details) for any JSON patch that does
# not apply: a failed test, a missing path, an unknown operation. It names no cause.
PATCH_REJECTED = "the server rejected our request due to an error in our request"
# Go's wording when a JSON patch body is not a list, by the JSON type it found.
_GO_JSON_TYPES = {dict: "object", str: "string", bool: "bool", int: "number", float: "number"}


class PatchError(ValueError):
    """A patch that cannot be applied; ``status`` is the HTTP answer (422, 400 or 415).

    The message of a 422 says why, for tracebacks and tests; clients get
    :data:`PATCH_REJECTED`, as kube-apiserver words it.
    """

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply an RFC 7386 merge patch and return the new document (inputs untouched)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer {path!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _index(container: list[Any], token: str, *, adding: bool) -> int:
    if adding and token == "-":
        return len(container)
    if not token.isdigit():
        raise PatchError(f"invalid list index {token!r}")
    index = int(token)
    if index > len(container) or (not adding and index == len(container)):
        raise PatchError(f"list index {index} out of range")
    return index


def _parent(doc: Any, parts: list[str]) -> Any:
    node = doc
    for token in parts[:-1]:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, adding=False)]
        else:
            raise PatchError(f"path /{'/'.join(parts)} does not exist")
    return node


def _get(doc: Any, parts: list[str]) -> Any:
    if not parts:
        return doc
    parent = _parent(doc, parts)
    token = parts[-1]
    if isinstance(parent, dict) and token in parent:
        return parent[token]
    if isinstance(parent, list):
        return parent[_index(parent, token, adding=False)]
    raise PatchError(f"path /{'/'.join(parts)} does not exist")


def _add(doc: Any, parts: list[str], value: Any) -> Any:
    if not parts:
        return value
    parent = _parent(doc, parts)
    if isinstance(parent, dict):
        parent[parts[-1]] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, parts[-1], adding=True), value)
    else:
        raise PatchError(f"cannot add at /{'/'.join(parts)}")
    return doc


def _remove(doc: Any, parts: list[str]) -> Any:
    if not parts:
        raise PatchError("cannot remove the whole document")
    parent = _parent(doc, parts)
    if isinstance(parent, dict) and parts[-1] in parent:
        del parent[parts[-1]]
    elif isinstance(parent, list):
        del parent[_index(parent, parts[-1], adding=False)]
    else:
        raise PatchError(f"path /{'/'.join(parts)} does not exist")
    return doc


def json_patch(target: Any, operations: Any) -> Any:
    """Apply an RFC 6902 JSON patch and return the new document (inputs untouched).

    A failing ``test`` operation raises :class:`PatchError` with status 422,
    which is what kopf's resourceVersion precondition relies on.
    """
    if operations is None:
        operations = []  # Go decodes null into an empty list of operations
    if not isinstance(operations, list):
        found = _GO_JSON_TYPES.get(type(operations), "object")
        raise PatchError(
            f"error decoding patch: json: cannot unmarshal {found} into Go value of type "
            "[]handlers.jsonPatchOp",
            400,
        )
    doc = copy.deepcopy(target)
    for operation in operations:
        op = operation.get("op")
        parts = _pointer(operation.get("path", ""))
        if op == "add":
            doc = _add(doc, parts, copy.deepcopy(operation.get("value")))
        elif op == "remove":
            doc = _remove(doc, parts)
        elif op == "replace":
            _get(doc, parts)
            doc = _add(_remove(doc, parts), parts, copy.deepcopy(operation.get("value")))
        elif op in ("move", "copy"):
            source = _pointer(operation.get("from", ""))
            value = copy.deepcopy(_get(doc, source))
            if op == "move":
                doc = _remove(doc, source)
            doc = _add(doc, parts, value)
        elif op == "test":
            if _get(doc, parts) != operation.get("value"):
                raise PatchError(f"test operation failed at {operation.get('path')}")
        else:
            raise PatchError(f"unknown JSON patch operation {op!r}")
    return doc


def apply_patch(content_type: str, target: Any, patch: Any) -> Any:
    """Apply a patch body of the given content type to a document."""
    kind = content_type.split(";", maxsplit=1)[0].strip()
    if kind == JSON_PATCH:
        return json_patch(target, patch)
    if kind in (MERGE_PATCH, STRATEGIC_PATCH, APPLY_PATCH):
        return merge_patch(target, patch)
    raise PatchError(f"the body of the request was in an unknown format - {kind}", 415)
