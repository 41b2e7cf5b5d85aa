"""Emergency-stop latency: ``kubectl patch`` to the last non-protective order cancelled.

One real bot (a ``tradewarden bot --control kubernetes`` process started by the
sandbox's pod runner) trades on the venue simulator under the real operator.
Each round patches ``spec.emergencyStop`` Halt with the real kubectl and times
until none of the bot's plain orders is working at the venue, taken from the
venue's own ``updateTime`` of the orders it ended (so the poll interval does
not count). The stop is then cleared and the round waits for working orders
again. The floor is a bare ``kubectl patch`` of an annotation, in the same run.
Run alone with ``python bench/estop_latency.py [ROUNDS]``.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from stop_rounds import Kubectl, bot_documents, ended_since, sandbox_options, until

from tradewarden.bot.venue_sim.server import RunningVenueSim
from tradewarden.operator.sandbox.stack import running_sandbox, working_orders

NAMESPACE = "bench"
BOT = "estop"
HALT = {"spec": {"emergencyStop": {"action": "Halt", "reason": "bench"}}}
RESUME: dict[str, Any] = {"spec": {"emergencyStop": None}}
ROUND_TIMEOUT_S = 60.0
START_TIMEOUT_S = 90.0


async def _patch(kubectl: Kubectl, patch: dict[str, Any]) -> None:
    await kubectl("patch", "tb", BOT, "-n", NAMESPACE, "--type=merge", "-p", json.dumps(patch))


async def _stop_round(kubectl: Kubectl, venue: RunningVenueSim, prefix: str) -> float:
    """Seconds from the patch to the venue time the bot's last plain order stopped working."""
    started = time.time()
    await _patch(kubectl, HALT)

    async def stopped() -> dict[str, Any] | None:
        state = await venue.state()
        return None if working_orders(state, prefix) else state

    state = await until(stopped, "cancelled orders after the stop", ROUND_TIMEOUT_S)
    ended = ended_since(state, prefix, started)
    latency = (max(ended) if ended else time.time()) - started
    await _patch(kubectl, RESUME)

    async def working_again() -> bool:
        return bool(working_orders(await venue.state(), prefix))

    await until(working_again, "working orders after the stop was cleared", ROUND_TIMEOUT_S)
    return latency


async def _floor(kubectl: Kubectl, rounds: int) -> float:
    timings = []
    for index in range(rounds):
        started = time.monotonic()
        await _patch(
            kubectl, {"metadata": {"annotations": {"bench.tradewarden.io/round": str(index)}}}
        )
        timings.append(time.monotonic() - started)
    return statistics.median(timings)


async def measure(rounds: int = 20) -> dict[str, float]:
    """p50/p99 emergency-stop latency and the bare kubectl patch floor, in seconds."""
    with tempfile.TemporaryDirectory() as scratch:
        async with running_sandbox(sandbox_options(Path(scratch))) as sandbox:
            venue = sandbox.venue
            sandbox.api.create(
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
            )
            for document in bot_documents(BOT, NAMESPACE, venue):
                sandbox.api.create(document)
            prefix: str = await until(
                lambda: asyncio.sleep(0, sandbox.order_prefix(NAMESPACE, BOT)),
                "bot manifest",
                START_TIMEOUT_S,
            )

            async def trading() -> bool:
                return bool(working_orders(await venue.state(), prefix))

            await until(trading, "working orders of the bot", START_TIMEOUT_S)
            kubectl = Kubectl(sandbox.kubeconfig)
            floor = await _floor(kubectl, rounds)
            latencies = sorted([await _stop_round(kubectl, venue, prefix) for _ in range(rounds)])
    return {
        "p50_s": statistics.median(latencies),
        "p99_s": statistics.quantiles(latencies, n=100, method="inclusive")[98],
        "floor_s": floor,
    }


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    print(json.dumps(asyncio.run(measure(count))))
