"""What the stop benchmarks share: bots on the sandbox, kubectl, polling, the venue's stop time.

``estop_latency`` (one bot's ``kubectl patch``) and ``fleet_halt`` (one
TradingHalt over many bots) time a stop the same way: from the request to the
venue's own ``updateTime`` of the last plain order it ended, so the poll
interval does not count.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from tradewarden.bot.venue_sim.server import RunningVenueSim
from tradewarden.bot.venue_sim.settings import SimSettings
from tradewarden.operator.sandbox.pods import RunnerSettings
from tradewarden.operator.sandbox.stack import SandboxOptions
from tradewarden.operator.toolchain import require_tool

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "tradingbot-sim.yaml"
# The figures are the venue's own cancel times, so a coarser poll only spares the venue
# (same process) from serialising its whole state hundreds of times a second.
POLL_S = 0.05
Obj = dict[str, Any]


def sandbox_options(scratch: Path) -> SandboxOptions:
    """The sandbox the stop benchmarks run in: a venue of its own, quick pod restarts."""
    return SandboxOptions(
        directory=scratch,
        venue=SimSettings(port=0),
        runner=RunnerSettings(restart_backoff_s=0.5, restart_backoff_cap_s=2.0),
        operator_log=scratch / "operator.log",
    )


def bot_documents(name: str, namespace: str, venue: RunningVenueSim) -> list[Obj]:
    """The example bot as ``name`` trading on ``venue``, after the Secret with its keys."""
    bot: Obj = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    bot["metadata"] = {"name": name, "namespace": namespace}
    bot["spec"]["exchange"]["urlOverride"] = venue.base_url
    bot["spec"]["exchange"]["credentialsSecret"] = f"{name}-credentials"
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": f"{name}-credentials", "namespace": namespace},
        "stringData": {"apiKey": venue.settings.api_key, "apiSecret": venue.settings.api_secret},
    }
    return [secret, bot]


async def until(
    condition: Callable[[], Awaitable[Any]], what: str, within: float, poll: float = POLL_S
) -> Any:
    """The first answer of ``condition`` that is not None, False or []; TimeoutError later."""
    deadline = time.monotonic() + within
    while (found := await condition()) in (None, False, []):
        if time.monotonic() > deadline:
            raise TimeoutError(f"bench: no {what} within {within:.0f}s")
        await asyncio.sleep(poll)
    return found


class Kubectl:
    """The real kubectl against the sandbox; a failed call raises with its stderr."""

    def __init__(self, kubeconfig: Path) -> None:
        self.argv = [str(require_tool("kubectl")), "--kubeconfig", str(kubeconfig)]

    async def __call__(self, *args: str, stdin: str | None = None) -> None:
        process = await asyncio.create_subprocess_exec(
            *self.argv, *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, err = await process.communicate(stdin.encode() if stdin else None)
        if process.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)} failed: {err.decode()}")


def ended_since(state: Mapping[str, Any], prefix: str, since: float) -> list[float]:
    """Venue times (s) at which the bot's orders (``prefix``) changed last, from ``since`` on."""
    return [
        order["updateTime"] / 1000
        for order in state["orders"]
        if order["clientOrderId"].startswith(prefix) and order["updateTime"] / 1000 >= since
    ]
