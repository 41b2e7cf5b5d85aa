"""The Kubernetes objects a TradingBot owns, rendered as plain dicts. Pure.

Names, labels, RBAC, volumes and the security context follow the contract's
Names section. Every child carries a controller owner reference to its
TradingBot, so the API server's garbage collector removes it with the bot.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from tradewarden.api.crd import PLURAL
from tradewarden.api.identity import lease_name
from tradewarden.api.manifest import parse_spec
from tradewarden.api.tradingbot import API_GROUP, API_VERSION, KIND, TradingBotSpec

DEFAULT_BOT_IMAGE = "ghcr.io/tradewarden/tradewarden:0.1.0"
HTTP_PORT = 8080
CONFIG_DIR = "/etc/tradewarden"
CONFIG_KEY = "tradingbot.yaml"
STATE_DIR = "/var/lib/tradewarden"
CREDENTIALS_DIR = "/var/run/secrets/tradewarden/exchange"
RUN_AS = 10001
JOURNAL_SIZE = "1Gi"
MANAGED_BY = "tradewarden-operator"
CONFIG_HASH_ANNOTATION = "tradewarden.io/config-hash"
# Spec fields the bot applies live through its watch: changing them must not
# restart the pod (an emergency stop that restarts the bot would be worse than none).
LIVE_FIELDS = ("paused", "emergencyStop")

Json = dict[str, Any]
# libyaml's emitter when PyYAML has it: the pure-Python one dominates a fleet's reconcile time.
_DUMPER: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


@dataclass(frozen=True)
class BotRef:
    """The TradingBot the children belong to."""

    name: str
    namespace: str
    uid: str
    generation: int | None
    spec: TradingBotSpec
    # The spec as stored: copied verbatim into the bot's manifest and hashed, so what
    # the bot reads (and whether its pod restarts) never depends on this model's defaults.
    stored_spec: Mapping[str, Any]

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> BotRef:
        """Read it from a TradingBot object as the API returns it.

        Raises :class:`SpecError` naming the fields of a spec the models refuse.
        """
        meta = body["metadata"]
        stored = body.get("spec", {})
        return cls(
            name=meta["name"],
            namespace=meta.get("namespace", "default"),
            uid=meta["uid"],
            generation=meta.get("generation"),
            spec=parse_spec(stored),
            stored_spec=stored,
        )

    @property
    def child_name(self) -> str:
        """``tb-NAME``: the ServiceAccount, Role, RoleBinding, StatefulSet and Service."""
        return f"tb-{self.name}"

    @property
    def pod_name(self) -> str:
        """The one pod of the StatefulSet."""
        return f"{self.child_name}-0"

    @property
    def config_map_name(self) -> str:
        """The ConfigMap holding the rendered manifest."""
        return f"{self.child_name}-manifest"


def labels(bot: BotRef) -> dict[str, str]:
    """Labels every child carries (and the pod selector uses)."""
    return {
        "app.kubernetes.io/name": "tradewarden-bot",
        "app.kubernetes.io/instance": bot.name,
        "app.kubernetes.io/managed-by": MANAGED_BY,
        "tradewarden.io/bot": bot.name,
    }


def owner_reference(bot: BotRef) -> Json:
    """A controller reference to the TradingBot."""
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "name": bot.name,
        "uid": bot.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _metadata(bot: BotRef, name: str) -> Json:
    return {
        "name": name,
        "namespace": bot.namespace,
        "labels": labels(bot),
        "ownerReferences": [owner_reference(bot)],
    }


def bot_lease_name(bot: BotRef) -> str:
    """The Lease the bot holds for its account and symbol."""
    return lease_name(bot.spec.exchange.account, bot.spec.symbol)


def service_account(bot: BotRef) -> Json:
    """The bot's own identity."""
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _metadata(bot, bot.child_name),
    }


