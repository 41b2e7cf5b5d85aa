"""The sandbox's local pod runner against the real sandbox API server (and real kubectl).

The container is the venue simulator (``tradewarden venue-sim --port 8080``): it
binds the rewritten port and answers ``/fapi/v1/time``, the readiness path.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.sandbox.conftest import Kubectl
from tests.support.waiting import eventually
from tradewarden.operator.sandbox.apiserver import SandboxApi
from tradewarden.operator.sandbox.pod_spec import (
    MissingSource,
    UnsupportedPod,
    VolumePlan,
    plan_pod,
    resolve_args,
    resolve_env,
    rewrite_args,
    volume_files,
)
from tradewarden.operator.sandbox.pod_status import (
    ContainerView,
    Stage,
    Terminated,
    crash_backoff,
    pod_status,
)
from tradewarden.operator.sandbox.pods import PodRunner, RunnerSettings, running_pod_runner

Obj = dict[str, Any]
POD = "venue-0"
FAST = RunnerSettings(restart_backoff_s=0.2, restart_backoff_cap_s=1.0, source_retry_s=0.1)


# ---- the pure translation ------------------------------------------------------------------

MOUNTS = {"/etc/tw": Path("/sb/p/config"), "/var/lib/tw": Path("/sb/p/journal")}
PORTS = {8080: 40001}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--config", "/etc/tw/bot.yaml"], ["--config", "/sb/p/config/bot.yaml"]),
        (["--config=/etc/tw/bot.yaml"], ["--config=/sb/p/config/bot.yaml"]),
        (["--state-dir", "/var/lib/tw"], ["--state-dir", "/sb/p/journal"]),
        (["--other", "/etc/twin/x"], ["--other", "/etc/twin/x"]),  # a prefix is not a parent
        (["--http-port", "8080"], ["--http-port", "40001"]),
        (["--port=8080"], ["--port=40001"]),
        (["--http-port", "9090"], ["--http-port", "9090"]),  # not a declared containerPort
        (["--replicas", "8080"], ["--replicas", "8080"]),  # not a port flag
        (["--http-host", "0.0.0.0"], ["--http-host", "127.0.0.1"]),
        (["--host", "::"], ["--host", "127.0.0.1"]),
        (["--host", "10.0.0.1"], ["--host", "10.0.0.1"]),
        (["bot", "8080"], ["bot", "8080"]),  # a positional is no flag value
    ],
)
def test_args_move_paths_and_ports_to_local(args: list[str], expected: list[str]) -> None:
    assert rewrite_args(args, MOUNTS, PORTS) == expected


def _sts(container: Obj, **pod_spec: Any) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "tb-a", "namespace": "ns1", "uid": "u1"},
        "spec": {
            "replicas": 1,
            "serviceName": "tb-a",
            "template": {
                "metadata": {"labels": {"app": "a"}},
                "spec": {"containers": [{"name": "bot", "image": "img", **container}], **pod_spec},
            },
            "volumeClaimTemplates": [{"metadata": {"name": "journal"}}],
        },
    }


BOT_CONTAINER: Obj = {
    "args": [
        *("bot", "--config", "/etc/tw/tradingbot.yaml", "--state-dir", "/var/lib/tw"),
        *("--http-host", "0.0.0.0", "--http-port", "8080", "--name", "$(POD_NAME)"),
    ],
    "env": [
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "CREDS", "value": "/var/run/creds"},
        {"name": "GREETING", "value": "hi $(POD_NAME)"},
        {"name": "KEY", "valueFrom": {"secretKeyRef": {"name": "s", "key": "apiKey"}}},
        {
            "name": "OPT",
            "valueFrom": {"configMapKeyRef": {"name": "none", "key": "k", "optional": True}},
        },
    ],
    "ports": [{"name": "http", "containerPort": 8080}],
    "readinessProbe": {"httpGet": {"path": "/readyz", "port": "http"}, "periodSeconds": 5},
    "volumeMounts": [
        {"name": "config", "mountPath": "/etc/tw"},
        {"name": "journal", "mountPath": "/var/lib/tw"},
        {"name": "creds", "mountPath": "/var/run/creds"},
    ],
}
BOT_VOLUMES = [
    {"name": "config", "configMap": {"name": "tb-a-manifest"}},
    {
        "name": "creds",
        "secret": {"secretName": "s", "items": [{"key": "apiKey", "path": "apiKey"}]},
    },
]


def test_plan_of_a_bot_pod() -> None:
    plan = plan_pod(
        _sts(BOT_CONTAINER, volumes=BOT_VOLUMES, terminationGracePeriodSeconds=7),
        0,
        Path("/sb/pods"),
        lambda: 40001,
    )
    pod_dir = Path("/sb/pods/ns1/tb-a-0")
    assert (plan.namespace, plan.name, plan.pod_dir) == ("ns1", "tb-a-0", pod_dir)
    assert plan.args[:5] == (
        "bot",
        "--config",
        f"{pod_dir}/config/tradingbot.yaml",
        "--state-dir",
        f"{pod_dir}/journal",
    )
    assert plan.args[5:9] == ("--http-host", "127.0.0.1", "--http-port", "40001")
    assert plan.status_url == "http://127.0.0.1:40001"
    assert plan.readiness is not None
    assert plan.readiness.url == "http://127.0.0.1:40001/readyz"
    assert plan.grace_s == 7.0
    assert plan.log_path == pod_dir / "logs" / "bot.log"
    assert {v.name: (v.kind, v.local_dir) for v in plan.volumes} == {
        "config": ("configMap", pod_dir / "config"),
        "journal": ("claim", pod_dir / "journal"),
        "creds": ("secret", pod_dir / "creds"),
    }
    pod = {"metadata": {"name": "tb-a-0", "namespace": "ns1"}}
    secrets = {("secret", "s"): {"apiKey": b"k1"}}
    env = resolve_env(plan, pod, lambda kind, _ns, name: secrets.get((kind, name)))
    assert env == {
        "POD_NAME": "tb-a-0",
        "NS": "ns1",
        "CREDS": f"{pod_dir}/creds",
        "GREETING": "hi tb-a-0",
        "KEY": "k1",
    }
    assert resolve_args(plan, env)[-2:] == ["--name", "tb-a-0"]


def test_a_missing_secret_key_stops_the_start() -> None:
    plan = plan_pod(_sts(BOT_CONTAINER, volumes=BOT_VOLUMES), 0, Path("/sb"), lambda: 1)
    pod = {"metadata": {"name": "tb-a-0", "namespace": "ns1"}}
    with pytest.raises(MissingSource, match="apiKey"):
        resolve_env(plan, pod, lambda *_: None)


@pytest.mark.parametrize(
    ("container", "pod_spec", "message"),
    [
        ({"command": ["python"], "args": []}, {}, "entry point"),
        ({"args": []}, {"volumes": [{"name": "h", "hostPath": {"path": "/"}}]}, "unsupported"),
        ({"args": [], "volumeMounts": [{"name": "x", "mountPath": "/x"}]}, {}, "no such volume"),
        ({"args": [], "readinessProbe": {"exec": {"command": ["true"]}}}, {}, "httpGet"),
        ({"args": [], "readinessProbe": {"httpGet": {"port": "web"}}}, {}, "named 'web'"),
    ],
)
def test_templates_a_local_process_cannot_honour(
    container: Obj, pod_spec: Obj, message: str
) -> None:
    with pytest.raises(UnsupportedPod, match=message):
        plan_pod(_sts(container, **pod_spec), 0, Path("/sb"), lambda: 1)


CM = VolumePlan("config", "configMap", Path("/x"), source="cm")
CM_ITEMS = VolumePlan("c", "configMap", Path("/x"), source="cm", items=(("a", "dir/a.txt"),))
CM_OPTIONAL = VolumePlan("c", "configMap", Path("/x"), source="cm", optional=True)


@pytest.mark.parametrize(
    ("volume", "data", "files"),
    [
        (CM, {"a": b"1", "b": b"2"}, {"a": b"1", "b": b"2"}),
        (CM_ITEMS, {"a": b"1", "b": b"2"}, {"dir/a.txt": b"1"}),
        (CM_OPTIONAL, None, {}),
        (CM, None, MissingSource),
        (CM_ITEMS, {"b": b"2"}, MissingSource),
    ],
)
def test_projected_volume_files(
    volume: VolumePlan, data: dict[str, bytes] | None, files: Any
) -> None:
    if isinstance(files, dict):
        assert volume_files(volume, data) == files
    else:
        with pytest.raises(files):
            volume_files(volume, data)


@pytest.mark.parametrize(
    ("crashes", "delay"), [(1, 10.0), (2, 20.0), (3, 40.0), (5, 160.0), (6, 300.0), (30, 300.0)]
)
def test_crash_backoff_doubles_to_the_kubelet_cap(crashes: int, delay: float) -> None:
    assert crash_backoff(crashes, 10.0, 300.0) == delay


EXITED = Terminated(137, "t1", "t2")


@pytest.mark.parametrize(
    ("view", "phase", "state", "ready"),
    [
        (ContainerView(Stage.CREATING, "cm missing"), "Pending", "waiting", False),
        (ContainerView(Stage.RUNNING, started_at="t0"), "Running", "running", False),
        (ContainerView(Stage.RUNNING, started_at="t0", ready=True), "Running", "running", True),
        (ContainerView(Stage.BACKOFF, "back-off", last=EXITED), "Running", "waiting", False),
        (ContainerView(Stage.CONFIG_ERROR, "no key", last=EXITED), "Running", "waiting", False),
        (ContainerView(Stage.UNSUPPORTED, "two containers"), "Failed", "waiting", False),
    ],
)
def test_pod_status_rendering(view: ContainerView, phase: str, state: str, ready: bool) -> None:
    status = pod_status("bot", "img", view, start_time="t0", ready_since="t0")
    assert status["phase"] == phase
    assert status["podIP"] == "127.0.0.1"
    container = status["containerStatuses"][0]
    assert list(container["state"]) == [state]
    assert container["ready"] is ready
    conditions = {c["type"]: c["status"] for c in status["conditions"]}
    assert conditions["Ready"] == ("True" if ready else "False")
    if view.stage in (Stage.BACKOFF, Stage.CREATING):
        assert container["state"]["waiting"]["reason"] == view.stage.value
    if view.last is not None:
        assert container["lastState"]["terminated"]["exitCode"] == 137


# ---- against the API server ----------------------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def venue_stateful_set(
    args: list[str] | None = None, liveness_path: str | None = None, when_deleted: str | None = None
) -> Obj:
    """The venue simulator as a one-pod StatefulSet with a ConfigMap, a Secret and a claim.

    ``when_deleted`` sets a claim retention policy (``whenScaled`` Retain); None sets none.
    """
    liveness = {"httpGet": {"path": liveness_path, "port": 8080}, "periodSeconds": 1}
    sts: Obj = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "venue", "namespace": "default"},
        "spec": {
            "replicas": 1,
            "serviceName": "venue",
            "selector": {"matchLabels": {"app": "venue"}},
            "template": {
                "metadata": {"labels": {"app": "venue"}},
                "spec": {
                    "terminationGracePeriodSeconds": 5,
                    "containers": [
                        {
                            "name": "bot",
                            "image": "ghcr.io/tradewarden/tradewarden:test",
                            "args": args or ["venue-sim", "--host", "0.0.0.0", "--port", "8080"],
                            "env": [
                                {
                                    "name": "POD_NAME",
                                    "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
                                }
                            ],
                            "ports": [{"name": "http", "containerPort": 8080}],
                            "readinessProbe": {
                                "httpGet": {"path": "/fapi/v1/time", "port": "http"},
                                "periodSeconds": 1,
                                "failureThreshold": 1,
                            },
                            "volumeMounts": [
                                {"name": "config", "mountPath": "/etc/tradewarden"},
                                {"name": "creds", "mountPath": "/var/run/creds"},
                                {"name": "journal", "mountPath": "/var/lib/tradewarden"},
                            ],
                        }
                    ],
                    "volumes": [
                        {"name": "config", "configMap": {"name": "venue-config"}},
                        {"name": "creds", "secret": {"secretName": "venue-creds"}},
                    ],
                },
            },
            "volumeClaimTemplates": [{"metadata": {"name": "journal"}}],
        },
    }
    if liveness_path:
        sts["spec"]["template"]["spec"]["containers"][0]["livenessProbe"] = liveness
    if when_deleted is not None:
        sts["spec"]["persistentVolumeClaimRetentionPolicy"] = {
            "whenDeleted": when_deleted,
            "whenScaled": "Retain",
        }
    return sts


def config_map(content: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "venue-config", "namespace": "default"},
        "data": {"tradingbot.yaml": content},
    }


SECRET: Obj = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "venue-creds", "namespace": "default"},
    "data": {"apiKey": base64.b64encode(b"key-1").decode()},
}


@pytest.fixture
async def runner(api: SandboxApi, tmp_path: Path) -> AsyncIterator[PodRunner]:
    async with running_pod_runner(api, tmp_path / "sandbox", FAST) as running:
        yield running


def _pod(api: SandboxApi) -> Obj | None:
    return api.store.find(api.type_of("v1", "Pod"), "default", POD)


def _container(api: SandboxApi) -> Obj:
    pod = _pod(api)
    return pod["status"]["containerStatuses"][0] if pod and "status" in pod else {}


def _ready(api: SandboxApi) -> Obj | None:
    pod = _pod(api)
    if pod is None:
        return None
    conditions = {c["type"]: c["status"] for c in pod.get("status", {}).get("conditions", [])}
    return pod if conditions.get("Ready") == "True" else None


async def start_venue_pod(api: SandboxApi, sts: Obj | None = None) -> Obj:
    """Create the venue StatefulSet (``sts`` or the default) with its ConfigMap and Secret;
    its Pod once Ready."""
    api.create(config_map("a: 1\n"))
    api.create(SECRET)
    api.create(sts or venue_stateful_set())
    found: Obj = await eventually(lambda: _ready(api), "the pod to become Ready")
    return found


async def test_pod_runs_ready_with_volumes_status_url_and_logs(
    api: SandboxApi, runner: PodRunner, kubectl: Kubectl
) -> None:
    api.create(config_map("symbol: BTC\n"))
    api.create(SECRET)
    sts = api.create(venue_stateful_set())
    pod = await eventually(lambda: _ready(api), "the pod to become Ready")
    assert pod["status"]["phase"] == "Running"
    assert pod["status"]["podIP"] == "127.0.0.1"
    assert pod["status"]["containerStatuses"][0]["restartCount"] == 0
    assert pod["metadata"]["labels"]["app"] == "venue"
    (owner,) = pod["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["uid"], owner["controller"]) == (
        "StatefulSet",
        sts["metadata"]["uid"],
        True,
    )
    url = pod["metadata"]["annotations"]["tradewarden.io/status-url"]
    async with aiohttp.ClientSession() as http, http.get(f"{url}/fapi/v1/time") as answer:
        assert answer.status == 200
        assert "serverTime" in await answer.json()
    pod_dir = runner.pods_dir / "default" / POD
    assert (pod_dir / "config" / "tradingbot.yaml").read_text() == "symbol: BTC\n"
    assert (pod_dir / "creds" / "apiKey").read_bytes() == b"key-1"
    assert (pod_dir / "journal").is_dir()
    log = runner.log_path("default", POD).read_text()
    assert "venue simulator listening on http://127.0.0.1:" in log
    # The runner notes when each line arrived, for kubectl logs --timestamps and --since.
    times = runner.log_path("default", POD).with_suffix(".times")
    await eventually(lambda: times.exists() and times.read_text(), "the log's arrival times")
    code, out, err = await kubectl("logs", POD, "--timestamps")
    assert code == 0, err
    stamped = [line for line in out.splitlines() if "venue simulator listening" in line]
    assert stamped and re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z ", stamped[0])
    code, out, err = await kubectl("get", "pods", POD, "-o", "json")
    assert code == 0, err
    assert json.loads(out)["status"]["containerStatuses"][0]["ready"] is True
    code, out, err = await kubectl(
        "get", "statefulset", "venue", "-o", "jsonpath={.status.readyReplicas}"
    )
    assert (code, out) == (0, "1"), err

    api.store.update(
        api.type_of("v1", "ConfigMap"), "default", "venue-config", config_map("symbol: ETH\n")
    )
    config = pod_dir / "config" / "tradingbot.yaml"
    await eventually(lambda: config.read_text() == "symbol: ETH\n", "the file to be rewritten")
    assert _pod(api) is not None
    assert _pod(api)["metadata"]["uid"] == pod["metadata"]["uid"], "a ConfigMap edit rolls nothing"


async def test_killed_process_restarts_and_the_claim_survives(
    api: SandboxApi, runner: PodRunner
) -> None:
    await start_venue_pod(api)
    pid = runner.pid("default", POD)
    assert pid is not None
    journal = runner.pods_dir / "default" / POD / "journal" / "journal.sqlite"
    journal.write_text("intents")
    os.kill(pid, signal.SIGKILL)
    await eventually(lambda: _container(api).get("restartCount") == 1, "restartCount 1")
    await eventually(lambda: _ready(api), "the restarted pod to become Ready")
    container = _container(api)
    assert container["lastState"]["terminated"]["exitCode"] == 128 + signal.SIGKILL
    assert runner.pid("default", POD) not in (None, pid)
    assert journal.read_text() == "intents"


async def test_deleting_the_stateful_set_stops_the_process_and_removes_the_pod(
    api: SandboxApi, runner: PodRunner, kubectl: Kubectl
) -> None:
    await start_venue_pod(api)
    pid = runner.pid("default", POD)
    assert pid is not None
    code, _, err = await kubectl("delete", "statefulset", "venue")
    assert code == 0, err
    await eventually(lambda: not _alive(pid), "the process to end")
    await eventually(lambda: _pod(api) is None, "the Pod to be gone")
    log = runner.log_path("default", POD).read_text()
    assert "venue simulator listening" in log


@pytest.mark.parametrize(
    ("when_deleted", "claim_kept"), [("Delete", False), ("Retain", True), (None, True)]
)
async def test_deleting_the_stateful_set_honours_the_claim_retention_policy(
    api: SandboxApi, runner: PodRunner, when_deleted: str | None, claim_kept: bool
) -> None:
    sts = venue_stateful_set(when_deleted=when_deleted)
    first = await start_venue_pod(api, sts)
    journal = runner.pods_dir / "default" / POD / "journal"
    (journal / "journal.sqlite").write_text("intents")
    api.store.delete(api.type_of("apps/v1", "StatefulSet"), "default", "venue")
    # A namesake starts only once the old pod is stopped and removed: then the claim is settled.
    api.create(sts)
    await eventually(
        lambda: (pod := _ready(api)) and pod["metadata"]["uid"] != first["metadata"]["uid"],
        "the recreated StatefulSet's pod to become Ready",
    )
    assert (journal / "journal.sqlite").exists() is claim_kept


async def test_scaling_to_zero_keeps_the_claim_under_when_scaled_retain(
    api: SandboxApi, runner: PodRunner
) -> None:
    sts_type = api.type_of("apps/v1", "StatefulSet")
    await start_venue_pod(api, venue_stateful_set(when_deleted="Delete"))
    journal = runner.pods_dir / "default" / POD / "journal" / "journal.sqlite"
    journal.write_text("intents")
    current = api.store.get(sts_type, "default", "venue")
    api.store.update(
        sts_type, "default", "venue", {**current, "spec": {**current["spec"], "replicas": 0}}
    )
    await eventually(lambda: _pod(api) is None, "the Pod to be gone")
    assert journal.read_text() == "intents"


async def test_scale_to_zero_and_template_change(api: SandboxApi, runner: PodRunner) -> None:
    sts_type = api.type_of("apps/v1", "StatefulSet")
    first = await start_venue_pod(api)
    first_pid = runner.pid("default", POD)
    assert first_pid is not None

    rolled = venue_stateful_set(["venue-sim", "--port", "8080", "--seed", "7"])
    current = api.store.get(sts_type, "default", "venue")
    api.store.update(sts_type, "default", "venue", {**rolled, "metadata": current["metadata"]})
    second = await eventually(
        lambda: (pod := _ready(api)) and pod["metadata"]["uid"] != first["metadata"]["uid"] and pod,
        "the pod to be replaced with the new template",
    )
    assert "--seed" in second["spec"]["containers"][0]["args"]
    assert not _alive(first_pid)

    second_pid = runner.pid("default", POD)
    assert second_pid is not None
    current = api.store.get(sts_type, "default", "venue")
    api.store.update(
        sts_type, "default", "venue", {**current, "spec": {**current["spec"], "replicas": 0}}
    )
    await eventually(lambda: not _alive(second_pid), "the process to end")
    await eventually(lambda: _pod(api) is None, "the Pod to be gone")


async def test_a_crashing_process_backs_off(api: SandboxApi, runner: PodRunner) -> None:
    api.create(config_map("a: 1\n"))
    api.create(SECRET)
    api.create(venue_stateful_set(["venue-sim", "--no-such-flag"]))
    await eventually(lambda: _container(api).get("restartCount", 0) >= 2, "two restarts")
    await eventually(
        lambda: (
            _container(api).get("state", {}).get("waiting", {}).get("reason") == "CrashLoopBackOff"
        ),
        "CrashLoopBackOff",
    )
    container = _container(api)
    assert container["lastState"]["terminated"]["exitCode"] == 2  # argparse's usage error
    assert _pod(api)["status"]["phase"] == "Running"


async def test_a_missing_config_map_keeps_the_pod_pending_until_it_exists(
    api: SandboxApi, runner: PodRunner
) -> None:
    api.create(SECRET)
    api.create(venue_stateful_set())
    pending = await eventually(
        lambda: (
            "venue-config" in _container(api).get("state", {}).get("waiting", {}).get("message", "")
            and _pod(api)
        ),
        "the pod to wait for its ConfigMap",
    )
    assert pending["status"]["phase"] == "Pending"
    assert runner.pid("default", POD) is None
    api.create(config_map("late: true\n"))
    await eventually(lambda: _ready(api), "the pod to become Ready")


async def test_a_failing_liveness_probe_restarts_the_process(
    api: SandboxApi, runner: PodRunner
) -> None:
    api.create(config_map("a: 1\n"))
    api.create(SECRET)
    api.create(venue_stateful_set(liveness_path="/no-such-page"))
    await eventually(lambda: _container(api).get("restartCount", 0) >= 1, "a restart")
    log = runner.log_path("default", POD).read_text()
    assert "liveness probe http://127.0.0.1:" in log
