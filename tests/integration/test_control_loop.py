"""The bot side of the TradingBot contract against the sandbox API server, with no operator.

Real parts: the sandbox API server, the real kubectl for patches, the ``kubernetes``
client inside the bot, ccxt against the venue simulator.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.integration.conftest import sim_client
from tests.support.manifests import sim_manifest
from tradewarden.api.bot_status import ControlStatus
from tradewarden.api.crd import KINDS, custom_resource_definition
from tradewarden.api.kube_client import api_client_from_environment
from tradewarden.api.tradingbot import TradingBot, TradingMode
from tradewarden.bot.control.companion import ControlSettings, KubernetesControl
from tradewarden.bot.control.kube import ControlApi
from tradewarden.bot.observability.events import Event, EventLog
from tradewarden.bot.runtime.bot import BotRuntime
from tradewarden.bot.runtime.status import render_status
from tradewarden.bot.venue_sim.server import RunningVenueSim
from tradewarden.operator.sandbox.apiserver import SandboxApi, ServerKeys, running_api_server

NAMESPACE = "default"
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
FAST = ControlSettings(
    lease_duration_seconds=2,
    lease_renew_seconds=0.3,
    watch_timeout_seconds=5,
    retry_base_seconds=0.1,
    retry_max_seconds=0.3,
    dead_man_tick_seconds=0.1,
)


def resource(name: str, sim: RunningVenueSim, dead_man_seconds: float = 60) -> dict[str, Any]:
    document = sim_manifest(sim, name=name, namespace=NAMESPACE)
    document["spec"]["guards"] = {"deadMan": {"apiUnreachableSeconds": dead_man_seconds}}
    return document


class Watched:
    """A bot running in this process, and every event it emitted."""

    def __init__(self, bot: BotRuntime) -> None:
        self.bot = bot
        self.records: list[dict[str, Any]] = []
        self._changed = asyncio.Event()
        bot.events.listeners.append(self._seen)

    def _seen(self, record: dict[str, Any]) -> None:
        self.records.append(record)
        self._changed.set()

    def named(self, event: Event) -> list[dict[str, Any]]:
        return [record for record in self.records if record["event"] == event]

    async def until(self, condition: Callable[[], bool], within: float = 15.0) -> None:
        """Wait for ``condition``, re-checked on every event the bot emits."""
        async with asyncio.timeout(within):
            while not condition():
                self._changed.clear()
                await self._changed.wait()

    def mode_is(self, mode: TradingMode) -> Callable[[], bool]:
        return lambda: self.bot.posture.mode is mode


StartBot = Callable[..., Awaitable[Watched]]


class ApiServer:
    """The sandbox API server, which a test may stop and start again on the same port."""

    def __init__(self) -> None:
        self._stack: contextlib.AsyncExitStack | None = None
        self._api: SandboxApi | None = None
        self.port: int | None = None
        self.keys: ServerKeys | None = None

    @property
    def api(self) -> SandboxApi:
        assert self._api is not None, "the API server is stopped"
        return self._api

    async def start(self) -> SandboxApi:
        self._stack = contextlib.AsyncExitStack()
        crds = [custom_resource_definition(kind) for kind in KINDS]
        self._api = await self._stack.enter_async_context(
            running_api_server(crds=crds, port=self.port, keys=self.keys)
        )
        self.port = urlsplit(self._api.url).port
        self.keys = self._api.keys
        return self._api

    async def stop(self) -> None:
        if self._stack is not None:
            await self._stack.aclose()
        self._stack = self._api = None


@pytest.fixture
async def server() -> AsyncIterator[ApiServer]:
    handle = ApiServer()
    await handle.start()
    try:
        yield handle
    finally:
        await handle.stop()


@pytest.fixture
def kubeconfig(server: ApiServer, tmp_path: Path) -> Path:
    return server.api.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
async def start_bot(
    server: ApiServer, kubeconfig: Path, sim: RunningVenueSim, tmp_path: Path
) -> AsyncIterator[StartBot]:
    running: list[tuple[asyncio.Event, asyncio.Task[int]]] = []

    async def start(
        name: str, dead_man_seconds: float = 60, labels: dict[str, str] | None = None
    ) -> Watched:
        document = resource(name, sim, dead_man_seconds)
        if labels:
            document["metadata"]["labels"] = labels
        created = server.api.create(document)
        # As the operator's ConfigMap renders it: the uid comes along.
        document["metadata"]["uid"] = created["metadata"]["uid"]
        manifest = TradingBot.model_validate(document)
        control = KubernetesControl(
            ControlApi(
                api_client_from_environment({"KUBECONFIG": str(kubeconfig)}), NAMESPACE, name
            ),
            account=manifest.spec.exchange.account,
            symbol=manifest.spec.symbol,
            settings=FAST,
            uid=manifest.metadata.uid,
        )
        exchange = sim_client(sim, timeout_ms=2000)
        bot = BotRuntime(
            manifest,
            exchange,
            tmp_path / name,
            events=EventLog(time.time),
            companions=[control],
        )
        watched = Watched(bot)
        stop = asyncio.Event()
        running.append((stop, asyncio.create_task(bot.run(stop), name=f"bot-{name}")))
        return watched

    try:
        yield start
    finally:
        for stop, _ in running:
            stop.set()
        await asyncio.gather(*(task for _, task in running), return_exceptions=True)


async def kubectl(kubeconfig: Path, *args: str) -> None:
    process = await asyncio.create_subprocess_exec(
        KUBECTL,
        "--kubeconfig",
        str(kubeconfig),
        "--namespace",
        NAMESPACE,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, f"kubectl {' '.join(args)}: {err.decode()} {out.decode()}"


async def merge_patch(kubeconfig: Path, name: str, patch: dict[str, Any], *extra: str) -> None:
    await kubectl(kubeconfig, "patch", "tb", name, "--type=merge", "-p", json.dumps(patch), *extra)


def control_status(bot: BotRuntime) -> ControlStatus:
    """The ``control`` section of the bot's /status (a control companion runs)."""
    control = render_status(bot).control
    assert control is not None
    return control


