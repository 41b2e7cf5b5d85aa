"""End-to-end fixtures: ``tradewarden bot`` as a process, and the whole sandbox.

The sandbox is the product's (``stack.running_sandbox``): the API server, the
local pod runner, the real operator process and a venue simulator; tests drive
it with the real kubectl.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import re
import sqlite3
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
import yaml

from tests.sandbox.conftest import Kubectl
from tests.support.manifests import sim_manifest
from tests.support.sim import walking
from tests.support.waiting import eventually_async
from tradewarden.bot.runtime.command import tradewarden_command
from tradewarden.bot.venue_sim.server import RunningVenueSim, running_venue_sim
from tradewarden.bot.venue_sim.settings import SimSettings
from tradewarden.operator.probe import STATUS_URL_ANNOTATION
from tradewarden.operator.sandbox.pods import RunnerSettings
from tradewarden.operator.sandbox.stack import (
    CRD_PATH,
    HALT_CRD_PATH,
    Sandbox,
    SandboxOptions,
    running_sandbox,
)
from tradewarden.operator.toolchain import venv_bin

EVENT_TIMEOUT = 60.0


class BotProcess:
    """A bot subprocess whose event lines are collected as they arrive."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.events: list[dict[str, Any]] = []
        self._arrived = asyncio.Condition()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            async with self._arrived:
                self.events.append(record)
                self._arrived.notify_all()
        async with self._arrived:
            self._arrived.notify_all()

    async def wait_for(
        self, name: str, where: Callable[[dict[str, Any]], bool] = lambda e: True, count: int = 1
    ) -> dict[str, Any]:
        """The ``count``-th event called ``name`` matching ``where``."""

        def found() -> list[dict[str, Any]]:
            return [e for e in self.events if e.get("event") == name and where(e)]

        async def wait() -> dict[str, Any]:
            async with self._arrived:
                while len(found()) < count:
                    if self._reader.done():
                        raise AssertionError(f"bot exited before {count}x {name}: {self.names()}")
                    await self._arrived.wait()
                return found()[count - 1]

        try:
            return await asyncio.wait_for(wait(), EVENT_TIMEOUT)
        except TimeoutError:
            modes = [
                e
                for e in self.events
                if e.get("event") in ("MODE_CHANGE", "GUARD_TRIP", "RECONCILE_MISMATCH")
            ]
            raise AssertionError(
                f"no {count}x {name} within {EVENT_TIMEOUT}s; modes and mismatches {modes[:8]}; "
                f"last events {self.names()[-15:]}"
            ) from None

    def names(self) -> list[str]:
        return [str(e.get("event")) for e in self.events]

    async def exit_code(self) -> int:
        code = await asyncio.wait_for(self.process.wait(), EVENT_TIMEOUT)
        await self._reader
        return code

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        self._reader.cancel()


@pytest.fixture
def sim_settings() -> SimSettings:
    """A bot process's venue: a market that moves by itself, so its orders fill."""
    return walking()


def write_manifest(directory: Path, sim: RunningVenueSim, **execution: Any) -> Path:
    """The bundled example, pointed at ``sim``, with execution overrides."""
    document = sim_manifest(sim)
    document["spec"]["execution"].update(execution)
    path = directory / "bot.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


