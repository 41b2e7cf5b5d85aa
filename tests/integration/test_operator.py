"""The real ``tradewarden operator`` process against the sandbox API server, driven by kubectl."""

from __future__ import annotations

import asyncio
import copy
import json
import os
import socket
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

from tests.support.manifests import EXAMPLE, example_manifest, sim_manifest
from tests.support.sim import walking
from tests.support.waiting import eventually, eventually_async
from tradewarden.api.crd import KINDS, custom_resource_definition
from tradewarden.bot.runtime.command import tradewarden_command
from tradewarden.bot.venue_sim.server import RunningVenueSim, running_venue_sim
from tradewarden.operator.command import KOPF_STATE_PREFIX
from tradewarden.operator.sandbox.apiserver import SandboxApi, running_api_server

BOT = "btc-grid-sim"
NAMESPACE = "dev"
CHILDREN = [
    ("v1", "ServiceAccount", f"tb-{BOT}"),
    ("rbac.authorization.k8s.io/v1", "Role", f"tb-{BOT}"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding", f"tb-{BOT}"),
    ("v1", "ConfigMap", f"tb-{BOT}-manifest"),
    ("apps/v1", "StatefulSet", f"tb-{BOT}"),
    ("v1", "Service", f"tb-{BOT}"),
]


@dataclass
class Cluster:
    api: SandboxApi
    kubeconfig: Path

    def find(self, api_version: str, kind: str, name: str) -> dict[str, Any] | None:
        found = self.api.store.find(self.api.type_of(api_version, kind), NAMESPACE, name)
        return dict(found) if found is not None else None

    async def kubectl(self, *args: str) -> Kubectl:
        # Asynchronous: the API server serves from this test's event loop.
        process = await asyncio.create_subprocess_exec(
            "kubectl", "--kubeconfig", str(self.kubeconfig), *args,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(process.communicate(), 30)
        return Kubectl(process.returncode or 0, out.decode(), err.decode())


@dataclass(frozen=True)
class Kubectl:
    returncode: int
    stdout: str
    stderr: str


async def events_with(cluster: Cluster, reasons: set[str]) -> list[dict[str, Any]]:
    """The namespace's Events once every one of ``reasons`` has been posted."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while True:
        listed = await cluster.kubectl("get", "events", "-n", NAMESPACE, "-o", "json")
        items: list[dict[str, Any]] = json.loads(listed.stdout)["items"]
        seen = {item["reason"] for item in items}
        if reasons <= seen:
            return items
        assert loop.time() < deadline, f"events {reasons - seen} missing, only {seen}"
        await asyncio.sleep(0.2)


async def stop(process: asyncio.subprocess.Process) -> None:
    """SIGTERM, then SIGKILL if it has not exited within 15 s."""
    if process.returncode is not None:
        return
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), 15)
    except TimeoutError:
        process.kill()
        await process.wait()


@asynccontextmanager
async def operator_cluster(tmp_path: Path, *operator_args: str) -> AsyncIterator[Cluster]:
    """The sandbox API server and a real operator process started with ``operator_args``."""
    async with running_api_server(crds=[custom_resource_definition(kind) for kind in KINDS]) as api:
        api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
        kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
        log = (tmp_path / "operator.log").open("w")
        process = await asyncio.create_subprocess_exec(
            *tradewarden_command(
                "operator",
                "--kubeconfig", str(kubeconfig),
                "--metrics-port", "0",
                "--metrics-host", "127.0.0.1",
                "--probe-interval", "0.5",
                *operator_args,
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            yield Cluster(api, kubeconfig)
        finally:
            await stop(process)
            log.close()
            print((tmp_path / "operator.log").read_text(encoding="utf-8")[-4000:])


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    async with operator_cluster(tmp_path) as running:
        yield running


async def test_operator_renders_children_writes_status_and_drains_on_delete(
    cluster: Cluster,
) -> None:
    applied = await cluster.kubectl("apply", "-f", str(EXAMPLE))
    assert applied.returncode == 0, applied.stderr
    bot = cluster.find("tradewarden.io/v1alpha1", "TradingBot", BOT)
    assert bot is not None
    uid = bot["metadata"]["uid"]

    for api_version, kind, name in CHILDREN:
        child = await eventually(
            lambda v=api_version, k=kind, n=name: cluster.find(v, k, n), f"{kind} {name}"
        )
        (owner,) = child["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["uid"], owner["controller"]) == ("TradingBot", uid, True)

    def status() -> dict[str, Any] | None:
        found = cluster.find("tradewarden.io/v1alpha1", "TradingBot", BOT)
        return (found or {}).get("status")

    written = await eventually(lambda: (status() or {}).get("phase"), "a status phase")
    # No pod runner here: the StatefulSet's pod never appears.
    assert written == "Pending"
    current = status()
    assert current is not None
    assert current["lastFlip"]["reason"] == "PodMissing"
    assert {c["type"] for c in current["conditions"]} == {
        "Ready", "PreflightPassed", "BotHealthy", "InSync", "Protected", "TradingHalt"
    }  # fmt: skip
    listed = await cluster.kubectl("get", "tb", "-n", NAMESPACE)
    assert "Pending" in listed.stdout, listed.stderr
    (first,) = [
        e for e in await events_with(cluster, {"PodMissing"}) if e["reason"] == "PodMissing"
    ]
    assert first["message"] == (
        "no status yet -> Pending (Halted): the bot's pod does not exist yet"
    ), first["message"]

    stored = cluster.find("tradewarden.io/v1alpha1", "TradingBot", BOT)
    assert stored is not None
    assert "tradewarden.io/drain" in stored["metadata"]["finalizers"]

    deleted = await cluster.kubectl("delete", "tb", BOT, "-n", NAMESPACE, "--wait=false")
    assert deleted.returncode == 0, deleted.stderr
    await eventually(
        lambda: cluster.find("tradewarden.io/v1alpha1", "TradingBot", BOT) is None,
        "the finalizer to let the bot go",
    )
    for api_version, kind, name in CHILDREN:
        await eventually(
            lambda v=api_version, k=kind, n=name: cluster.find(v, k, n) is None,
            f"{kind} {name} to be collected",
        )
    await events_with(cluster, {"Draining", "Drained"})


async def test_a_namespaced_operator_manages_only_its_namespaces(tmp_path: Path) -> None:
    async with operator_cluster(
        tmp_path, "--namespace", NAMESPACE, "--namespace", "desk-b"
    ) as cluster:
        cluster.api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}})
        outside = example_manifest()
        outside["metadata"]["namespace"] = "other"
        manifest = tmp_path / "outside.yaml"
        manifest.write_text(yaml.safe_dump(outside), encoding="utf-8")
        applied = await cluster.kubectl("apply", "-f", str(manifest))
        assert applied.returncode == 0, applied.stderr
        applied = await cluster.kubectl("apply", "-f", str(EXAMPLE))
        assert applied.returncode == 0, applied.stderr
        await eventually(
            lambda: cluster.find("apps/v1", "StatefulSet", f"tb-{BOT}"), "the dev bot's children"
        )
        # The bot outside the operator's namespaces was applied first and is left alone.
        ignored = cluster.api.store.find(
            cluster.api.type_of("tradewarden.io/v1alpha1", "TradingBot"), "other", BOT
        )
        assert ignored is not None
        assert not ignored["metadata"].get("finalizers")
        assert "status" not in ignored
        assert (
            cluster.api.store.find(
                cluster.api.type_of("apps/v1", "StatefulSet"), "other", f"tb-{BOT}"
            )
            is None
        )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def bot_pod(status_url: str) -> dict[str, Any]:
    """The StatefulSet's pod as the sandbox's pod runner would register it."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"tb-{BOT}-0",
            "namespace": NAMESPACE,
            "labels": {
                "app.kubernetes.io/name": "tradewarden-bot",
                "app.kubernetes.io/instance": BOT,
                "app.kubernetes.io/managed-by": "tradewarden-operator",
                "tradewarden.io/bot": BOT,
            },
            "annotations": {"tradewarden.io/status-url": status_url},
        },
        "spec": {"containers": [{"name": "bot", "image": "local"}]},
    }


