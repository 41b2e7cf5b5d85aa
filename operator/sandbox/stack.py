"""The whole sandbox as one context manager: API server, venue simulator, pod runner, operator.

Public API::

    async with running_sandbox(SandboxOptions(directory=Path(".sandbox"))) as sandbox:
        sandbox.kubeconfig      # DIR/kubeconfig, the admin's, for the real kubectl
        sandbox.venue.base_url  # the simulator the example bots trade on
        sandbox.api.create(obj) # apply an object directly (no kubectl)
        async with sandbox.operator.down():  # the operator stopped, restarted after
            ...

Used by ``tradewarden sandbox``, ``tradewarden demo``, the benchmarks and the
end-to-end tests. On exit, even on error or cancellation, the operator is
stopped first (so it does not react to pods going away), then every pod, then
the simulator and the API server.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tradewarden.api.identity import bot_identity, bot_prefix
from tradewarden.api.manifest import parse_manifest
from tradewarden.bot.runtime.command import tradewarden_command
from tradewarden.bot.venue_sim.server import RunningVenueSim, running_venue_sim
from tradewarden.bot.venue_sim.settings import SimSettings
from tradewarden.operator.sandbox.apiserver import SandboxApi, running_api_server
from tradewarden.operator.sandbox.pods import PodRunner, RunnerSettings, running_pod_runner
from tradewarden.operator.sandbox.resources import Obj
from tradewarden.operator.toolchain import require_tool

CRD_DIR = Path(__file__).resolve().parents[2] / "crds"
CRD_PATH = CRD_DIR / "tradingbots.tradewarden.io.yaml"
HALT_CRD_PATH = CRD_DIR / "tradinghalts.tradewarden.io.yaml"
CHART_PATH = Path(__file__).resolve().parents[2] / "helm" / "tradewarden"
# Where the sandbox "installs" the chart's operator identity (release name, namespace).
RELEASE = "tradewarden"
OPERATOR_NAMESPACE = "tradewarden-system"
SERVICE_ACCOUNTS = "system:serviceaccounts"
_IDENTITY_KINDS = ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")
# The operator's token lives as long as a sandbox may run (the kubelet would rotate it).
OPERATOR_TOKEN_SECONDS = 365 * 24 * 3600
OPERATOR_STOP_GRACE_S = 10.0
# Order states in which an order still works at the venue.
WORKING = frozenset({"NEW", "PARTIALLY_FILLED"})


@dataclass(frozen=True)
class SandboxOptions:
    """What to start; the defaults are those of ``tradewarden sandbox``."""

    directory: Path
    # None: no CRD is installed (one is applied later, e.g. a Helm chart's).
    crd_path: Path | None = CRD_PATH
    # The cluster-scoped TradingHalt CRD (None: not installed).
    halt_crd_path: Path | None = HALT_CRD_PATH
    venue: SimSettings = field(default_factory=SimSettings)
    runner: RunnerSettings = field(default_factory=RunnerSettings)
    # False: the operator is not started (``sandbox.operator.start()`` starts it later).
    operator: bool = True
    # None: the operator logs to this process's stdout/stderr.
    operator_log: Path | None = None
    # More ``tradewarden operator`` arguments, e.g. ("--probe-interval", "0.5").
    operator_args: tuple[str, ...] = ()


@dataclass
class OperatorProcess:
    """The real ``tradewarden operator`` on its own kubeconfig; it can stop and start.

    That kubeconfig holds a token of the chart's operator ServiceAccount, bound to
    the chart's ClusterRole: the operator runs with the rights a cluster install
    gives it, not the admin's.

    Stopping sends SIGTERM (as a Deployment rollout would), then SIGKILL after a grace.
    """

    kubeconfig: Path
    log: Path | None = None
    args: tuple[str, ...] = ()
    process: asyncio.subprocess.Process | None = None

    @property
    def running(self) -> bool:
        """Whether the operator process is alive."""
        return self.process is not None and self.process.returncode is None

    @property
    def pid(self) -> int | None:
        """The running operator's process id."""
        return self.process.pid if self.running and self.process is not None else None

    async def start(self) -> None:
        """Start the operator (it must not be running)."""
        if self.running:
            raise RuntimeError("the sandbox operator is already running")
        with contextlib.ExitStack() as files:
            sink: Any = files.enter_context(self.log.open("ab")) if self.log is not None else None
            self.process = await asyncio.create_subprocess_exec(
                # A free metrics port: several sandboxes (tests, a demo) may run at once.
                *tradewarden_command(
                    "operator", "--kubeconfig", str(self.kubeconfig),
                    "--metrics-port", "0", "--metrics-host", "127.0.0.1", *self.args,
                ),
                stdout=sink,
                stderr=subprocess.STDOUT if sink is not None else None,
                # Ctrl-C reaches the sandbox only, which stops the operator before the pods.
                start_new_session=True,
            )  # fmt: skip

    async def stop(self) -> None:
        """Terminate the operator, then kill it if it outlives the grace period."""
        process = self.process
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), OPERATOR_STOP_GRACE_S)
        except TimeoutError:
            process.kill()
            await process.wait()

    @contextlib.asynccontextmanager
    async def down(self) -> AsyncIterator[None]:
        """The operator is stopped inside the block and running again after it."""
        await self.stop()
        try:
            yield
        finally:
            await self.start()