def lease_held(watched: Watched) -> Callable[[], bool]:
    return lambda: control_status(watched.bot).lease_held


async def test_emergency_stop_patch_flips_the_bot_without_an_operator(
    start_bot: StartBot, kubeconfig: Path
) -> None:
    bot = await start_bot("estop")
    await bot.until(lease_held(bot))
    assert bot.bot.posture.mode is TradingMode.ACTIVE

    halt = {"action": "Halt", "reason": "oncall: venue incident"}
    await merge_patch(kubeconfig, "estop", {"spec": {"emergencyStop": halt}})
    await bot.until(bot.mode_is(TradingMode.HALTED), within=5)
    updates = bot.named(Event.CONTROL_UPDATE)
    assert updates[-1]["emergency_stop"] == halt
    assert any("oncall: venue incident" in reason for reason in bot.bot.posture.reasons)

    await merge_patch(kubeconfig, "estop", {"spec": {"emergencyStop": None}})
    await bot.until(bot.mode_is(TradingMode.ACTIVE), within=5)

    await merge_patch(kubeconfig, "estop", {"spec": {"paused": True}})
    await bot.until(bot.mode_is(TradingMode.REDUCE_ONLY), within=5)


async def test_operator_abort_in_status_halts_and_clearing_it_withdraws(
    start_bot: StartBot, kubeconfig: Path
) -> None:
    bot = await start_bot("aborted")
    await bot.until(lease_held(bot))
    abort = {
        "reason": "KillSwitch",
        "message": "persistent divergence",
        "time": "2024-01-01T00:00:00Z",
    }
    await merge_patch(kubeconfig, "aborted", {"status": {"abort": abort}}, "--subresource=status")
    await bot.until(bot.mode_is(TradingMode.HALTED), within=5)
    status = render_status(bot.bot)
    assert control_status(bot.bot).operator_abort == "KillSwitch"
    assert any(reason.startswith("control.operatorAbort") for reason in status.mode_reasons)

    await merge_patch(kubeconfig, "aborted", {"status": {"abort": None}}, "--subresource=status")
    await bot.until(bot.mode_is(TradingMode.ACTIVE), within=5)
    assert control_status(bot.bot).operator_abort is None