def role(bot: BotRef) -> Json:
    """Read its own TradingBot and its own Namespace (whose labels TradingHalts select);
    hold its own Lease. Nothing else. (TradingHalts, cluster-scoped, are read through
    the chart's ClusterRole ``tradewarden-halt-reader``.)"""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": _metadata(bot, bot.child_name),
        "rules": [
            {
                "apiGroups": [API_GROUP],
                "resources": [PLURAL],
                "resourceNames": [bot.name],
                "verbs": ["get", "list", "watch"],
            },
            {
                # delete: kube-apiserver lets only who may delete an object change its
                # ownerReferences, and a bot taking the Lease over points it at its own
                # TradingBot (so the Lease goes with the bot that holds it).
                "apiGroups": ["coordination.k8s.io"],
                "resources": ["leases"],
                "resourceNames": [bot_lease_name(bot)],
                "verbs": ["get", "update", "delete"],
            },
            {
                # A namespaced Role may grant its own Namespace: the request's namespace
                # is the Namespace's name.
                "apiGroups": [""],
                "resources": ["namespaces"],
                "resourceNames": [bot.namespace],
                "verbs": ["get"],
            },
            {
                # RBAC cannot restrict create by name: the name is not known yet.
                "apiGroups": ["coordination.k8s.io"],
                "resources": ["leases"],
                "verbs": ["create"],
            },
        ],
    }