POD_READY = {
    "status": {
        "phase": "Running",
        "podIP": "127.0.0.1",
        "conditions": [{"type": "Ready", "status": "True"}],
        "containerStatuses": [
            {"name": "bot", "ready": True, "restartCount": 0, "state": {"running": {}}}
        ],
    }
}


def bot_status(cluster: Cluster) -> dict[str, Any]:
    found = cluster.find("tradewarden.io/v1alpha1", "TradingBot", BOT) or {}
    return dict(found.get("status") or {})


@asynccontextmanager
async def trading_bot(
    cluster: Cluster, tmp_path: Path, control: str = "kubernetes"
) -> AsyncIterator[RunningVenueSim]:
    """A real bot process (as the pod runner would start it) trading at the venue simulator."""
    settings = walking()
    async with running_venue_sim(settings) as sim:
        document = sim_manifest(sim)
        applied_file = tmp_path / "bot.yaml"
        applied_file.write_text(yaml.safe_dump(document), encoding="utf-8")
        applied = await cluster.kubectl("apply", "-f", str(applied_file))
        assert applied.returncode == 0, applied.stderr
        config_map = await eventually(
            lambda: cluster.find("v1", "ConfigMap", f"tb-{BOT}-manifest"), "the ConfigMap"
        )
        manifest = tmp_path / "tradingbot.yaml"
        manifest.write_text(config_map["data"]["tradingbot.yaml"], encoding="utf-8")

        port = free_port()
        process = await asyncio.create_subprocess_exec(
            *tradewarden_command(
                "bot", "--config", str(manifest), "--state-dir", str(tmp_path / "state"),
                "--http-host", "127.0.0.1", "--http-port", str(port), "--control", control,
            ),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            env={
                **os.environ,
                "KUBECONFIG": str(cluster.kubeconfig),
                "TRADEWARDEN_BOT_NAME": BOT,
                "TRADEWARDEN_NAMESPACE": NAMESPACE,
                "POD_NAME": f"tb-{BOT}-0",
                "TRADEWARDEN_API_KEY": settings.api_key,
                "TRADEWARDEN_API_SECRET": settings.api_secret,
            },
        )  # fmt: skip
        try:
            cluster.api.create(bot_pod(f"http://127.0.0.1:{port}"))
            marked = await cluster.kubectl(
                "patch", "pod", f"tb-{BOT}-0", "-n", NAMESPACE, "--subresource=status",
                "--type=merge", "-p", json.dumps(POD_READY),
            )  # fmt: skip
            assert marked.returncode == 0, marked.stderr
            await eventually(
                lambda: (
                    bot_status(cluster).get("phase") == "Running"
                    and (bot_status(cluster).get("bot") or {}).get("openOrders", 0) > 0
                ),
                "Running with orders at the venue",
                within=60,
                context=lambda: (process.returncode, bot_status(cluster)),
            )
            yield sim
        finally:
            await stop(process)