async def test_the_lease_is_owned_by_its_holders_trading_bot_and_goes_with_it(
    start_bot: StartBot, server: ApiServer, kubeconfig: Path
) -> None:
    bot = await start_bot("owned")
    await bot.until(lease_held(bot))
    leases = server.api.type_of("coordination.k8s.io/v1", "Lease")
    (lease,) = [obj for (group, plural), obj in server.api.store.items() if plural == "leases"]
    owner = server.api.store.find(
        server.api.type_of("tradewarden.io/v1alpha1", "TradingBot"), NAMESPACE, "owned"
    )
    assert owner is not None
    assert lease["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "tradewarden.io/v1alpha1",
            "kind": "TradingBot",
            "name": "owned",
            "uid": owner["metadata"]["uid"],
        }
    ]
    # The garbage collector takes the Lease with the TradingBot: a later bot on the
    # same account and symbol finds none to wait out.
    gone = asyncio.Event()
    server.api.store.on_removed.append(
        lambda rtype, obj: (
            gone.set() if obj["metadata"]["uid"] == lease["metadata"]["uid"] else None
        )
    )
    await kubectl(kubeconfig, "delete", "tb", "owned", "--wait=false")
    async with asyncio.timeout(10):
        await gone.wait()
    assert server.api.store.find(leases, NAMESPACE, lease["metadata"]["name"]) is None


async def test_only_the_lease_holder_places_orders(start_bot: StartBot) -> None:
    first = await start_bot("grid-a")
    second = await start_bot("grid-b")
    bots = (first, second)
    await first.until(lambda: any(lease_held(bot)() for bot in bots))
    holder, other = (first, second) if lease_held(first)() else (second, first)

    def fenced_out() -> bool:
        return any(
            record["reason"].startswith("lease:") for record in other.named(Event.INTENT_REFUSED)
        )

    await holder.until(lambda: len(holder.named(Event.ORDER_SUBMIT)) >= 2)
    await other.until(fenced_out)
    assert other.named(Event.LEASE_HELD_BY_OTHER)
    assert other.named(Event.ORDER_SUBMIT) == []
    assert not control_status(other.bot).lease_held


async def test_dead_man_goes_reduce_only_when_the_api_server_is_gone(
    start_bot: StartBot, server: ApiServer, sim: RunningVenueSim
) -> None:
    bot = await start_bot("lonely", dead_man_seconds=1.0)
    await bot.until(lease_held(bot))
    assert bot.bot.posture.mode is TradingMode.ACTIVE

    await server.stop()
    await bot.until(bot.mode_is(TradingMode.REDUCE_ONLY), within=5)
    (trip,) = bot.named(Event.DEAD_MAN_TRIP)
    assert trip["reason"].startswith("API server unreachable for")
    status = render_status(bot.bot)
    assert control_status(bot.bot).api_server_reachable is False
    assert any(reason.startswith("control.deadMan") for reason in status.mode_reasons)

    await server.start()
    server.api.create(resource("lonely", sim, dead_man_seconds=1.0))
    await bot.until(bot.mode_is(TradingMode.ACTIVE), within=10)
    assert bot.named(Event.DEAD_MAN_CLEAR)
    assert control_status(bot.bot).api_server_reachable is True