def role_binding(bot: BotRef) -> Json:
    """Binds the Role to the bot's ServiceAccount."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": _metadata(bot, bot.child_name),
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": bot.child_name,
        },
        "subjects": [
            {"kind": "ServiceAccount", "name": bot.child_name, "namespace": bot.namespace}
        ],
    }


def manifest_document(bot: BotRef) -> Json:
    """The TradingBot as the manifest the bot reads (no status)."""
    metadata: Json = {"name": bot.name, "namespace": bot.namespace, "uid": bot.uid}
    if bot.generation is not None:
        metadata["generation"] = bot.generation
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": metadata,
        "spec": dict(bot.stored_spec),
    }


def config_map(bot: BotRef) -> Json:
    """The rendered manifest, mounted at /etc/tradewarden."""
    text = yaml.dump(manifest_document(bot), Dumper=_DUMPER, sort_keys=False)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(bot, bot.config_map_name),
        "data": {CONFIG_KEY: text},
    }


def config_hash(bot: BotRef) -> str:
    """Changes when a spec change needs a restart; live fields are left out."""
    restart_relevant = {
        key: value for key, value in bot.stored_spec.items() if key not in LIVE_FIELDS
    }
    encoded = json.dumps(restart_relevant, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(encoded.encode()).hexdigest()[:16]


def _container_security() -> Json:
    return {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS,
        "runAsGroup": RUN_AS,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _probe(path: str, period: int, failures: int) -> Json:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": 2,
        "failureThreshold": failures,
    }


def _credentials_secret(bot: BotRef) -> str | None:
    return bot.spec.exchange.credentials_secret or None


def _env(bot: BotRef) -> list[Json]:
    env: list[Json] = [
        {"name": "TRADEWARDEN_BOT_NAME", "value": bot.name},
        {"name": "TRADEWARDEN_NAMESPACE", "value": bot.namespace},
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
    ]
    if _credentials_secret(bot):
        env.append({"name": "TRADEWARDEN_CREDENTIALS_DIR", "value": CREDENTIALS_DIR})
    return env


def _volumes(bot: BotRef) -> tuple[list[Json], list[Json]]:
    volumes: list[Json] = [
        {"name": "config", "configMap": {"name": bot.config_map_name}},
        {"name": "tmp", "emptyDir": {}},
    ]
    mounts: list[Json] = [
        {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
        {"name": "journal", "mountPath": STATE_DIR},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    secret = _credentials_secret(bot)
    if secret:
        volumes.append(
            {
                "name": "exchange-credentials",
                "secret": {
                    "secretName": secret,
                    "items": [
                        {"key": "apiKey", "path": "apiKey"},
                        {"key": "apiSecret", "path": "apiSecret"},
                    ],
                },
            }
        )
        mounts.append(
            {"name": "exchange-credentials", "mountPath": CREDENTIALS_DIR, "readOnly": True}
        )
    return volumes, mounts


def stateful_set(bot: BotRef, image: str = DEFAULT_BOT_IMAGE) -> Json:
    """One replica, so at most one pod per bot; the journal on its own volume."""
    volumes, mounts = _volumes(bot)
    container: Json = {
        "name": "bot",
        "image": image,
        "args": [
            "bot",
            "--config",
            f"{CONFIG_DIR}/{CONFIG_KEY}",
            "--state-dir",
            STATE_DIR,
            "--http-host",
            "0.0.0.0",
            "--http-port",
            str(HTTP_PORT),
            "--control",
            "kubernetes",
        ],
        "env": _env(bot),
        "ports": [{"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"}],
        "livenessProbe": _probe("/healthz", period=10, failures=3),
        "readinessProbe": _probe("/readyz", period=5, failures=2),
        # A bot that refuses to start (exit 2: a lost journal, a bad manifest) says why
        # on its last log line; Kubernetes keeps it in lastState.terminated.message.
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"cpu": "1", "memory": "512Mi"},
        },
        "securityContext": _container_security(),
        "volumeMounts": mounts,
    }
    pod_labels = labels(bot)
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": _metadata(bot, bot.child_name),
        "spec": {
            "replicas": 1,
            "serviceName": bot.child_name,
            "podManagementPolicy": "OrderedReady",
            "selector": {
                "matchLabels": {
                    "app.kubernetes.io/name": pod_labels["app.kubernetes.io/name"],
                    "app.kubernetes.io/instance": pod_labels["app.kubernetes.io/instance"],
                }
            },
            "template": {
                "metadata": {
                    "labels": pod_labels,
                    "annotations": {CONFIG_HASH_ANNOTATION: config_hash(bot)},
                },
                "spec": {
                    "serviceAccountName": bot.child_name,
                    "automountServiceAccountToken": True,
                    "terminationGracePeriodSeconds": 30,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": RUN_AS,
                        "runAsGroup": RUN_AS,
                        "fsGroup": RUN_AS,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [container],
                    "volumes": volumes,
                },
            },
            # The journal goes with the bot: deletion runs through the finalizer, which drains
            # the bot to Halt (no open orders left) before the children go, so nothing in it is
            # needed any more, and a bot recreated under the same name (a new uid) must not
            # find the old bot's journal ("journal belongs to bot ..."). Scaling keeps it.
            "persistentVolumeClaimRetentionPolicy": {
                "whenDeleted": "Delete",
                "whenScaled": "Retain",
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "journal", "labels": pod_labels},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": JOURNAL_SIZE}},
                    },
                }
            ],
        },
    }


def service(bot: BotRef) -> Json:
    """``/status`` and ``/metrics`` of the bot."""
    selector = labels(bot)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(bot, bot.child_name),
        "spec": {
            "type": "ClusterIP",
            "selector": {
                "app.kubernetes.io/name": selector["app.kubernetes.io/name"],
                "app.kubernetes.io/instance": selector["app.kubernetes.io/instance"],
            },
            "ports": [{"name": "http", "port": HTTP_PORT, "targetPort": "http"}],
        },
    }


def creation_waves(body: Mapping[str, Any], image: str = DEFAULT_BOT_IMAGE) -> list[list[Json]]:
    """Every child, in waves: a wave needs only what earlier waves created.

    Raises :class:`tradewarden.api.manifest.SpecError` for a spec the models refuse.

    The API server refuses a RoleBinding whose Role does not exist yet (its RBAC
    escalation check finds no rules to compare), and the StatefulSet's pod needs its
    ServiceAccount, ConfigMap and rights from its first start, so: the independent
    ServiceAccount, Role, ConfigMap and Service; then the RoleBinding; then the StatefulSet.
    """
    bot = BotRef.from_body(body)
    return [
        [service_account(bot), role(bot), config_map(bot), service(bot)],
        [role_binding(bot)],
        [stateful_set(bot, image)],
    ]


def render_children(body: Mapping[str, Any], image: str = DEFAULT_BOT_IMAGE) -> list[Json]:
    """Every child in creation order (the waves of :func:`creation_waves`, one after another)."""
    return [child for wave in creation_waves(body, image) for child in wave]
