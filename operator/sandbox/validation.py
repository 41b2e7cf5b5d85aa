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
import re
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


# kube-openapi's wording of a failed keyword: "<path> in body <text>".
_KEYWORD_TEXT = {
    "pattern": "should match '{}'",
    "minimum": "should be greater than or equal to {}",
    "maximum": "should be less than or equal to {}",
    "exclusiveMinimum": "should be greater than {}",
    "exclusiveMaximum": "should be less than {}",
    "minLength": "should be at least {} chars long",
    "maxLength": "should be at most {} chars long",
    "minItems": "should have at least {} items",
    "maxItems": "should have at most {} items",
    "minProperties": "should have at least {} properties",
    "maxProperties": "should have at most {} properties",
    "multipleOf": "should be a multiple of {}",
    "uniqueItems": "shouldn't contain duplicates",
}
# Errors after which kube-apiserver does not evaluate CEL rules (hasBlockingErr).
_BLOCKING = frozenset({"FieldValueNotSupported", "FieldValueRequired", "FieldValueTypeInvalid"})
_NOT_CHECKED = FieldError(
    "<nil>",
    "FieldValueInvalid",
    "Invalid value: null: some validation rules were not checked because the object was "
    "invalid; correct the existing errors to complete validation",
)


def json_type(value: object) -> str:
    """The OpenAPI type name of a JSON value, as Kubernetes messages name it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _schema_errors(error: jsonschema.ValidationError) -> list[FieldError]:
    """The causes kube-apiserver lists for one failed keyword, in its order."""
    if error.validator == "anyOf":
        return _any_of_errors(error)
    return [_schema_error(error)]


def _any_of_errors(error: jsonschema.ValidationError) -> list[FieldError]:
    """A value no branch of an ``anyOf`` admits, worded as kube-openapi words it.

    The union's types, then the anyOf itself, then the first branch's own
    findings (for an int-or-string decimal given a float: "must be of type
    integer" and the integer format check), as a v1.36 server lists them.
    """
    path = _path(tuple(error.absolute_path))
    actual = json_type(error.instance)
    branches = _as_list(error.validator_value)
    types = [str(b["type"]) for b in branches if isinstance(b, dict) and "type" in b]
    found = [
        FieldError(
            path,
            "FieldValueTypeInvalid",
            f'Invalid value: "{actual}": {path} in body must be of type '
            f'{",".join(types)}: "{actual}"',
        ),
        FieldError(
            "<nil>",
            "FieldValueInvalid",
            f'Invalid value: "": "{path}" must validate at least one schema (anyOf)',
        ),
    ]
    if types:
        first = types[0]
        found.append(
            FieldError(
                path,
                "FieldValueTypeInvalid",
                f'Invalid value: "{actual}": {path} in body must be of type {first}: "{actual}"',
            )
        )
        if first == "integer":
            found.append(
                FieldError(
                    "<nil>",
                    "FieldValueInvalid",
                    'Invalid value: "": Checked value must be of type integer (default format) '
                    f"in {path}",
                )
            )
    return found


def _schema_error(error: jsonschema.ValidationError) -> FieldError:
    parts = tuple(error.absolute_path)
    path = _path(parts)
    shown = json.dumps(error.instance)[:120]
    if error.validator == "required":
        missing = str(error.message).split("'")[1]
        return FieldError(_path((*parts, missing)), "FieldValueRequired", "Required value")
    if error.validator == "enum":
        allowed = ", ".join(json.dumps(v) for v in _as_list(error.validator_value))
        return FieldError(
            path,
            "FieldValueNotSupported",
            f"Unsupported value: {shown}: supported values: {allowed}",
        )
    if error.validator == "format":
        return FieldError(
            path,
            "FieldValueTypeInvalid",
            f"Invalid value: {shown}: {path} in body must be of type "
            f"{error.validator_value}: {shown}",
        )
    if error.validator == "type":
        actual = json_type(error.instance)
        return FieldError(
            path,
            "FieldValueTypeInvalid",
            f'Invalid value: "{actual}": {path} in body must be of type '
            f'{error.validator_value}: "{actual}"',
        )
    text = _KEYWORD_TEXT.get(str(error.validator))
    if text is not None:
        detail = f"{path} in body {text.format(error.validator_value)}"
    else:
        detail = f"{path} in body is invalid ({error.validator})"
    return FieldError(path, "FieldValueInvalid", f"Invalid value: {shown}: {detail}")


# strfmt's date-time (RFC 3339), the one format our CRDs declare.
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?$")
_FORMATS = jsonschema.FormatChecker(formats=())


@_FORMATS.checks("date-time")
def _is_date_time(value: object) -> bool:
    return not isinstance(value, str) or _DATE_TIME.match(value) is not None


def _shown(value: object) -> str:
    """How kube-apiserver shows a failed rule's value: a scalar quoted, an object omitted."""
    if isinstance(value, dict | list):
        return ""
    return f"{json.dumps(value)}: "


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
    # The value a CEL error names is the schema's type, as kube-apiserver reports it.
    kind = str(schema.get("type") or json_type(value))
    for rule_spec in schema.get("x-kubernetes-validations", []):
        rule = rule_spec["rule"]
        if _is_transition(rule) and not has_old:
            continue
        context: Obj = {"self": value}
        if has_old:
            context["oldSelf"] = old
        try:
            ok = _program(rule).execute(context)
        except (ValueError, RuntimeError, TypeError, KeyError) as error:
            # A missing key is CEL's "no such key: NAME", as cel-go words it.
            detail = f"no such key: {error.args[0]}" if isinstance(error, KeyError) else error
            yield FieldError(
                _path(parts),
                "FieldValueInvalid",
                f'Invalid value: "{kind}": {detail} evaluating rule: {rule}',
            )
            continue
        if ok is not True:
            message = rule_spec.get("message") or f"failed rule: {rule}"
            where = parts + tuple(p for p in rule_spec.get("fieldPath", "").split(".") if p)
            reason = rule_spec.get("reason", "FieldValueInvalid")
            yield FieldError(_path(where), reason, f"Invalid value: {_shown(value)}{message}")
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
        """Schema findings, then CEL findings, each sorted by field.

        As kube-apiserver, CEL rules still run after schema errors, unless one of
        them leaves the object unfit for rules (a wrong type, a missing required
        field, a value outside an enum): then a last error says rules were not checked.

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
        groups = sorted(
            (_schema_errors(e) for e in self._validator(fields).iter_errors(checked)),
            key=lambda group: group[0].field,
        )
        errors = [error for group in groups for error in group]
        if any(error.reason in _BLOCKING for error in errors):
            return [*errors, _NOT_CHECKED]
        rules = list(_cel_errors(schema, checked, old, (), old is not None))
        return errors + sorted(rules, key=lambda error: error.field)


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
    return jsonschema.Draft4Validator(translated, format_checker=_FORMATS)


def _metadata_allowed(schema: Obj) -> bool:
    """Whether a root ``metadata`` schema says no more than kube-apiserver lets it say."""
    if set(schema) - {"type", "properties"} or schema.get("type", "object") != "object":
        return False
    for key, sub in (schema.get("properties") or {}).items():
        if key not in ("name", "generateName") or set(sub) - {"type"}:
            return False
        if sub.get("type", "string") != "string":
            return False
    return True


def _node_errors(schema: Obj, path: str, uncorrelatable: str | None) -> Iterator[FieldError]:
    """Transition rules out of reach of oldSelf, and defaults the node's own rules refuse."""
    for index, rule_spec in enumerate(schema.get("x-kubernetes-validations") or []):
        rule = str(rule_spec.get("rule", ""))
        if _is_transition(rule) and uncorrelatable is not None:
            yield FieldError(
                f"{path}.x-kubernetes-validations[{index}].rule",
                "FieldValueInvalid",
                f"Invalid value: {json.dumps(rule)}: oldSelf cannot be used on the "
                f"uncorrelatable portion of the schema within {uncorrelatable}",
            )
    if "default" in schema:
        # kube-apiserver runs the rules on the default as written when it takes the CRD.
        for error in _cel_errors(schema, schema["default"], None, (), False):
            yield FieldError(f"{path}.default", error.reason, error.message)
    for key, sub in (schema.get("properties") or {}).items():
        yield from _node_errors(sub, f"{path}.properties[{key}]", uncorrelatable)
    if isinstance(schema.get("additionalProperties"), dict):
        yield from _node_errors(
            schema["additionalProperties"], f"{path}.additionalProperties", uncorrelatable
        )
    if isinstance(schema.get("items"), dict):
        items = f"{path}.items"
        # Only the items of a list-type map correlate with the old object's.
        keyed = schema.get("x-kubernetes-list-type") == "map"
        yield from _node_errors(
            schema["items"], items, uncorrelatable or (None if keyed else items)
        )


def crd_schema_errors(crd: Obj) -> list[FieldError]:
    """What kube-apiserver refuses in a CRD's version schemas that the sandbox checks.

    The root ``metadata`` may only restrict name and generateName to strings
    (``type: object`` and nothing else, no description: metadata is implicit);
    a transition rule (``oldSelf``) may not sit under a list that is not a
    ``x-kubernetes-list-type: map``; a node's rules must accept its default.
    """
    errors = []
    for index, version in enumerate((crd.get("spec") or {}).get("versions") or []):
        root = f"spec.versions[{index}].schema.openAPIV3Schema"
        schema = ((version.get("schema") or {}).get("openAPIV3Schema")) or {}
        metadata = (schema.get("properties") or {}).get("metadata")
        if metadata is not None and not _metadata_allowed(metadata):
            errors.append(
                FieldError(
                    f"{root}.properties[metadata]",
                    "FieldValueForbidden",
                    "Forbidden: must not specify anything other than name and generateName, "
                    "but metadata is implicitly specified",
                )
            )
        errors.extend(_node_errors(schema, root, None))
    return errors
