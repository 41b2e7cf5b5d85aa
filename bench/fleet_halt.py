"""Fleet halt: one TradingHalt against N single-bot emergency stops, and a halt at scale.

Latency: N real bots (``tradewarden bot --control kubernetes`` processes of the
sandbox's pod runner, under the real operator), each trading on a venue
simulator of its own with resting entry orders. A round creates one
TradingHalt for their namespace with the real kubectl and times until the
last of their entry orders stopped working, taken from the venues' own
``updateTime`` (so the poll interval does not count); the halt is then
deleted and the round waits for every bot to rest orders again. In the same
rounds, one bot is stopped by a ``kubectl patch`` of its ``emergencyStop``
the same way, for comparison.

Scale: 1,000 TradingBots on the sandbox API server with pods left pending,
under the real operator; the time from the TradingHalt's create until every
bot's status shows the halt (its TradingHalt condition True).

Run alone with ``python bench/fleet_halt.py [ROUNDS] [BOTS]``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fleet import NAMESPACE as FLEET_NAMESPACE
from fleet import _bots as fleet_bots
from fleet import _operator_done as fleet_settled
from stop_rounds import Kubectl, Obj, bot_documents, ended_since, sandbox_options, until

from tradewarden.api.crd import KINDS, custom_resource_definition
from tradewarden.bot.runtime.command import tradewarden_command
from tradewarden.bot.venue_sim.server import RunningVenueSim, running_venue_sim
from tradewarden.bot.venue_sim.settings import SimSettings
from tradewarden.operator.sandbox.apiserver import running_api_server
from tradewarden.operator.sandbox.stack import running_sandbox, working_orders

NAMESPACE = "bench-halt"
# Reading 1,000 statuses from the in-process API server's store is work the server's own
# loop waits for: a coarser poll keeps the measurement from slowing what it measures.
SCALE_POLL_S = 0.25
ROUND_TIMEOUT_S = 60.0
START_TIMEOUT_S = 240.0
SCALE_DEADLINE_S = 300.0
HALT_NAME = "bench-desk"


def _halt(**spec: Any) -> Obj:
    return {
        "apiVersion": "tradewarden.io/v1alpha1",
        "kind": "TradingHalt",
        "metadata": {"name": HALT_NAME},
        "spec": {"action": "Halt", "reason": "bench", **spec},
    }


def _bot(name: str, venue: RunningVenueSim) -> list[Obj]:
    """One bot of the fleet, with an account of its own."""
    secret, bot = bot_documents(name, NAMESPACE, venue)
    bot["spec"]["exchange"]["account"] = name
    return [secret, bot]


class _Fleet:
    """The running bots: each one's venue and client order id prefix."""

    def __init__(self, venues: dict[str, RunningVenueSim], prefixes: dict[str, str]) -> None:
        self.venues = venues
        self.prefixes = prefixes

    async def resting(self, names: list[str]) -> bool:
        states = await asyncio.gather(*(self.venues[n].state() for n in names))
        return all(working_orders(s, self.prefixes[n]) for n, s in zip(names, states, strict=True))

    async def stopped_at(self, names: list[str], since: float) -> float | None:
        """The venue time the last entry order of ``names`` stopped working, once none does."""
        states = await asyncio.gather(*(self.venues[n].state() for n in names))
        ended = []
        for name, state in zip(names, states, strict=True):
            prefix = self.prefixes[name]
            if working_orders(state, prefix):
                return None
            ended += ended_since(state, prefix, since)
        return max(ended) if ended else time.time()


async def _timed_stop(
    fleet: _Fleet, names: list[str], stop: Awaitable[None], resume: Callable[[], Awaitable[None]]
) -> float:
    started = time.time()
    await stop
    ended = await until(lambda: fleet.stopped_at(names, started), "stop", ROUND_TIMEOUT_S)
    await resume()
    await until(lambda: fleet.resting(names), "resting orders again", ROUND_TIMEOUT_S)
    return float(ended) - started


def _quantiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), statistics.quantiles(ordered, n=100, method="inclusive")[98]


