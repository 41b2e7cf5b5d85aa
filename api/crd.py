"""The TradingBot CustomResourceDefinition, generated from the pydantic models.

The models in :mod:`tradewarden.api.tradingbot` are the one source of truth. This
module walks their JSON schema and rewrites it into a *structural* OpenAPI v3
schema as the Kubernetes API server wants it: ``$ref`` inlined, ``Optional``
turned into ``nullable``, draft-4 style exclusive bounds, no
``additionalProperties: false`` (the server prunes and, with strict field
validation, rejects unknown fields), free-form maps marked
``x-kubernetes-preserve-unknown-fields``, and the cross-field rules the models
cannot express per field as CEL ``x-kubernetes-validations``.

Decimal fields (prices, sizes, percentages) are ``x-kubernetes-int-or-string``:
people write ``"0.02"`` (exact) or a whole number such as ``2000``; a YAML float
such as ``0.02`` is refused because it has already lost its exactness on the
way in. The string form must be a plain decimal; bounds are CEL rules.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import BaseModel

from tradewarden.api.tradingbot import (
    API_GROUP,
    KIND,
    LOCAL_VENUE_URL,
    TradingBotSpec,
    TradingBotStatus,
)
from tradewarden.api.tradinghalt import HALT_KIND, TradingHaltSpec, TradingHaltStatus

VERSION = "v1alpha1"
PLURAL = "tradingbots"
SINGULAR = "tradingbot"
SHORT_NAMES = ("tb",)
CRD_NAME = f"{PLURAL}.{API_GROUP}"
CRD_FILE_NAME = f"{CRD_NAME}.yaml"

Schema = dict[str, Any]

_UNSIGNED_DECIMAL = r"^[0-9]+(\.[0-9]+)?$"
_SIGNED_DECIMAL = r"^-?[0-9]+(\.[0-9]+)?$"

_Rules = Mapping[str, list[Schema]]

# Cross-field rules, keyed by the dotted path of the object they sit on. A rule
# with ``oldSelf`` is a transition rule: it runs on updates only.
_RULES: _Rules = {
    "spec": [
        {
            "rule": "self.environment != 'prod' || self.risk.requireProtectiveStop",
            "message": "environment prod requires risk.requireProtectiveStop: true",
            "fieldPath": ".risk.requireProtectiveStop",
        },
        {
            # On spec, which is required, so the rule always has an old value on update.
            "rule": "self.symbol == oldSelf.symbol",
            "message": "symbol is immutable; create a new TradingBot for another symbol",
            "fieldPath": ".symbol",
        },
    ],
    "spec.exchange": [
        {
            # The same rule as the model's validator: live is everything but a
            # testnet or the simulator. A URL override replaces every endpoint, so
            # it alone decides: loopback or in-cluster (*.svc) only, else allowLive.
            "rule": (
                "(has(self.allowLive) && self.allowLive) || (has(self.urlOverride) ? "
                f"self.urlOverride.matches(r'{LOCAL_VENUE_URL}') : "
                "(!has(self.sandbox) || self.sandbox))"
            ),
            "message": (
                "a live venue (sandbox: false, or a urlOverride that is not loopback or "
                "in-cluster *.svc) needs allowLive: true"
            ),
            "fieldPath": ".allowLive",
        },
        {
            "rule": "self.id == oldSelf.id",
            "message": "exchange.id is immutable; create a new TradingBot for another venue",
            "fieldPath": ".id",
        },
        {
            "rule": "self.account == oldSelf.account",
            "message": "exchange.account is immutable; create a new TradingBot for another account",
            "fieldPath": ".account",
        },
    ],
    "spec.execution": [
        {
            "rule": "self.backoffBaseSeconds <= self.backoffMaxSeconds",
            "message": "execution.backoffBaseSeconds must not exceed backoffMaxSeconds",
            "fieldPath": ".backoffBaseSeconds",
        },
    ],
    "spec.guards.websocket": [
        {
            "rule": "self.backoffBaseSeconds <= self.backoffCapSeconds",
            "message": "guards.websocket.backoffBaseSeconds must not exceed backoffCapSeconds",
            "fieldPath": ".backoffBaseSeconds",
        },
    ],
    "spec.emergencyStop": [
        {
            "rule": "self.action in ['ReduceOnly', 'Halt', 'Flatten']",
            "message": "emergencyStop.action must be one of ReduceOnly, Halt, Flatten",
            "fieldPath": ".action",
        },
    ],
}

# Lists keyed by a field, so server-side apply merges them item by item.
_MAP_LISTS: dict[str, str] = {"status.conditions": "type"}

_COPIED_VALIDATIONS = (
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "enum",
    "format",
)


class SchemaError(ValueError):
    """The models cannot be turned into a structural schema (e.g. a field lacks a description)."""


def _resolve(node: Mapping[str, Any], defs: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = node.get("$ref")
    if ref is None and len(node.get("allOf", ())) == 1:
        ref = node["allOf"][0].get("$ref")
    if ref is None:
        return node
    target = defs[str(ref).rsplit("/", 1)[-1]]
    # Field-level keys (description, default) win over the referenced class's.
    merged = {**target, **{k: v for k, v in node.items() if k not in ("$ref", "allOf")}}
    return merged


def _is_decimal(options: list[Mapping[str, Any]]) -> bool:
    return sorted(str(option.get("type")) for option in options) == ["number", "string"]


def _bound_rules(number: Mapping[str, Any]) -> list[Schema]:
    checks = []
    for key, operator in (
        ("exclusiveMinimum", ">"),
        ("minimum", ">="),
        ("exclusiveMaximum", "<"),
        ("maximum", "<="),
    ):
        if key in number:
            checks.append((operator, float(number[key])))
    return [
        {
            "rule": f"double(string(self)) {operator} {bound!r}",
            "message": f"must be {operator} {bound:g}",
        }
        for operator, bound in checks
    ]


def _decimal(number: Mapping[str, Any]) -> Schema:
    lower = number.get("minimum", number.get("exclusiveMinimum"))
    schema: Schema = {
        "x-kubernetes-int-or-string": True,
        "anyOf": [{"type": "integer"}, {"type": "string"}],
        "pattern": _SIGNED_DECIMAL if lower is None or lower < 0 else _UNSIGNED_DECIMAL,
    }
    rules = _bound_rules(number)
    if rules:
        schema["x-kubernetes-validations"] = rules
    return schema


def _bounds(node: Mapping[str, Any], schema: Schema) -> None:
    # Pydantic writes JSON Schema 2020-12 bounds; OpenAPI v3.0 (and so Kubernetes)
    # wants a boolean exclusive flag next to minimum/maximum.
    for plain, exclusive in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
        if exclusive in node:
            schema[plain] = node[exclusive]
            schema[exclusive] = True
        elif plain in node:
            schema[plain] = node[plain]


def _convert(node: Mapping[str, Any], defs: Mapping[str, Any], path: str, rules: _Rules) -> Schema:
    node = _resolve(node, defs)
    description = node.get("description")
    if not description:
        raise SchemaError(f"{path}: every field needs a description (Field(description=...))")
    nullable = False
    if "anyOf" in node:
        options = [_resolve(option, defs) for option in node["anyOf"]]
        nullable = any(option.get("type") == "null" for option in options)
        options = [option for option in options if option.get("type") != "null"]
        if _is_decimal(options):
            number = next(option for option in options if option["type"] == "number")
            schema = _decimal(number)
        elif len(options) == 1:
            inner = {**options[0], "description": description}
            if "default" in node:
                inner["default"] = node["default"]
            schema = _convert(inner, defs, path, rules)
            if nullable:
                schema["nullable"] = True
            return schema
        else:
            raise SchemaError(f"{path}: a union the CRD cannot express: {node['anyOf']}")
    else:
        schema = _convert_typed(node, defs, path, rules)
    schema["description"] = description
    if nullable:
        schema["nullable"] = True
    if node.get("default") is not None:
        schema["default"] = node["default"]
    if path in rules:
        schema.setdefault("x-kubernetes-validations", []).extend(copy.deepcopy(rules[path]))
    if path in _MAP_LISTS:
        schema["x-kubernetes-list-type"] = "map"
        schema["x-kubernetes-list-map-keys"] = [_MAP_LISTS[path]]
    # Type and description first: the order people read them in the YAML.
    leading: Schema = {key: schema.pop(key) for key in ("type", "description") if key in schema}
    return {**leading, **schema}


def _convert_typed(
    node: Mapping[str, Any], defs: Mapping[str, Any], path: str, rules: _Rules
) -> Schema:
    kind = node.get("type")
    if kind is None and "enum" in node:
        kind = "string"
    if kind is None:
        raise SchemaError(f"{path}: no type in {node}")
    schema: Schema = {"type": kind}
    for key in _COPIED_VALIDATIONS:
        if key in node:
            schema[key] = node[key]
    _bounds(node, schema)
    if kind == "object":
        _convert_object(node, defs, path, schema, rules)
    elif kind == "array":
        schema["items"] = _convert(
            {"description": f"An item of {path}.", **_resolve(node["items"], defs)},
            defs,
            f"{path}[]",
            rules,
        )
    return schema


def _convert_object(
    node: Mapping[str, Any], defs: Mapping[str, Any], path: str, schema: Schema, rules: _Rules
) -> None:
    properties = node.get("properties", {})
    required = set(node.get("required", ()))
    if not properties:
        extra = node.get("additionalProperties", True)
        if extra is True:
            schema["x-kubernetes-preserve-unknown-fields"] = True
        else:
            schema["additionalProperties"] = _convert(
                {"description": f"A value of {path}.", **_resolve(extra, defs)},
                defs,
                f"{path}.*",
                rules,
            )
        return
    converted: Schema = {}
    for name, field in properties.items():
        child = _convert(field, defs, f"{path}.{name}", rules)
        if child.get("type") == "object" and name not in required and "default" not in field:
            # A nested settings block made by default_factory: default it to the block
            # with every field's default (what ``kubectl get -o yaml`` then shows). Not
            # to {}: kube-apiserver evaluates the block's CEL rules on the default value
            # as written, and a rule reading a field of {} fails the CRD at admission.
            child["default"] = _object_default(child)
        converted[name] = child
    schema["properties"] = converted
    if required:
        schema["required"] = [name for name in properties if name in required]


def _object_default(schema: Mapping[str, Any]) -> Schema:
    """The object of every property that has a default (nested blocks already have theirs)."""
    properties: Mapping[str, Any] = schema.get("properties", {})
    return {
        name: copy.deepcopy(child["default"])
        for name, child in properties.items()
        if "default" in child
    }


def _model_schema(model: type[BaseModel], path: str, rules: _Rules) -> Schema:
    document = model.model_json_schema(by_alias=True)
    defs = document.get("$defs", {})
    return _convert(document, defs, path, rules)


@dataclass(frozen=True)
class CrdKind:
    """One custom resource kind: its names, scope, models, CEL rules and printer columns."""

    kind: str
    plural: str
    singular: str
    short_names: tuple[str, ...]
    scope: str
    description: str
    spec: type[BaseModel]
    status: type[BaseModel]
    rules: _Rules
    printer_columns: tuple[Schema, ...]
    # Category names (``all``: listed by ``kubectl get all``).
    categories: tuple[str, ...] = ()
    # What the object's name must be beyond a DNS subdomain (kube-apiserver takes a
    # schema for metadata.name, and nothing else, on the root metadata).
    name_schema: Schema | None = None

    @property
    def crd_name(self) -> str:
        """``plural.group``, the CustomResourceDefinition's name."""
        return f"{self.plural}.{API_GROUP}"

    @property
    def file_name(self) -> str:
        """The checked-in file under ``crds/``."""
        return f"{self.crd_name}.yaml"


