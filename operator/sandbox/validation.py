"""Validation of custom resources against their CRD, as the API server does it.

For one CRD version's ``openAPIV3Schema``: find (and prune or report) fields
the schema does not declare, drop the nulls of fields that are not nullable
and have no default, apply ``default`` values (in place of such a null too),
check the schema with ``jsonschema``, then evaluate ``x-kubernetes-validations``
CEL rules with the ``cel`` package (common-expression-language). Rules that mention ``oldSelf``
are transition rules: they run only on update and only where the old object
has a value at the same place, as in Kubernetes.

Every finding is a :class:`FieldError` with the dotted field path a real API
server would name (``spec.exchange.account``), so kubectl prints it.
"""

from __future__ import annotations

import copy
import datetime
import json
import re
from collections.abc import Iterator, Sequence
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
        if key_type == "string" and schema.get("format"):
            # kube-openapi skips its type and format checks for a list where a string
            # with a format belongs: kube-apiserver stores it (a CEL rule can refuse it).
            result["type"] = [key_type, "array"]
        if schema.get("nullable"):
            result["type"] = [*_as_list(result.get("type", key_type)), "null"]
        if schema.get("x-kubernetes-int-or-string"):
            result.pop("type", None)
    if schema.get("x-kubernetes-int-or-string"):
        result["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    return result


def _non_nullable_null(schema: Obj | None, value: Any) -> bool:
    return value is None and schema is not None and not schema.get("nullable")


def apply_defaults(schema: Obj, value: Any) -> Any:
    """Fill in schema ``default`` values where a field is absent or a null it may not hold.

    Returns a new value. As kube-apiserver's structural defaulting: a null where the
    schema is not ``nullable`` counts as absent when there is a default to put there.
    """
    if isinstance(value, dict) and "properties" in schema:
        result = dict(value)
        for key, sub in schema["properties"].items():
            if "default" in sub and (key not in result or _non_nullable_null(sub, result[key])):
                result[key] = copy.deepcopy(sub["default"])
            if key in result and result[key] is not None:
                result[key] = apply_defaults(sub, result[key])
        return result
    if isinstance(value, dict) and isinstance(schema.get("additionalProperties"), dict):
        return {
            k: apply_defaults(schema["additionalProperties"], _defaulted_null(schema, v))
            for k, v in value.items()
        }
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        items = schema["items"]
        return [apply_defaults(items, _defaulted_null(items, item)) for item in value]
    return value


def _defaulted_null(schema: Obj, value: Any) -> Any:
    """A map value's or list item's null replaced by the default, where it may not be null."""
    if _non_nullable_null(schema, value) and "default" in schema:
        return copy.deepcopy(schema["default"])
    return value


def prune_nulls(schema: Obj, value: Any) -> Any:
    """The value without the nulls of fields that are not nullable and have no default.

    kube-apiserver drops them when it decodes a custom resource
    (``PruneNonNullableNullsWithoutDefaults``): ``paused: null`` is as if unset,
    ``symbol: null`` then a missing required field. A null list item stays (and is
    then refused by its type); a null under a nullable field stays.
    """
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            sub = _property_schema(schema, key)
            if _non_nullable_null(sub, item) and "default" not in (sub or {}):
                continue
            result[key] = prune_nulls(sub, item) if sub is not None else item
        return result
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [prune_nulls(schema["items"], item) for item in value]
    return value


def _property_schema(schema: Obj, key: str) -> Obj | None:
    properties = schema.get("properties") or {}
    if key in properties:
        sub: Obj = properties[key]
        return sub
    additional = schema.get("additionalProperties")
    return additional if isinstance(additional, dict) else None


def go_numbers(value: Any) -> Any:
    """Whole floats as integers, as kube-apiserver stores them.

    It decodes a JSON number into a float64 and Go's encoder writes a whole one
    below 1e21 without a fraction: ``1000.0`` is stored (and read back) as ``1000``,
    so it is an ``integer`` for the schema too.
    """
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    if isinstance(value, dict):
        return {key: go_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [go_numbers(item) for item in value]
    return value


def _unknown(
    schema: Obj, value: Any, parts: tuple[str | int, ...], root: bool
) -> Iterator[tuple[str | int, ...]]:
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return
    if isinstance(value, dict) and "properties" in schema:
        for key, sub_value in value.items():
            if root and key in _ROOT_FIELDS:
                continue  # type and object meta are the API server's own
            sub = schema["properties"].get(key)
            if sub is None:
                yield (*parts, key)
            else:
                yield from _unknown(sub, sub_value, (*parts, key), False)
    elif isinstance(value, dict) and isinstance(schema.get("additionalProperties"), dict):
        for key, sub_value in value.items():
            yield from _unknown(schema["additionalProperties"], sub_value, (*parts, key), False)
    elif isinstance(value, dict) and not isinstance(schema.get("additionalProperties"), bool):
        # An object where the schema declares no fields (a scalar, say): every field of it
        # is unknown, as kube-apiserver's pruning finds ('unknown field "spec.expiresAt.a"').
        for key in value:
            yield (*parts, key)
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
    "minItems": "should have at least {} items",
    "minProperties": "should have at least {} properties",
    "multipleOf": "should be a multiple of {}",
    "uniqueItems": "shouldn't contain duplicates",
}
# Errors after which kube-apiserver does not evaluate CEL rules (hasBlockingErr).
_BLOCKING = frozenset(
    {
        "FieldValueNotSupported",
        "FieldValueRequired",
        "FieldValueTooLong",
        "FieldValueTooMany",
        "FieldValueTypeInvalid",
    }
)
# kube-openapi checks a string's maxLength, minLength and pattern in this order and
# stops at the first that fails.
_STRING_CHECKS = ("maxLength", "minLength", "pattern")
_NOT_CHECKED = FieldError(
    "<nil>",
    "FieldValueInvalid",
    "Invalid value: null: some validation rules were not checked because the object was "
    "invalid; correct the existing errors to complete validation",
)


# apimachinery's IsDNS1123Subdomain, the name rule of every custom resource.
_DNS1123_SUBDOMAIN_MAX = 253
_DNS1123_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = re.compile(f"^{_DNS1123_LABEL}(\\.{_DNS1123_LABEL})*$")
_DNS1123_SUBDOMAIN_TEXT = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
    "'-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "
    f"regex used for validation is '{_DNS1123_LABEL}(\\.{_DNS1123_LABEL})*')"
)


