"""The generated TradingBot CRD: fresh on disk, structural, and agreeing with the models."""

from __future__ import annotations

import copy
import io
from collections.abc import Iterator, Mapping
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import cel
import jsonschema
import kubernetes_validate
import pytest
import yaml
from pydantic import BaseModel, ValidationError

from tests.support.manifests import example_manifest
from tradewarden.api.crd import (
    KINDS,
    TRADING_BOT,
    CrdKind,
    custom_resource_definition,
    openapi_schema,
    render_yaml,
    validation_schema,
)
from tradewarden.api.crd_command import crd_paths
from tradewarden.api.tradingbot import TradingBot, TradingBotSpec
from tradewarden.bot.cli import main

REPO = Path(__file__).resolve().parents[2]
SCHEMA = openapi_schema()
VALIDATOR = jsonschema.Draft4Validator(validation_schema(SCHEMA))


def nodes(schema: Mapping[str, Any], path: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    yield path, schema
    for name, child in schema.get("properties", {}).items():
        yield from nodes(child, f"{path}.{name}")
    if "items" in schema:
        yield from nodes(schema["items"], f"{path}[]")


def cel_errors(schema: Mapping[str, Any], new: Any, old: Any = None, path: str = "") -> list[str]:
    """Evaluate the x-kubernetes-validations along ``new`` the way the API server does."""
    errors = []
    for rule in schema.get("x-kubernetes-validations", []):
        transition = "oldSelf" in rule["rule"]
        if transition and old is None:
            continue
        context = {"self": new, "oldSelf": old} if transition else {"self": new}
        if cel.evaluate(rule["rule"], context) is not True:
            errors.append(f"{path or '<root>'}: {rule['message']}")
    if isinstance(new, dict):
        for name, child in schema.get("properties", {}).items():
            if name in new:
                old_child = old.get(name) if isinstance(old, dict) else None
                errors += cel_errors(child, new[name], old_child, f"{path}.{name}")
    return errors


def with_defaults(schema: Mapping[str, Any], value: Any) -> Any:
    """Fill in the schema's defaults the way the API server does before validating."""
    if not isinstance(value, dict):
        return value
    filled = dict(value)
    for name, child in schema.get("properties", {}).items():
        if name not in filled and "default" in child:
            filled[name] = copy.deepcopy(child["default"])
        if name in filled:
            filled[name] = with_defaults(child, filled[name])
    return filled


def defaulted(document: Mapping[str, Any]) -> dict[str, Any]:
    """The object as the API server stores it: every default filled in."""
    stored = with_defaults(SCHEMA, document)
    assert isinstance(stored, dict)
    return stored


def crd_rejects(document: Mapping[str, Any], old: Mapping[str, Any] | None = None) -> bool:
    stored = defaulted(document)
    if not VALIDATOR.is_valid(stored):
        return True
    return bool(cel_errors(SCHEMA, stored, defaulted(old) if old else None))


def model_rejects(document: Mapping[str, Any]) -> bool:
    try:
        TradingBot.model_validate(document)
    except ValidationError:
        return True
    return False


@pytest.mark.parametrize("path", crd_paths(REPO), ids=lambda path: str(path.relative_to(REPO)))
def test_checked_in_crd_is_fresh(path: Path) -> None:
    kind = next(kind for kind in KINDS if kind.file_name == path.name)
    assert path.read_text(encoding="utf-8") == render_yaml(kind), (
        f"{path} is stale: run `tradewarden crds --write`"
    )


def test_crds_command_prints_every_crd() -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["crds"]) == 0
    printed = list(yaml.safe_load_all(out.getvalue()))
    assert printed == [custom_resource_definition(kind) for kind in KINDS]