# A TradingBot's name is in its children's names and labels, which kube-apiserver checks
# harder than the TradingBot's own (a DNS subdomain of up to 253 characters). Its Service
# tb-NAME must be a DNS-1035 label (no dots, at most 63 characters), and its StatefulSet's
# pod carries the label controller-revision-hash: tb-NAME-<hash of up to 10 characters>
# (at most 63). A longer name or a dot left the bot on a real server without a Service or
# without a pod, its reconcile failing every 5 seconds.
BOT_NAME_MAX_LENGTH = 63 - len("tb-") - len("-") - 10
BOT_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"

TRADING_BOT = CrdKind(
    kind=KIND,
    plural=PLURAL,
    singular=SINGULAR,
    short_names=SHORT_NAMES,
    categories=("all",),
    scope="Namespaced",
    description="A crypto trading bot that the Tradewarden operator runs and keeps safe.",
    spec=TradingBotSpec,
    status=TradingBotStatus,
    rules=_RULES,
    name_schema={
        "type": "string",
        "description": "The bot's name: its children are named tb-NAME.",
        "maxLength": BOT_NAME_MAX_LENGTH,
        "pattern": BOT_NAME_PATTERN,
    },
    printer_columns=(
        {"name": "Exchange", "type": "string", "jsonPath": ".spec.exchange.id"},
        {"name": "Symbol", "type": "string", "jsonPath": ".spec.symbol"},
        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
        {"name": "Mode", "type": "string", "jsonPath": ".status.tradingMode"},
        {
            "name": "Ready",
            "type": "string",
            "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
        },
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        {
            "name": "Reason",
            "type": "string",
            "priority": 1,
            "jsonPath": ".status.lastFlip.reason",
        },
        {
            "name": "Position",
            "type": "string",
            "priority": 1,
            "jsonPath": ".status.bot.position",
        },
        {
            "name": "OnDelete",
            "type": "string",
            "priority": 1,
            "jsonPath": ".spec.deletionPolicy",
        },
    ),
)