def _subdomain_messages(value: str, prefix: bool) -> list[str]:
    if prefix and len(value) > 1 and value.endswith("-"):
        value = value[:-1] + "a"  # a generateName may end in a dash (maskTrailingDash)
    messages = []
    if len(value) > _DNS1123_SUBDOMAIN_MAX:
        messages.append(f"must be no more than {_DNS1123_SUBDOMAIN_MAX} characters")
    if _DNS1123_SUBDOMAIN.match(value) is None:
        messages.append(_DNS1123_SUBDOMAIN_TEXT)
    return messages


def _invalid(path: str, value: object, message: str) -> FieldError:
    """A FieldValueInvalid finding as apimachinery words it: the value as JSON, then why."""
    return FieldError(path, "FieldValueInvalid", f"Invalid value: {json.dumps(value)}: {message}")


def name_errors(metadata: Obj) -> list[FieldError]:
    """What kube-apiserver finds in a new custom resource's name (ValidateObjectMetaAccessor).

    The name (generated already, when only generateName was given) must be a DNS
    subdomain, as must the generateName with a trailing dash; no name at all is
    a required value (which blocks the CEL rules).
    """
    errors = []
    generate_name = metadata.get("generateName") or ""
    for message in _subdomain_messages(generate_name, prefix=True) if generate_name else []:
        errors.append(_invalid("metadata.generateName", generate_name, message))
    name = metadata.get("name") or ""
    if not name:
        errors.append(
            FieldError(
                "metadata.name",
                "FieldValueRequired",
                "Required value: name or generateName is required",
            )
        )
    for message in _subdomain_messages(name, prefix=False) if name else []:
        errors.append(_invalid("metadata.name", name, message))
    return errors


# apimachinery's label key (a qualified name) and label value rules.
_LABEL_KEY = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_KEY_TEXT = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
    "an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    f"validation is '{_LABEL_KEY}')"
)
_LABEL_VALUE_TEXT = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    f"'my_value',  or '12345', regex used for validation is '({_LABEL_KEY})?')"
)
_LABEL_MAX = 63


