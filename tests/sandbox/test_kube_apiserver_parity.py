"""What a real kube-apiserver (v1.36, built from source) answered where the sandbox differed.

Each expectation was read off the real server with the same request (curl or kubectl,
admin token, both CRDs applied); the sandbox must answer alike, down to the status
body. Names, nulls, whole numbers, refused JSON patches and bad query options.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import yaml

from tests.sandbox.conftest import CRD, ROOT, bot_manifest
from tradewarden.operator.sandbox.apiserver import running_api_server

HALT_CRD = yaml.safe_load((ROOT / "crds" / "tradinghalts.tradewarden.io.yaml").read_text())
TB = "/apis/tradewarden.io/v1alpha1/namespaces/default/tradingbots"
TH = "/apis/tradewarden.io/v1alpha1/tradinghalts"
NOT_CHECKED = {
    "reason": "FieldValueInvalid",
    "message": "Invalid value: null: some validation rules were not checked because the object "
    "was invalid; correct the existing errors to complete validation",
    "field": "<nil>",
}
SUBDOMAIN = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with (
        running_api_server(crds=[CRD, HALT_CRD]) as api,
        aiohttp.ClientSession(
            api.url, headers=api.admin_headers, connector=aiohttp.TCPConnector(ssl=api.client_ssl)
        ) as session,
    ):
        yield session


def halt(name: str = "h", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"namespaces": ["dev"], "action": "Halt", "reason": "desk call"}
    body.update(spec)
    return {
        "apiVersion": "tradewarden.io/v1alpha1",
        "kind": "TradingHalt",
        "metadata": {"name": name},
        "spec": body,
    }


async def post(
    http: aiohttp.ClientSession, path: str, body: object, **params: str
) -> tuple[int, Any]:
    async with http.post(path, data=json.dumps(body), params=params) as answer:
        return answer.status, await answer.json()


async def test_a_custom_resource_name_must_be_a_dns_subdomain(
    http: aiohttp.ClientSession,
) -> None:
    # The sandbox stored a TradingHalt named "Bad"; kube-apiserver refuses it.
    code, status = await post(http, TH, halt("Bad"))
    assert code == 422
    assert status["message"] == (
        f'TradingHalt.tradewarden.io "Bad" is invalid: metadata.name: Invalid value: "Bad": '
        f"{SUBDOMAIN}"
    )
    assert status["details"] == {
        "name": "Bad",
        "group": "tradewarden.io",
        "kind": "TradingHalt",
        "causes": [
            {
                "reason": "FieldValueInvalid",
                "message": f'Invalid value: "Bad": {SUBDOMAIN}',
                "field": "metadata.name",
            }
        ],
    }
    code, status = await post(http, TH, halt("a" * 254))
    assert code == 422
    assert [c["message"] for c in status["details"]["causes"]] == [
        f'Invalid value: "{"a" * 254}": must be no more than 253 characters'
    ]
    # No name: a required value (the details name no object), which blocks the rules.
    code, status = await post(http, TH, halt(""))
    assert code == 422
    assert status["message"] == (
        'TradingHalt.tradewarden.io "" is invalid: [metadata.name: Required value: name or '
        "generateName is required, <nil>: Invalid value: null: some validation rules were not "
        "checked because the object was invalid; correct the existing errors to complete "
        "validation]"
    )
    assert "name" not in status["details"]
    # A generated name is made first and checked with its prefix.
    unnamed = halt()
    unnamed["metadata"] = {"generateName": "Bad-"}
    code, status = await post(http, TH, unnamed)
    assert code == 422
    generated = status["details"]["name"]
    assert generated.startswith("Bad-") and len(generated) == 9
    assert [(c["field"], c["message"]) for c in status["details"]["causes"]] == [
        ("metadata.generateName", f'Invalid value: "Bad-": {SUBDOMAIN}'),
        ("metadata.name", f'Invalid value: "{generated}": {SUBDOMAIN}'),
    ]
    unnamed["metadata"] = {"generateName": "desk-"}
    code, created = await post(http, TH, unnamed)
    assert code == 201
    assert created["metadata"]["name"].startswith("desk-")
    assert (await post(http, TH, halt("a.b")))[0] == 201


async def test_a_bot_name_must_fit_the_names_of_its_children(
    http: aiohttp.ClientSession,
) -> None:
    # On a real server a TradingBot of 50-60 characters got no pod (the StatefulSet's
    # controller-revision-hash label outgrew 63), of 61 or with a dot no Service.
    assert (await post(http, TB, bot_manifest("c" * 49)))[0] == 201
    code, status = await post(http, TB, bot_manifest("d" * 50))
    assert code == 422
    assert status["details"]["causes"] == [
        {
            "reason": "FieldValueTooLong",
            "message": "Too long: may not be more than 49 bytes",
            "field": "metadata.name",
        },
        NOT_CHECKED,
    ]
    code, status = await post(http, TB, bot_manifest("g.i"))
    assert (code, status["message"]) == (
        422,
        'TradingBot.tradewarden.io "g.i" is invalid: metadata.name: Invalid value: "g.i": '
        "metadata.name in body should match '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'",
    )
    # Kube-apiserver's own rule first; of the schema's string checks only the first failing.
    name = "Bad.x" + "z" * 60
    code, status = await post(http, TB, bot_manifest(name))
    assert [(c["reason"], c["message"]) for c in status["details"]["causes"]] == [
        ("FieldValueInvalid", f'Invalid value: "{name}": {SUBDOMAIN}'),
        ("FieldValueTooLong", "Too long: may not be more than 49 bytes"),
        (NOT_CHECKED["reason"], NOT_CHECKED["message"]),
    ]


async def test_too_long_and_too_many_are_field_errors_that_block_the_rules(
    http: aiohttp.ClientSession,
) -> None:
    bot = bot_manifest("acct")
    bot["spec"]["exchange"]["account"] = "A" * 64  # and no match of its pattern: not listed
    code, status = await post(http, TB, bot)
    assert (code, status["details"]["causes"]) == (
        422,
        [
            {
                "reason": "FieldValueTooLong",
                "message": "Too long: may not be more than 63 bytes",
                "field": "spec.exchange.account",
            },
            NOT_CHECKED,
        ],
    )
    many = halt(
        namespaces=[f"n{i}" for i in range(257)],
        selector={"matchExpressions": [{"key": "k", "operator": "In", "values": ["v"] * 101}]},
    )
    code, status = await post(http, TH, many)
    assert code == 422
    # kube-apiserver lists sibling fields in Go's map order, which varies: compare as a set.
    causes = status["details"]["causes"]
    assert causes[-1] == NOT_CHECKED
    assert sorted((c["field"], c["message"]) for c in causes[:-1]) == [
        ("spec.namespaces", "Too many: 257: must have at most 256 items"),
        ("spec.selector.matchExpressions[0].values", "Too many: 101: must have at most 100 items"),
    ]


async def test_a_null_where_the_schema_allows_none_is_dropped_or_defaulted(
    http: aiohttp.ClientSession,
) -> None:
    # kube-apiserver drops a non-nullable null (then defaults it); the sandbox refused
    # 'paused: null' as 'must be of type boolean: "null"'.
    bot = bot_manifest("nulls", paused=None, execution=None)
    bot["spec"]["exchange"]["urlOverride"] = None  # nullable: stored as null
    code, created = await post(http, TB, bot)
    assert code == 201, created
    spec = created["spec"]
    assert spec["paused"] is False
    assert spec["execution"]["absentGraceSeconds"] == 65
    assert spec["exchange"]["urlOverride"] is None
    code, status = await post(http, TB, bot_manifest("nosymbol", symbol=None))
    assert code == 422
    assert status["details"]["causes"] == [
        {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.symbol"},
        NOT_CHECKED,
    ]
    selector = {"matchLabels": None, "matchExpressions": [{"key": "a", "operator": "Exists"}]}
    code, created = await post(
        http, TH, {**halt(allBots=None, selector=selector), "status": {"state": None}}
    )
    assert code == 201, created
    assert created["spec"]["allBots"] is False
    assert created["spec"]["selector"] == {
        "matchLabels": {},
        "matchExpressions": [{"key": "a", "operator": "Exists"}],
    }
    assert "status" not in created, "a create sets no status, nor is it checked"


async def test_cel_rules_see_a_null_field_as_unset(http: aiohttp.ClientSession) -> None:
    # has(self.selector) is false for 'selector: null'; the sandbox failed the rule
    # with 'No such overload' instead of the rule's own message.
    code, status = await post(http, TH, halt(namespaces=None, selector=None))
    assert code == 422
    assert status["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": "Invalid value: no namespaces, namespaceSelector or selector given; set "
            "allBots: true to stop every bot",
            "field": "spec.allBots",
        }
    ]


async def test_whole_numbers_are_integers_and_a_fraction_is_no_int64(
    http: aiohttp.ClientSession,
) -> None:
    # 1000.0 is decoded to a float64 that is a whole number: an integer, stored as 1000.
    bot = bot_manifest("whole")
    bot["spec"]["exchange"]["requestTimeoutMs"] = 1000.0
    code, created = await post(http, TB, bot)
    assert code == 201, created
    assert type(created["spec"]["exchange"]["requestTimeoutMs"]) is int
    assert type(created["spec"]["execution"]["absentGraceSeconds"]) is int  # the CRD's 65
    code, status = await post(
        http, TB, bot_manifest("fraction", execution={"maxCancelReplace": 2.5})
    )
    assert code == 422
    path = "spec.execution.maxCancelReplace"
    assert status["details"]["causes"] == [
        {
            "reason": "FieldValueTypeInvalid",
            "message": f'Invalid value: "number": {path} in body must be of type integer: "number"',
            "field": path,
        },
        {
            "reason": "FieldValueInvalid",
            "message": 'Invalid value: "": Checked value must be of type integer (default '
            f"format) in {path}",
            "field": "<nil>",
        },
        NOT_CHECKED,
    ]


async def test_refused_requests_carry_kube_apiserver_status_bodies(
    http: aiohttp.ClientSession,
) -> None:
    assert (await post(http, TB, bot_manifest("alpha")))[0] == 201
    # A JSON patch that does not apply names no cause, with empty details.
    patch = {"Content-Type": "application/json-patch+json"}
    rejected = {
        "apiVersion": "v1",
        "kind": "Status",
        "metadata": {},
        "status": "Failure",
        "message": "the server rejected our request due to an error in our request",
        "reason": "Invalid",
        "details": {},
        "code": 422,
    }
    for operations in (
        [{"op": "test", "path": "/spec/risk/maxPosition", "value": "9"}],
        [{"op": "replace", "path": "/spec/nope/x", "value": 1}],
        [{"op": "frob", "path": "/spec"}],
    ):
        async with http.patch(f"{TB}/alpha", data=json.dumps(operations), headers=patch) as answer:
            assert (answer.status, await answer.json()) == (422, rejected)
    async with http.patch(f"{TB}/alpha", data='{"op":"test"}', headers=patch) as answer:
        assert answer.status == 400
        assert await answer.json() == {
            "apiVersion": "v1",
            "kind": "Status",
            "metadata": {},
            "status": "Failure",
            "message": "error decoding patch: json: cannot unmarshal object into Go value of "
            "type []handlers.jsonPatchOp",
            "reason": "BadRequest",
            "code": 400,
        }
    # A strict decoding error has no details at all.
    unknown = bot_manifest("beta")
    unknown["spec"]["foo"] = 1
    code, status = await post(http, TB, unknown, fieldValidation="Strict")
    assert code == 400
    assert "details" not in status
    # Fields of an object where a string belongs are unknown fields too.
    code, status = await post(http, TH, halt(expiresAt={"a": 1}), fieldValidation="Strict")
    assert (code, status["message"]) == (
        400,
        'TradingHalt in version "v1alpha1" cannot be handled as a TradingHalt: strict decoding '
        'error: unknown field "spec.expiresAt.a"',
    )
    # Bad query options are an invalid CreateOptions / PatchOptions, 422.
    code, status = await post(http, TB, bot_manifest("gamma"), dryRun="Bogus")
    assert (code, status["message"]) == (
        422,
        'CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: ["Bogus"]: '
        'supported values: "All"',
    )
    assert status["details"] == {
        "group": "meta.k8s.io",
        "kind": "CreateOptions",
        "causes": [
            {
                "reason": "FieldValueNotSupported",
                "message": 'Unsupported value: ["Bogus"]: supported values: "All"',
                "field": "dryRun",
            }
        ],
    }
    apply = {"Content-Type": "application/apply-patch+yaml"}
    async with http.patch(f"{TB}/alpha", data="{}", headers=apply) as answer:
        assert answer.status == 422
        assert (await answer.json())["message"] == (
            'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required '
            "for apply patch"
        )


async def test_an_update_of_the_main_resource_does_not_check_the_status_it_sent(
    http: aiohttp.ClientSession,
) -> None:
    assert (await post(http, TH, halt()))[0] == 201
    merge = {"Content-Type": "application/merge-patch+json"}
    body = json.dumps({"status": {"state": "Gone"}, "spec": {"reason": "still halted"}})
    async with http.patch(f"{TH}/h", data=body, headers=merge) as answer:
        assert answer.status == 200
        stored = await answer.json()
    assert stored["spec"]["reason"] == "still halted"
    assert "status" not in stored


async def test_a_name_still_held_by_a_deleted_object_is_being_deleted(
    http: aiohttp.ClientSession,
) -> None:
    # The operator's finalizer holds a deleted TradingBot while it drains.
    bot = bot_manifest("held")
    bot["metadata"]["finalizers"] = ["tradewarden.io/drain"]
    assert (await post(http, TB, bot))[0] == 201
    async with http.delete(f"{TB}/held") as answer:
        assert answer.status == 200
    code, status = await post(http, TB, bot_manifest("held"))
    assert (code, status["reason"], status["message"]) == (
        409,
        "AlreadyExists",
        'object is being deleted: tradingbots.tradewarden.io "held" already exists',
    )


async def test_details_of_a_core_object_name_no_group(http: aiohttp.ClientSession) -> None:
    async with http.get("/api/v1/namespaces/default/configmaps/nope") as answer:
        assert answer.status == 404
        assert (await answer.json())["details"] == {"name": "nope", "kind": "configmaps"}


async def status_patch(
    http: aiohttp.ClientSession, path: str, status: dict[str, Any]
) -> tuple[int, Any]:
    merge = {"Content-Type": "application/merge-patch+json"}
    async with http.patch(path, data=json.dumps({"status": status}), headers=merge) as answer:
        return answer.status, await answer.json()


async def test_a_status_write_is_checked_against_the_status_schema_alone(
    http: aiohttp.ClientSession,
) -> None:
    assert (await post(http, TB, bot_manifest("alpha")))[0] == 201
    status = f"{TB}/alpha/status"
    # Paths in "in body" are the status schema's own; a finding of no one field is 'status'.
    code, answer = await status_patch(http, status, {"phase": "Running", "observedGeneration": 1.5})
    assert code == 422
    assert [(c["field"], c["message"]) for c in answer["details"]["causes"]] == [
        (
            "status.observedGeneration",
            'Invalid value: "number": observedGeneration in body must be of type integer: "number"',
        ),
        (
            "status",
            'Invalid value: "": Checked value must be of type integer (default format) in '
            "observedGeneration",
        ),
        (NOT_CHECKED["field"], NOT_CHECKED["message"]),
    ]
    # An object's fields first, then its missing required ones in the schema's order.
    code, answer = await status_patch(
        http, status, {"conditions": [{"type": "Ready", "status": "Maybe"}]}
    )
    assert code == 422
    assert [(c["field"], c["reason"]) for c in answer["details"]["causes"]] == [
        ("status.conditions[0].status", "FieldValueNotSupported"),
        ("status.conditions[0].reason", "FieldValueRequired"),
        ("status.conditions[0].lastTransitionTime", "FieldValueRequired"),
        (NOT_CHECKED["field"], NOT_CHECKED["reason"]),
    ]


async def test_a_list_map_takes_each_key_once(http: aiohttp.ClientSession) -> None:
    # The sandbox stored two FleetConfirmed conditions; kube-apiserver refuses the second.
    assert (await post(http, TH, halt()))[0] == 201
    condition = {
        "type": "FleetConfirmed",
        "reason": "X",
        "lastTransitionTime": "2026-12-04T00:00:00Z",
    }
    conditions = [{**condition, "status": "True"}, {**condition, "status": "False"}]
    code, answer = await status_patch(http, f"{TH}/h/status", {"conditions": conditions})
    assert (code, answer["message"]) == (
        422,
        'TradingHalt.tradewarden.io "h" is invalid: status.conditions[1]: Duplicate value: '
        '{"type":"FleetConfirmed"}',
    )


async def test_labels_and_annotation_keys_are_checked_on_every_write(
    http: aiohttp.ClientSession,
) -> None:
    assert (await post(http, TB, bot_manifest("alpha")))[0] == 201
    merge = {"Content-Type": "application/merge-patch+json"}
    label = {"metadata": {"labels": {"Bad Label": "x"}}}
    async with http.patch(f"{TB}/alpha", data=json.dumps(label), headers=merge) as answer:
        assert answer.status == 422
        assert (await answer.json())["message"] == (
            'TradingBot.tradewarden.io "alpha" is invalid: metadata.labels: Invalid value: '
            "\"Bad Label\": name part must consist of alphanumeric characters, '-', '_' or '.', "
            "and must start and end with an alphanumeric character (e.g. 'MyName',  or "
            "'my.name',  or '123-abc', regex used for validation is "
            "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        )
    # A core object too; a label value is at most 63 bytes.
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "tb-x", "labels": {"tradewarden.io/bot": "b" * 64}},
    }
    code, status = await post(http, "/api/v1/namespaces/default/configmaps", config)
    assert (code, status["message"]) == (
        422,
        f'ConfigMap "tb-x" is invalid: metadata.labels: Invalid value: "{"b" * 64}": must be no '
        "more than 63 bytes",
    )
