"""The Helm chart, rendered by the real helm for every environment.

Lint, Kubernetes 1.32 schemas, the TradingBot CRD schema, and the policies the
people running it rely on: least-privilege RBAC, restricted containers,
alerts that link to an existing runbook, values that fail early.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.ship.conftest import CHART, ENVIRONMENTS, ROOT, Render, run_helm, template_args
from tradewarden.api.tradingbot import LOCAL_VENUE_URL, TradingBot

K8S_VERSION = "1.32"
# Kinds outside the Kubernetes schema set, checked separately below.
CUSTOM_KINDS = {"TradingBot", "ServiceMonitor", "PrometheusRule"}
CRD_FILE = "tradingbots.tradewarden.io.yaml"
REQUIRED_ALERTS = {
    "OrderSubmitWithoutResponse",
    "NoOrdersSubmitted",
    "BotDegraded",
    "DriftPersisting",
    "ProtectionMissing",
    "KillSwitchEngaged",
    "OperatorDown",
}
SECURITY = {
    "runAsNonRoot": True,
    "readOnlyRootFilesystem": True,
    "allowPrivilegeEscalation": False,
}


def _of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc["kind"] == kind]


def _crd_schema() -> dict[str, Any]:
    path = CHART / "crds" / CRD_FILE
    assert path.exists(), f"{path} missing: `tradewarden crds` generates it"
    crd = yaml.safe_load(path.read_text())
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_helm_lint_strict(helm: Path, env: str) -> None:
    done = run_helm(helm, "lint", "--strict", ".", "-f", f"values-{env}.yaml")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_rendered_manifests_pass_kubernetes_schemas(render: Render, env: str) -> None:
    docs = render(env)
    for doc in docs:
        if doc["kind"] in CUSTOM_KINDS:
            continue
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    kinds = {doc["kind"] for doc in docs}
    assert {"Deployment", "ClusterRole", "CustomResourceDefinition", "NetworkPolicy"} <= kinds


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_rendered_tradingbots_match_the_crd_and_the_api_model(render: Render, env: str) -> None:
    bots = _of_kind(render(env), "TradingBot")
    assert bots, f"values-{env}.yaml declares no bots"
    # A CRD schema is OpenAPI v3.0 (boolean exclusiveMinimum): JSON Schema draft 4.
    validator = jsonschema.Draft4Validator(_crd_schema())
    for bot in bots:
        validator.validate(bot)
        model = TradingBot.model_validate(bot)
        assert model.spec.environment == env
        assert model.spec.emergency_stop is None


def test_chart_crd_is_the_generated_crd() -> None:
    chart_crd = CHART / "crds" / CRD_FILE
    assert chart_crd.read_text() == (ROOT / "crds" / CRD_FILE).read_text()


def test_prod_bots_are_live_only_with_the_opt_in(render: Render) -> None:
    for bot in _of_kind(render("prod"), "TradingBot"):
        exchange = bot["spec"]["exchange"]
        assert exchange["sandbox"] is True or exchange["allowLive"] is True
    for env in ("dev", "canary"):
        for bot in _of_kind(render(env), "TradingBot"):
            assert bot["spec"]["exchange"]["sandbox"] is True


def test_dev_bots_trade_on_the_in_cluster_simulator(render: Render) -> None:
    docs = render("dev")
    services = {doc["metadata"]["name"] for doc in _of_kind(docs, "Service")}
    for bot in _of_kind(docs, "TradingBot"):
        url = bot["spec"]["exchange"]["urlOverride"]
        assert url.split("//")[1].split(".")[0] in services


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_rbac_has_no_wildcards(render: Render, env: str) -> None:
    roles = _of_kind(render(env), "ClusterRole") + _of_kind(render(env), "Role")
    assert roles
    for role in roles:
        for rule in role["rules"]:
            for key in ("apiGroups", "resources", "verbs", "resourceNames"):
                assert "*" not in rule.get(key, []), (role["metadata"]["name"], rule)


def _allowed(rules: list[dict[str, Any]], group: str, resource: str, verb: str) -> bool:
    return any(
        group in rule["apiGroups"] and resource in rule["resources"] and verb in rule["verbs"]
        for rule in rules
    )


def _operator_args(docs: list[dict[str, Any]]) -> list[str]:
    (deployment,) = _of_kind(docs, "Deployment")
    args: list[str] = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    return args


NAMESPACED = ("--set", "operator.watchNamespaces={tradewarden-prod,desk-b}")


def _operator_cluster_roles(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        role
        for role in _of_kind(docs, "ClusterRole")
        if not role["metadata"]["name"].endswith("-halt-reader")
    ]


@pytest.mark.parametrize("scope", ["cluster-wide", "namespaced"])
def test_operator_holds_what_it_grants_and_what_it_manages(render: Render, scope: str) -> None:
    if scope == "cluster-wide":
        (role,) = _operator_cluster_roles(render("prod"))
        _check_operator_rules(role["rules"])
    else:
        docs = render("prod", *NAMESPACED)
        (halts,) = _operator_cluster_roles(docs)
        roles = _of_kind(docs, "Role")
        assert {role["metadata"]["namespace"] for role in roles} == {"tradewarden-prod", "desk-b"}
        for role in roles:
            _check_operator_rules(role["rules"] + halts["rules"], cluster_scoped=False)


def test_cluster_wide_install_binds_a_cluster_role_and_watches_every_namespace(
    render: Render,
) -> None:
    docs = render("prod")
    assert [d["kind"] for d in docs if d["kind"] in ("Role", "RoleBinding")] == []
    (role,) = _operator_cluster_roles(docs)
    assert [
        b
        for b in _of_kind(docs, "ClusterRoleBinding")
        if b["roleRef"]["name"] == role["metadata"]["name"]
    ]
    assert "--all-namespaces" in _operator_args(docs)
    assert "--namespace" not in _operator_args(docs)


def test_namespaced_install_grants_only_trading_halts_cluster_wide(render: Render) -> None:
    docs = render("prod", *NAMESPACED)
    (halts,) = _operator_cluster_roles(docs)
    # TradingHalts are cluster-scoped; everything else is in the watched namespaces.
    assert {resource for rule in halts["rules"] for resource in rule["resources"]} == {
        "tradinghalts",
        "tradinghalts/status",
    }
    bindings = _of_kind(docs, "RoleBinding")
    assert {b["metadata"]["namespace"] for b in bindings} == {"tradewarden-prod", "desk-b"}
    for binding in bindings:
        assert binding["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": "tradewarden-operator",
        }
        assert binding["subjects"] == [
            {
                "kind": "ServiceAccount",
                "name": "tradewarden-operator",
                "namespace": "tradewarden-prod",
            }
        ]
    args = _operator_args(docs)
    assert "--all-namespaces" not in args
    scope = [args[i + 1] for i, arg in enumerate(args) if arg == "--namespace"]
    assert scope == ["tradewarden-prod", "desk-b"]
    (reader,) = [
        b
        for b in _of_kind(docs, "ClusterRoleBinding")
        if b["metadata"]["name"].endswith("halt-reader")
    ]
    assert {"system:serviceaccounts:desk-b"} <= {s["name"] for s in reader["subjects"]}


def test_namespaced_install_refuses_a_bot_outside_its_namespaces(helm: Path) -> None:
    done = run_helm(helm, *template_args("prod", "--set", "operator.watchNamespaces={desk-b}"))
    assert done.returncode != 0
    assert "btc-grid is in namespace tradewarden-prod, which operator.watchNamespaces" in (
        done.stderr
    )


def _check_operator_rules(rules: list[dict[str, Any]], *, cluster_scoped: bool = True) -> None:
    # RBAC escalation prevention: the bot Role's grants (contract) must be held.
    bot_role = [
        ("tradewarden.io", "tradingbots", ("get", "list", "watch")),
        ("coordination.k8s.io", "leases", ("get", "update", "create", "delete")),
        ("", "namespaces", ("get",)),
    ]
    # delete: the operator sends none, but changing a child's ownerReferences takes it
    # (OwnerReferencesPermissionEnforcement).
    children = [
        ("", resource, ("create", "patch", "delete"))
        for resource in ("serviceaccounts", "configmaps", "services")
    ] + [
        ("apps", "statefulsets", ("create", "patch", "delete")),
        ("rbac.authorization.k8s.io", "roles", ("create", "patch", "delete")),
        ("rbac.authorization.k8s.io", "rolebindings", ("create", "patch", "delete")),
        ("tradewarden.io", "tradingbots", ("patch",)),
        ("tradewarden.io", "tradingbots/status", ("patch",)),
        # Children carry blockOwnerDeletion: true (OwnerReferencesPermissionEnforcement).
        ("tradewarden.io", "tradingbots/finalizers", ("update",)),
        ("tradewarden.io", "tradinghalts", ("list", "watch")),
        ("tradewarden.io", "tradinghalts/status", ("patch",)),
        ("", "events", ("create",)),
        ("", "pods", ("list", "watch")),
    ]
    # Least privilege: what a run on a real kube-apiserver (its audit log) never saw the
    # operator send, and no bot Role grants. The garbage collector deletes the children.
    never = [
        ("", resource, ("get", "list", "watch", "update"))
        for resource in ("serviceaccounts", "configmaps", "services")
    ] + [
        ("", "secrets", ("get", "list", "watch", "update", "delete")),
        ("", "pods", ("get", "delete", "update")),
        ("apps", "statefulsets", ("get", "list", "watch", "update")),
        ("rbac.authorization.k8s.io", "roles", ("get", "list", "watch", "update")),
        ("rbac.authorization.k8s.io", "rolebindings", ("get", "list", "watch", "update")),
        ("coordination.k8s.io", "leases", ("list", "watch", "patch")),
        ("tradewarden.io", "tradinghalts", ("get", "patch", "update", "delete", "create")),
        ("tradewarden.io", "tradinghalts/status", ("get", "update")),
        ("tradewarden.io", "tradingbots", ("update", "delete", "create")),
        ("tradewarden.io", "tradingbots/status", ("get", "update")),
        ("", "events", ("patch", "update", "delete")),
        ("events.k8s.io", "events", ("create", "patch")),
        ("apiextensions.k8s.io", "customresourcedefinitions", ("get", "create", "patch")),
    ]
    # kopf observes namespaces and CRDs only when it watches every namespace.
    cluster = [
        ("", "namespaces", ("list", "watch")),
        ("apiextensions.k8s.io", "customresourcedefinitions", ("list", "watch")),
    ]
    for group, resource, verbs in cluster:
        for verb in verbs:
            assert _allowed(rules, group, resource, verb) == cluster_scoped, (resource, verb)
    for group, resource, verbs in bot_role + children:
        for verb in verbs:
            assert _allowed(rules, group, resource, verb), (group, resource, verb)
    for group, resource, verbs in never:
        for verb in verbs:
            assert not _allowed(rules, group, resource, verb), (group, resource, verb)
    assert not _allowed(rules, "", "secrets", "get"), "the operator never reads Secrets"


def _pod_specs(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [doc["spec"]["template"]["spec"] for doc in docs if doc["kind"] in ("Deployment", "Job")]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_container_is_restricted(render: Render, env: str) -> None:
    pods = _pod_specs(render(env))
    assert pods
    for pod in pods:
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        for container in pod.get("initContainers", []) + pod["containers"]:
            context = container["securityContext"]
            for key, value in SECURITY.items():
                assert context[key] is value, (container["name"], key)
            assert context["capabilities"]["drop"] == ["ALL"]
            assert context["seccompProfile"]["type"] == "RuntimeDefault"
            assert {"cpu", "memory"} <= set(container["resources"]["requests"])
            assert {"cpu", "memory"} <= set(container["resources"]["limits"])


def test_operator_is_a_single_recreated_replica(render: Render) -> None:
    (deployment,) = [
        d for d in _of_kind(render("prod"), "Deployment") if "operator" in d["metadata"]["name"]
    ]
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"]["type"] == "Recreate"
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["args"][0] == "operator"
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert env["TRADEWARDEN_BOT_IMAGE"] == container["image"]


def test_prod_pins_every_image_by_digest(render: Render) -> None:
    """Operator, bots (through TRADEWARDEN_BOT_IMAGE) and any other container: tag@digest."""
    docs = render("prod")
    images = [
        container["image"]
        for doc in docs
        if doc["kind"] in ("Deployment", "StatefulSet")
        for container in doc["spec"]["template"]["spec"]["containers"]
    ]
    assert images
    for image in images:
        assert re.fullmatch(r"ghcr\.io/tradewarden/tradewarden:0\.1\.0@sha256:[0-9a-f]{64}", image)
    (deployment,) = _of_kind(docs, "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert env["TRADEWARDEN_BOT_IMAGE"] == container["image"]


def test_operator_readiness_probe_is_its_readyz(render: Render) -> None:
    (deployment,) = _of_kind(render("prod"), "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert container["args"][container["args"].index("--ready-port") + 1] == str(ports["ready"])
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "ready"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/metrics", "port": "metrics"}


def test_dev_venue_simulator_is_probed_fenced_and_reads_keys_from_files(render: Render) -> None:
    docs = render("dev")
    (sim,) = [d for d in _of_kind(docs, "Deployment") if "venue-sim" in d["metadata"]["name"]]
    pod = sim["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert "env" not in container
    assert "$(" not in " ".join(container["args"])
    directory = container["args"][container["args"].index("--credentials-dir") + 1]
    (mount,) = container["volumeMounts"]
    assert (mount["mountPath"], mount["readOnly"]) == (directory, True)
    (volume,) = pod["volumes"]
    assert volume["secret"]["secretName"] == "tradewarden-sim-credentials"
    assert container["livenessProbe"]["httpGet"]["path"] == "/fapi/v1/time"
    assert container["readinessProbe"]["httpGet"]["path"] == "/fapi/v1/time"
    (policy,) = [p for p in _of_kind(docs, "NetworkPolicy") if "venue-sim" in p["metadata"]["name"]]
    assert policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == (
        "tradewarden-venue-sim"
    )
    assert policy["spec"]["egress"] == []
    (ingress,) = policy["spec"]["ingress"]
    assert [port["port"] for port in ingress["ports"]] == [8080]
    for peer in ingress["from"]:
        assert peer["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "tradewarden-bot"}


def test_network_policy_limits_bots_to_dns_api_and_exchange(render: Render) -> None:
    policies = [
        p
        for p in _of_kind(render("canary"), "NetworkPolicy")
        if p["metadata"]["name"] == "tradewarden-bots"
    ]
    assert {p["metadata"]["namespace"] for p in policies} == {"tradewarden-canary"}
    (policy,) = policies
    assert policy["spec"]["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "tradewarden-bot"
    }
    egress_ports = [{port["port"] for port in rule["ports"]} for rule in policy["spec"]["egress"]]
    assert egress_ports == [{53}, {443}, {443}]
    (ingress,) = policy["spec"]["ingress"]
    assert [port["port"] for port in ingress["ports"]] == [8080]


def _alerts(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    (rule,) = _of_kind(docs, "PrometheusRule")
    return [r for group in rule["spec"]["groups"] for r in group["rules"] if "alert" in r]


def test_every_alert_links_an_existing_runbook(render: Render) -> None:
    base = "https://runbooks.example/tw/runbooks"
    alerts = _alerts(render("prod", "--set", f"runbookBaseUrl={base}"))
    assert {alert["alert"] for alert in alerts} >= REQUIRED_ALERTS
    for alert in alerts:
        url = alert["annotations"]["runbook_url"]
        assert url.startswith(base + "/"), url
        page = ROOT / "runbooks" / url.removeprefix(base + "/")
        assert page.is_file(), f"{alert['alert']}: {page} missing"


def test_alert_expressions_use_exported_metric_names(render: Render) -> None:
    exprs = " ".join(alert["expr"] for alert in _alerts(render("prod")))
    # prometheus_client exposes counters with a _total suffix.
    for name in (
        "tradewarden_orders_submitted_total",
        "tradewarden_orders_responded_total",
        "tradewarden_trading_mode",
        "tradewarden_order_retries_total",
        "tradewarden_kill_switch_engaged",
        "tradewarden_protection_missing",
        "tradewarden_mismatch_streak",
        "tradewarden_operator_bots",
    ):
        assert name in exprs, name


def test_dashboard_shows_the_key_series(render: Render) -> None:
    (config_map,) = [
        c for c in _of_kind(render("prod"), "ConfigMap") if "dashboard" in c["metadata"]["name"]
    ]
    dashboard = yaml.safe_load(config_map["data"]["tradewarden.json"])
    exprs = " ".join(t["expr"] for panel in dashboard["panels"] for t in panel["targets"])
    for name in (
        "tradewarden_orders_submitted_total",
        "tradewarden_orders_responded_total",
        "tradewarden_order_retries_total",
        "tradewarden_trading_mode",
        "tradewarden_guard_trips_total",
        "tradewarden_stop_repairs_total",
        "tradewarden_belief_confidence",
    ):
        assert name in exprs, name


@pytest.mark.parametrize(
    ("env", "override", "message"),
    [
        ("dev", "environment=staging", "/environment"),
        ("canary", "botDefaults.exchange.sandbox=false", "/botDefaults/exchange/sandbox"),
        ("prod", "botDefaults.exchange.allowLive=false", "/botDefaults/exchange/allowLive"),
        (
            "canary",
            "botDefaults.exchange.urlOverride=https://fapi.binance.com",
            "'/botDefaults/exchange': missing property 'allowLive'",
        ),
        ("prod", "bots[0].name=Bad_Name", "/bots/0/name"),
        ("prod", "operator.metricsPort=80", "/operator/metricsPort"),
        ("prod", "networkPolicy.apiServer.cidrs=null", "/networkPolicy/apiServer"),
        ("prod", "operatr.replicas=2", "operatr"),
        ("prod", "image.tag=latest", "/image/tag"),
        ("prod", "image.tag=main", "/image/tag"),
        ("prod", "image.digest=", "/image/digest"),
        ("canary", "image.digest=sha256:abc", "/image/digest"),
    ],
)
def test_values_schema_rejects_bad_values(
    helm: Path, env: str, override: str, message: str
) -> None:
    done = run_helm(helm, *template_args(env, "--set", override))
    assert done.returncode != 0
    assert "values don't meet the specifications of the schema" in done.stderr
    assert message in done.stderr, done.stderr


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "bots[0].spec.emergencyStop.action=Halt",
            "bots[0] (btc-grid).spec.emergencyStop: an emergency stop is never set in values (Git)",
        ),
        (
            "botDefaults.environment=dev",
            "botDefaults.environment: the chart sets every bot's environment",
        ),
        (
            "bots[0].spec.risk.maxPosition=-1",
            "bots[0] (btc-grid).spec.risk.maxPosition: -1 is not a positive decimal number",
        ),
        (
            "botDefaults.risk.maxOrderNotional=lots",
            "botDefaults.risk.maxOrderNotional: lots is not a positive decimal number",
        ),
        (
            "bots[0].spec.risk.stopDistancePct=0",
            "bots[0] (btc-grid).spec.risk.stopDistancePct: 0 is not a positive decimal number",
        ),
    ],
)
def test_refused_bot_values_are_named_in_words(helm: Path, override: str, message: str) -> None:
    done = run_helm(helm, *template_args("prod", "--set", override))
    assert done.returncode != 0
    assert message in done.stderr, done.stderr
    assert "failed" not in done.stderr, done.stderr


def test_merged_bot_spec_without_live_opt_in_fails_with_its_name(helm: Path) -> None:
    # Each values location is valid alone; only the merged spec lacks the opt-in.
    done = run_helm(helm, *template_args("prod", "--set", "bots[0].spec.exchange.allowLive=false"))
    assert done.returncode != 0
    assert "btc-grid trades a live venue (exchange.sandbox: false) without" in done.stderr


def test_merged_bot_spec_with_a_live_url_override_needs_the_opt_in(helm: Path) -> None:
    # botDefaults alone opts in; the bot's own allowLive: false wins in the merged spec.
    done = run_helm(
        helm,
        *template_args(
            "canary",
            "--set",
            "botDefaults.exchange.urlOverride=https://fapi.binance.com",
            "--set",
            "botDefaults.exchange.allowLive=true",
            "--set",
            "bots[0].spec.exchange.allowLive=false",
        ),
    )
    assert done.returncode != 0
    assert (
        "trades a live venue (exchange.urlOverride: https://fapi.binance.com, not loopback or "
        "in-cluster) without exchange.allowLive: true"
    ) in done.stderr, done.stderr


def test_the_chart_and_the_crd_agree_on_what_is_not_live() -> None:
    template = (CHART / "templates" / "tradingbots.yaml").read_text(encoding="utf-8")
    assert f"regexMatch `{LOCAL_VENUE_URL}`" in template
    assert json.dumps(LOCAL_VENUE_URL) in (CHART / "values.schema.json").read_text(encoding="utf-8")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_bots_read_trading_halts_and_nothing_else_cluster_wide(render: Render, env: str) -> None:
    docs = render(env)
    (reader,) = [
        r for r in _of_kind(docs, "ClusterRole") if r["metadata"]["name"].endswith("halt-reader")
    ]
    # The bot lists and watches them (a real kube-apiserver's audit log of a bot run).
    assert reader["rules"] == [
        {
            "apiGroups": ["tradewarden.io"],
            "resources": ["tradinghalts"],
            "verbs": ["list", "watch"],
        }
    ]
    bindings = [
        b
        for b in _of_kind(docs, "ClusterRoleBinding")
        if b["roleRef"]["name"] == reader["metadata"]["name"]
    ]
    (binding,) = bindings
    groups = {subject["name"] for subject in binding["subjects"]}
    bot_namespaces = {bot["metadata"]["namespace"] for bot in _of_kind(docs, "TradingBot")}
    assert {f"system:serviceaccounts:{ns}" for ns in bot_namespaces} <= groups
    assert all(subject["kind"] == "Group" for subject in binding["subjects"])