def test_names_scope_and_status_subresource() -> None:
    spec = custom_resource_definition()["spec"]
    assert spec["group"] == "tradewarden.io"
    assert spec["scope"] == "Namespaced"
    assert spec["names"]["plural"] == "tradingbots"
    assert spec["names"]["shortNames"] == ["tb"]
    (version,) = spec["versions"]
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
    assert version["subresources"] == {"status": {}}
    columns = {column["name"]: column for column in version["additionalPrinterColumns"]}
    assert list(columns) == [
        "Exchange",
        "Symbol",
        "Phase",
        "Mode",
        "Ready",
        "Age",
        "Reason",
        "Position",
        "OnDelete",
    ]
    assert columns["Ready"]["jsonPath"] == '.status.conditions[?(@.type=="Ready")].status'
    assert columns["Reason"]["priority"] == columns["Position"]["priority"] == 1
    assert columns["OnDelete"] == {
        "name": "OnDelete",
        "type": "string",
        "priority": 1,
        "jsonPath": ".spec.deletionPolicy",
    }


def test_schema_is_structural() -> None:
    for path, node in nodes(SCHEMA):
        assert "$ref" not in node, path
        if path == ".metadata":
            # kube-apiserver refuses anything but the type and a name schema on the root
            # metadata.
            assert set(node) == {"type", "properties"} and set(node["properties"]) == {"name"}
            continue
        if path == ".metadata.name":
            continue
        assert node.get("description"), f"{path} lacks a description (kubectl explain)"
        typed = "type" in node or node.get("x-kubernetes-int-or-string")
        assert typed, f"{path} has no type"
        for option in node.get("anyOf", []):
            assert option.get("type") != "null", f"{path}: use nullable, not anyOf null"
        assert not ("properties" in node and "additionalProperties" in node), path


def test_strategy_params_keep_unknown_fields() -> None:
    params = SCHEMA["properties"]["spec"]["properties"]["strategy"]["properties"]["params"]
    assert params["x-kubernetes-preserve-unknown-fields"] is True


def test_example_is_accepted_and_satisfies_every_rule() -> None:
    document = example_manifest()
    assert VALIDATOR.is_valid(document), list(VALIDATOR.iter_errors(document))
    assert cel_errors(SCHEMA, defaulted(document)) == []


def test_crd_defaults_match_the_model() -> None:
    exchange = SCHEMA["properties"]["spec"]["properties"]["exchange"]
    assert exchange["properties"]["id"]["default"] == "binanceusdm"
    assert exchange["properties"]["sandbox"]["default"] is True
    # A settings block defaults to the model's own default block, every field filled in.
    for name, field in TradingBotSpec.model_fields.items():
        if field.default_factory is not None and isinstance(field.default_factory(), BaseModel):
            block = SCHEMA["properties"]["spec"]["properties"][field.alias or name]
            made = field.default_factory().model_dump(mode="json", by_alias=True, exclude_none=True)
            assert block["default"] == made, name
    risk = SCHEMA["properties"]["spec"]["properties"]["risk"]["properties"]
    assert risk["stopDistancePct"]["default"] == "2"