async def apply_halt(kubeconfig: Path, name: str, **spec: Any) -> None:
    """Create or change a TradingHalt with the real kubectl (cluster-scoped: no namespace)."""
    body = {"action": "Halt", "reason": "desk: venue incident", **spec}
    document = {
        "apiVersion": "tradewarden.io/v1alpha1",
        "kind": "TradingHalt",
        "metadata": {"name": name},
        "spec": body,
    }
    process = await asyncio.create_subprocess_exec(
        KUBECTL, "--kubeconfig", str(kubeconfig), "apply", "-f", "-",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate(json.dumps(document).encode())
    assert process.returncode == 0, f"kubectl apply {name}: {err.decode()} {out.decode()}"


def halted_by(watched: Watched, name: str | None) -> Callable[[], bool]:
    def check() -> bool:
        binding = control_status(watched.bot).trading_halt
        return binding is not None and binding.name == name if name else binding is None

    return check


async def test_a_trading_halt_binds_the_bots_it_selects_without_an_operator(
    start_bot: StartBot, kubeconfig: Path
) -> None:
    desk_a = await start_bot("desk-a-grid", labels={"desk": "a"})
    desk_b = await start_bot("desk-b-grid", labels={"desk": "b"})
    # One Lease per account and symbol: only one of them trades, but both obey halts.
    for bot in (desk_a, desk_b):
        await bot.until(lambda bot=bot: bool(bot.named(Event.CONTROL_UPDATE)))

    await apply_halt(kubeconfig, "desk-a-stop", selector={"matchLabels": {"desk": "a"}})
    await desk_a.until(desk_a.mode_is(TradingMode.HALTED), within=5)
    (applied,) = desk_a.named(Event.TRADING_HALT)
    assert (applied["halt"], applied["action"]) == ("desk-a-stop", "Halt")
    assert any("TradingHalt desk-a-stop Halt: desk: venue incident" in r
               for r in desk_a.bot.posture.reasons)  # fmt: skip
    # A stronger halt that selects desk b only: desk a keeps its own, desk b flattens.
    await apply_halt(
        kubeconfig, "desk-b-flatten", action="Flatten", selector={"matchLabels": {"desk": "b"}}
    )
    await desk_b.until(halted_by(desk_b, "desk-b-flatten"), within=5)
    assert desk_b.bot.posture.flatten and not desk_a.bot.posture.flatten
    assert halted_by(desk_a, "desk-a-stop")()

    # A desk-wide ReduceOnly on top: the Halt still binds desk a (most restrictive wins).
    await apply_halt(kubeconfig, "everyone", action="ReduceOnly", allBots=True)
    await desk_a.until(lambda: len(desk_a.named(Event.TRADING_HALT)) == 1, within=1)
    # Releasing the Halt leaves the desk-wide ReduceOnly binding desk a.
    await apply_halt(
        kubeconfig, "desk-a-stop", selector={"matchLabels": {"desk": "a"}},
        release={"reason": "venue fixed"},
    )  # fmt: skip
    await desk_a.until(halted_by(desk_a, "everyone"), within=5)
    assert desk_a.bot.posture.mode is TradingMode.REDUCE_ONLY
    # Deleting a halt releases too.
    await kubectl(kubeconfig, "delete", "tradinghalt", "everyone")
    await desk_a.until(desk_a.mode_is(TradingMode.ACTIVE), within=5)
    assert halted_by(desk_a, None)()


async def test_an_expired_halt_lets_the_bot_trade_again(
    start_bot: StartBot, kubeconfig: Path
) -> None:
    bot = await start_bot("expiring", labels={"desk": "a"})
    await bot.until(lease_held(bot))
    expires = datetime.now(UTC) + timedelta(seconds=2)
    await apply_halt(
        kubeconfig, "short", action="ReduceOnly", namespaces=[NAMESPACE],
        expiresAt=expires.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    )  # fmt: skip
    await bot.until(bot.mode_is(TradingMode.REDUCE_ONLY), within=5)
    await bot.until(bot.mode_is(TradingMode.ACTIVE), within=5)
    assert datetime.now(UTC) >= expires
    assert [record["halt"] for record in bot.named(Event.TRADING_HALT)] == ["short", None]


async def test_a_bot_that_cannot_read_trading_halts_goes_reduce_only(
    start_bot: StartBot, kubeconfig: Path
) -> None:
    bot = await start_bot("deaf", dead_man_seconds=1.5)
    await bot.until(lease_held(bot))
    assert bot.bot.posture.mode is TradingMode.ACTIVE
    # Without the CRD the halt list answers 404: the bot could not hear a red button.
    await kubectl(kubeconfig, "delete", "crd", "tradinghalts.tradewarden.io")
    await bot.until(bot.mode_is(TradingMode.REDUCE_ONLY), within=6)
    (lost,) = bot.named(Event.HALT_FEED_LOST)
    assert lost["reason"].startswith("TradingHalts unreadable for")
    assert control_status(bot.bot).halts_readable is False
    assert not bot.named(Event.DEAD_MAN_TRIP)  # the API server itself is fine
