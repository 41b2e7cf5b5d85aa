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
import copy
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from tradewarden.bot.venue_sim.server import RunningVenueSim
from tradewarden.bot.venue_sim.settings import SimSettings
from tradewarden.operator.sandbox.pods import RunnerSettings
from tradewarden.operator.sandbox.stack import SandboxOptions, running_sandbox, working_orders
from tradewarden.operator.toolchain import require_tool

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "tradingbot-sim.yaml"
NAMESPACE = "bench"
BOT = "estop"
HALT = {"spec": {"emergencyStop": {"action": "Halt", "reason": "bench"}}}
RESUME: dict[str, Any] = {"spec": {"emergencyStop": None}}
# The figure is the venue's own cancel time, so a coarser poll only spares the venue (same
# process) from serialising its whole state hundreds of times a second.
POLL_S = 0.05
ROUND_TIMEOUT_S = 60.0
START_TIMEOUT_S = 90.0


def _bot(venue: RunningVenueSim) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    bot = copy.deepcopy(document)
    bot["metadata"] = {"name": BOT, "namespace": NAMESPACE}
    bot["spec"]["exchange"]["urlOverride"] = venue.base_url
    bot["spec"]["exchange"]["credentialsSecret"] = f"{BOT}-credentials"
    return bot


def _secret(venue: RunningVenueSim) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": f"{BOT}-credentials", "namespace": NAMESPACE},
        "stringData": {"apiKey": venue.settings.api_key, "apiSecret": venue.settings.api_secret},
    }


async def _until(condition: Any, what: str, within: float) -> Any:
    deadline = time.monotonic() + within
    while (found := await condition()) in (None, False, []):
        if time.monotonic() > deadline:
            raise TimeoutError(f"estop bench: no {what} within {within:.0f}s")
        await asyncio.sleep(POLL_S)
    return found


class _Kubectl:
    def __init__(self, kubeconfig: Path) -> None:
        self.argv = [str(require_tool("kubectl")), "--kubeconfig", str(kubeconfig)]

    async def patch(self, patch: dict[str, Any]) -> None:
        process = await asyncio.create_subprocess_exec(
            *self.argv, "patch", "tb", BOT, "-n", NAMESPACE, "--type=merge",
            "-p", json.dumps(patch),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, err = await process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"kubectl patch failed: {err.decode()}")


async def _stop_round(kubectl: _Kubectl, venue: RunningVenueSim, prefix: str) -> float:
    """Seconds from the patch to the venue time the bot's last plain order stopped working."""
    started = time.time()
    await kubectl.patch(HALT)

    async def stopped() -> list[dict[str, Any]] | None:
        state = await venue.state()
        return None if working_orders(state, prefix) else state["orders"]

    orders = await _until(stopped, "cancelled orders after the stop", ROUND_TIMEOUT_S)
    ended = [
        order["updateTime"] / 1000
        for order in orders
        if order["clientOrderId"].startswith(prefix) and order["updateTime"] / 1000 >= started
    ]
    latency = (max(ended) if ended else time.time()) - started
    await kubectl.patch(RESUME)

    async def working_again() -> bool:
        return bool(working_orders(await venue.state(), prefix))

    await _until(working_again, "working orders after the stop was cleared", ROUND_TIMEOUT_S)
    return latency


async def _floor(kubectl: _Kubectl, rounds: int) -> float:
    timings = []
    for index in range(rounds):
        started = time.monotonic()
        await kubectl.patch(
            {"metadata": {"annotations": {"bench.tradewarden.io/round": str(index)}}}
        )
        timings.append(time.monotonic() - started)
    return statistics.median(timings)


async def measure(rounds: int = 20) -> dict[str, float]:
    """p50/p99 emergency-stop latency and the bare kubectl patch floor, in seconds."""
    with tempfile.TemporaryDirectory() as scratch:
        options = SandboxOptions(
            directory=Path(scratch),
            venue=SimSettings(port=0),
            runner=RunnerSettings(restart_backoff_s=0.5, restart_backoff_cap_s=2.0),
            operator_log=Path(scratch) / "operator.log",
        )
        async with running_sandbox(options) as sandbox:
            venue = sandbox.venue
            sandbox.api.create(
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
            )
            sandbox.api.create(_secret(venue))
            sandbox.api.create(_bot(venue))
            prefix: str = await _until(
                lambda: asyncio.sleep(0, sandbox.order_prefix(NAMESPACE, BOT)),
                "bot manifest",
                START_TIMEOUT_S,
            )

            async def trading() -> bool:
                return bool(working_orders(await venue.state(), prefix))

            await _until(trading, "working orders of the bot", START_TIMEOUT_S)
            kubectl = _Kubectl(sandbox.kubeconfig)
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
