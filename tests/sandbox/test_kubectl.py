"""Real kubectl against the sandbox API server: the flows the README documents."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import yaml

from tests.sandbox.conftest import CRD, KUBECTL, Kubectl, bot_manifest
from tradewarden.operator.sandbox.apiserver import SandboxApi


async def test_apply_creates_and_get_shows_printer_columns(
    api: SandboxApi, kubectl: Kubectl
) -> None:
    code, out, err = await kubectl("apply", "-f", "-", stdin=yaml.safe_dump(bot_manifest()))
    assert code == 0, err
    assert "tradingbot.tradewarden.io/alpha created" in out
    code, out, err = await kubectl("apply", "-f", "-", stdin=yaml.safe_dump(bot_manifest()))
    assert "unchanged" in out, err
    code, out, _ = await kubectl("get", "tb")
    header, row = out.splitlines()[:2]
    assert header.split() == ["NAME", "EXCHANGE", "SYMBOL", "PHASE", "MODE", "READY", "AGE"]
    assert row.split()[:3] == ["alpha", "binanceusdm", "BTC/USDT:USDT"]
    stored = api.store.list_objects(api.type_of("tradewarden.io/v1alpha1", "TradingBot"), "default")
    assert stored[0]["metadata"]["generation"] == 1
    assert stored[0]["metadata"]["uid"]


async def test_explain_describes_spec_fields(kubectl: Kubectl) -> None:
    code, out, err = await kubectl("explain", "tb.spec")
    assert code == 0, err
    assert "emergencyStop" in out
    assert "Break-glass stop" in out


async def test_patch_merge_bumps_generation(api: SandboxApi, kubectl: Kubectl) -> None:
    api.create(bot_manifest())
    code, out, err = await kubectl(
        "patch", "tb", "alpha", "--type=merge", "-p", '{"spec":{"paused":true}}'
    )
    assert code == 0, err
    code, out, _ = await kubectl("get", "tb", "alpha", "-o", "json")
    obj = json.loads(out)
    assert obj["spec"]["paused"] is True
    assert obj["metadata"]["generation"] == 2


async def test_malformed_manifest_is_rejected_naming_the_field(kubectl: Kubectl) -> None:
    bad = bot_manifest(environment="staging")
    code, _, err = await kubectl("apply", "-f", "-", stdin=yaml.safe_dump(bad))
    assert code != 0
    assert "spec.environment" in err
    unknown = bot_manifest(colour="blue")
    code, _, err = await kubectl("apply", "-f", "-", stdin=yaml.safe_dump(unknown))
    assert code != 0
    assert "spec.colour" in err


async def test_cel_rules_reject_live_without_opt_in_and_account_change(
    api: SandboxApi, kubectl: Kubectl
) -> None:
    live = bot_manifest(exchange={"id": "binanceusdm", "account": "sim", "sandbox": False})
    code, _, err = await kubectl("apply", "-f", "-", stdin=yaml.safe_dump(live))
    assert code != 0
    assert "spec.exchange.allowLive" in err
    api.create(bot_manifest())
    code, _, err = await kubectl(
        "patch", "tb", "alpha", "--type=merge", "-p", '{"spec":{"exchange":{"account":"b"}}}'
    )
    assert code != 0
    assert "spec.exchange.account" in err
    assert "immutable" in err


async def test_cel_rules_refuse_a_live_url_override_and_a_symbol_change(
    api: SandboxApi, kubectl: Kubectl
) -> None:
    exchange = {"id": "binanceusdm", "account": "sim", "sandbox": False}
    live = bot_manifest(exchange={**exchange, "urlOverride": "https://fapi.binance.com"})
    code, _, err = await kubectl("apply", "-f", "-", stdin=yaml.safe_dump(live))
    assert code != 0
    assert "spec.exchange.allowLive" in err
    in_cluster = {**exchange, "urlOverride": "http://venue-sim.dev.svc.cluster.local:8080"}
    code, _, err = await kubectl(
        "apply", "-f", "-", stdin=yaml.safe_dump(bot_manifest(exchange=in_cluster))
    )
    assert code == 0, err
    code, _, err = await kubectl(
        "patch", "tb", "alpha", "--type=merge", "-p", '{"spec":{"symbol":"ETH/USDT:USDT"}}'
    )
    assert code != 0
    assert "spec.symbol" in err
    assert "immutable" in err


async def test_get_watch_streams_an_update(api: SandboxApi, kubectl: Kubectl) -> None:
    api.create(bot_manifest())
    watcher = await asyncio.create_subprocess_exec(
        KUBECTL,
        "--kubeconfig",
        str(kubectl.kubeconfig),
        "get",
        "tb",
        "-w",
        "--output-watch-events",
        "--request-timeout=20s",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert watcher.stdout is not None
    try:
        first = await asyncio.wait_for(watcher.stdout.readline(), 15)
        assert b"NAME" in first or b"EVENT" in first
        await asyncio.wait_for(watcher.stdout.readline(), 15)  # the existing bot
        code, _, err = await kubectl(
            "patch", "tb", "alpha", "--type=merge", "-p", '{"spec":{"paused":true}}'
        )
        assert code == 0, err
        line = await asyncio.wait_for(watcher.stdout.readline(), 15)
        assert line.split()[:2] == [b"MODIFIED", b"alpha"]
    finally:
        if watcher.returncode is None:
            watcher.kill()
        await watcher.wait()


async def test_delete_with_finalizer_waits_and_collects_owned_children(
    api: SandboxApi, kubectl: Kubectl
) -> None:
    manifest = bot_manifest()
    manifest["metadata"]["finalizers"] = ["tradewarden.io/drain"]  # type: ignore[index]
    bot = api.create(manifest)
    owner = {
        "apiVersion": "tradewarden.io/v1alpha1",
        "kind": "TradingBot",
        "name": "alpha",
        "uid": bot["metadata"]["uid"],
        "controller": True,
    }
    api.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "tb-alpha-manifest",
                "namespace": "default",
                "ownerReferences": [owner],
            },
            "data": {"k": "v"},
        }
    )
    code, _, err = await kubectl("delete", "tb", "alpha", "--wait=false")
    assert code == 0, err
    code, out, _ = await kubectl("get", "tb", "alpha", "-o", "json")
    assert json.loads(out)["metadata"]["deletionTimestamp"]
    code, _, _ = await kubectl("get", "cm", "tb-alpha-manifest")
    assert code == 0, "children stay while the owner is being finalized"
    code, _, err = await kubectl(
        "patch",
        "tb",
        "alpha",
        "--type=json",
        "-p",
        '[{"op":"remove","path":"/metadata/finalizers"}]',
    )
    assert code == 0, err
    code, _, err = await kubectl("get", "tb", "alpha")
    assert code != 0 and "NotFound" in err
    code, _, err = await kubectl("get", "cm", "tb-alpha-manifest")
    assert code != 0 and "NotFound" in err


async def test_core_types_namespaces_and_leases_are_served(kubectl: Kubectl) -> None:
    code, out, err = await kubectl("get", "namespaces")
    assert code == 0, err
    assert "default" in out
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "dev"}}
    code, out, err = await kubectl("apply", "-f", "-", stdin=yaml.safe_dump(namespace))
    assert code == 0, err
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "dev", "labels": {"a": "b"}},
    }
    code, out, err = await kubectl("apply", "-f", "-", stdin=yaml.safe_dump(config))
    assert code == 0, err
    code, out, err = await kubectl("-n", "dev", "get", "cm", "-l", "a=b", "-o", "name")
    assert out.split() == ["configmap/c"], err
    code, out, err = await kubectl("-n", "dev", "get", "cm", "-l", "a!=b", "-o", "name")
    assert out.split() == [], err


async def test_kubectl_create_generators_send_protobuf_and_are_stored_as_json(
    api: SandboxApi, kubectl: Kubectl
) -> None:
    # The runbooks and examples create the credentials Secret this way.
    for args in (
        ("create", "namespace", "dev"),
        ("-n", "dev", "create", "secret", "generic", "creds", "--from-literal=apiKey=k1"),
        ("-n", "dev", "create", "configmap", "c", "--from-literal=a=b"),
        ("-n", "dev", "create", "serviceaccount", "sa"),
    ):
        code, out, err = await kubectl(*args)
        assert code == 0, err
        assert "created" in out

    code, out, err = await kubectl("-n", "dev", "get", "secret", "creds", "-o", "json")
    secret = json.loads(out)
    assert (secret["type"], secret["data"]) == ("Opaque", {"apiKey": "azE="})  # base64 "k1"
    assert secret["metadata"]["namespace"] == "dev" and secret["metadata"]["uid"]
    code, out, err = await kubectl("-n", "dev", "get", "configmap", "c", "-o", "json")
    assert json.loads(out)["data"] == {"a": "b"}
    # A kind no generator here makes is refused as a server without protobuf would.
    code, _, err = await kubectl("-n", "dev", "create", "deployment", "d", "--image=bot")
    assert code != 0 and "accepted media types include: application/json" in err


async def test_logs_tail_keeps_every_line_when_fewer_exist(
    api: SandboxApi, kubectl: Kubectl, tmp_path: Path
) -> None:
    log = tmp_path / "bot.log"
    log.write_text("one\ntwo\nthree\n")
    api.pod_logs = lambda namespace, pod, container: log
    api.create(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "tb-alpha-0", "namespace": "default"},
            "spec": {"containers": [{"name": "bot", "image": "bot"}]},
        }
    )
    for tail, expected in (("5", "one\ntwo\nthree\n"), ("2", "two\nthree\n"), ("0", "")):
        code, out, err = await kubectl("logs", "tb-alpha-0", f"--tail={tail}")
        assert code == 0, err
        assert out == expected, f"--tail={tail}"
    # The runner notes when each line arrived; --timestamps and --since read those times.
    log.with_suffix(".times").write_text(
        "2020-01-01T00:00:01.000000000Z\n2020-01-01T00:00:02.000000000Z\n"
    )
    code, out, err = await kubectl("logs", "tb-alpha-0", "--timestamps")
    assert code == 0, err
    assert out.splitlines()[:2] == [
        "2020-01-01T00:00:01.000000000Z one", "2020-01-01T00:00:02.000000000Z two"
    ]  # fmt: skip
    assert out.splitlines()[2].endswith(" three"), "a line not noted yet gets the time of reading"
    code, out, err = await kubectl("logs", "tb-alpha-0", "--since-time=2020-01-01T00:00:02Z")
    assert (code, out) == (0, "two\nthree\n"), err
    code, out, err = await kubectl("logs", "tb-alpha-0", "--since=1h")
    assert (code, out) == (0, "three\n"), err


async def test_strategic_merge_patch_of_a_custom_resource_is_unsupported(
    api: SandboxApi, kubectl: Kubectl
) -> None:
    api.create(bot_manifest())
    code, _, err = await kubectl("patch", "tb", "alpha", "-p", '{"spec":{"paused":true}}')
    assert code != 0
    assert (
        "error: application/strategic-merge-patch+json is not supported by "
        "tradewarden.io/v1alpha1, Kind=TradingBot: the body of the request was in an unknown "
        "format - accepted media types include: application/json-patch+json, "
        "application/merge-patch+json, application/apply-patch+yaml"
    ) in err
    code, _, err = await kubectl("patch", "tb", "alpha", "--type=merge", "-p", '{"spec":{}}')
    assert code == 0, err


async def test_unknown_fields_are_refused_under_strict_and_warned_and_dropped_under_warn(
    api: SandboxApi, kubectl: Kubectl
) -> None:
    unknown = yaml.safe_dump(bot_manifest(colour="blue"))
    code, _, err = await kubectl("apply", "-f", "-", stdin=unknown)
    assert code != 0
    assert (
        'TradingBot in version "v1alpha1" cannot be handled as a TradingBot: '
        'strict decoding error: unknown field "spec.colour"'
    ) in err
    code, _, err = await kubectl("apply", "--validate=warn", "-f", "-", stdin=unknown)
    assert code == 0, err
    assert 'Warning: unknown field "spec.colour"' in err
    stored = api.store.find(
        api.type_of("tradewarden.io/v1alpha1", "TradingBot"), "default", "alpha"
    )
    assert stored is not None and "colour" not in stored["spec"]


async def test_invalid_values_are_reported_together_in_kube_apiserver_wording(
    api: SandboxApi, kubectl: Kubectl
) -> None:
    api.create(bot_manifest())
    code, _, err = await kubectl(
        "patch", "tb", "alpha", "--type=merge",
        "-p", '{"spec":{"risk":{"maxPosition":"abc"},"exchange":{"requestTimeoutMs":5}}}',
    )  # fmt: skip
    assert code != 0
    lines = err.splitlines()
    assert lines[0] == 'The TradingBot "alpha" is invalid: '
    assert (
        "* spec.exchange.requestTimeoutMs: Invalid value: 5: spec.exchange.requestTimeoutMs "
        "in body should be greater than or equal to 100"
    ) in lines
    assert (
        '* spec.risk.maxPosition: Invalid value: "abc": spec.risk.maxPosition in body should '
        "match '^[0-9]+(\\.[0-9]+)?$'"
    ) in lines
    # Schema errors that leave rules nothing to check stop them, as a real server says.
    code, _, err = await kubectl(
        "patch", "tb", "alpha", "--type=merge",
        "-p", '{"spec":{"paused":"yes","environment":"staging"}}',
    )  # fmt: skip
    assert code != 0
    assert (
        '* spec.environment: Unsupported value: "staging": supported values: "dev", "canary", '
        '"prod"'
    ) in err
    assert (
        '* spec.paused: Invalid value: "string": spec.paused in body must be of type boolean: '
        '"string"'
    ) in err
    assert "* <nil>: Invalid value: null: some validation rules were not checked" in err
    # A number where a decimal string belongs: the causes a v1.36 server lists, in its order.
    code, _, err = await kubectl(
        "patch", "tb", "alpha", "--type=merge", "-p", '{"spec":{"risk":{"maxPosition":0.02}}}',
    )  # fmt: skip
    assert code != 0
    path = "spec.risk.maxPosition"
    assert err.splitlines()[1:] == [
        f'* {path}: Invalid value: "number": {path} in body must be of type integer,string: '
        '"number"',
        f'* <nil>: Invalid value: "": "{path}" must validate at least one schema (anyOf)',
        f'* {path}: Invalid value: "number": {path} in body must be of type integer: "number"',
        '* <nil>: Invalid value: "": Checked value must be of type integer (default format) '
        f"in {path}",
        "* <nil>: Invalid value: null: some validation rules were not checked because the "
        "object was invalid; correct the existing errors to complete validation",
    ]


async def test_a_crd_that_describes_metadata_is_refused(kubectl: Kubectl) -> None:
    crd = json.loads(json.dumps(CRD))
    crd["metadata"]["name"] = "gizmos.example.io"
    crd["spec"].update(
        group="example.io",
        names={"plural": "gizmos", "singular": "gizmo", "kind": "Gizmo", "listKind": "GizmoList"},
    )
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    schema["properties"]["metadata"] = {"type": "object", "description": "the bot's name"}
    code, _, err = await kubectl("apply", "-f", "-", stdin=yaml.safe_dump(crd))
    assert code != 0
    assert (
        'The CustomResourceDefinition "gizmos.example.io" is invalid: '
        "spec.versions[0].schema.openAPIV3Schema.properties[metadata]: Forbidden: must not "
        "specify anything other than name and generateName, but metadata is implicitly specified"
    ) in err


def _event(name: str, reason: str, last: str, count: int = 1) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": "default"},
        "involvedObject": {"kind": "TradingBot", "name": "alpha", "namespace": "default"},
        "reason": reason,
        "message": f"{reason} happened",
        "type": "Normal",
        "count": count,
        "firstTimestamp": "2020-01-01T00:00:00Z",
        "lastTimestamp": last,
        "source": {"component": "tradewarden-operator"},
    }


async def test_get_events_shows_the_usual_columns_and_sorts_by_last_timestamp(
    api: SandboxApi, kubectl: Kubectl
) -> None:
    # Names sort the other way round from the times, so the sort is visible.
    api.create(_event("a-late", "Late", "2020-01-01T00:03:00Z", count=3))
    api.create(_event("b-early", "Early", "2020-01-01T00:01:00Z"))
    code, out, err = await kubectl("get", "events", "--sort-by=.lastTimestamp")
    assert code == 0, err
    header, first, second = out.splitlines()
    assert header.split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert first.split()[1:] == ["Normal", "Early", "tradingbot/alpha", "Early", "happened"]
    assert second.split()[1:4] == ["Normal", "Late", "tradingbot/alpha"]
    code, out, err = await kubectl("get", "events", "-o", "wide", "--sort-by=.lastTimestamp")
    assert code == 0, err
    assert out.splitlines()[0].split()[-3:] == ["SEEN", "COUNT", "NAME"]
    assert out.splitlines()[2].split()[-2:] == ["3", "a-late"]


async def test_get_all_lists_bots_pods_statefulsets_and_services_with_their_columns(
    api: SandboxApi, kubectl: Kubectl
) -> None:
    api.create(bot_manifest())
    api.create(
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "tb-alpha", "namespace": "default"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "bot"}},
                "template": {
                    "metadata": {"labels": {"app": "bot"}},
                    "spec": {"containers": [{"name": "bot", "image": "tradewarden:1"}]},
                },
            },
        }
    )
    api.create(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "tb-alpha", "namespace": "default"},
            "spec": {"selector": {"app": "bot"}, "ports": [{"name": "http", "port": 8080}]},
        }
    )
    code, out, err = await kubectl("get", "all")
    assert code == 0, err
    assert "tradingbot.tradewarden.io/alpha" in out
    lines = out.splitlines()
    service_header = next(
        line for line in lines if line.startswith("NAME") and "CLUSTER-IP" in line
    )
    assert service_header.split() == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    service = next(line for line in lines if line.startswith("service/tb-alpha"))
    assert service.split()[1:5] == ["ClusterIP", "10.96.0.10", "<none>", "8080/TCP"]
    sts = next(line for line in lines if line.startswith("statefulset.apps/tb-alpha"))
    assert sts.split()[1] == "0/1"
    code, out, err = await kubectl("get", "sts", "-o", "wide")
    assert code == 0, err
    assert out.splitlines()[0].split() == ["NAME", "READY", "AGE", "CONTAINERS", "IMAGES"]
    assert out.splitlines()[1].split()[3:] == ["bot", "tradewarden:1"]


async def test_logs_previous_and_follow_show_one_run_of_the_container(
    api: SandboxApi, kubectl: Kubectl, tmp_path: Path
) -> None:
    log = tmp_path / "bot.log"
    log.write_text(
        "--- 2026-01-01T00:00:00Z start (restarts 0): ['tradewarden', 'bot']\n"
        "first run\n"
        "--- liveness probe http://127.0.0.1:1/healthz failed; stopping\n"
        "--- 2026-01-01T00:01:00Z start (restarts 1): ['tradewarden', 'bot']\n"
        "second run\n"
    )
    api.pod_logs = lambda namespace, pod, container: log
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "tb-alpha-0", "namespace": "default"},
        "spec": {"containers": [{"name": "bot", "image": "bot"}]},
    }
    api.create(pod)
    code, out, err = await kubectl("logs", "tb-alpha-0")
    assert (code, out) == (0, "second run\n"), err
    code, out, err = await kubectl("logs", "tb-alpha-0", "--previous")
    assert (code, out) == (0, "first run\n"), err

    follower = await asyncio.create_subprocess_exec(
        KUBECTL, "--kubeconfig", str(kubectl.kubeconfig), "logs", "-f", "tb-alpha-0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert follower.stdout is not None
    try:
        assert await asyncio.wait_for(follower.stdout.readline(), 15) == b"second run\n"
        with log.open("a") as more:
            more.write("still running\n")
        assert await asyncio.wait_for(follower.stdout.readline(), 15) == b"still running\n"
        with log.open("a") as more:
            more.write("--- 2026-01-01T00:02:00Z start (restarts 2): ['tradewarden', 'bot']\n")
        assert await asyncio.wait_for(follower.wait(), 15) == 0, "the run ended: so does -f"
    finally:
        if follower.returncode is None:
            follower.kill()
            await follower.wait()

    api.store.delete(api.type_of("v1", "Pod"), "default", "tb-alpha-0")
    api.create(pod)
    log.write_text("only run\n")
    code, _, err = await kubectl("logs", "tb-alpha-0", "--previous")
    assert code != 0
    assert 'previous terminated container "bot" in pod "tb-alpha-0" not found' in err


async def test_events_k8s_io_shows_the_same_events_in_its_own_shape(
    api: SandboxApi, kubectl: Kubectl
) -> None:
    api.create(_event("a-late", "Late", "2020-01-01T00:03:00Z", count=3))
    code, out, err = await kubectl("get", "events.events.k8s.io", "-o", "json")
    assert code == 0, err
    (event,) = json.loads(out)["items"]
    assert event["apiVersion"] == "events.k8s.io/v1"
    assert event["note"] == "Late happened"
    assert event["regarding"]["name"] == "alpha"
    assert (event["deprecatedCount"], event["deprecatedLastTimestamp"]) == (
        3, "2020-01-01T00:03:00Z"
    )  # fmt: skip
    assert "message" not in event and "involvedObject" not in event
    code, out, err = await kubectl(
        "get", "events.events.k8s.io", "--sort-by=.deprecatedLastTimestamp"
    )
    assert code == 0, err
    assert out.splitlines()[0].split()[:3] == ["LAST", "SEEN", "TYPE"]

    new = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": "b-new", "namespace": "default"},
        "eventTime": "2020-01-01T00:04:00.000000Z",
        "reportingController": "tradewarden.io/operator",
        "reportingInstance": "operator-0",
        "action": "Flip",
        "reason": "Paused",
        "regarding": {"kind": "TradingBot", "name": "alpha", "namespace": "default"},
        "note": "paused by a person",
        "type": "Normal",
    }
    code, _, err = await kubectl("create", "-f", "-", stdin=yaml.safe_dump(new))
    assert code == 0, err
    code, out, err = await kubectl("get", "events", "b-new", "-o", "json")
    assert code == 0, err
    core = json.loads(out)
    assert (core["apiVersion"], core["message"], core["involvedObject"]["name"]) == (
        "v1", "paused by a person", "alpha"
    )  # fmt: skip
    assert core["reportingComponent"] == "tradewarden.io/operator"


def _gizmo_crd() -> dict[str, Any]:
    """The TradingBot CRD under another name, for CRD admission tests."""
    crd: dict[str, Any] = json.loads(json.dumps(CRD))
    crd["metadata"]["name"] = "gizmos.example.io"
    crd["spec"].update(
        group="example.io",
        names={"plural": "gizmos", "singular": "gizmo", "kind": "Gizmo", "listKind": "GizmoList"},
    )
    return crd


async def test_a_crd_with_rules_a_real_server_cannot_run_is_refused(kubectl: Kubectl) -> None:
    crd = _gizmo_crd()
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    # A rule that reads a key its node's default lacks: kube-apiserver runs it on the default.
    spec["properties"]["exchange"]["default"] = {}
    spec["properties"]["exchange"]["x-kubernetes-validations"].append({"rule": "self.id != ''"})
    # A transition rule under a list that is not a map: oldSelf cannot be correlated there.
    spec["properties"]["tags"] = {
        "type": "array",
        "items": {"type": "string", "x-kubernetes-validations": [{"rule": "self == oldSelf"}]},
    }
    code, _, err = await kubectl("apply", "-f", "-", stdin=yaml.safe_dump(crd))
    assert code != 0
    root = "spec.versions[0].schema.openAPIV3Schema.properties[spec]"
    assert f'* {root}.properties[exchange].default: Invalid value: "object": ' in err
    assert "no such key: id evaluating rule: self.id != ''" in err
    assert (
        f"* {root}.properties[tags].items.x-kubernetes-validations[0].rule: Invalid value: "
        '"self == oldSelf": oldSelf cannot be used on the uncorrelatable portion of the schema '
        f"within {root}.properties[tags].items"
    ) in err