def _label_key_messages(key: str) -> list[str]:
    parts = key.split("/")
    if len(parts) > 2:
        return [
            f"a valid label key {_LABEL_KEY_TEXT} with an optional DNS subdomain prefix and "
            "'/' (e.g. 'example.com/MyName')"
        ]
    messages = []
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            messages.append("prefix part must be non-empty")
        else:
            messages += [
                "prefix part " + m.replace("characters", "bytes")
                for m in _subdomain_messages(prefix, prefix=False)
            ]
    name = parts[-1]
    if not name:
        messages.append("name part must be non-empty")
    elif len(name) > _LABEL_MAX:
        messages.append(f"name part must be no more than {_LABEL_MAX} bytes")
    if re.fullmatch(_LABEL_KEY, name) is None:
        messages.append(f"name part {_LABEL_KEY_TEXT}")
    return messages


def _label_value_messages(value: str) -> list[str]:
    messages = []
    if len(value) > _LABEL_MAX:
        messages.append(f"must be no more than {_LABEL_MAX} bytes")
    if re.fullmatch(f"({_LABEL_KEY})?", value) is None:
        messages.append(_LABEL_VALUE_TEXT)
    return messages


def label_errors(metadata: Obj) -> list[FieldError]:
    """What kube-apiserver finds in any object's labels and annotation keys (every write).

    A label key is a qualified name (an optional DNS subdomain prefix and '/', then up to
    63 alphanumerics, '-', '_' or '.'); a label value up to 63 of them or empty; an
    annotation key a qualified name in lower case.
    """
    errors = []
    for key, value in (metadata.get("labels") or {}).items():
        for message in _label_key_messages(str(key)):
            errors.append(_invalid("metadata.labels", key, message))
        for message in _label_value_messages(str(value if value is not None else "")):
            errors.append(_invalid("metadata.labels", value, message))
    for key in metadata.get("annotations") or {}:
        for message in _label_key_messages(str(key).lower()):
            errors.append(_invalid("metadata.annotations", key, message))
    return errors


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
    found = [_schema_error(error)]
    wanted = _as_list(error.validator_value)
    if error.validator == "type" and "integer" in wanted and isinstance(error.instance, float):
        # Its number check: a fraction does not fit an int64 either.
        found.append(_integer_range_error(_path(tuple(error.absolute_path))))
    return found


def _integer_range_error(path: str) -> FieldError:
    return FieldError(
        "<nil>",
        "FieldValueInvalid",
        f'Invalid value: "": Checked value must be of type integer (default format) in {path}',
    )


# The Go type names (and formats) kube-openapi's type check gives a decoded JSON value.
def _go_format(value: object) -> str:
    if isinstance(value, bool):
        return ""
    if isinstance(value, int):
        return "int64"
    return "float64" if isinstance(value, float) else ""


def _type_error(error: jsonschema.ValidationError, path: str) -> FieldError:
    """kube-openapi's type check: the schema's type (``nullable`` is no type of its own),
    or its format for a value of another type under a format (``date-time: "int64"``)."""
    wanted = [str(t) for t in _as_list(error.validator_value) if t != "null"]
    fmt = error.schema.get("format") if isinstance(error.schema, dict) else None
    if fmt and not isinstance(error.instance, str | list):
        actual = _go_format(error.instance)
        return FieldError(
            path,
            "FieldValueTypeInvalid",
            f'Invalid value: "{actual}": {path} in body must be of type {fmt}: "{actual}"',
        )
    actual = json_type(error.instance)
    return FieldError(
        path,
        "FieldValueTypeInvalid",
        f'Invalid value: "{actual}": {path} in body must be of type {",".join(wanted)}: "{actual}"',
    )


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
            found.append(_integer_range_error(path))
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
        return _type_error(error, path)
    if error.validator == "maxLength":
        # field.TooLong: no value shown, the limit in bytes.
        return FieldError(
            path,
            "FieldValueTooLong",
            f"Too long: may not be more than {error.validator_value} bytes",
        )
    if error.validator in ("maxItems", "maxProperties"):
        size = len(error.instance) if isinstance(error.instance, list | dict) else -1
        return FieldError(
            path,
            "FieldValueTooMany",
            f"Too many: {size}: must have at most {error.validator_value} items",
        )
    text = _KEYWORD_TEXT.get(str(error.validator))
    if text is not None:
        detail = f"{path} in body {text.format(error.validator_value)}"
    else:
        detail = f"{path} in body is invalid ({error.validator})"
    return FieldError(path, "FieldValueInvalid", f"Invalid value: {shown}: {detail}")