@pytest.fixture
async def trading(cluster: Cluster, tmp_path: Path) -> AsyncIterator[RunningVenueSim]:
    async with trading_bot(cluster, tmp_path) as sim:
        yield sim


async def working_orders(sim: RunningVenueSim) -> list[dict[str, Any]]:
    """Plain (non-stop) orders still working at the venue."""
    venue = await sim.state()
    return [o for o in venue["orders"] if o.get("status") in ("NEW", "PARTIALLY_FILLED")]


async def test_an_emergency_stop_flips_phase_and_mode(
    cluster: Cluster, trading: RunningVenueSim
) -> None:
    halt = {"spec": {"emergencyStop": {"action": "Halt", "reason": "test"}}}
    patched = await cluster.kubectl(
        "patch", "tb", BOT, "-n", NAMESPACE, "--type=merge", "-p", json.dumps(halt)
    )
    assert patched.returncode == 0, patched.stderr
    await eventually(
        lambda: (
            (bot_status(cluster).get("phase"), bot_status(cluster).get("tradingMode"))
            == ("Paused", "Halted")
        ),
        "Paused/Halted after the emergency stop",
    )
    assert bot_status(cluster)["lastFlip"]["reason"] == "EmergencyStop"
    ready = next(c for c in bot_status(cluster)["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "EmergencyStop")


async def orders_to_drain(sim: RunningVenueSim) -> list[dict[str, Any]]:
    """Wait until the bot has plain orders working at the venue (fills come and go)."""
    orders: list[dict[str, Any]] = await eventually_async(
        lambda: working_orders(sim), "the bot to have a plain order working at the venue"
    )
    return orders


async def test_deleting_a_trading_bot_halts_it_before_its_children_go(
    cluster: Cluster, trading: RunningVenueSim
) -> None:
    assert await orders_to_drain(trading)
    deleted = await cluster.kubectl("delete", "tb", BOT, "-n", NAMESPACE, "--wait=false")
    assert deleted.returncode == 0, deleted.stderr
    await eventually(
        lambda: cluster.find("tradewarden.io/v1alpha1", "TradingBot", BOT) is None,
        "the drained bot to go",
        within=30,
    )
    # The finalizer let go only once the bot had cancelled its orders.
    assert await working_orders(trading) == []
    items = await events_with(cluster, {"Draining", "Drained"})
    (draining,) = [item for item in items if item["reason"] == "Draining"]
    assert draining["involvedObject"]["name"] == BOT


async def test_a_bot_that_does_not_drain_keeps_its_finalizer_and_a_warning_says_why(
    tmp_path: Path,
) -> None:
    # Without its control loop the bot never hears the Halt the operator sets.
    async with (
        operator_cluster(tmp_path, "--drain-timeout", "1") as cluster,
        trading_bot(cluster, tmp_path, control="none") as sim,
    ):
        assert await orders_to_drain(sim)
        deleted = await cluster.kubectl("delete", "tb", BOT, "-n", NAMESPACE, "--wait=false")
        assert deleted.returncode == 0, deleted.stderr

        items = await events_with(cluster, {"Draining", "DrainStuck"})
        (stuck,) = [item for item in items if item["reason"] == "DrainStuck"]
        assert stuck["type"] == "Warning"
        assert "open non-protective orders, mode Active" in stuck["message"]
        assert (
            "annotate tradewarden.io/force-release and tradewarden.io/force-released-by"
            in (stuck["message"])
        )
        stored = cluster.find("tradewarden.io/v1alpha1", "TradingBot", BOT)
        assert stored is not None
        assert stored["metadata"].get("deletionTimestamp")
        assert stored["metadata"]["finalizers"] == ["tradewarden.io/drain"]
        assert cluster.find("apps/v1", "StatefulSet", f"tb-{BOT}") is not None
        assert "Drained" not in {item["reason"] for item in items}

        # Who without why is not enough; both let it go, and the Event says who and why.
        annotate = ("annotate", "tb", BOT, "-n", NAMESPACE)
        half = await cluster.kubectl(*annotate, "tradewarden.io/force-released-by=alice")
        assert half.returncode == 0, half.stderr
        await events_with(cluster, {"ForceReleaseIncomplete"})
        assert cluster.find("tradewarden.io/v1alpha1", "TradingBot", BOT) is not None
        released = await cluster.kubectl(
            *annotate,
            "tradewarden.io/force-release=node lost, orders cancelled at the venue by hand",
        )
        assert released.returncode == 0, released.stderr
        await eventually(
            lambda: cluster.find("tradewarden.io/v1alpha1", "TradingBot", BOT) is None,
            "the forced release to let the bot go",
            within=30,
        )
        items = await events_with(cluster, {"ForceReleased"})
        (forced,) = [item for item in items if item["reason"] == "ForceReleased"]
        assert forced["type"] == "Warning"
        assert "by alice: node lost, orders cancelled at the venue by hand" in forced["message"]


POD_NEVER_STARTED = {
    "status": {
        "phase": "Pending",
        "conditions": [
            {"type": "PodScheduled", "status": "True"},
            {"type": "Ready", "status": "False", "reason": "ContainersNotReady"},
        ],
        "containerStatuses": [
            {
                "name": "bot",
                "ready": False,
                "restartCount": 0,
                "state": {"waiting": {"reason": "ImagePullBackOff", "message": "not found"}},
            }
        ],
    }
}


async def test_deleting_a_bot_whose_pod_never_started_completes_at_once(cluster: Cluster) -> None:
    applied = await cluster.kubectl("apply", "-f", str(EXAMPLE))
    assert applied.returncode == 0, applied.stderr
    await eventually(lambda: cluster.find("apps/v1", "StatefulSet", f"tb-{BOT}"), "the StatefulSet")
    # Its image cannot be pulled: the bot never ran, so nothing of it can be trading.
    cluster.api.create(bot_pod("http://127.0.0.1:9/status"))
    marked = await cluster.kubectl(
        "patch", "pod", f"tb-{BOT}-0", "-n", NAMESPACE, "--subresource=status",
        "--type=merge", "-p", json.dumps(POD_NEVER_STARTED),
    )  # fmt: skip
    assert marked.returncode == 0, marked.stderr
    await eventually(
        lambda: any(
            c["type"] == "Ready" and c["reason"] == "PodStarting"
            for c in bot_status(cluster).get("conditions", [])
        ),
        "the probe to see the pod",
    )
    deleted = await cluster.kubectl("delete", "tb", BOT, "-n", NAMESPACE, "--wait=false")
    assert deleted.returncode == 0, deleted.stderr
    # Well within the drain timeout (60 s): no waiting for a /status that cannot come.
    await eventually(
        lambda: cluster.find("tradewarden.io/v1alpha1", "TradingBot", BOT) is None,
        "the never-started bot to go",
        within=15,
    )
    items = await events_with(cluster, {"Drained"})
    assert "DrainStuck" not in {item["reason"] for item in items}


async def test_an_abort_sticks_through_spec_changes_until_the_clear_annotation(
    cluster: Cluster,
) -> None:
    applied = await cluster.kubectl("apply", "-f", str(EXAMPLE))
    assert applied.returncode == 0, applied.stderr

    def status() -> dict[str, Any]:
        found = cluster.find("tradewarden.io/v1alpha1", "TradingBot", BOT) or {}
        return dict(found.get("status") or {})

    await eventually(lambda: status().get("phase") == "Pending", "a first status")
    # What the operator wrote when the bot's kill switch engaged earlier.
    abort = {"reason": "KillSwitch", "message": "divergence", "time": "2026-01-01T00:00:00Z"}
    recorded = await cluster.kubectl(
        "patch", "tb", BOT, "-n", NAMESPACE, "--subresource=status", "--type=merge",
        "-p", json.dumps({"status": {"abort": abort}}),
    )  # fmt: skip
    assert recorded.returncode == 0, recorded.stderr
    await eventually(lambda: status().get("phase") == "Aborted", "the Aborted phase")

    edited = await cluster.kubectl(
        "patch", "tb", BOT, "-n", NAMESPACE, "--type=merge", "-p", '{"spec":{"paused":true}}'
    )
    assert edited.returncode == 0, edited.stderr
    await eventually(
        lambda: status().get("observedGeneration") == 2, "the spec change to be observed"
    )
    assert status()["phase"] == "Aborted"
    assert status()["abort"] == abort

    cleared = await cluster.kubectl(
        "annotate", "tb", BOT, "-n", NAMESPACE,
        "tradewarden.io/clear-abort=venue checked by hand", "tradewarden.io/cleared-by=alice",
    )  # fmt: skip
    assert cleared.returncode == 0, cleared.stderr
    await eventually(lambda: "abort" not in status(), "the abort to be cleared")
    assert status()["phase"] == "Pending"

    def annotations() -> dict[str, str]:
        found = cluster.find("tradewarden.io/v1alpha1", "TradingBot", BOT) or {}
        return dict(found.get("metadata", {}).get("annotations") or {})

    await eventually(
        lambda: (
            not {"tradewarden.io/clear-abort", "tradewarden.io/cleared-by"} & set(annotations())
        ),
        "the clear annotations to be removed",
    )
    items = await events_with(cluster, {"AbortCleared"})
    messages = [item["message"] for item in items if item["reason"] == "AbortCleared"]
    assert messages == ["abort KillSwitch cleared by alice: venue checked by hand"]


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"exchange": {"id": "bybit"}}, "exchange.id is immutable"),
        ({"exchange": {"account": "other"}}, "exchange.account is immutable"),
        ({"exchange": {"urlOverride": None, "sandbox": False}}, "needs allowLive: true"),
        ({"exchange": {"urlOverride": "https://fapi.binance.com"}}, "needs allowLive: true"),
        ({"symbol": "ETH/USDT:USDT"}, "symbol is immutable"),
        ({"emergencyStop": {"action": "Panic", "reason": "x"}}, 'Unsupported value: "Panic"'),
        ({"risk": {"maxPosition": 0.5}}, "spec.risk.maxPosition"),
        ({"environment": "prod", "risk": {"requireProtectiveStop": False}}, "requireProtective"),
    ],
)
async def test_kubectl_is_refused_what_the_crd_forbids(
    tmp_path: Path, patch: dict[str, Any], message: str
) -> None:
    async with running_api_server(crds=[custom_resource_definition(kind) for kind in KINDS]) as api:
        api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
        cluster = Cluster(api, api.write_kubeconfig(tmp_path / "kubeconfig"))
        applied = await cluster.kubectl("apply", "-f", str(EXAMPLE))
        assert applied.returncode == 0, applied.stderr
        refused = await cluster.kubectl(
            "patch", "tb", BOT, "-n", NAMESPACE, "--type=merge", "-p",
            json.dumps({"spec": patch}),
        )  # fmt: skip
        assert refused.returncode != 0
        assert message in refused.stderr
        paused = await cluster.kubectl(
            "patch", "tb", BOT, "-n", NAMESPACE, "--type=merge", "-p", '{"spec":{"paused":true}}'
        )
        assert paused.returncode == 0, paused.stderr


