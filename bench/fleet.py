"""Fleet scale: N TradingBots on the sandbox API server with pods left pending.

Measures the time until every bot has all six children and a status phase, and
the operator's RSS, against two kopf operators in the same run:

- the no-op: one creation handler that does nothing (time until kopf has
  recorded every bot as handled);
- the contract floor: the writes any kopf operator keeping the TradingBot
  contract makes, and nothing else: the six children, the finalizer the drain
  needs, a daemon for the probe and one status write, with no probing, no
  decisions and no Events. The floor against the no-op is what the contract
  costs in kopf; the real operator against the floor is what our logic costs.

Run alone with ``python bench/fleet.py [N]``.
"""

from __future__ import annotations

import asyncio
import copy
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from memory import rss_kib

from tradewarden.api.crd import KINDS, custom_resource_definition
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
ROUNDS = 3

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

# The contract floor: the no-op plus the six children, the finalizer (a deletion
# handler), a daemon and one status write per bot, with the operator's own renderer,
# client and GC thresholds.
CONTRACT_FLOOR_OPERATOR = """
import gc, os, sys, kopf
os.environ["KUBECONFIG"] = sys.argv[1]
from tradewarden.api.kube_client import api_client_from_environment
from tradewarden.operator.children import creation_waves
from tradewarden.operator.command import GC_THRESHOLDS, operator_settings
from tradewarden.operator.kube import OperatorApi
api = OperatorApi(api_client_from_environment())
registry = kopf.OperatorRegistry()
BOTS = ("tradewarden.io", "v1alpha1", "tradingbots")
@kopf.on.login(registry=registry)
def login(**kwargs):
    return kopf.login_with_kubeconfig(**kwargs)
@kopf.on.create(*BOTS, registry=registry)
async def created(body, **_):
    await api.apply_waves(creation_waves(body))
@kopf.on.delete(*BOTS, registry=registry)
def deleted(**_):
    pass
@kopf.daemon(*BOTS, registry=registry)
async def probe(stopped, name, namespace, **_):
    await api.patch_bot_status(namespace, name, {"status": {"phase": "Pending"}})
    await stopped.wait()
gc.set_threshold(*GC_THRESHOLDS)
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
    async with running_api_server(crds=[custom_resource_definition(k) for k in KINDS]) as api:
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


async def measure(count: int = 1000, rounds: int = ROUNDS) -> dict[str, float]:
    """Medians over ``rounds`` of seconds, RSS (KiB) and paired ratios of the three operators.

    Each round runs the real operator, the no-op and the contract floor one after
    another, and the ratios are taken within a round: the no-op alone swung
    between 2.1 and 3.1 s from run to run on this machine.
    """
    operator = [
        *tradewarden_command("operator"),
        "--metrics-port", "0", "--metrics-host", "127.0.0.1", "--kubeconfig",
    ]  # fmt: skip
    noop = [sys.executable, "-P", "-c", NOOP_OPERATOR]
    floor = [sys.executable, "-P", "-c", CONTRACT_FLOOR_OPERATOR]
    samples: dict[str, list[float]] = {}
    for _ in range(rounds):
        operator_s, operator_rss = await _run(operator, count, _operator_done)
        noop_s, noop_rss = await _run(noop, count, _noop_done)
        floor_s, _ = await _run(floor, count, _operator_done)
        measured = {
            "operator_s": operator_s,
            "operator_rss_kib": operator_rss,
            "noop_s": noop_s,
            "noop_rss_kib": noop_rss,
            "floor_s": floor_s,
            "operator_vs_noop": operator_s / noop_s,
            "floor_vs_noop": floor_s / noop_s,
            "operator_vs_floor": operator_s / floor_s,
        }
        for key, value in measured.items():
            samples.setdefault(key, []).append(value)
    return {key: statistics.median(values) for key, values in samples.items()}


if __name__ == "__main__":
    bots = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    print(json.dumps(asyncio.run(measure(bots))))