# strfmt's date-time (kube-openapi's IsDateTime): lower-cased and cut at each "t", the
# first part a full date (Go's 2006-01-02: real days only), the second a time with a
# zone; hours, minutes and seconds compared as strings, as strfmt does.
_FULL_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME_OF_DAY = re.compile(
    r"^([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))$"
)
_FORMATS = jsonschema.FormatChecker(formats=())


@_FORMATS.checks("date-time")
def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True  # the type check words a value that is no string
    if len(value) < 4:
        return False
    parts = value.lower().split("t")
    if len(parts) < 2 or not _is_full_date(parts[0]):
        return False
    time_of_day = _TIME_OF_DAY.match(parts[1])
    if time_of_day is None:
        return False
    hours, minutes, seconds = time_of_day.group(1, 2, 3)
    return hours <= "23" and minutes <= "59" and seconds <= "59"


def _is_full_date(text: str) -> bool:
    if _FULL_DATE.match(text) is None:
        return False
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        return False
    return True


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


def cel_view(schema: Obj, value: Any) -> Any:
    """The value as CEL rules see it: a null field of an object with properties is absent.

    kube-apiserver's CEL object (``unstructuredMap.Find``) treats a null-valued
    nullable field like an unset optional one: ``has(self.selector)`` is false for
    ``selector: null``. Map values (additionalProperties) and list items keep their nulls.
    """
    if isinstance(value, dict) and "properties" in schema:
        properties = schema["properties"]
        return {
            key: cel_view(properties[key], item) if key in properties else item
            for key, item in value.items()
            if item is not None
        }
    if isinstance(value, dict) and isinstance(schema.get("additionalProperties"), dict):
        return {key: cel_view(schema["additionalProperties"], v) for key, v in value.items()}
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [cel_view(schema["items"], item) for item in value]
    return value


def _is_transition(rule: str) -> bool:
    return "oldSelf" in rule


# The Go types a decoded JSON value has, as kube-apiserver's CEL names data it cannot read.
def _go_type(value: object) -> str:
    if isinstance(value, list):
        return "[]interface {}"
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, bool):
        return "bool"
    return "int64" if isinstance(value, int) else "float64"


def _go_date_time(text: str) -> datetime.datetime | str:
    """A date-time as CEL gets it (strfmt.ParseDateTime), or Go's reason it is none.

    Only text the format check passed comes here; Go's layouts want an upper-case
    ``T`` and ``Z`` where the format check took either case.
    """
    if len(text) > 10 and text[10] != "T":
        return f'parsing time "{text}" as "2006-01-02T15:04:05": cannot parse "{text[10:]}" as "T"'
    if text.endswith("z"):
        return f'parsing time "{text}": extra text: "z"'
    try:
        return datetime.datetime.fromisoformat(text)
    except ValueError as error:
        return f'parsing time "{text}": {error}'


def _cel_self(schema: Obj, value: Any) -> tuple[Any, str | None]:
    """``self`` as kube-apiserver's CEL reads it: a date-time a timestamp; or why it cannot.

    A value that is no string where the schema says string (a list the schema check
    let through under a format) is no CEL value: every rule on it fails to evaluate.
    Only a node's own ``self`` is converted; rules of a parent see the text.
    """
    if schema.get("type") != "string" or schema.get("x-kubernetes-int-or-string"):
        return value, None
    if not isinstance(value, str):
        return value, f"invalid data, expected string, got {_go_type(value)}"
    if schema.get("format") == "date-time":
        moment = _go_date_time(value)
        if isinstance(moment, str):
            return value, f"Invalid date-time formatted string {value}: {moment}"
        return moment, None
    return value, None


def _rule_text(rule_spec: Obj) -> str:
    """How an evaluation error names its rule: by the message when it has one (ruleErrorString)."""
    return str(rule_spec.get("message") or rule_spec["rule"]).strip()