HALT_PLURAL = "tradinghalts"


def _selector_present(field: str) -> str:
    return (
        f"(has(self.{field}) && ("
        f"(has(self.{field}.matchLabels) && size(self.{field}.matchLabels) > 0) || "
        f"(has(self.{field}.matchExpressions) && size(self.{field}.matchExpressions) > 0)))"
    )


_SCOPED = " || ".join(
    [
        "(has(self.namespaces) && size(self.namespaces) > 0)",
        _selector_present("namespaceSelector"),
        _selector_present("selector"),
    ]
)
_REQUIREMENT_RULES: list[Schema] = [
    {
        "rule": (
            "!(self.operator in ['In', 'NotIn']) || (has(self.values) && size(self.values) > 0)"
        ),
        "message": "values must be non-empty for operator In and NotIn",
        "fieldPath": ".values",
    },
    {
        "rule": "self.operator in ['In', 'NotIn'] || !has(self.values) || size(self.values) == 0",
        "message": "values must be empty for operator Exists and DoesNotExist",
        "fieldPath": ".values",
    },
]
_HALT_RULES: _Rules = {
    "spec": [
        {
            "rule": f"(has(self.allBots) && self.allBots) || {_SCOPED}",
            "message": (
                "no namespaces, namespaceSelector or selector given; "
                "set allBots: true to stop every bot"
            ),
            "fieldPath": ".allBots",
        },
        {
            "rule": f"!(has(self.allBots) && self.allBots) || !({_SCOPED})",
            "message": "allBots: true cannot be combined with namespaces or selectors",
            "fieldPath": ".allBots",
        },
        {
            "rule": "!has(oldSelf.release) || has(self.release)",
            "message": "a released TradingHalt stays released; create a new one",
            "fieldPath": ".release",
        },
    ],
    "spec.selector.matchExpressions[]": _REQUIREMENT_RULES,
    "spec.namespaceSelector.matchExpressions[]": _REQUIREMENT_RULES,
    # kube-apiserver's schema check lets a list through where a string with a format
    # belongs (kube-openapi skips both checks for a slice), and a halt whose expiresAt
    # is a list would be stored, unreadable to every bot: the red button pulled and
    # obeyed by none. A rule reads the value as a timestamp, which a list is not.
    "spec.expiresAt": [
        {
            "rule": "self > timestamp('1970-01-01T00:00:00Z')",
            "message": "must be an RFC 3339 time after 1970",
        }
    ],
}

