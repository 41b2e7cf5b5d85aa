"""The children of a TradingBot: names, labels, owners, RBAC, pod security and volumes."""

from __future__ import annotations

import copy
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.support.manifests import example_manifest
from tradewarden.api.manifest import SpecError, parse_manifest
from tradewarden.operator.children import (
    CONFIG_HASH_ANNOTATION,
    creation_waves,
    render_children,
)

UID = "5b1f4c2e-0000-4000-8000-000000000001"


def bot_body() -> dict[str, Any]:
    body = example_manifest()
    body["metadata"].update(uid=UID, generation=3)
    return dict(body)


def children(body: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    return {child["kind"]: child for child in render_children(body or bot_body(), "img:1")}


def pod_spec(kids: dict[str, dict[str, Any]]) -> dict[str, Any]:
    spec = kids["StatefulSet"]["spec"]["template"]["spec"]
    assert isinstance(spec, dict)
    return spec


def test_every_child_is_named_labelled_and_owned_per_the_contract() -> None:
    kids = render_children(bot_body(), "img:1")
    assert [(c["kind"], c["metadata"]["name"]) for c in kids] == [
        ("ServiceAccount", "tb-btc-grid-sim"),
        ("Role", "tb-btc-grid-sim"),
        ("ConfigMap", "tb-btc-grid-sim-manifest"),
        ("Service", "tb-btc-grid-sim"),
        ("RoleBinding", "tb-btc-grid-sim"),
        ("StatefulSet", "tb-btc-grid-sim"),
    ]
    for child in kids:
        meta = child["metadata"]
        assert meta["namespace"] == "dev"
        assert meta["labels"] == {
            "app.kubernetes.io/name": "tradewarden-bot",
            "app.kubernetes.io/instance": "btc-grid-sim",
            "app.kubernetes.io/managed-by": "tradewarden-operator",
            "tradewarden.io/bot": "btc-grid-sim",
        }
        assert meta["ownerReferences"] == [
            {
                "apiVersion": "tradewarden.io/v1alpha1",
                "kind": "TradingBot",
                "name": "btc-grid-sim",
                "uid": UID,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]


# What each child needs to exist first on a real API server: a RoleBinding is refused
# before its Role; the pod must start with its identity, rights and configuration.
NEEDS = {
    "RoleBinding": {"Role", "ServiceAccount"},
    "StatefulSet": {"ServiceAccount", "RoleBinding", "ConfigMap"},
}


def test_each_wave_needs_only_what_earlier_waves_created() -> None:
    created: set[str] = set()
    for wave in creation_waves(bot_body(), "img:1"):
        kinds = {child["kind"] for child in wave}
        for kind in kinds:
            assert NEEDS.get(kind, set()) <= created, kind
        created |= kinds
    assert created == {
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "ConfigMap",
        "Service",
        "StatefulSet",
    }


@pytest.mark.parametrize("index", range(6))
def test_children_are_valid_kubernetes_objects(index: int) -> None:
    body = bot_body()
    body["spec"]["exchange"]["credentialsSecret"] = "keys"
    child = render_children(body, "img:1")[index]
    kubernetes_validate.validate(child, "1.32", strict=True)


def test_role_grants_only_its_own_bot_namespace_and_lease() -> None:
    rules = children()["Role"]["rules"]
    assert rules == [
        {
            "apiGroups": ["tradewarden.io"],
            "resources": ["tradingbots"],
            "resourceNames": ["btc-grid-sim"],
            "verbs": ["get", "list", "watch"],
        },
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "resourceNames": ["tw-sim-btc-usdt-usdt"],
            "verbs": ["get", "update", "delete"],
        },
        {
            "apiGroups": [""],
            "resources": ["namespaces"],
            "resourceNames": ["dev"],
            "verbs": ["get"],
        },
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
    ]
    binding = children()["RoleBinding"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "tb-btc-grid-sim", "namespace": "dev"}
    ]
    assert binding["roleRef"]["name"] == "tb-btc-grid-sim"


def test_config_map_holds_a_manifest_the_bot_accepts() -> None:
    text = children()["ConfigMap"]["data"]["tradingbot.yaml"]
    bot = parse_manifest(text)
    assert bot.metadata.uid == UID
    assert bot.metadata.generation == 3
    assert bot.spec.exchange.url_override == "http://127.0.0.1:18080"
    assert "status" not in yaml.safe_load(text)


