"""Fleet scale: N TradingBots on the sandbox API server with pods left pending.

Measures the time until every bot has all six children and a status phase,
and the operator's RSS, against the contract floor in the same run: the writes
any kopf operator keeping the TradingBot contract makes, and nothing else (the
six children, the finalizer the drain needs, a daemon for the probe and one
status write, with no probing, no decisions and no Events). The real operator
against the floor is what our logic costs; the absolute time is what a fleet
of 1,000 waits for.

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
DEADLINE_S = 300.0
ROUNDS = 3

# The contract floor: the same kopf, settings and login, the six children, the
# finalizer (a deletion handler), a daemon and one status write per bot, with the
# operator's own renderer, client and GC thresholds.
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


async def _run(command: list[str], count: int) -> Any:
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
                while not _operator_done(api, count):
                    if time.monotonic() - start > DEADLINE_S:
                        raise TimeoutError(f"{command[-1]} did not finish {count} bots")
                    await asyncio.sleep(0.2)
                elapsed = time.monotonic() - start
                return elapsed, rss_kib(process.pid)
            finally:
                process.terminate()
                await process.wait()


async def measure(count: int = 1000, rounds: int = ROUNDS) -> dict[str, float]:
    """Medians over ``rounds`` of seconds, RSS (KiB) and the paired ratio of the two operators.

    Each round runs the real operator and the contract floor one after the
    other, and the ratio is taken within a round: on two shared cores either
    side alone swings by a quarter from run to run.
    """
    operator = [
        *tradewarden_command("operator"),
        "--metrics-port", "0", "--metrics-host", "127.0.0.1", "--kubeconfig",
    ]  # fmt: skip
    floor = [sys.executable, "-P", "-c", CONTRACT_FLOOR_OPERATOR]
    samples: dict[str, list[float]] = {}
    for _ in range(rounds):
        operator_s, operator_rss = await _run(operator, count)
        floor_s, floor_rss = await _run(floor, count)
        measured = {
            "operator_s": operator_s,
            "operator_rss_kib": operator_rss,
            "floor_s": floor_s,
            "floor_rss_kib": floor_rss,
            "operator_vs_floor": operator_s / floor_s,
        }
        for key, value in measured.items():
            samples.setdefault(key, []).append(value)
    return {key: statistics.median(values) for key, values in samples.items()}


if __name__ == "__main__":
    bots = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    print(json.dumps(asyncio.run(measure(bots))))