TRADING_HALT = CrdKind(
    kind=HALT_KIND,
    plural=HALT_PLURAL,
    singular="tradinghalt",
    short_names=("th",),
    scope="Cluster",
    description=(
        "The desk's red button: stops every TradingBot it selects, "
        "and reports when the venue confirms it."
    ),
    spec=TradingHaltSpec,
    status=TradingHaltStatus,
    rules=_HALT_RULES,
    printer_columns=(
        {"name": "Action", "type": "string", "jsonPath": ".spec.action"},
        {"name": "State", "type": "string", "jsonPath": ".status.state"},
        {"name": "Matched", "type": "integer", "jsonPath": ".status.matched"},
        {"name": "Confirmed", "type": "integer", "jsonPath": ".status.confirmed"},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        {"name": "Reason", "type": "string", "priority": 1, "jsonPath": ".spec.reason"},
        {
            "name": "By",
            "type": "string",
            "priority": 1,
            "jsonPath": ".metadata.annotations.tradewarden\\.io/created-by",
        },
    ),
)

KINDS = (TRADING_BOT, TRADING_HALT)


def openapi_schema(kind: CrdKind = TRADING_BOT) -> Schema:
    """The structural ``openAPIV3Schema`` of a TradingBot (or another ``kind``)."""
    spec = _model_schema(kind.spec, "spec", kind.rules)
    status = _model_schema(kind.status, "status", kind.rules)
    return {
        "type": "object",
        "description": kind.description,
        "required": ["spec"],
        "properties": {
            "apiVersion": {
                "type": "string",
                "description": "APIVersion defines the versioned schema of this object.",
            },
            "kind": {
                "type": "string",
                "description": "Kind is the REST resource this object represents.",
            },
            # The type, and at most a schema for the name: kube-apiserver refuses any
            # other key on root metadata.
            "metadata": (
                {"type": "object", "properties": {"name": kind.name_schema}}
                if kind.name_schema is not None
                else {"type": "object"}
            ),
            "spec": spec,
            "status": status,
        },
    }


