"""The TradingHalt CRD: cluster-scoped, its columns, and model and CRD refusing the same halts."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from tradewarden.api.crd import TRADING_HALT, custom_resource_definition, openapi_schema
from tradewarden.api.tradinghalt import TradingHaltSpec
from tradewarden.operator.sandbox.validation import SchemaValidator

SCHEMA = openapi_schema(TRADING_HALT)
# The sandbox API server's validation: schema, defaults and CEL as kube-apiserver does them.
VALIDATOR = SchemaValidator(SCHEMA)


def halt(**spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"action": "Halt", "reason": "venue misbehaving"}
    body.update(spec)
    return {
        "apiVersion": "tradewarden.io/v1alpha1",
        "kind": "TradingHalt",
        "metadata": {"name": "desk-stop"},
        "spec": {key: value for key, value in body.items() if value is not None},
    }


def crd_errors(document: dict[str, Any], old: dict[str, Any] | None = None) -> list[str]:
    before = VALIDATOR.default(old) if old is not None else None
    return [error.render() for error in VALIDATOR.validate(VALIDATOR.default(document), before)]


def model_error(document: dict[str, Any]) -> str | None:
    try:
        TradingHaltSpec.model_validate(document["spec"])
    except ValidationError as error:
        return str(error)
    return None


def test_cluster_scoped_with_short_name_status_and_columns() -> None:
    spec = custom_resource_definition(TRADING_HALT)["spec"]
    assert spec["scope"] == "Cluster"
    assert spec["names"]["kind"] == "TradingHalt"
    assert spec["names"]["shortNames"] == ["th"]
    (version,) = spec["versions"]
    assert version["subresources"] == {"status": {}}
    shown = [c["name"] for c in version["additionalPrinterColumns"] if not c.get("priority")]
    assert shown == ["Action", "State", "Matched", "Confirmed", "Age"]
    # kube-apiserver refuses anything but the type on the root metadata.
    assert version["schema"]["openAPIV3Schema"]["properties"]["metadata"] == {"type": "object"}


def test_no_object_with_rules_gets_an_empty_default() -> None:
    def walk(node: dict[str, Any], path: str) -> None:
        if node.get("x-kubernetes-validations"):
            assert "default" not in node, path
        for name, child in node.get("properties", {}).items():
            walk(child, f"{path}.{name}")
        if "items" in node:
            walk(node["items"], f"{path}[]")

    walk(SCHEMA, "")


GOOD = [
    {"allBots": True},
    {"namespaces": ["desk-a"]},
    {"selector": {"matchLabels": {"desk": "a"}}},
    {"namespaceSelector": {"matchExpressions": [{"key": "desk", "operator": "Exists"}]}},
    {
        "namespaces": ["desk-a", "desk-b"],
        "selector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["x"]}]},
        "action": "Flatten",
        "expiresAt": "2026-12-03T21:00:00Z",
    },
]


def test_an_expiry_must_be_a_time() -> None:
    assert "expiresAt" in str(model_error(halt(allBots=True, expiresAt="tomorrow")))
    assert SCHEMA["properties"]["spec"]["properties"]["expiresAt"]["format"] == "date-time"
    # The sandbox refuses it as kube-apiserver does: strfmt's wording, a type error
    # (TypeInvalid), which blocks the CEL rules.
    assert crd_errors(halt(allBots=True, expiresAt="tomorrow")) == [
        'spec.expiresAt: Invalid value: "tomorrow": spec.expiresAt in body must be of type '
        'date-time: "tomorrow"',
        "<nil>: Invalid value: null: some validation rules were not checked because the "
        "object was invalid; correct the existing errors to complete validation",
    ]
    assert crd_errors(halt(allBots=True, expiresAt="2026-12-03T22:00:00Z")) == []


# What a real kube-apiserver (v1.36) took and refused as a TradingHalt's expiresAt: strfmt's
# date-time is a real date, "T", a time of day and a zone.
EXPIRIES_TAKEN = [
    "2030-01-01T00:00:00Z",
    "2030-01-01T00:00:00.123456789+01:00",
    "2028-02-29T23:59:59-05:00",
]
EXPIRIES_REFUSED = [
    "2030-01-01",
    "2030-01-01T00:00:00",
    "2030-01-01 00:00:00Z",
    "2030-13-01T00:00:00Z",
    "2030-02-30T00:00:00Z",
    "2030-01-01T24:00:00Z",
]


@pytest.mark.parametrize("expiry", EXPIRIES_TAKEN)
def test_an_expiry_kube_apiserver_takes(expiry: str) -> None:
    assert crd_errors(halt(allBots=True, expiresAt=expiry)) == []


@pytest.mark.parametrize("expiry", EXPIRIES_REFUSED)
def test_an_expiry_kube_apiserver_refuses(expiry: str) -> None:
    assert crd_errors(halt(allBots=True, expiresAt=expiry))[0] == (
        f'spec.expiresAt: Invalid value: "{expiry}": spec.expiresAt in body must be of type '
        f'date-time: "{expiry}"'
    )


RULE = "must be an RFC 3339 time after 1970"


def test_a_list_for_an_expiry_is_refused_by_the_crd_rule_not_the_schema() -> None:
    # kube-openapi skips a list where a string with a format belongs: without the rule a
    # real kube-apiserver stored 'expiresAt: ["tomorrow"]', a halt no bot can read.
    unread = "invalid data, expected string, got []interface {}"
    for expiry in (["tomorrow"], []):
        assert crd_errors(halt(allBots=True, expiresAt=expiry)) == [
            f'spec.expiresAt: Invalid value: "string": {unread} evaluating rule: {RULE}'
        ]
    without_rule = copy.deepcopy(SCHEMA)
    del without_rule["properties"]["spec"]["properties"]["expiresAt"]["x-kubernetes-validations"]
    validator = SchemaValidator(without_rule)
    document = validator.default(halt(allBots=True, expiresAt=["tomorrow"]))
    assert validator.validate(document, None) == []


@pytest.mark.parametrize(
    ("expiry", "reason"),
    [
        (
            "2030-01-01t00:00:00Z",
            'parsing time "2030-01-01t00:00:00Z" as "2006-01-02T15:04:05": cannot parse '
            '"t00:00:00Z" as "T"',
        ),
        ("2030-01-01T00:00:00.5z", 'parsing time "2030-01-01T00:00:00.5z": extra text: "z"'),
    ],
)
def test_an_expiry_the_format_takes_but_cel_cannot_read_is_refused(
    expiry: str, reason: str
) -> None:
    # strfmt's check takes any case; the timestamp CEL reads is parsed by Go's layouts.
    assert crd_errors(halt(allBots=True, expiresAt=expiry)) == [
        f'spec.expiresAt: Invalid value: "string": Invalid date-time formatted string {expiry}: '
        f"{reason} evaluating rule: {RULE}"
    ]


def test_an_expiry_before_1970_fails_the_rule_and_a_comma_fraction_passes() -> None:
    assert crd_errors(halt(allBots=True, expiresAt="1960-01-01T00:00:00Z")) == [
        f'spec.expiresAt: Invalid value: "1960-01-01T00:00:00Z": {RULE}'
    ]
    assert crd_errors(halt(allBots=True, expiresAt="2030-01-01T00:00:00,5Z")) == []
    assert model_error(halt(allBots=True, expiresAt="2030-01-01T00:00:00,5Z")) is None


@pytest.mark.parametrize(
    ("expiry", "go_type"), [(5, "int64"), (1.5, "float64"), (True, ""), ({}, "")]
)
def test_an_expiry_of_another_type_is_named_by_its_go_type(expiry: object, go_type: str) -> None:
    # Not '['string', 'null']' (the sandbox printed the nullable type list) nor 'string'.
    assert crd_errors(halt(allBots=True, expiresAt=expiry))[0] == (
        f'spec.expiresAt: Invalid value: "{go_type}": spec.expiresAt in body must be of type '
        f'date-time: "{go_type}"'
    )


@pytest.mark.parametrize("spec", GOOD, ids=[str(i) for i in range(len(GOOD))])
def test_good_halts_are_accepted_by_model_and_crd(spec: dict[str, Any]) -> None:
    document = halt(**spec)
    assert model_error(document) is None
    assert crd_errors(document) == []


BAD: list[tuple[dict[str, Any], str]] = [
    ({"allBots": True, "reason": None}, "reason"),
    ({"allBots": True, "reason": ""}, "reason"),
    ({}, "allBots"),
    ({"selector": {}}, "allBots"),
    ({"selector": {"matchLabels": {}}, "namespaces": []}, "allBots"),
    ({"allBots": True, "namespaces": ["desk-a"]}, "allBots"),
    ({"allBots": True, "action": "Panic"}, "action"),
    ({"allBots": True, "action": None}, "action"),
    ({"selector": {"matchExpressions": [{"key": "desk", "operator": "In"}]}}, "values"),
    (
        {"selector": {"matchExpressions": [{"key": "d", "operator": "Exists", "values": ["a"]}]}},
        "values",
    ),
]


@pytest.mark.parametrize(("spec", "field"), BAD, ids=[f"{i}-{f}" for i, (_, f) in enumerate(BAD)])
def test_bad_halts_are_refused_by_model_and_crd_naming_the_field(
    spec: dict[str, Any], field: str
) -> None:
    document = halt(**spec)
    refusal = model_error(document)
    assert refusal is not None and field in refusal
    errors = crd_errors(document)
    # kube-apiserver adds a note that the CEL rules were skipped; every finding names the field.
    findings = [error for error in errors if not error.startswith("<nil>: ")]
    assert findings and all(field in error for error in findings), errors


def test_a_release_is_final() -> None:
    released = halt(allBots=True, release={"reason": "venue fixed"})
    assert crd_errors(released) == []
    unreleased = copy.deepcopy(released)
    del unreleased["spec"]["release"]
    (refusal,) = crd_errors(unreleased, old=released)
    assert refusal.startswith("spec.release: ")
    assert refusal.endswith("a released TradingHalt stays released; create a new one")
    assert crd_errors(released, old=unreleased) == []