@dataclass(frozen=True)
class Sandbox:
    """The running parts."""

    api: SandboxApi
    venue: RunningVenueSim
    runner: PodRunner
    kubeconfig: Path
    operator: OperatorProcess

    def find(self, api_version: str, kind: str, namespace: str, name: str) -> Obj | None:
        """An object straight from the API server's store (no HTTP round trip)."""
        found = self.api.store.find(self.api.type_of(api_version, kind), namespace, name)
        return dict(found) if found is not None else None

    def order_prefix(self, namespace: str, name: str) -> str | None:
        """A bot's client order id prefix, from the manifest the operator rendered for it."""
        config_map = self.find("v1", "ConfigMap", namespace, f"tb-{name}-manifest")
        if config_map is None:
            return None
        return bot_prefix(bot_identity(parse_manifest(config_map["data"]["tradingbot.yaml"])))


def working_orders(state: Mapping[str, Any], prefix: str) -> list[Obj]:
    """A bot's plain (non-protective) orders still working in the simulator's ``state()``.

    Protective stops live in the venue's algo-order book, not among these.
    """
    return [
        order
        for order in state["orders"]
        if order["clientOrderId"].startswith(prefix) and order["status"] in WORKING
    ]


def _every_namespace(document: Obj) -> Obj:
    """A binding to the service accounts of the chart's bot namespaces, for every namespace.

    The chart binds what bots read cluster-wide (TradingHalts) to the groups
    ``system:serviceaccounts:NS`` of the namespaces its values list; in the sandbox
    any namespace may run bots, as if each were listed.
    """
    subjects = document.get("subjects") or []
    per_namespace = [
        s for s in subjects
        if s.get("kind") == "Group" and s.get("name", "").startswith("system:serviceaccounts:")
    ]  # fmt: skip
    if document["kind"] != "ClusterRoleBinding" or not per_namespace:
        return document
    wider = {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": SERVICE_ACCOUNTS}
    kept = [s for s in subjects if s not in per_namespace]
    return {**document, "subjects": [*kept, wider]}


def chart_identity(helm: Path, chart: Path = CHART_PATH) -> list[Obj]:
    """The operator's ServiceAccount and RBAC as ``helm template`` renders the chart's defaults.

    Only those kinds are kept: the sandbox runs the operator process itself. The
    bindings for bot namespaces cover every namespace (see :func:`_every_namespace`).
    """
    done = subprocess.run(
        [str(helm), "template", RELEASE, str(chart), "--namespace", OPERATOR_NAMESPACE],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"helm template {chart} failed: {done.stderr.strip()}")
    return [
        _every_namespace(doc)
        for doc in yaml.safe_load_all(done.stdout)
        if doc and doc["kind"] in _IDENTITY_KINDS
    ]


def _ensure_namespace(api: SandboxApi, name: str) -> None:
    if api.store.find(api.type_of("v1", "Namespace"), "", name) is None:
        api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})


def install_operator_identity(api: SandboxApi, documents: list[Obj], kubeconfig: Path) -> Path:
    """Create the chart's operator ServiceAccount and RBAC; write the operator's kubeconfig."""
    (account,) = [doc for doc in documents if doc["kind"] == "ServiceAccount"]
    for document in documents:
        namespace = None
        if api.type_of(document["apiVersion"], document["kind"]).namespaced:
            namespace = document["metadata"].get("namespace") or OPERATOR_NAMESPACE
            _ensure_namespace(api, namespace)
        api.create(document, namespace)
    return api.write_service_account_kubeconfig(
        kubeconfig,
        account["metadata"].get("namespace") or OPERATOR_NAMESPACE,
        account["metadata"]["name"],
        OPERATOR_TOKEN_SECONDS,
    )


@contextlib.asynccontextmanager
async def running_sandbox(options: SandboxOptions) -> AsyncIterator[Sandbox]:
    """Start every part of the sandbox; stop them all on exit."""
    crds = [
        yaml.safe_load(path.read_text(encoding="utf-8"))
        for path in (options.crd_path, options.halt_crd_path)
        if path is not None
    ]
    directory = options.directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    identity = chart_identity(require_tool("helm"))
    async with (
        running_api_server(crds=crds) as api,
        running_venue_sim(options.venue) as venue,
        running_pod_runner(api, directory, options.runner) as runner,
    ):
        kubeconfig = api.write_kubeconfig(directory / "kubeconfig")
        operator_kubeconfig = install_operator_identity(
            api, identity, directory / "operator" / "kubeconfig"
        )
        operator = OperatorProcess(operator_kubeconfig, options.operator_log, options.operator_args)
        try:
            if options.operator:
                await operator.start()
            yield Sandbox(api, venue, runner, kubeconfig, operator)
        finally:
            await operator.stop()