@pytest.fixture
async def start_bot(sim: RunningVenueSim, tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    started: list[BotProcess] = []

    async def start(manifest: Path, *extra: str, state_dir: Path | None = None) -> BotProcess:
        """A bot process on ``manifest``; its state directory is ``tmp_path/state`` unless given."""
        process = await asyncio.create_subprocess_exec(
            *tradewarden_command(),
            "bot",
            "--config",
            str(manifest),
            "--state-dir",
            str(state_dir or tmp_path / "state"),
            "--http-port",
            "0",
            *extra,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={
                **os.environ,
                "TRADEWARDEN_API_KEY": sim.settings.api_key,
                "TRADEWARDEN_API_SECRET": sim.settings.api_secret,
            },
        )
        bot = BotProcess(process)
        started.append(bot)
        return bot

    try:
        yield start
    finally:
        for bot in started:
            await bot.stop()


def journal_rows(state_dir: Path) -> list[dict[str, Any]]:
    """Every journaled intent, read straight from the SQLite file."""
    with sqlite3.connect(state_dir / "journal.sqlite") as db:
        db.row_factory = sqlite3.Row
        return [dict(row) for row in db.execute("SELECT * FROM intents ORDER BY sequence")]


def cancelled_behind_its_back(venue_state: dict[str, Any], state_dir: Path) -> list[str]:
    """Orders and stops of the bot at ``state_dir`` the venue shows cancelled though the
    bot never asked: no CANCELING in their journal history. Someone else cancelled them."""
    with sqlite3.connect(state_dir / "journal.sqlite") as db:
        ours = {
            str(vid): str(coid)
            for coid, vid in db.execute("SELECT client_order_id, venue_client_id FROM intents")
        }
        asked = {
            str(coid)
            for (coid,) in db.execute(
                "SELECT DISTINCT client_order_id FROM transitions WHERE to_state = 'CANCELING'"
            )
        }
    cancelled = [o["clientOrderId"] for o in venue_state["orders"] if o["status"] == "CANCELED"]
    cancelled += [
        a["clientAlgoId"] for a in venue_state["algoOrders"] if a["algoStatus"] == "CANCELED"
    ]
    return sorted(vid for vid in cancelled if vid in ours and ours[vid] not in asked)


# ---- the whole sandbox: the product's stack with test-sized timings ---------------------------

Obj = dict[str, Any]
TB_API = "tradewarden.io/v1alpha1"
# Fast enough that a crashed bot is back within a second; the kubelet's 10 s would dominate.
FAST_PODS = RunnerSettings(restart_backoff_s=0.5, restart_backoff_cap_s=2.0, source_retry_s=0.2)
PROBE_INTERVAL_S = 0.5
DRAIN_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class Harness:
    """The running sandbox (``stack.running_sandbox``, as ``tradewarden sandbox`` runs it),
    with the real kubectl and the reads the tests make."""

    parts: Sandbox
    kubectl: Kubectl

    def status(self, namespace: str, name: str) -> Obj:
        """The TradingBot's status as the operator wrote it ({} when none or gone)."""
        bot = self.parts.find(TB_API, "TradingBot", namespace, name) or {}
        return dict(bot.get("status") or {})

    def pods(self, namespace: str) -> list[Obj]:
        """The Pods of a namespace."""
        api = self.parts.api
        return api.store.list_objects(api.type_of("v1", "Pod"), namespace)

    async def bot_status(self, namespace: str, name: str) -> Obj | None:
        """The bot's own ``/status`` (what the operator probes), or None when it does not answer."""
        pod = self.parts.find("v1", "Pod", namespace, f"tb-{name}-0")
        url = ((pod or {}).get("metadata", {}).get("annotations") or {}).get(STATUS_URL_ANNOTATION)
        if not url:
            return None
        try:
            async with (
                aiohttp.ClientSession() as http,
                http.get(f"{url}/status", timeout=aiohttp.ClientTimeout(total=2)) as answer,
            ):
                return dict(await answer.json()) if answer.status == 200 else None
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return None

    def logs(self, namespace: str, tail: int = 3000) -> str:
        """The tail of every pod log of a namespace and of the operator log (for failures)."""
        pods_dir = self.parts.runner.pods_dir
        parts = []
        for log in sorted((pods_dir / namespace).glob("*/logs/*.log")):
            parts.append(f"--- {log.relative_to(pods_dir)}\n{log.read_text()[-tail:]}")
        operator_log = self.parts.operator.log
        if operator_log is not None and operator_log.exists():
            parts.append(f"--- operator.log\n{operator_log.read_text()[-tail:]}")
        return "\n".join(parts)


@contextlib.asynccontextmanager
async def running_harness(
    directory: Path, *, crd: bool = True, operator: bool = True
) -> AsyncIterator[Harness]:
    """The product's sandbox with test timings; ``crd=False`` leaves the CRD to the test."""
    options = SandboxOptions(
        directory=directory,
        crd_path=CRD_PATH if crd else None,
        halt_crd_path=HALT_CRD_PATH if crd else None,
        venue=SimSettings(port=0),
        runner=FAST_PODS,
        operator=operator,
        operator_log=directory / "operator.log",
        operator_args=(
            "--probe-interval", str(PROBE_INTERVAL_S), "--drain-timeout", str(DRAIN_TIMEOUT_S),
        ),
    )  # fmt: skip
    async with running_sandbox(options) as parts:
        yield Harness(parts, Kubectl(parts.kubeconfig))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sandbox(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Harness]:
    """One sandbox for a test module; every test works in its own namespace.

    ``kubectl tradewarden`` must find the plugin on PATH, as after ``pip install``.
    """
    directory = tmp_path_factory.mktemp("sandbox")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", f"{venv_bin()}{os.pathsep}{os.environ.get('PATH', '')}")
        async with running_harness(directory) as running:
            yield running


@pytest_asyncio.fixture(loop_scope="module")
async def venue() -> AsyncIterator[RunningVenueSim]:
    """A venue simulator of the test's own: bots of other tests never share its account."""
    async with running_venue_sim(walking()) as running:
        yield running


@pytest_asyncio.fixture(loop_scope="module")
async def namespace(
    sandbox: Harness, venue: RunningVenueSim, request: pytest.FixtureRequest
) -> AsyncIterator[str]:
    """A fresh namespace; its bots are deleted (drained) while the venue is still up."""
    # Unique per test: no test sees another's objects, events or leftovers.
    digest = hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:8]
    readable = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40].strip("-")
    name = f"{readable}-{digest}"
    # Not `kubectl create namespace`: that sends protobuf, which the sandbox does not speak.
    namespace_object = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    code, _, err = await sandbox.kubectl("apply", "-f", "-", stdin=json.dumps(namespace_object))
    assert code == 0, err
    try:
        yield name
    finally:
        print(sandbox.logs(name))
        await sandbox.kubectl("delete", "tb", "--all", "-n", name, "--wait=false")

        async def no_pods() -> bool:
            return not sandbox.pods(name)

        await eventually_async(no_pods, f"the pods of {name} to go", within=DRAIN_TIMEOUT_S + 10)


def trading_bot(name: str, namespace: str, venue: RunningVenueSim, **spec: Any) -> Obj:
    """The bundled example as ``name`` in ``namespace``, trading at ``venue`` with fast loops.

    ``spec`` entries replace top-level spec fields; the credentials come from the
    Secret ``NAME-credentials`` (see :func:`credentials_secret`).
    """
    document = sim_manifest(venue, name=name, namespace=namespace)
    document["spec"]["exchange"]["credentialsSecret"] = f"{name}-credentials"
    document["spec"]["execution"]["reconcileIntervalSeconds"] = 1
    document["spec"].update(spec)
    return document


def credentials_secret(name: str, namespace: str, api_key: str, api_secret: str) -> Obj:
    """The Secret a TradingBot's ``spec.exchange.credentialsSecret`` names."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": f"{name}-credentials", "namespace": namespace},
        "type": "Opaque",
        "stringData": {"apiKey": api_key, "apiSecret": api_secret},
    }


def fills_of(state: Obj, prefix: str) -> list[Obj]:
    """The bot's fills at the venue."""
    return [fill for fill in state["fills"] if fill["clientOrderId"].startswith(prefix)]