def custom_resource_definition(kind: CrdKind = TRADING_BOT) -> Schema:
    """The whole ``apiextensions.k8s.io/v1`` CustomResourceDefinition object."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": kind.crd_name},
        "spec": {
            "group": API_GROUP,
            "scope": kind.scope,
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "singular": kind.singular,
                "shortNames": list(kind.short_names),
                **({"categories": list(kind.categories)} if kind.categories else {}),
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [dict(c) for c in kind.printer_columns],
                    "schema": {"openAPIV3Schema": openapi_schema(kind)},
                }
            ],
        },
    }


class _PlainDumper(yaml.SafeDumper):
    """Writes a repeated node (one enum in two selectors) out in full, never as an alias."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def render_yaml(kind: CrdKind = TRADING_BOT) -> str:
    """The CRD as the YAML document checked in under ``crds/``."""
    source = "api/tradingbot.py" if kind is TRADING_BOT else "api/tradinghalt.py"
    header = f"# Generated by `tradewarden crds` from {source}. Do not edit.\n"
    body = yaml.dump(
        custom_resource_definition(kind), Dumper=_PlainDumper, sort_keys=False, width=100
    )
    return header + body


def validation_schema(schema: Mapping[str, Any] | None = None) -> Schema:
    """A JSON Schema (draft 4) equivalent of the CRD schema for offline validation.

    ``nullable`` becomes a ``null`` type and objects with declared properties are
    closed, as the API server's strict field validation would treat them. CEL
    rules are not part of it (evaluate them separately).
    """
    source = openapi_schema() if schema is None else schema
    closed = _closed(source)
    # The root metadata is an ObjectMeta: its schema here only narrows the name.
    closed.get("properties", {}).get("metadata", {}).pop("additionalProperties", None)
    return closed


def _closed(node: Mapping[str, Any]) -> Schema:
    result: Schema = {}
    for key, value in node.items():
        if key == "properties":
            result[key] = {name: _closed(child) for name, child in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, Mapping):
            result[key] = _closed(value)
        elif key == "anyOf":
            result[key] = [_closed(option) for option in value]
        elif key in ("nullable", "x-kubernetes-validations") or key.startswith("x-kubernetes-"):
            continue
        else:
            result[key] = value
    if node.get("nullable") and "type" in result:
        result["type"] = [result["type"], "null"]
    if node.get("nullable") and "anyOf" in result:
        result["anyOf"] = [*result["anyOf"], {"type": "null"}]
    if node.get("nullable") and "enum" in result:
        result["enum"] = [*result["enum"], None]
    if "properties" in node and node.get("type") == "object":
        result["additionalProperties"] = False
    return result