async def test_a_spec_change_that_meets_an_api_outage_reaches_the_children_soon_after(
    cluster: Cluster,
) -> None:
    applied = await cluster.kubectl("apply", "-f", str(EXAMPLE))
    assert applied.returncode == 0, applied.stderr
    await eventually(lambda: cluster.find("v1", "ConfigMap", f"tb-{BOT}-manifest"), "the ConfigMap")
    rtype = cluster.api.type_of("tradewarden.io/v1alpha1", "TradingBot")

    def creation_recorded() -> bool:
        # kopf records a handled creation in one patch of the bot after the handler; an
        # outage that began before it would hold the object's later events behind that
        # patch's retries (backoffs summing past this test's wait) instead of the handler.
        metadata = cluster.api.store.get(rtype, NAMESPACE, BOT)["metadata"]
        annotations = metadata.get("annotations", {})
        return (
            f"{KOPF_STATE_PREFIX}/last-handled-configuration" in annotations
            and f"{KOPF_STATE_PREFIX}/reconcile" not in annotations
        )

    await eventually(creation_recorded, "kopf to record the handled creation")
    with cluster.api.outage():
        # The change landed just before the outage; the operator's writes of the
        # re-rendered children meet the outage and fail.
        bot = copy.deepcopy(cluster.api.store.get(rtype, NAMESPACE, BOT))
        bot["spec"]["risk"]["maxOrderNotional"] = "1234"
        cluster.api.store.update(rtype, NAMESPACE, BOT, bot)

        def config_map_write_refused() -> bool:
            return any(
                method in ("POST", "PATCH") and "/configmaps" in path
                for method, path in cluster.api.refused
            )

        await eventually(config_map_write_refused, "the operator's ConfigMap write to fail")

    def rendered() -> bool:
        config_map = cluster.find("v1", "ConfigMap", f"tb-{BOT}-manifest") or {}
        manifest = yaml.safe_load((config_map.get("data") or {}).get("tradingbot.yaml") or "{}")
        return bool(manifest and manifest["spec"]["risk"]["maxOrderNotional"] == "1234")

    await eventually(rendered, "the changed spec in the ConfigMap", within=15)


