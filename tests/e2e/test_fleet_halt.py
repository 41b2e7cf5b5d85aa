"""The desk's red button end to end: TradingHalts with the real kubectl in the sandbox.

Bots are real ``tradewarden bot --control kubernetes`` processes run by the
sandbox's pod runner, the operator is the real process, and each bot trades on
a venue simulator of its own, whose state is the ground truth of what a halt
did at the exchange. TradingHalts are cluster-scoped: every halt here selects
by a label unique to this module, so bots of other modules never match.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

import pytest
import pytest_asyncio
import yaml

from tests.e2e.conftest import (
    Harness,
    credentials_secret,
    trading_bot,
)
from tests.e2e.test_sandbox_flows import (
    apply,
    kubectl_ok,
    no_working_orders,
    pod_events,
    trades_at_venue,
)
from tests.support.sim import walking
from tests.support.waiting import eventually_async
from tradewarden.bot.venue_sim.server import RunningVenueSim, running_venue_sim
from tradewarden.operator.sandbox.stack import working_orders

pytestmark = pytest.mark.asyncio(loop_scope="module")
Obj = dict[str, Any]
RUN = "fleet-halt-e2e"  # the label every bot of this module carries
SYMBOL_ID = "BTCUSDT"


def halt(name: str, **spec: Any) -> Obj:
    return {
        "apiVersion": "tradewarden.io/v1alpha1",
        "kind": "TradingHalt",
        "metadata": {"name": name},
        "spec": {"action": "Halt", "reason": "desk: venue incident", **spec},
    }


def selector(**labels: str) -> Obj:
    return {"matchLabels": {"run": RUN, **labels}}


def namespace_object(name: str, **labels: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def position(state: Obj) -> Decimal:
    return sum(
        (Decimal(p["positionAmt"]) for p in state["positions"] if p["symbol"] == SYMBOL_ID),
        Decimal(0),
    )


class Desk:
    """Three bots in two namespaces, each on a venue of its own: red-a and red-b carry
    team=red (in namespaces a and b), blue-a carries team=blue (in namespace a)."""

    def __init__(self, sandbox: Harness, venues: dict[str, RunningVenueSim]) -> None:
        self.sandbox = sandbox
        self.venues = venues
        self.prefixes: dict[str, str] = {}

    BOTS: ClassVar[dict[str, tuple[str, str]]] = {
        "red-a": ("halt-e2e-a", "red"),
        "blue-a": ("halt-e2e-a", "blue"),
        "red-b": ("halt-e2e-b", "red"),
    }

    def manifest(self, name: str) -> Obj:
        namespace, team = self.BOTS[name]
        document = trading_bot(name, namespace, self.venues[name])
        document["metadata"]["labels"] = {"run": RUN, "team": team}
        # One Lease per account and symbol in a namespace: each bot its own account.
        document["spec"]["exchange"]["account"] = name
        return document

    async def start(self) -> None:
        for namespace in {ns for ns, _ in self.BOTS.values()}:
            await apply(self.sandbox, namespace_object(namespace, desk="crypto"))
        for name, (namespace, _) in self.BOTS.items():
            keys = self.venues[name].settings
            await apply(
                self.sandbox,
                credentials_secret(name, namespace, keys.api_key, keys.api_secret),
                self.manifest(name),
            )
        names = list(self.BOTS)
        found = await asyncio.gather(
            *(trades_at_venue(self.sandbox, self.venues[n], self.BOTS[n][0], n) for n in names)
        )
        self.prefixes = dict(zip(names, found, strict=True))

    async def working(self, name: str) -> list[Obj]:
        return working_orders(await self.venues[name].state(), self.prefixes[name])

    async def flat_and_quiet(self, name: str) -> bool:
        state = await self.venues[name].state()
        return not working_orders(state, self.prefixes[name]) and position(state) == 0

    def status(self, name: str) -> Obj:
        return self.sandbox.status(self.BOTS[name][0], name)

    def condition(self, name: str, kind: str) -> Obj:
        conditions = self.status(name).get("conditions") or []
        return next((c for c in conditions if c["type"] == kind), {})


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def desk(sandbox: Harness) -> AsyncIterator[Desk]:
    async with contextlib.AsyncExitStack() as stack:
        venues = {
            name: await stack.enter_async_context(running_venue_sim(walking(seed=11 + i)))
            for i, name in enumerate(Desk.BOTS)
        }
        running = Desk(sandbox, venues)
        try:
            await running.start()
            yield running
        finally:
            await sandbox.kubectl("delete", "tradinghalts", "--all", "--wait=false")
            for namespace in {ns for ns, _ in Desk.BOTS.values()}:
                print(sandbox.logs(namespace))
                await sandbox.kubectl("delete", "tb", "--all", "-n", namespace, "--wait=false")

            async def no_pods() -> bool:
                return not any(sandbox.pods(ns) for ns, _ in Desk.BOTS.values())

            await eventually_async(no_pods, "the desk's pods to go", within=40)


async def halt_status(sandbox: Harness, name: str) -> Obj:
    found = json.loads(await kubectl_ok(sandbox, "get", "tradinghalt", name, "-o", "json"))
    return dict(found.get("status") or {})


async def test_a_malformed_halt_is_refused_naming_the_field(sandbox: Harness) -> None:
    no_reason = halt("no-reason", allBots=True)
    del no_reason["spec"]["reason"]
    code, _, err = await sandbox.kubectl("apply", "-f", "-", stdin=json.dumps(no_reason))
    assert code != 0 and "spec.reason" in err, err
    unscoped = halt("no-scope")
    code, _, err = await sandbox.kubectl("apply", "-f", "-", stdin=json.dumps(unscoped))
    assert code != 0 and "spec.allBots" in err and "set allBots: true" in err, err
    code, out, _ = await sandbox.kubectl("get", "tradinghalts", "-o", "name")
    assert code == 0 and "no-reason" not in out and "no-scope" not in out


async def test_halt_by_label_across_namespaces_flattens_exactly_the_matched_bots(
    sandbox: Harness, desk: Desk
) -> None:
    red = halt(
        "red-flatten",
        action="Flatten",
        namespaces=["halt-e2e-a", "halt-e2e-b"],
        selector=selector(team="red"),
    )
    await apply(sandbox, red)
    for name in ("red-a", "red-b"):
        await eventually_async(lambda n=name: desk.flat_and_quiet(n), f"{name} flat at its venue")
    # `kubectl wait` on the condition, as a desk runs it.
    await kubectl_ok(
        sandbox,
        "wait",
        "--for=condition=FleetConfirmed",
        "tradinghalt/red-flatten",
        "--timeout=30s",
    )
    status = await halt_status(sandbox, "red-flatten")
    assert (status["matched"], status["reachedMode"], status["confirmed"]) == (2, 2, 2)
    assert status["outstanding"] == [] and status["confirmedAt"]
    table = await kubectl_ok(sandbox, "get", "th", "red-flatten")
    assert re.search(r"red-flatten\s+Flatten\s+Active\s+2\s+2\s", table), table
    for name in ("red-a", "red-b"):
        halted = desk.condition(name, "TradingHalt")
        assert halted["status"] == "True" and "red-flatten" in halted["message"], halted
        assert desk.condition(name, "Ready")["reason"] == "TradingHalt"
    # The blue bot is not matched: it keeps trading.
    assert desk.condition("blue-a", "TradingHalt").get("status") == "False"
    await eventually_async(lambda: desk.working("blue-a"), "blue-a still working orders")
    events = json.loads(await kubectl_ok(sandbox, "get", "events", "-n", "default", "-o", "json"))[
        "items"
    ]
    reasons = {e["reason"] for e in events if e["involvedObject"]["name"] == "red-flatten"}
    assert {"Halting", "FleetConfirmed"} <= reasons, reasons
    # And on each bot it binds, naming the halt.
    bot_events = json.loads(
        await kubectl_ok(sandbox, "get", "events", "-n", "halt-e2e-b", "-o", "json")
    )["items"]
    assert any(
        e["reason"] == "TradingHalt" and "TradingHalt red-flatten Flatten" in e["message"]
        for e in bot_events
        if e["involvedObject"]["name"] == "red-b"
    ), [(e["reason"], e["message"]) for e in bot_events]


async def test_gitops_reapply_leaves_the_halt_in_force(sandbox: Harness, desk: Desk) -> None:
    # The bots' manifests as Argo CD applies them again (with its tracking label): there is
    # no halt in them to undo, and the bots see the change and stay halted.
    seen = {name: len(pod_events(sandbox, desk.BOTS[name][0], name, "CONTROL_UPDATE"))
            for name in ("red-a", "red-b")}  # fmt: skip
    synced = [desk.manifest(name) for name in seen]
    for document in synced:
        document["metadata"]["labels"]["app.kubernetes.io/instance"] = "desk"
    await apply(sandbox, *synced)
    for name, before in seen.items():

        async def updated(name: str = name, before: int = before) -> list[Obj]:
            found = pod_events(sandbox, desk.BOTS[name][0], name, "CONTROL_UPDATE")
            return found[before:]

        (update,) = await eventually_async(updated, f"{name} to see the re-applied manifest")
        assert update["mode"] == "Halted", update
        assert await desk.flat_and_quiet(name)
        assert desk.condition(name, "TradingHalt").get("status") == "True"


async def test_a_halt_holds_with_the_operator_down_and_its_release_resumes(
    sandbox: Harness, desk: Desk
) -> None:
    async with sandbox.parts.operator.down():
        await apply(sandbox, halt("blue-halt", selector=selector(team="blue")))
        prefix = desk.prefixes["blue-a"]
        await eventually_async(
            lambda: no_working_orders(desk.venues["blue-a"], prefix),
            "blue-a's entry orders cancelled at the venue with the operator down",
        )
        release = {"spec": {"release": {"reason": "venue fixed"}}}
        await kubectl_ok(
            sandbox, "patch", "tradinghalt", "blue-halt", "--type=merge", "-p", json.dumps(release)
        )
        await eventually_async(
            lambda: desk.working("blue-a"), "blue-a trading again after the release"
        )
    await eventually_async(
        lambda: _state_is(sandbox, "blue-halt", "Released"), "the release in the halt's status"
    )
    # The red bots stay flat: the Flatten still holds them.
    assert await desk.flat_and_quiet("red-a")


async def _state_is(sandbox: Harness, name: str, state: str) -> bool:
    return (await halt_status(sandbox, name)).get("state") == state


async def test_expiry_resumes_the_bots_nothing_else_holds(sandbox: Harness, desk: Desk) -> None:
    # red-b is also held by a ReduceOnly halt of its own namespace with no expiry.
    await apply(sandbox, halt("b-reduce", action="ReduceOnly", namespaces=["halt-e2e-b"],
                              selector=selector()))  # fmt: skip
    soon = (datetime.now(UTC) + timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    expire = {"spec": {"expiresAt": soon}}
    await kubectl_ok(
        sandbox, "patch", "tradinghalt", "red-flatten", "--type=merge", "-p", json.dumps(expire)
    )
    await eventually_async(lambda: desk.working("red-a"), "red-a trading again after the expiry")
    await eventually_async(
        lambda: _state_is(sandbox, "red-flatten", "Expired"), "the expiry in the halt's status"
    )

    async def red_b_reduce_only() -> bool:
        status = desk.status("red-b")
        halted = desk.condition("red-b", "TradingHalt")
        return status.get("tradingMode") == "ReduceOnly" and "b-reduce" in halted.get("message", "")

    await eventually_async(red_b_reduce_only, "red-b held reduce-only by b-reduce")
    assert yaml.safe_load(await kubectl_ok(sandbox, "get", "th", "red-flatten", "-o", "yaml"))[
        "spec"
    ]["reason"]