def _evaluation_error(error: Exception, rule_spec: Obj) -> str:
    """cel-go's wording of a rule that could not be evaluated, as kube-apiserver adds to it."""
    named = _rule_text(rule_spec)
    if isinstance(error, KeyError):
        # A missing key is CEL's "no such key: NAME", as cel-go words it.
        return f"no such key: {error.args[0]} evaluating rule: {named}"
    if str(error).lower().startswith("no such overload"):
        return (
            "'no such overload': call arguments did not match a supported operator, function "
            f"or macro signature for rule: {named}"
        )
    return f"{error} evaluating rule: {named}"


def _cel_errors(
    schema: Obj, value: Any, old: Any, parts: tuple[str | int, ...], has_old: bool
) -> Iterator[FieldError]:
    # The value a CEL error names is the schema's type, as kube-apiserver reports it.
    kind = str(schema.get("type") or json_type(value))
    self_value, unreadable = _cel_self(schema, value)
    for rule_spec in schema.get("x-kubernetes-validations", []):
        rule = rule_spec["rule"]
        if _is_transition(rule) and not has_old:
            continue
        if unreadable is not None:
            yield FieldError(
                _path(parts),
                "FieldValueInvalid",
                f'Invalid value: "{kind}": {unreadable} evaluating rule: {_rule_text(rule_spec)}',
            )
            continue
        context: Obj = {"self": self_value}
        if has_old:
            context["oldSelf"] = _cel_self(schema, old)[0]
        try:
            ok = _program(rule).execute(context)
        except (ValueError, RuntimeError, TypeError, KeyError) as error:
            yield FieldError(
                _path(parts),
                "FieldValueInvalid",
                f'Invalid value: "{kind}": {_evaluation_error(error, rule_spec)}',
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

    def _status_errors(self, status: Any) -> Iterator[jsonschema.ValidationError]:
        compiled = self._compiled.get(("<status>",))
        if compiled is None:
            status_schema = (self.schema.get("properties") or {}).get("status") or {}
            compiled = jsonschema.Draft4Validator(
                _to_json_schema(status_schema), format_checker=_FORMATS
            )
            self._compiled[("<status>",)] = compiled
        if status is None:
            return iter(())
        return _first_string_errors(compiled, status)

    def default(self, obj: Obj) -> Obj:
        """The object as kube-apiserver decodes and defaults it: non-nullable nulls
        without a default dropped, schema defaults filled in, whole numbers integers."""
        result: Obj = go_numbers(apply_defaults(self.schema, prune_nulls(self.schema, obj)))
        return result

    def validate(
        self,
        obj: Obj,
        old: Obj | None,
        metadata_errors: Sequence[FieldError] = (),
        *,
        status_only: bool = False,
    ) -> list[FieldError]:
        """Metadata findings (given), schema findings, then CEL findings, each sorted by field.

        As kube-apiserver, CEL rules still run after schema errors, unless one of
        them leaves the object unfit for rules (a wrong type, a missing required
        field, a value outside an enum): then a last error says rules were not checked.

        On update, top-level fields the update leaves as they were are not checked
        again (Kubernetes' validation ratcheting): a finalizer or annotation patch
        costs no validation, a status write checks the status only.

        ``status_only`` (a write through /status): kube-apiserver checks the status
        against its own schema, so "in body" paths are relative to it and an error
        about no one field names ``status``.
        """
        checked = {k: v for k, v in obj.items() if k not in _ROOT_FIELDS}
        name = (obj.get("metadata") or {}).get("name")
        if old is None and name and _name_schema(self.schema):
            # A new object's name against the CRD's schema for it (a name cannot change).
            checked["metadata"] = {"name": name}
        errors = list(metadata_errors)
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
                return errors
            checked = {k: v for k, v in checked.items() if k in fields}
            schema = _restricted(schema, fields)
        if status_only:
            found = self._status_errors(checked.get("status"))
        else:
            found = _first_string_errors(self._validator(fields), checked)
        groups = [_schema_errors(e) for e in sorted(found, key=_walk_order)]
        errors += [
            _under_status(error) if status_only else error for group in groups for error in group
        ]
        errors += _list_type_errors(schema, checked, ())
        if any(error.reason in _BLOCKING for error in errors):
            return [*errors, _NOT_CHECKED]
        before = cel_view(self.schema, old) if old is not None else None
        rules = list(
            _cel_errors(schema, cel_view(self.schema, checked), before, (), old is not None)
        )
        return errors + sorted(rules, key=lambda error: error.field)


def _walk_order(error: jsonschema.ValidationError) -> tuple[tuple[int, str | int], ...]:
    """kube-openapi's order: an object's fields one by one, each with all it holds, then the
    object's missing required fields in the order the schema lists them. (It takes the
    fields in Go's map order, which varies; here they go by name.)"""
    where = tuple((0, part) for part in error.absolute_path)
    if error.validator == "required":
        missing = str(error.message).split("'")[1]
        listed = [str(name) for name in _as_list(error.validator_value)]
        return (*where, (1, listed.index(missing) if missing in listed else len(listed)))
    return where


def _under_status(error: FieldError) -> FieldError:
    """A finding of the status schema alone, placed under ``status`` as kube-apiserver does."""
    if error.field in ("<nil>", "<root>"):
        where = "status"
    elif error.field.startswith("["):
        where = f"status{error.field}"
    else:
        where = f"status.{error.field}"
    return FieldError(where, error.reason, error.message)


def _list_type_errors(schema: Obj, value: Any, parts: tuple[str | int, ...]) -> list[FieldError]:
    """Duplicates in lists of x-kubernetes-list-type map (by their keys) or set, worded as
    kube-apiserver's ValidateListSetsAndMaps: ``status.conditions[1]: Duplicate value:
    {"type":"Ready"}``. They do not keep the CEL rules from running."""
    found: list[FieldError] = []
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        for key, item in value.items():
            sub = properties.get(key) if key in properties else additional
            if isinstance(sub, dict):
                found += _list_type_errors(sub, item, (*parts, key))
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        kind = schema.get("x-kubernetes-list-type")
        keys = schema.get("x-kubernetes-list-map-keys") or []
        seen: list[Any] = []
        for index, item in enumerate(value):
            if kind == "map" and isinstance(item, dict):
                identity: Any = {key: item.get(key) for key in keys if key in item}
            elif kind == "set":
                identity = item
            else:
                identity = None
            if identity is not None and identity in seen:
                shown = json.dumps(identity, separators=(",", ":"), sort_keys=True)
                found.append(
                    FieldError(
                        _path((*parts, index)), "FieldValueDuplicate", f"Duplicate value: {shown}"
                    )
                )
            elif identity is not None:
                seen.append(identity)
            found += _list_type_errors(schema["items"], item, (*parts, index))
    return found


def _name_schema(schema: Obj) -> bool:
    """Whether the CRD says more about an object's name than kube-apiserver's own rules."""
    metadata = (schema.get("properties") or {}).get("metadata") or {}
    return "name" in (metadata.get("properties") or {})


def _first_string_errors(
    validator: jsonschema.Draft4Validator, value: Obj
) -> Iterator[jsonschema.ValidationError]:
    """The schema errors, but of a string's length and pattern checks only the first."""
    seen: set[tuple[str | int, ...]] = set()
    errors = list(validator.iter_errors(value))
    order = {name: index for index, name in enumerate(_STRING_CHECKS)}
    for error in sorted(errors, key=lambda e: order.get(str(e.validator), -1)):
        if error.validator in order:
            where = tuple(error.absolute_path)
            if where in seen:
                continue
            seen.add(where)
        yield error


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
    for name in _ROOT_FIELDS - {"metadata"}:
        translated.get("properties", {}).pop(name, None)
    if not _name_schema(schema):
        translated.get("properties", {}).pop("metadata", None)
    translated["required"] = [n for n in translated.get("required", []) if n not in _ROOT_FIELDS]
    return jsonschema.Draft4Validator(translated, format_checker=_FORMATS)


def _metadata_allowed(schema: Obj) -> bool:
    """Whether a root ``metadata`` schema says no more than kube-apiserver lets it say:
    its type, and schemas for name and generateName (which it checks the object by)."""
    if set(schema) - {"type", "properties"} or schema.get("type", "object") != "object":
        return False
    return set(schema.get("properties") or {}) <= {"name", "generateName"}


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