async def readyz(port: int) -> int | None:
    """The HTTP status of the operator's /readyz, or None while nothing listens."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return None
    writer.write(b"GET /readyz HTTP/1.1\r\nHost: operator\r\nConnection: close\r\n\r\n")
    status_line = await asyncio.wait_for(reader.readline(), 20)
    writer.close()
    return int(status_line.split()[1]) if status_line else None


async def readyz_becomes(port: int, expected: int, within: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    seen = await readyz(port)
    while seen != expected:
        assert loop.time() < deadline, f"/readyz answered {seen}, not {expected}"
        await asyncio.sleep(0.2)
        seen = await readyz(port)


async def test_readiness_follows_the_api_server(tmp_path: Path) -> None:
    """Not ready while the API server answers 503, ready once it serves, unready again."""
    port = free_port()
    async with running_api_server(crds=[custom_resource_definition(kind) for kind in KINDS]) as api:
        kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
        process = await asyncio.create_subprocess_exec(
            *tradewarden_command(
                "operator", "--kubeconfig", str(kubeconfig), "--metrics-port", "0",
                "--metrics-host", "127.0.0.1", "--ready-port", str(port),
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            with api.outage():
                await readyz_becomes(port, 500)
            await readyz_becomes(port, 200)
            with api.outage():
                await readyz_becomes(port, 500)
        finally:
            await stop(process)


class SteadyBot:
    """A bot's /status that trades steadily: every read shows another position size and
    open-order count, nothing else changes. Counts the reads."""

    def __init__(self) -> None:
        self.reads = 0
        self._waiters: list[tuple[int, asyncio.Event]] = []

    async def handle(self, _: web.Request) -> web.Response:
        self.reads += 1
        for target, event in self._waiters:
            if self.reads >= target:
                event.set()
        return web.json_response(
            {
                "symbol": "BTC/USDT:USDT",
                "ready": True,
                "recovered": True,
                "tradingMode": "Active",
                "positions": {"BTC/USDT:USDT": f"0.00{1 + self.reads % 9}"},
                "openOrders": [
                    {"clientOrderId": f"o{i}", "type": "limit"} for i in range(self.reads % 3)
                ]
                + [{"clientOrderId": "stop", "type": "stop_market"}],
                "preflight": {"passed": True, "checks": []},
                "guards": [],
                "killSwitch": {"engaged": False},
                "belief": {"confidence": 1.0, "mismatchStreak": 0},
                "drift": {"detected": False, "strays": []},
                "protection": {"protected": True},
            }
        )

    async def more_reads(self, count: int) -> None:
        event = asyncio.Event()
        self._waiters.append((self.reads + count, event))
        await asyncio.wait_for(event.wait(), 60)


async def test_a_steady_bot_is_not_rewritten_on_every_fill(cluster: Cluster) -> None:
    """`kubectl get tb -w` on a bot whose position and orders change every probe round shows
    no MODIFIED event per round: the summary alone is written at most once a minute."""
    steady = SteadyBot()
    app = web.Application()
    app.router.add_get("/status", steady.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    watch: asyncio.subprocess.Process | None = None
    try:
        applied = await cluster.kubectl("apply", "-f", str(EXAMPLE))
        assert applied.returncode == 0, applied.stderr
        cluster.api.create(bot_pod(f"http://127.0.0.1:{port}"))
        marked = await cluster.kubectl(
            "patch", "pod", f"tb-{BOT}-0", "-n", NAMESPACE, "--subresource=status",
            "--type=merge", "-p", json.dumps(POD_READY),
        )  # fmt: skip
        assert marked.returncode == 0, marked.stderr
        await eventually(lambda: bot_status(cluster).get("phase") == "Running", "Running")
        watch = await asyncio.create_subprocess_exec(
            "kubectl", "--kubeconfig", str(cluster.kubeconfig), "get", "tb", BOT,
            "-n", NAMESPACE, "-w", "-o", "name",
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        assert watch.stdout is not None
        # The first line is the bot as listed; each one after it is a MODIFIED event.
        first = await asyncio.wait_for(watch.stdout.readline(), 30)
        assert first.strip() == f"tradingbot.tradewarden.io/{BOT}".encode(), first
        await steady.more_reads(20)
        watch.terminate()
        rest, _ = await watch.communicate()
        modified = rest.decode().splitlines()
        # 20 rounds, each with a new position and order count: at most one write.
        assert len(modified) <= 1, modified
    finally:
        if watch is not None and watch.returncode is None:
            watch.kill()
            await watch.wait()
        await runner.cleanup()