async def latency(rounds: int = 5, bots: int = 20) -> dict[str, float]:
    """p50/p99 of a fleet halt over ``bots`` bots and of one bot's emergency stop, in seconds."""
    names = [f"bot-{index:02d}" for index in range(bots)]
    with tempfile.TemporaryDirectory() as scratch:
        async with contextlib.AsyncExitStack() as stack:
            venues = {
                name: await stack.enter_async_context(
                    running_venue_sim(SimSettings(port=0, seed=100 + i, price_tick_s=0.25))
                )
                for i, name in enumerate(names)
            }
            sandbox = await stack.enter_async_context(
                running_sandbox(sandbox_options(Path(scratch)))
            )
            namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
            sandbox.api.create(namespace)
            for name in names:
                for document in _bot(name, venues[name]):
                    sandbox.api.create(document)

            async def prefixes() -> dict[str, str] | None:
                found = {n: sandbox.order_prefix(NAMESPACE, n) for n in names}
                return None if None in found.values() else {n: str(p) for n, p in found.items()}

            fleet = _Fleet(venues, await until(prefixes, "bot manifests", START_TIMEOUT_S))
            await until(lambda: fleet.resting(names), "resting orders", START_TIMEOUT_S)
            kubectl = Kubectl(sandbox.kubeconfig)
            single, whole = [], []
            one = names[0]
            for _ in range(rounds):

                def patch(bot: str, stop: Any) -> Awaitable[None]:
                    body = json.dumps({"spec": {"emergencyStop": stop}})
                    return kubectl("patch", "tb", bot, "-n", NAMESPACE, "--type=merge", "-p", body)

                single.append(
                    await _timed_stop(
                        fleet,
                        [one],
                        patch(one, {"action": "Halt", "reason": "bench"}),
                        lambda: patch(one, None),
                    )
                )
                whole.append(
                    await _timed_stop(
                        fleet,
                        names,
                        kubectl(
                            "create", "-f", "-", stdin=json.dumps(_halt(namespaces=[NAMESPACE]))
                        ),
                        lambda: kubectl("delete", "tradinghalt", HALT_NAME),
                    )
                )
    fleet_p50, fleet_p99 = _quantiles(whole)
    single_p50, single_p99 = _quantiles(single)
    return {
        "fleet_p50_s": fleet_p50,
        "fleet_p99_s": fleet_p99,
        "single_p50_s": single_p50,
        "single_p99_s": single_p99,
    }


async def scale(count: int = 1000) -> float:
    """Seconds from a TradingHalt's create until all ``count`` pending bots' statuses show it."""
    async with running_api_server(crds=[custom_resource_definition(k) for k in KINDS]) as api:
        api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": FLEET_NAMESPACE}})
        bot_type = api.type_of("tradewarden.io/v1alpha1", "TradingBot")

        def statuses() -> list[Obj]:
            return [
                dict(bot.get("status") or {}) for bot in api.store.list_objects(bot_type, "fleet")
            ]

        def halted(status: Obj) -> bool:
            return any(
                c.get("type") == "TradingHalt" and c.get("status") == "True"
                for c in status.get("conditions") or []
            )

        with tempfile.TemporaryDirectory() as scratch:
            kubeconfig = api.write_kubeconfig(Path(scratch) / "kubeconfig")
            process = await asyncio.create_subprocess_exec(
                *tradewarden_command(
                    "operator", "--metrics-port", "0", "--metrics-host", "127.0.0.1",
                    "--kubeconfig", str(kubeconfig),
                ),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
            try:
                for bot in fleet_bots(count):
                    api.create(bot)

                # Every bot has its children and a status: the fleet benchmark's finish line.
                async def settled() -> bool:
                    return fleet_settled(api, count)

                await until(settled, "children and status of every bot", SCALE_DEADLINE_S, 1.0)
                started = time.monotonic()
                api.create(_halt(allBots=True))

                async def all_halted() -> bool:
                    return sum(1 for s in statuses() if halted(s)) >= count

                await until(all_halted, "the halt in every status", SCALE_DEADLINE_S, SCALE_POLL_S)
                return time.monotonic() - started
            finally:
                process.terminate()
                await process.wait()


if __name__ == "__main__":
    if sys.argv[1:2] == ["scale"]:
        print(
            json.dumps({"scale_s": asyncio.run(scale(int(sys.argv[2]) if sys.argv[2:] else 1000))})
        )
    else:
        count = int(sys.argv[1]) if len(sys.argv) > 1 else 5
        size = int(sys.argv[2]) if len(sys.argv) > 2 else 20
        print(json.dumps(asyncio.run(latency(count, size))))
        print(json.dumps({"scale_s": asyncio.run(scale())}))
