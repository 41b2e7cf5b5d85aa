"""The protobuf bodies kubectl sends for built-in objects, read as the JSON a server stores.

kubectl's generators (``kubectl create namespace``, ``create secret generic``,
``create configmap``, ``create serviceaccount``, ``create token``) and
``kubectl auth`` (``can-i``, ``whoami``) send
``application/vnd.kubernetes.protobuf`` and do not fall back to JSON. The
body is the magic ``k8s\\0`` and a ``runtime.Unknown``: field 1 a TypeMeta
(apiVersion 1, kind 2), field 2 the object's own message. Only the kinds
those generators make are read, and of each only the fields a generator
fills; anything else is refused as a server without protobuf would (415).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any

MAGIC = b"k8s\x00"
_VARINT, _FIXED64, _BYTES, _FIXED32 = 0, 1, 2, 5

Obj = dict[str, Any]
Field = tuple[int, int, Any]  # number, wire type, value (int or bytes)


class ProtobufError(ValueError):
    """A body the sandbox cannot read as a Kubernetes object."""


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(data) or shift > 63:
            raise ProtobufError("truncated varint")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at


def _fields(data: bytes) -> Iterator[Field]:
    at = 0
    while at < len(data):
        key, at = _varint(data, at)
        number, wire = key >> 3, key & 7
        if wire == _VARINT:
            value, at = _varint(data, at)
            yield number, wire, value
        elif wire == _BYTES:
            size, at = _varint(data, at)
            if at + size > len(data):
                raise ProtobufError("truncated field")
            yield number, wire, data[at : at + size]
            at += size
        elif wire in (_FIXED64, _FIXED32):
            at += 8 if wire == _FIXED64 else 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")


def _text(raw: Any) -> str:
    return bytes(raw).decode("utf-8")


def _entry(raw: Any) -> tuple[str, bytes]:
    fields = {number: value for number, _, value in _fields(raw)}
    return _text(fields.get(1, b"")), bytes(fields.get(2, b""))


Reader = Callable[[Obj, str, Any], None]


def _string(obj: Obj, name: str, raw: Any) -> None:
    if text := _text(raw):
        obj[name] = text


def _flag(obj: Obj, name: str, raw: Any) -> None:
    obj[name] = bool(raw)


def _string_map(obj: Obj, name: str, raw: Any) -> None:
    key, value = _entry(raw)
    obj.setdefault(name, {})[key] = value.decode("utf-8")


def _bytes_map(obj: Obj, name: str, raw: Any) -> None:
    # JSON carries bytes fields base64-encoded, as a real server stores them.
    key, value = _entry(raw)
    obj.setdefault(name, {})[key] = base64.b64encode(value).decode("ascii")


def _string_list(obj: Obj, name: str, raw: Any) -> None:
    obj.setdefault(name, []).append(_text(raw))


def _integer(obj: Obj, name: str, raw: Any) -> None:
    obj[name] = int(raw)


def _metadata(obj: Obj, name: str, raw: Any) -> None:
    obj[name] = _message(raw, _OBJECT_META)


def _nested(schema: Schema) -> Reader:
    def read(obj: Obj, name: str, raw: Any) -> None:
        obj[name] = _message(raw, schema)

    return read


Schema = dict[int, tuple[str, Reader]]

_OBJECT_META: Schema = {
    1: ("name", _string),
    2: ("generateName", _string),
    3: ("namespace", _string),
    11: ("labels", _string_map),
    12: ("annotations", _string_map),
    14: ("finalizers", _string_list),
}
# What ``kubectl create token`` fills (--audience, --duration); a bound object is not read.
_TOKEN_REQUEST_SPEC: Schema = {1: ("audiences", _string_list), 4: ("expirationSeconds", _integer)}
# What ``kubectl auth can-i`` sends (selectors are not read).
_RESOURCE_ATTRIBUTES: Schema = {
    1: ("namespace", _string),
    2: ("verb", _string),
    3: ("group", _string),
    4: ("version", _string),
    5: ("resource", _string),
    6: ("subresource", _string),
    7: ("name", _string),
}
_NON_RESOURCE_ATTRIBUTES: Schema = {1: ("path", _string), 2: ("verb", _string)}
_ACCESS_REVIEW_SPEC: Schema = {
    1: ("resourceAttributes", _nested(_RESOURCE_ATTRIBUTES)),
    2: ("nonResourceAttributes", _nested(_NON_RESOURCE_ATTRIBUTES)),
    3: ("user", _string),
    4: ("groups", _string_list),
    6: ("uid", _string),
}
_KINDS: dict[tuple[str, str], Schema] = {
    ("authentication.k8s.io/v1", "TokenRequest"): {
        1: ("metadata", _metadata),
        2: ("spec", _nested(_TOKEN_REQUEST_SPEC)),
    },
    ("authentication.k8s.io/v1", "SelfSubjectReview"): {1: ("metadata", _metadata)},
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"): {
        1: ("metadata", _metadata),
        2: ("spec", _nested(_ACCESS_REVIEW_SPEC)),
    },
    ("authorization.k8s.io/v1", "SubjectAccessReview"): {
        1: ("metadata", _metadata),
        2: ("spec", _nested(_ACCESS_REVIEW_SPEC)),
    },
    ("authorization.k8s.io/v1", "SelfSubjectRulesReview"): {
        1: ("metadata", _metadata),
        2: ("spec", _nested({1: ("namespace", _string)})),
    },
    ("v1", "Namespace"): {1: ("metadata", _metadata)},
    ("v1", "ConfigMap"): {
        1: ("metadata", _metadata),
        2: ("data", _string_map),
        3: ("binaryData", _bytes_map),
        4: ("immutable", _flag),
    },
    ("v1", "Secret"): {
        1: ("metadata", _metadata),
        2: ("data", _bytes_map),
        3: ("type", _string),
        4: ("stringData", _string_map),
        5: ("immutable", _flag),
    },
    ("v1", "ServiceAccount"): {
        1: ("metadata", _metadata),
        4: ("automountServiceAccountToken", _flag),
    },
}


def _message(raw: Any, schema: Schema) -> Obj:
    obj: Obj = {}
    for number, _, value in _fields(raw):
        known = schema.get(number)
        if known is not None:
            name, read = known
            read(obj, name, value)
    return obj


def decode_object(body: bytes) -> Obj:
    """The JSON form of a protobuf-encoded object kubectl sent (ProtobufError otherwise)."""
    if not body.startswith(MAGIC):
        raise ProtobufError("not a Kubernetes protobuf body")
    envelope = {number: value for number, _, value in _fields(body[len(MAGIC) :])}
    type_meta = {number: value for number, _, value in _fields(envelope.get(1, b""))}
    api_version, kind = _text(type_meta.get(1, b"")), _text(type_meta.get(2, b""))
    schema = _KINDS.get((api_version, kind))
    if schema is None:
        raise ProtobufError(f"{api_version} {kind} is not read from protobuf here")
    try:
        obj = _message(envelope.get(2, b""), schema)
    except UnicodeDecodeError as error:
        raise ProtobufError(f"a text field is not UTF-8: {error}") from None
    return {"apiVersion": api_version, "kind": kind, **obj}