def test_pod_runs_the_bot_restricted_with_probes_and_a_journal_volume() -> None:
    body = bot_body()
    del body["spec"]["exchange"]["credentialsSecret"]  # no Secret: nothing mounted for it
    kids = children(body)
    sts = kids["StatefulSet"]["spec"]
    assert sts["replicas"] == 1
    assert sts["serviceName"] == "tb-btc-grid-sim"
    pod = pod_spec(kids)
    assert pod["serviceAccountName"] == "tb-btc-grid-sim"
    assert pod["terminationGracePeriodSeconds"] == 30
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    assert container["name"] == "bot"
    assert container["image"] == "img:1"
    assert container["args"] == [
        "bot", "--config", "/etc/tradewarden/tradingbot.yaml", "--state-dir",
        "/var/lib/tradewarden", "--http-host", "0.0.0.0", "--http-port", "8080",
        "--control", "kubernetes",
    ]  # fmt: skip
    security = container["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["runAsUser"] == 10001
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"
    assert container["ports"][0]["containerPort"] == 8080
    assert set(container["resources"]) == {"requests", "limits"}
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts == {
        "config": "/etc/tradewarden",
        "journal": "/var/lib/tradewarden",
        "tmp": "/tmp",
    }
    (claim,) = sts["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "journal"
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
    # The journal goes with the (drained) bot, so a recreated namesake starts clean.
    assert sts["persistentVolumeClaimRetentionPolicy"] == {
        "whenDeleted": "Delete",
        "whenScaled": "Retain",
    }
    env = {e["name"]: e for e in container["env"]}
    assert env["TRADEWARDEN_BOT_NAME"]["value"] == "btc-grid-sim"
    assert env["TRADEWARDEN_NAMESPACE"]["value"] == "dev"
    assert env["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert "TRADEWARDEN_CREDENTIALS_DIR" not in env


def test_credentials_secret_is_mounted_and_announced() -> None:
    body = bot_body()
    body["spec"]["exchange"]["credentialsSecret"] = "binance-keys"
    pod = pod_spec(children(body))
    (container,) = pod["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["TRADEWARDEN_CREDENTIALS_DIR"] == "/var/run/secrets/tradewarden/exchange"
    volume = next(v for v in pod["volumes"] if "secret" in v)
    assert volume["secret"]["secretName"] == "binance-keys"
    assert {i["key"] for i in volume["secret"]["items"]} == {"apiKey", "apiSecret"}
    mount = next(m for m in container["volumeMounts"] if m["name"] == volume["name"])
    assert mount == {
        "name": volume["name"],
        "mountPath": "/var/run/secrets/tradewarden/exchange",
        "readOnly": True,
    }


def test_service_exposes_http_for_status_and_metrics() -> None:
    svc = children()["Service"]["spec"]
    assert svc["ports"] == [{"name": "http", "port": 8080, "targetPort": "http"}]
    selector = children()["StatefulSet"]["spec"]["selector"]["matchLabels"]
    assert svc["selector"] == selector


def config_hash_of(body: dict[str, Any]) -> str:
    template = children(body)["StatefulSet"]["spec"]["template"]
    return str(template["metadata"]["annotations"][CONFIG_HASH_ANNOTATION])


def test_live_controls_do_not_restart_the_pod_but_other_changes_do() -> None:
    base = bot_body()
    stopped = copy.deepcopy(base)
    stopped["spec"]["emergencyStop"] = {"action": "Halt", "reason": "desk"}
    stopped["spec"]["paused"] = True
    assert config_hash_of(stopped) == config_hash_of(base)
    riskier = copy.deepcopy(base)
    riskier["spec"]["risk"]["maxPosition"] = "0.05"
    assert config_hash_of(riskier) != config_hash_of(base)


def test_the_manifest_carries_the_spec_as_stored_not_as_the_model_reads_it() -> None:
    """Defaults the model fills in stay out: what the bot reads and the pod's config hash
    depend on the stored spec alone, so a new default never restarts a fleet."""
    body = bot_body()
    manifest = yaml.safe_load(children(body)["ConfigMap"]["data"]["tradingbot.yaml"])
    assert manifest["spec"] == body["spec"]
    assert "guards" not in body["spec"]


def test_a_spec_the_models_refuse_renders_nothing_and_names_the_field() -> None:
    body = bot_body()
    del body["spec"]["risk"]["maxPosition"]
    with pytest.raises(SpecError, match=r"spec\.risk\.maxPosition: Field required"):
        creation_waves(body, "img:1")