def set_path(document: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    *parents, leaf = dotted.split(".")
    node = changed
    for part in parents:
        node = node.setdefault(part, {})
    if value is _DELETE:
        del node[leaf]
    else:
        node[leaf] = value
    return changed


_DELETE = object()

# Documents both the model and the CRD must refuse: the bot and the API server agree.
BAD: list[tuple[str, Any]] = [
    ("spec.risk.maxPosition", "-1"),
    ("spec.risk.maxPosition", "0"),
    ("spec.risk.maxPosition", "abc"),
    ("spec.risk.maxPosition", _DELETE),
    ("spec.risk.stopDistancePct", "50"),
    ("spec.exchange.account", "Has_Upper"),
    ("spec.exchange.urlOverride", "ftp://x"),
    ("spec.exchange.requestTimeoutMs", 50),
    ("spec.execution.retryBudget", 21),
    ("spec.environment", "staging"),
    ("spec.emergencyStop", {"action": "Panic", "reason": "x"}),
    ("spec.emergencyStop", {"action": "Halt"}),
    ("spec.exchange.typo", True),
    ("spec.symbol", ""),
    ("spec.guards.apiHealth.errorRate", 1.5),
]


@pytest.mark.parametrize(("path", "value"), BAD, ids=[f"{p}={v!r}" for p, v in BAD])
def test_bad_manifests_are_rejected_by_model_and_crd(path: str, value: Any) -> None:
    document = set_path(example_manifest(), path, value)
    assert model_rejects(document)
    assert crd_rejects(document)


GOOD: list[tuple[str, Any]] = [
    ("spec.risk.maxOrderNotional", 2000),
    ("spec.risk.maxPosition", "0.5"),
    ("spec.emergencyStop", {"action": "Flatten", "reason": "desk"}),
    ("spec.strategy.params", {"anything": {"nested": [1, 2]}}),
    ("spec.exchange.credentialsSecret", "binance-testnet"),
]


@pytest.mark.parametrize(("path", "value"), GOOD, ids=[f"{p}={v!r}" for p, v in GOOD])
def test_good_variants_are_accepted_by_model_and_crd(path: str, value: Any) -> None:
    document = set_path(example_manifest(), path, value)
    assert not model_rejects(document)
    assert not crd_rejects(document)


def test_a_yaml_float_decimal_is_refused_because_it_is_inexact() -> None:
    document = set_path(example_manifest(), "spec.risk.maxPosition", 0.02)
    assert not VALIDATOR.is_valid(document)


def live(document: dict[str, Any], **exchange: Any) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    changed["spec"]["exchange"].pop("urlOverride", None)
    changed["spec"]["exchange"].update(exchange)
    return changed


@pytest.mark.parametrize(
    ("exchange", "rejected"),
    [
        ({"sandbox": False}, True),
        ({"sandbox": False, "allowLive": True}, False),
        ({"sandbox": False, "urlOverride": "http://127.0.0.1:1"}, False),
        ({"sandbox": True}, False),
        # A URL override replaces every endpoint: only loopback or in-cluster is not live.
        ({"sandbox": False, "urlOverride": "https://fapi.binance.com"}, True),
        ({"sandbox": True, "urlOverride": "https://fapi.binance.com"}, True),
        ({"urlOverride": "https://fapi.binance.com", "allowLive": True}, False),
        ({"sandbox": False, "urlOverride": "http://localhost:18080"}, False),
        ({"sandbox": False, "urlOverride": "http://127.3.4.5"}, False),
        ({"sandbox": False, "urlOverride": "http://[::1]:8080/"}, False),
        ({"sandbox": False, "urlOverride": "http://venue-sim.dev.svc:8080"}, False),
        ({"sandbox": False, "urlOverride": "http://venue-sim.dev.svc.cluster.local"}, False),
        ({"sandbox": False, "urlOverride": "http://127.0.0.1.example.com"}, True),
        ({"sandbox": False, "urlOverride": "http://127.0.0.1@fapi.binance.com"}, True),
        ({"sandbox": False, "urlOverride": "http://x.svc.example.com"}, True),
        ({"sandbox": False, "urlOverride": "http://10.0.0.7:8080"}, True),
    ],
)
def test_a_live_venue_needs_an_explicit_opt_in(exchange: dict[str, Any], rejected: bool) -> None:
    assert model_rejects(live(example_manifest(), **exchange)) is rejected
    # The API server evaluates the rule on the stored object, defaults filled in.
    stored = live(defaulted(example_manifest()), **exchange)
    assert VALIDATOR.is_valid(stored)
    assert bool(cel_errors(SCHEMA, stored)) is rejected


@pytest.mark.parametrize(("field", "value"), [("id", "bybit"), ("account", "other")])
def test_exchange_and_account_are_immutable(field: str, value: str) -> None:
    old = example_manifest()
    new = set_path(old, f"spec.exchange.{field}", value)
    assert cel_errors(SCHEMA, defaulted(new)) == []  # fine on create
    assert crd_rejects(new, old=old)  # refused on update
    assert not crd_rejects(set_path(old, "spec.paused", True), old=old)


def test_symbol_is_immutable() -> None:
    old = example_manifest()
    new = set_path(old, "spec.symbol", "ETH/USDT:USDT")
    assert not crd_rejects(new)  # fine on create
    assert crd_rejects(new, old=old)  # refused on update
    # The rule sits on spec, which is required: it always has an old value on update.
    spec = SCHEMA["properties"]["spec"]
    assert "spec" in SCHEMA["required"] and "symbol" in spec["required"]
    assert "self.symbol == oldSelf.symbol" in [r["rule"] for r in spec["x-kubernetes-validations"]]


def test_prod_requires_a_protective_stop() -> None:
    prod = set_path(example_manifest(), "spec.environment", "prod")
    assert not crd_rejects(prod)
    assert crd_rejects(set_path(prod, "spec.risk.requireProtectiveStop", False))
    assert not crd_rejects(
        set_path(
            set_path(prod, "spec.environment", "dev"), "spec.risk.requireProtectiveStop", False
        )
    )


def test_backoff_base_must_not_exceed_its_cap() -> None:
    document = set_path(
        example_manifest(), "spec.execution", {"backoffBaseSeconds": 10, "backoffMaxSeconds": 5}
    )
    assert crd_rejects(document)


def test_emergency_action_is_an_enum_and_a_rule() -> None:
    stop = SCHEMA["properties"]["spec"]["properties"]["emergencyStop"]
    assert stop["properties"]["action"]["enum"] == ["ReduceOnly", "Halt", "Flatten"]
    assert stop["nullable"] is True
    rules = [rule["rule"] for rule in stop["x-kubernetes-validations"]]
    assert rules == ["self.action in ['ReduceOnly', 'Halt', 'Flatten']"]


def test_status_written_by_the_operator_validates() -> None:
    document = example_manifest()
    document["status"] = {
        "observedGeneration": 2,
        "phase": "Aborted",
        "tradingMode": "Halted",
        "conditions": [
            {
                "type": "Ready",
                "status": "False",
                "reason": "KillSwitch",
                "message": "",
                "lastTransitionTime": "2026-01-01T00:00:00Z",
            }
        ],
        "lastFlip": {"reason": "KillSwitch", "time": "2026-01-01T00:00:00Z"},
        "abort": {"reason": "KillSwitch", "message": "divergence", "time": "2026-01-01T00:00:00Z"},
        "bot": {"position": "0.01", "openOrders": 1, "confidence": 0.5, "incompleteLifecycles": 0},
    }
    assert VALIDATOR.is_valid(document), list(VALIDATOR.iter_errors(document))
    document["status"]["phase"] = "Exploded"
    assert not VALIDATOR.is_valid(document)


@pytest.mark.parametrize("version", ["1.29", "1.32"])  # the chart's floor, and a later one
@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: str(kind.plural))
def test_crd_object_is_valid_for_kubernetes(kind: CrdKind, version: str) -> None:
    # Strict: an unknown key anywhere in the CRD (a typo in a schema keyword, a field
    # such as fieldPath that an older release lacks) fails.
    kubernetes_validate.validate(custom_resource_definition(kind), version, strict=True)


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: str(kind.plural))
def test_every_default_satisfies_the_rules_of_its_own_node_as_written(kind: CrdKind) -> None:
    # kube-apiserver's CRD admission (apiextensions-apiserver schema/defaulting/
    # validation.go) runs a node's CEL rules on its default exactly as written, without
    # the nested defaults, as self and oldSelf and again with no old value. A rule that
    # reads a key the default lacks fails the whole CRD ("no such key: id evaluating rule").
    schema = openapi_schema(kind)
    checked = 0
    for path, node in nodes(schema):
        if "default" not in node or not isinstance(node["default"], dict):
            continue
        default = node["default"]
        assert cel_errors(node, default, default, path) == [], path
        assert cel_errors(node, default, None, path) == [], path
        checked += 1
    assert checked or kind is not TRADING_BOT
