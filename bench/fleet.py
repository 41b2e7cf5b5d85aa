"""Fleet scale: N TradingBots on the sandbox API server with pods left pending.

Measures the time until every bot has all six children and a status phase, and
the operator's RSS, against the same run with a kopf operator that does nothing
but handle the creation (time until kopf has recorded every bot as handled).
Run alone with ``python bench/fleet.py [N]``.
"""

from __future__ import annotations

import asyncio
import copy
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from memory import rss_kib

from tradewarden.api.crd import custom_resource_definition
from tradewarden.bot.runtime.command import tradewarden_command
from tradewarden.operator.sandbox.apiserver import SandboxApi, running_api_server

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "tradingbot-sim.yaml"
NAMESPACE = "fleet"
CHILD_KINDS = (
    ("v1", "ServiceAccount"),
    ("rbac.authorization.k8s.io/v1", "Role"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("v1", "ConfigMap"),
    ("apps/v1", "StatefulSet"),
    ("v1", "Service"),
)
HANDLED = "kopf.tradewarden.io/last-handled-configuration"
DEADLINE_S = 300.0

# The baseline: the same kopf, settings and login, one creation handler that does nothing.
NOOP_OPERATOR = """
import os, sys, kopf
os.environ["KUBECONFIG"] = sys.argv[1]
from tradewarden.operator.command import operator_settings
registry = kopf.OperatorRegistry()
@kopf.on.login(registry=registry)
def login(**kwargs):
    return kopf.login_with_kubeconfig(**kwargs)
@kopf.on.create("tradewarden.io", "v1alpha1", "tradingbots", registry=registry)
def created(**_):
    pass
kopf.configure(quiet=True)
kopf.run(registry=registry, settings=operator_settings(), standalone=True, clusterwide=True)
"""


def _bots(count: int) -> list[dict[str, Any]]:
    template = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    bots = []
    for index in range(count):
        bot = copy.deepcopy(template)
        bot["metadata"] = {"name": f"bot-{index:04d}", "namespace": NAMESPACE}
        bot["spec"]["exchange"]["account"] = f"acct-{index:04d}"
        bots.append(bot)
    return bots


def _objects(api: SandboxApi, api_version: str, kind: str) -> list[dict[str, Any]]:
    return list(api.store.list_objects(api.type_of(api_version, kind), NAMESPACE))


def _operator_done(api: SandboxApi, count: int) -> bool:
    for api_version, kind in CHILD_KINDS:
        if len(_objects(api, api_version, kind)) < count:
            return False
    bots = _objects(api, "tradewarden.io/v1alpha1", "TradingBot")
    return sum(1 for bot in bots if (bot.get("status") or {}).get("phase")) >= count


def _noop_done(api: SandboxApi, count: int) -> bool:
    bots = _objects(api, "tradewarden.io/v1alpha1", "TradingBot")
    annotated = (bot["metadata"].get("annotations") or {} for bot in bots)
    return sum(1 for annotations in annotated if HANDLED in annotations) >= count


async def _run(command: list[str], count: int, done: Callable[[SandboxApi, int], bool]) -> Any:
    async with running_api_server(crds=[custom_resource_definition()]) as api:
        api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
        with tempfile.TemporaryDirectory() as scratch:
            kubeconfig = api.write_kubeconfig(Path(scratch) / "kubeconfig")
            process = await asyncio.create_subprocess_exec(
                *command,
                str(kubeconfig),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                start = time.monotonic()
                for bot in _bots(count):
                    api.create(bot)
                while not done(api, count):
                    if time.monotonic() - start > DEADLINE_S:
                        raise TimeoutError(f"{command[-1]} did not finish {count} bots")
                    await asyncio.sleep(0.2)
                elapsed = time.monotonic() - start
                return elapsed, rss_kib(process.pid)
            finally:
                process.terminate()
                await process.wait()


async def measure(count: int = 1000) -> dict[str, float]:
    """Seconds and RSS (KiB) of the real operator and of the no-op baseline."""
    operator = [
        *tradewarden_command("operator"),
        "--metrics-port", "0", "--metrics-host", "127.0.0.1", "--kubeconfig",
    ]  # fmt: skip
    noop = [sys.executable, "-P", "-c", NOOP_OPERATOR]
    operator_s, operator_rss = await _run(operator, count, _operator_done)
    noop_s, noop_rss = await _run(noop, count, _noop_done)
    return {
        "operator_s": operator_s,
        "operator_rss_kib": operator_rss,
        "noop_s": noop_s,
        "noop_rss_kib": noop_rss,
    }


if __name__ == "__main__":
    bots = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    print(json.dumps(asyncio.run(measure(bots))))
