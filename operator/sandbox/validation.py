"""Validation of custom resources against their CRD, as the API server does it.

For one CRD version's ``openAPIV3Schema``: apply ``default`` values, find (and
prune or report) fields the schema does not declare, check the schema with
``jsonschema``, then evaluate ``x-kubernetes-validations`` CEL rules with the
``cel`` package (common-expression-language). Rules that mention ``oldSelf``
are transition rules: they run only on update and only where the old object
has a value at the same place, as in Kubernetes.

Every finding is a :class:`FieldError` with the dotted field path a real API
server would name (``spec.exchange.account``), so kubectl prints it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import cel
import jsonschema

Obj = dict[str, Any]

_ROOT_FIELDS = {"apiVersion", "kind", "metadata"}
_OPENAPI_ONLY = ("nullable", "x-kubernetes-", "example", "externalDocs", "discriminator")


@dataclass(frozen=True)
class FieldError:
    """One reason an object is invalid, in the API server's cause format."""

    field: str
    reason: str  # FieldValueInvalid, FieldValueRequired, FieldValueNotSupported, ...
    message: str

    def render(self) -> str:
        """The line a real server puts into its Status message."""
        return f"{self.field}: {self.message}"


def _path(parts: tuple[str | int, ...]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "<root>"


def _to_json_schema(schema: Any) -> Any:
    """Translate OpenAPI v3 structural schema into JSON Schema (``nullable`` -> null type)."""
    if isinstance(schema, list):
        return [_to_json_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {
        key: _to_json_schema(value)
        for key, value in schema.items()
        if not key.startswith(_OPENAPI_ONLY) and key not in ("default", "description")
    }
    if key_type := schema.get("type"):
        if schema.get("nullable"):
            result["type"] = [key_type, "null"]
        if schema.get("x-kubernetes-int-or-string"):
            result.pop("type", None)
    if schema.get("x-kubernetes-int-or-string"):
        result["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    return result


def apply_defaults(schema: Obj, value: Any) -> Any:
    """Fill in schema ``default`` values where a field is absent (returns a new value)."""
    if isinstance(value, dict) and "properties" in schema:
        result = dict(value)
        for key, sub in schema["properties"].items():
            if key not in result and "default" in sub:
                result[key] = copy.deepcopy(sub["default"])
            if key in result and result[key] is not None:
                result[key] = apply_defaults(sub, result[key])
        return result
    if isinstance(value, dict) and isinstance(schema.get("additionalProperties"), dict):
        return {k: apply_defaults(schema["additionalProperties"], v) for k, v in value.items()}
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [apply_defaults(schema["items"], item) for item in value]
    return value


def _unknown(
    schema: Obj, value: Any, parts: tuple[str | int, ...], root: bool
) -> Iterator[tuple[str | int, ...]]:
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return
    if isinstance(value, dict) and "properties" in schema:
        for key, sub_value in value.items():
            sub = schema["properties"].get(key)
            if sub is None:
                if not (root and key in _ROOT_FIELDS):
                    yield (*parts, key)
            else:
                yield from _unknown(sub, sub_value, (*parts, key), False)
    elif isinstance(value, dict) and isinstance(schema.get("additionalProperties"), dict):
        for key, sub_value in value.items():
            yield from _unknown(schema["additionalProperties"], sub_value, (*parts, key), False)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            yield from _unknown(schema["items"], item, (*parts, index), False)


def unknown_fields(schema: Obj, obj: Obj) -> list[str]:
    """Dotted paths of fields the schema does not declare."""
    return [_path(parts) for parts in _unknown(schema, obj, (), True)]


def prune(schema: Obj, obj: Obj) -> Obj:
    """The object without the fields the schema does not declare."""
    result = copy.deepcopy(obj)
    for parts in sorted(_unknown(schema, obj, (), True), key=len, reverse=True):
        node: Any = result
        for part in parts[:-1]:
            node = node[part]
        del node[parts[-1]]
    return result


def _schema_error(error: jsonschema.ValidationError) -> FieldError:
    parts = tuple(error.absolute_path)
    shown = json.dumps(error.instance)[:120]
    if error.validator == "required":
        missing = str(error.message).split("'")[1]
        return FieldError(_path((*parts, missing)), "FieldValueRequired", "Required value")
    if error.validator == "enum":
        allowed = ", ".join(json.dumps(v) for v in _as_list(error.validator_value))
        return FieldError(
            _path(parts),
            "FieldValueNotSupported",
            f"Unsupported value: {shown}: supported values: {allowed}",
        )
    if error.validator == "type":
        return FieldError(
            _path(parts),
            "FieldValueTypeInvalid",
            f"Invalid value: {shown}: {_path(parts)} in body must be of type "
            f"{error.validator_value}",
        )
    return FieldError(_path(parts), "FieldValueInvalid", f"Invalid value: {shown}: {error.message}")


def _as_list(value: object) -> list[object]:
    return list(value) if isinstance(value, list | tuple) else [value]


@lru_cache(maxsize=512)
def _program(rule: str) -> cel.Program:
    return cel.compile(rule)


def _is_transition(rule: str) -> bool:
    return "oldSelf" in rule


def _cel_errors(
    schema: Obj, value: Any, old: Any, parts: tuple[str | int, ...], has_old: bool
) -> Iterator[FieldError]:
    for rule_spec in schema.get("x-kubernetes-validations", []):
        rule = rule_spec["rule"]
        if _is_transition(rule) and not has_old:
            continue
        context: Obj = {"self": value}
        if has_old:
            context["oldSelf"] = old
        try:
            ok = _program(rule).execute(context)
        except (ValueError, RuntimeError, TypeError) as error:
            yield FieldError(_path(parts), "FieldValueInvalid", f"Invalid value: {error}")
            continue
        if ok is not True:
            message = rule_spec.get("message") or f"failed rule: {rule}"
            where = parts + tuple(p for p in rule_spec.get("fieldPath", "").split(".") if p)
            reason = rule_spec.get("reason", "FieldValueInvalid")
            kind = "object" if isinstance(value, dict) else type(value).__name__
            yield FieldError(_path(where), reason, f'Invalid value: "{kind}": {message}')
    if isinstance(value, dict) and "properties" in schema:
        old_map = old if has_old and isinstance(old, dict) else {}
        for key, sub in schema["properties"].items():
            if key in value and value[key] is not None:
                yield from _cel_errors(
                    sub, value[key], old_map.get(key), (*parts, key), key in old_map
                )
    elif isinstance(value, dict) and isinstance(schema.get("additionalProperties"), dict):
        old_map = old if has_old and isinstance(old, dict) else {}
        for key, item in value.items():
            yield from _cel_errors(
                schema["additionalProperties"],
                item,
                old_map.get(key),
                (*parts, key),
                key in old_map,
            )
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            yield from _cel_errors(schema["items"], item, None, (*parts, index), False)


@dataclass(frozen=True)
class SchemaValidator:
    """Validates objects of one CRD version; built once per CRD."""

    schema: Obj
    # One compiled jsonschema validator per set of top-level fields checked.
    _compiled: dict[tuple[str, ...] | None, jsonschema.Draft4Validator] = field(
        default_factory=dict, compare=False, repr=False
    )

    def _validator(self, fields: tuple[str, ...] | None) -> jsonschema.Draft4Validator:
        compiled = self._compiled.get(fields)
        if compiled is None:
            compiled = _compile(self.schema, fields)
            self._compiled[fields] = compiled
        return compiled

    def default(self, obj: Obj) -> Obj:
        """The object with schema defaults filled in."""
        result: Obj = apply_defaults(self.schema, obj)
        return result

    def validate(self, obj: Obj, old: Obj | None) -> list[FieldError]:
        """Schema and CEL findings for a new object (``old`` on update), sorted by field.

        On update, top-level fields the update leaves as they were are not checked
        again (Kubernetes' validation ratcheting): a finalizer or annotation patch
        costs no validation, a status write checks the status only.
        """
        checked = {k: v for k, v in obj.items() if k not in _ROOT_FIELDS}
        fields: tuple[str, ...] | None = None
        schema = self.schema
        if old is not None and "x-kubernetes-validations" not in schema:
            previous = {k: v for k, v in old.items() if k not in _ROOT_FIELDS}
            fields = tuple(
                sorted(
                    k for k in checked.keys() | previous.keys() if checked.get(k) != previous.get(k)
                )
            )
            if not fields:
                return []
            checked = {k: v for k, v in checked.items() if k in fields}
            schema = _restricted(schema, fields)
        errors = [_schema_error(e) for e in self._validator(fields).iter_errors(checked)]
        if not errors:
            errors = list(_cel_errors(schema, checked, old, (), old is not None))
        return sorted(errors, key=lambda error: error.field)


def _restricted(schema: Obj, fields: tuple[str, ...] | None) -> Obj:
    """The root schema with only ``fields`` among its properties and required names."""
    if fields is None:
        return schema
    restricted = dict(schema)
    restricted["properties"] = {
        k: v for k, v in schema.get("properties", {}).items() if k in fields
    }
    restricted["required"] = [name for name in schema.get("required", []) if name in fields]
    return restricted


def _compile(schema: Obj, fields: tuple[str, ...] | None) -> jsonschema.Draft4Validator:
    translated = _to_json_schema(_restricted(schema, fields))
    for name in _ROOT_FIELDS:
        translated.get("properties", {}).pop(name, None)
    translated["required"] = [n for n in translated.get("required", []) if n not in _ROOT_FIELDS]
    return jsonschema.Draft4Validator(translated)
