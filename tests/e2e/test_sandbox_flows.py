"""End-to-end flows with the real kubectl against the whole sandbox.

The sandbox is what ``tradewarden sandbox`` runs: the API server, the local pod
runner (bots as real ``tradewarden bot --control kubernetes`` processes), the
real ``tradewarden operator`` process, and a venue simulator whose state is the
ground truth for what reached the exchange. Every test works in its own
namespace against its own simulator, so no bot sees another test's orders or
positions.
"""

from __future__ import annotations

import asyncio
import json
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import (
    DRAIN_TIMEOUT_S,
    TB_API,
    Harness,
    Kubectl,
    credentials_secret,
    fills_of,
    running_harness,
    trading_bot,
)
from tests.ship.conftest import NAMESPACES, run_helm, template_args
from tests.support.waiting import eventually_async
from tradewarden.bot.runtime.command import tradewarden_command
from tradewarden.bot.venue.ccxt_client import build_exchange
from tradewarden.bot.venue_sim.server import RunningVenueSim
from tradewarden.operator.sandbox.stack import working_orders
from tradewarden.operator.toolchain import require_tool, venv_bin

pytestmark = pytest.mark.asyncio(loop_scope="module")
Obj = dict[str, Any]
HALT = {"spec": {"emergencyStop": {"action": "Halt", "reason": "test"}}}
SYMBOL = "BTC/USDT:USDT"


async def apply(sandbox: Harness, *documents: Obj) -> str:
    """``kubectl apply -f -`` of the documents; returns kubectl's output."""
    code, out, err = await sandbox.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(documents))
    assert code == 0, err
    return out


async def kubectl_ok(sandbox: Harness, *args: str) -> str:
    """Run kubectl; fail the test on a non-zero exit."""
    code, out, err = await sandbox.kubectl(*args)
    assert code == 0, f"kubectl {' '.join(args)}: {err}"
    return out


def phase(sandbox: Harness, namespace: str, name: str) -> tuple[Any, Any, Any]:
    """(phase, tradingMode, lastFlip reason) as the operator wrote them."""
    status = sandbox.status(namespace, name)
    return (
        status.get("phase"),
        status.get("tradingMode"),
        (status.get("lastFlip") or {}).get("reason"),
    )


async def wait_phase(
    sandbox: Harness, namespace: str, name: str, want: tuple[Any, Any, Any], within: float = 30
) -> None:
    """Wait until (phase, tradingMode, lastFlip reason) is ``want``."""

    async def reached() -> bool:
        return phase(sandbox, namespace, name) == want

    await eventually_async(
        reached,
        f"{name} at {want}",
        within=within,
        context=lambda: phase(sandbox, namespace, name),
    )


async def start_trading(
    sandbox: Harness, venue: RunningVenueSim, namespace: str, name: str, **spec: Any
) -> str:
    """Apply a bot with the venue's keys; wait for Running and its trades; its order prefix."""
    settings = venue.settings
    await apply(
        sandbox,
        credentials_secret(name, namespace, settings.api_key, settings.api_secret),
        trading_bot(name, namespace, venue, **spec),
    )
    return await trades_at_venue(sandbox, venue, namespace, name)


async def trades_at_venue(
    sandbox: Harness, venue: RunningVenueSim, namespace: str, name: str
) -> str:
    """Wait for Running with working orders and fills at the venue; the bot's order prefix."""

    async def trading() -> str | None:
        prefix = sandbox.parts.order_prefix(namespace, name)
        if prefix is None or sandbox.status(namespace, name).get("phase") != "Running":
            return None
        state = await venue.state()
        return prefix if working_orders(state, prefix) and fills_of(state, prefix) else None

    found: str = await eventually_async(
        trading,
        f"{name} Running with orders and fills at the venue",
        within=60,
        context=lambda: sandbox.status(namespace, name),
    )
    return found


async def no_working_orders(venue: RunningVenueSim, prefix: str) -> bool:
    return not working_orders(await venue.state(), prefix)


def pod_events(sandbox: Harness, namespace: str, name: str, event: str) -> list[Obj]:
    """The bot's JSON log lines called ``event`` (the pod log is the bot's stdout)."""
    log = sandbox.parts.runner.log_path(namespace, f"tb-{name}-0")
    found = []
    for line in log.read_text().splitlines() if log.exists() else []:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("event") == event:
            found.append(record)
    return found


async def kube_events(sandbox: Harness, namespace: str) -> list[Obj]:
    items: list[Obj] = json.loads(
        await kubectl_ok(sandbox, "get", "events", "-n", namespace, "-o", "json")
    )["items"]
    return items


# ---- 1. apply -> Running, trading ------------------------------------------------------------


async def test_apply_runs_a_bot_that_trades_at_the_venue(
    sandbox: Harness, venue: RunningVenueSim, namespace: str
) -> None:
    await start_trading(sandbox, venue, namespace, "alpha")

    # Ready waits for the pod's readiness probe (BotHealthy), which may trail the phase.
    def conditions_now() -> dict[str, str]:
        status = sandbox.status(namespace, "alpha")
        return {c["type"]: c["status"] for c in status.get("conditions", [])}

    async def ready() -> bool:
        return conditions_now().get("Ready") == "True"

    await eventually_async(ready, "alpha Ready=True", within=20, context=conditions_now)
    status = sandbox.status(namespace, "alpha")
    assert status["tradingMode"] == "Active"
    conditions = conditions_now()
    assert conditions["Ready"] == conditions["PreflightPassed"] == "True"
    assert conditions["InSync"] == "True"
    listed = await kubectl_ok(sandbox, "get", "tb", "-n", namespace)
    header, row = listed.splitlines()[:2]
    assert header.split()[:5] == ["NAME", "EXCHANGE", "SYMBOL", "PHASE", "MODE"]
    assert row.split()[:5] == ["alpha", "binanceusdm", SYMBOL, "Running", "Active"]

    # The pod the operator's StatefulSet asked for, Ready as kubectl sees it.
    ready_columns = (
        "jsonpath={.items[*].metadata.name} {.items[*].status.containerStatuses[0].ready}"
    )

    async def pod_ready() -> bool:
        pods = await kubectl_ok(
            sandbox, "get", "pods", "-n", namespace, "-l", "tradewarden.io/bot=alpha",
            "-o", ready_columns,
        )  # fmt: skip
        return pods.split() == ["tb-alpha-0", "true"]

    await eventually_async(pod_ready, "pod tb-alpha-0 Ready (readiness probe every 5 s)", within=15)

    # The runbooks read the bot's event lines with kubectl logs.
    logs = await kubectl_ok(sandbox, "logs", "-n", namespace, "tb-alpha-0", "--tail=2000")
    events = [json.loads(line)["event"] for line in logs.splitlines() if line.startswith("{")]
    assert events[:2] == ["HTTP_LISTENING", "BOT_START"] and "ORDER_RESPONSE" in events
    last = await kubectl_ok(sandbox, "logs", "-n", namespace, "tb-alpha-0", "--tail=1")
    assert len(last.splitlines()) == 1


# ---- 2./3. emergency stop, with and without the operator ----------------------------------


async def test_the_operator_and_each_bot_run_under_their_own_least_privilege_identity(
    sandbox: Harness, venue: RunningVenueSim, namespace: str
) -> None:
    await start_trading(sandbox, venue, namespace, "lean")
    pod_kubeconfig = sandbox.parts.runner.pods_dir / namespace / "tb-lean-0" / "serviceaccount"

    async def as_(kubeconfig: Path, *args: str) -> tuple[int, str]:
        code, out, err = await Kubectl(kubeconfig)(*args)
        return code, out + err

    bot = pod_kubeconfig / "kubeconfig"
    code, out = await as_(bot, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
    assert (code, out) == (0, f"system:serviceaccount:{namespace}:tb-lean"), out
    operator = sandbox.parts.operator.kubeconfig
    code, out = await as_(operator, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
    assert (code, out) == (0, "system:serviceaccount:tradewarden-system:tradewarden-operator"), out
    # The bot reads its own TradingBot and Lease only; the operator cannot read Secrets.
    for kubeconfig, verb, what, allowed in (
        (bot, "get", "tradingbots.tradewarden.io/lean", "yes"),
        (bot, "get", "tradingbots.tradewarden.io/other", "no"),
        (bot, "update", "leases.coordination.k8s.io/tw-sim-btc-usdt-usdt", "yes"),
        (bot, "update", "leases.coordination.k8s.io/tw-other-btc-usdt-usdt", "no"),
        (bot, "get", "secrets", "no"),
        (bot, "patch", "tradingbots.tradewarden.io/lean", "no"),
        (operator, "get", "secrets", "no"),
        (operator, "create", "statefulsets.apps", "yes"),
    ):
        code, out = await as_(kubeconfig, "auth", "can-i", verb, what, "-n", namespace)
        assert out.strip() == allowed, (kubeconfig, verb, what, out)


async def test_emergency_stop_patch_halts_the_bot_at_the_venue(
    sandbox: Harness, venue: RunningVenueSim, namespace: str
) -> None:
    prefix = await start_trading(sandbox, venue, namespace, "stopper")
    await kubectl_ok(
        sandbox, "patch", "tb", "stopper", "-n", namespace, "--type=merge", "-p", json.dumps(HALT)
    )
    await eventually_async(
        lambda: no_working_orders(venue, prefix), "the bot's orders to be cancelled at the venue"
    )
    await wait_phase(sandbox, namespace, "stopper", ("Paused", "Halted", "EmergencyStop"))
    ready = next(
        c for c in sandbox.status(namespace, "stopper")["conditions"] if c["type"] == "Ready"
    )
    assert (ready["status"], ready["reason"]) == ("False", "EmergencyStop")
    # Halted, the bot sends nothing new: the venue still has none of its orders working.
    assert await no_working_orders(venue, prefix)


async def test_emergency_stop_works_with_the_operator_down(
    sandbox: Harness, venue: RunningVenueSim, namespace: str
) -> None:
    prefix = await start_trading(sandbox, venue, namespace, "lonely")
    async with sandbox.parts.operator.down():
        assert not sandbox.parts.operator.running
        await kubectl_ok(
            sandbox,
            "patch",
            "tb",
            "lonely",
            "-n",
            namespace,
            "--type=merge",
            "-p",
            json.dumps(HALT),
        )

        async def halted_by_itself() -> bool:
            own = await sandbox.bot_status(namespace, "lonely") or {}
            return own.get("tradingMode") == "Halted" and await no_working_orders(venue, prefix)

        await eventually_async(halted_by_itself, "the bot to halt through its own watch")
        # Nobody wrote the status: the operator is down.
        assert phase(sandbox, namespace, "lonely")[:2] == ("Running", "Active")
    # Back up, the operator catches up with what the bot already did.
    await wait_phase(sandbox, namespace, "lonely", ("Paused", "Halted", "EmergencyStop"))


async def test_a_bot_that_loses_the_api_server_goes_reduce_only_by_itself(
    sandbox: Harness, venue: RunningVenueSim, namespace: str
) -> None:
    dead_man = {"deadMan": {"apiUnreachableSeconds": 2}}
    await start_trading(sandbox, venue, namespace, "lonely", guards=dead_man)

    def dead_man_reasons(own: Obj) -> list[str]:
        return [r for r in own.get("modeReasons") or [] if r.startswith("control.deadMan")]

    async def restricted_by_itself() -> bool:
        own = await sandbox.bot_status(namespace, "lonely") or {}
        return own.get("tradingMode") in ("ReduceOnly", "Halted") and bool(dead_man_reasons(own))

    async def trading_again() -> bool:
        own = await sandbox.bot_status(namespace, "lonely") or {}
        return own.get("tradingMode") == "Active" and not dead_man_reasons(own)

    with sandbox.parts.api.outage():
        code, _, err = await sandbox.kubectl("get", "tb", "-n", namespace)
        assert code != 0 and "unavailable" in err
        await eventually_async(
            restricted_by_itself, "the bot to restrict itself without the API server"
        )
    await eventually_async(trading_again, "the bot to trade again once the API server is back")
    # The operator's status writes failed during the outage; its probe carries on.
    await wait_phase(sandbox, namespace, "lonely", ("Running", "Active", "Running"))
    await kubectl_ok(
        sandbox, "patch", "tb", "lonely", "-n", namespace, "--type=merge", "-p", json.dumps(HALT)
    )
    await wait_phase(sandbox, namespace, "lonely", ("Paused", "Halted", "EmergencyStop"))

    log = await kubectl_ok(sandbox, "logs", "-n", namespace, "tb-lonely-0")
    events = [json.loads(line)["event"] for line in log.splitlines() if line.startswith("{")]
    assert "DEAD_MAN_TRIP" in events
    assert events.index("DEAD_MAN_CLEAR") > events.index("DEAD_MAN_TRIP")


# ---- 4. drift ----------------------------------------------------------------------------------


async def test_a_stray_order_at_the_venue_flips_the_bot_to_reduce_only(
    sandbox: Harness, venue: RunningVenueSim, namespace: str
) -> None:
    prefix = await start_trading(sandbox, venue, namespace, "drifter")
    stray = f"{prefix}zz9"
    exchange = build_exchange(
        "binanceusdm",
        api_key=venue.settings.api_key,
        api_secret=venue.settings.api_secret,
        url_override=venue.base_url,
    )
    try:
        # Far below the mark: it rests until the bot deals with it.
        await exchange.create_order(SYMBOL, "limit", "buy", 0.003, 48000, {"clientOrderId": stray})
    finally:
        await exchange.close()

    async def drift_flip() -> Obj | None:
        events = await kube_events(sandbox, namespace)
        return next((e for e in events if e["reason"] == "DriftDetected"), None)

    # The operator's flip Event: the phase lasts only while the bot reports drift.
    flip = await eventually_async(drift_flip, "the operator's DriftDetected flip", within=30)
    assert flip["type"] == "Warning"
    assert flip["involvedObject"]["name"] == "drifter"
    assert "-> ReduceOnly" in flip["message"]
    # It names the strays, or (probed after they went) says they were found and cancelled.
    assert stray in flip["message"] or "were found at the venue and cancelled" in flip["message"]
    # The bot confirmed and cancelled that very stray, and went reduce-only for it.
    assert any(
        (e.get("correlation_id"), e.get("verdict"), e.get("action"))
        == (stray, "stray", "cancelled")
        for e in pod_events(sandbox, namespace, "drifter", "RECONCILE_MISMATCH")
    )
    # Reduce-only for the drift: the whole bot (the stray counted as unknown orders) or
    # its symbol (the same stray first counted as belief debt on it), whichever came first.
    assert any(
        "ReduceOnly" in (e["mode"], e["symbols"].get(SYMBOL)) and "guard.drift" in e["reason"]
        for e in pod_events(sandbox, namespace, "drifter", "MODE_CHANGE")
    )

    async def stray_cancelled() -> bool:
        state = await venue.state()
        return all(
            o["status"] == "CANCELED" for o in state["orders"] if o["clientOrderId"] == stray
        )

    await eventually_async(stray_cancelled, "the bot to cancel the stray at the venue")


# ---- 5./6. bad credentials abort; only the documented command clears it -----------------------


CLEARS = {
    "annotate": lambda name, namespace: (
        "/usr/bin/kubectl", "annotate", "tb", name, "-n", namespace,
        "tradewarden.io/clear-abort=keys rotated", "tradewarden.io/cleared-by=e2e",
    ),
    "plugin": lambda name, namespace: (
        "kubectl", "tradewarden", "retry", name, "-n", namespace,
        "--reason", "keys rotated", "--by", "e2e",
    ),
}  # fmt: skip


@pytest.mark.parametrize("clear", sorted(CLEARS))
async def test_bad_credentials_abort_until_the_documented_clear(
    sandbox: Harness, venue: RunningVenueSim, namespace: str, clear: str
) -> None:
    name = "keyless"
    settings = venue.settings
    await apply(
        sandbox,
        credentials_secret(name, namespace, settings.api_key, "not-the-secret"),
        trading_bot(name, namespace, venue),
    )
    await wait_phase(sandbox, namespace, name, ("Aborted", "Halted", "PreflightFailed"))
    abort = sandbox.status(namespace, name)["abort"]
    assert abort["reason"] == "PreflightFailed"
    assert "credentials" in abort["message"]
    prefix = sandbox.parts.order_prefix(namespace, name)
    assert prefix is not None
    assert not [o for o in (await venue.state())["orders"] if o["clientOrderId"].startswith(prefix)]

    # The runbook's fix: the right keys, then a new pod so preflight runs again.
    await apply(sandbox, credentials_secret(name, namespace, settings.api_key, settings.api_secret))
    old_pod = sandbox.parts.find("v1", "Pod", namespace, f"tb-{name}-0")
    assert old_pod is not None
    await kubectl_ok(sandbox, "delete", "pod", f"tb-{name}-0", "-n", namespace, "--wait=false")

    async def preflight_passes_in_a_new_pod() -> bool:
        pod = sandbox.parts.find("v1", "Pod", namespace, f"tb-{name}-0") or {"metadata": {}}
        if pod["metadata"].get("uid") in (None, old_pod["metadata"]["uid"]):
            return False
        own = await sandbox.bot_status(namespace, name) or {}
        return (own.get("preflight") or {}).get("passed") is True

    await eventually_async(preflight_passes_in_a_new_pod, "preflight to pass in the new pod")
    # A spec change is no clear either.
    await kubectl_ok(
        sandbox, "patch", "tb", name, "-n", namespace, "--type=merge",
        "-p", json.dumps({"spec": {"execution": {"reconcileIntervalSeconds": 2}}}),
    )  # fmt: skip

    async def observed_generation_2() -> bool:
        return sandbox.status(namespace, name).get("observedGeneration") == 2

    await eventually_async(observed_generation_2, "the spec change to be observed")

    async def obeys_the_abort() -> bool:
        own = await sandbox.bot_status(namespace, name) or {}
        return bool((own.get("control") or {}).get("operatorAbort")) and (
            own.get("tradingMode") == "Halted"
        )

    await eventually_async(obeys_the_abort, "the healthy bot to obey the operator's abort")
    await wait_phase(sandbox, namespace, name, ("Aborted", "Halted", "PreflightFailed"))
    assert sandbox.status(namespace, name)["abort"] == abort
    assert not working_orders(await venue.state(), prefix)

    process = await asyncio.create_subprocess_exec(
        *CLEARS[clear](name, namespace),
        f"--kubeconfig={sandbox.parts.kubeconfig}",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, err.decode()
    await trades_at_venue(sandbox, venue, namespace, name)
    assert "abort" not in sandbox.status(namespace, name)
    cleared = [e for e in await kube_events(sandbox, namespace) if e["reason"] == "AbortCleared"]
    assert [e["message"] for e in cleared] == ["abort PreflightFailed cleared by e2e: keys rotated"]


# ---- 7. a malformed manifest ---------------------------------------------------------------


# (where in spec, the bad value, the field the refusal must name)
MALFORMED: list[tuple[tuple[str, ...], Any, str]] = [
    (("environment",), "staging", "spec.environment"),
    (("execution", "reconcileIntervalSecs"), 1, "spec.execution.reconcileIntervalSecs"),
    (("risk", "maxPosition"), "-1", "spec.risk.maxPosition"),
    (("emergencyStop",), {"action": "Panic", "reason": "x"}, "spec.emergencyStop.action"),
]


@pytest.mark.parametrize("case", MALFORMED, ids=[field for _, _, field in MALFORMED])
async def test_a_malformed_manifest_is_rejected_naming_the_field(
    sandbox: Harness,
    venue: RunningVenueSim,
    namespace: str,
    case: tuple[tuple[str, ...], Any, str],
) -> None:
    path, value, field = case
    document = trading_bot("broken", namespace, venue)
    target = document["spec"]
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    code, _, err = await sandbox.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(document))
    assert code != 0
    assert field in err
    code, _, err = await sandbox.kubectl("get", "tb", "broken", "-n", namespace)
    assert code != 0 and "NotFound" in err


# ---- 8. delete drains ----------------------------------------------------------------------


async def test_delete_halts_the_bot_before_its_children_go(
    sandbox: Harness, venue: RunningVenueSim, namespace: str
) -> None:
    prefix = await start_trading(sandbox, venue, namespace, "doomed")
    await kubectl_ok(sandbox, "delete", "tb", "doomed", "-n", namespace, "--wait=false")

    def children_present() -> bool:
        return all(
            sandbox.parts.find(api_version, kind, namespace, name) is not None
            for api_version, kind, name in (
                ("apps/v1", "StatefulSet", "tb-doomed"),
                ("v1", "ConfigMap", "tb-doomed-manifest"),
                ("v1", "Pod", "tb-doomed-0"),
            )
        )

    async def halted_with_children() -> bool:
        own = await sandbox.bot_status(namespace, "doomed") or {}
        halted = own.get("tradingMode") == "Halted" and await no_working_orders(venue, prefix)
        # Read after the venue: the children were still there once the bot was halted.
        return halted and children_present()

    await eventually_async(halted_with_children, "the bot halted while its children still exist")

    async def gone() -> bool:
        return sandbox.parts.find(TB_API, "TradingBot", namespace, "doomed") is None and not any(
            sandbox.parts.find(v, k, namespace, n) for v, k, n in (
                ("apps/v1", "StatefulSet", "tb-doomed"),
                ("v1", "Service", "tb-doomed"),
                ("v1", "ConfigMap", "tb-doomed-manifest"),
                ("v1", "Pod", "tb-doomed-0"),
            )
        )  # fmt: skip

    await eventually_async(gone, "the TradingBot and its children to go")
    assert await no_working_orders(venue, prefix)
    # The order itself was observed above; the operator also said so.
    reasons = {e["reason"] for e in await kube_events(sandbox, namespace)}
    assert {"Draining", "Drained"} <= reasons


def venue_position(state: Obj) -> Decimal:
    """The account's net position at the venue (each test has a venue of its own)."""
    return sum((Decimal(p["positionAmt"]) for p in state["positions"]), Decimal(0))


def open_stops(state: Obj, prefix: str) -> list[Obj]:
    """The bot's protective stops still waiting at the venue."""
    return [
        algo
        for algo in state["algoOrders"]
        if algo["clientAlgoId"].startswith(prefix) and algo["algoStatus"] == "NEW"
    ]


async def holding_with_a_stop(venue: RunningVenueSim, prefix: str) -> bool:
    state = await venue.state()
    return venue_position(state) != 0 and bool(open_stops(state, prefix))


def bot_and_children_gone(sandbox: Harness, namespace: str, name: str) -> bool:
    return sandbox.parts.find(TB_API, "TradingBot", namespace, name) is None and not any(
        sandbox.parts.find(v, k, namespace, n) for v, k, n in (
            ("apps/v1", "StatefulSet", f"tb-{name}"),
            ("v1", "ConfigMap", f"tb-{name}-manifest"),
            ("v1", "Pod", f"tb-{name}-0"),
        )
    )  # fmt: skip


async def drain_events(sandbox: Harness, namespace: str) -> dict[str, str]:
    return {
        e["reason"]: e["message"]
        for e in await kube_events(sandbox, namespace)
        if e["reason"] in ("Draining", "Drained")
    }


async def test_delete_with_deletion_policy_halt_leaves_the_position_with_its_stop(
    sandbox: Harness, venue: RunningVenueSim, namespace: str
) -> None:
    prefix = await start_trading(sandbox, venue, namespace, "keeper")
    await eventually_async(
        lambda: holding_with_a_stop(venue, prefix), "a position with its stop", 60
    )
    await venue.pause_walk()  # the stop must not trigger while the test looks
    wide = await kubectl_ok(sandbox, "get", "tb", "keeper", "-n", namespace, "-o", "wide")
    assert wide.splitlines()[0].split()[-1] == "ONDELETE"
    assert wide.splitlines()[1].split()[-1] == "Halt"
    await kubectl_ok(sandbox, "delete", "tb", "keeper", "-n", namespace, "--wait=false")

    async def gone() -> bool:
        return bot_and_children_gone(sandbox, namespace, "keeper")

    await eventually_async(gone, "the TradingBot and its children to go")
    # The bot trades until the drain's Halt reaches it (a resting order may fill on the
    # way): what stays is the position it halted with, as the Drained event names it.
    state = await venue.state()
    held = venue_position(state)
    assert held != 0
    assert len(open_stops(state, prefix)) == 1
    assert not working_orders(state, prefix)
    events = await drain_events(sandbox, namespace)
    assert events["Draining"].startswith("deletionPolicy Halt: emergencyStop Halt;")
    assert (
        f"position {held} {SYMBOL} stays at the venue with 1 protective stop" in (events["Drained"])
    )


async def test_delete_with_deletion_policy_flatten_closes_the_position_and_its_stop(
    sandbox: Harness, venue: RunningVenueSim, namespace: str
) -> None:
    prefix = await start_trading(sandbox, venue, namespace, "closer", deletionPolicy="Flatten")
    await eventually_async(
        lambda: holding_with_a_stop(venue, prefix), "a position with its stop", 60
    )
    wide = await kubectl_ok(sandbox, "get", "tb", "closer", "-n", namespace, "-o", "wide")
    assert wide.splitlines()[1].split()[-1] == "Flatten"
    await kubectl_ok(sandbox, "delete", "tb", "closer", "-n", namespace, "--wait=false")

    async def gone() -> bool:
        return bot_and_children_gone(sandbox, namespace, "closer")

    await eventually_async(gone, "the TradingBot and its children to go", within=60)
    state = await venue.state()
    assert venue_position(state) == 0
    assert not open_stops(state, prefix)
    assert not working_orders(state, prefix)
    events = await drain_events(sandbox, namespace)
    assert events["Draining"].startswith("deletionPolicy Flatten: emergencyStop Flatten;")
    assert events["Drained"] == (
        "deletionPolicy Flatten: flat, no orders left at the venue; children go now"
    )


async def test_a_bot_deleted_and_recreated_under_the_same_name_runs(
    sandbox: Harness, venue: RunningVenueSim, namespace: str
) -> None:
    await start_trading(sandbox, venue, namespace, "phoenix")
    old = sandbox.parts.find(TB_API, "TradingBot", namespace, "phoenix")
    assert old is not None
    await kubectl_ok(sandbox, "delete", "tb", "phoenix", "-n", namespace, "--wait=false")

    async def gone() -> bool:
        return not any(
            sandbox.parts.find(v, k, namespace, n) for v, k, n in (
                (TB_API, "TradingBot", "phoenix"),
                ("apps/v1", "StatefulSet", "tb-phoenix"),
                ("v1", "Pod", "tb-phoenix-0"),
            )
        )  # fmt: skip

    await eventually_async(gone, "the TradingBot, its StatefulSet and its pod to go")
    # The same manifest again: a new bot (new uid), which must not inherit the old journal.
    await start_trading(sandbox, venue, namespace, "phoenix")
    new = sandbox.parts.find(TB_API, "TradingBot", namespace, "phoenix")
    assert new is not None and new["metadata"]["uid"] != old["metadata"]["uid"]
    pod = sandbox.parts.find("v1", "Pod", namespace, "tb-phoenix-0")
    assert pod is not None
    assert pod["status"]["containerStatuses"][0]["restartCount"] == 0


# ---- 9. Lease fencing ----------------------------------------------------------------------


async def test_two_bots_on_one_account_and_symbol_only_one_trades(
    sandbox: Harness, venue: RunningVenueSim, namespace: str
) -> None:
    first = await start_trading(sandbox, venue, namespace, "first")
    settings = venue.settings
    await apply(
        sandbox,
        credentials_secret("second", namespace, settings.api_key, settings.api_secret),
        trading_bot("second", namespace, venue),
    )

    async def fenced() -> bool:
        # The second bot wants to send an entry or a protective stop (the first bot's
        # fills move the account's position under it, so its guards may restrict it
        # to stops at once): either way the Lease refuses it before the venue sees it.
        refused = pod_events(sandbox, namespace, "second", "INTENT_REFUSED")
        repairs = pod_events(sandbox, namespace, "second", "STOP_REPAIR")
        return any(e["reason"].startswith("lease:") for e in refused) or any(
            e["outcome"] == "refused" and "refused: lease:" in e["reason"] for e in repairs
        )

    await eventually_async(fenced, "the second bot to want to trade and be refused by the Lease")
    second = sandbox.parts.order_prefix(namespace, "second")
    assert second is not None and second != first
    state = await venue.state()
    assert not [o for o in state["orders"] if o["clientOrderId"].startswith(second)]
    placed = len([o for o in state["orders"] if o["clientOrderId"].startswith(first)])

    async def first_keeps_trading() -> bool:
        orders = (await venue.state())["orders"]
        return len([o for o in orders if o["clientOrderId"].startswith(first)]) > placed

    await eventually_async(first_keeps_trading, "the Lease holder to place another order")
    state = await venue.state()
    assert not [o for o in state["orders"] if o["clientOrderId"].startswith(second)]
    own = await sandbox.bot_status(namespace, "second") or {}
    assert (own.get("control") or {}).get("leaseHeld") is False
    holder = await kubectl_ok(
        sandbox, "get", "lease", "tw-sim-btc-usdt-usdt", "-n", namespace,
        "-o", "jsonpath={.spec.holderIdentity}",
    )  # fmt: skip
    assert holder == f"{namespace}/first"


# ---- 11. promote-check against the live statuses -----------------------------------------


async def promote_check(sandbox: Harness, namespace: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *tradewarden_command(
            "promote-check", "--kubeconfig", str(sandbox.parts.kubeconfig),
            "--namespace", namespace, "--soak-minutes", "0",
        ),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_promote_check_opens_on_running_bots_and_closes_on_an_abort(
    sandbox: Harness, venue: RunningVenueSim, namespace: str
) -> None:
    await start_trading(sandbox, venue, namespace, "canary")
    code, out = await promote_check(sandbox, namespace)
    assert code == 0, out
    assert f"promotion gate for {namespace}: OPEN" in out

    settings = venue.settings
    await apply(
        sandbox,
        credentials_secret("broken", namespace, settings.api_key, "wrong"),
        trading_bot("broken", namespace, venue),
    )
    await wait_phase(sandbox, namespace, "broken", ("Aborted", "Halted", "PreflightFailed"))
    code, out = await promote_check(sandbox, namespace)
    assert code == 1, out
    assert "CLOSED" in out
    assert "broken: blocked (phase Aborted)" in out
    assert "aborted: PreflightFailed" in out
    assert "canary: ok" in out


# ---- 10. the chart's dev render, applied to an empty sandbox ----------------------------------

# What `helm template -f values-dev.yaml` renders besides what this test applies, and why
# it is left out: the sandbox runs the operator itself (a local `tradewarden operator`
# process, so not its Deployment or metrics Service; the sandbox installs the chart's
# ServiceAccount and RBAC for it at start, and the operator runs under them), the venue
# simulator itself (not the in-cluster simulator Deployment and Service: no cluster DNS
# here), and has no network to police (NetworkPolicy).
CHART_LEFT_OUT = {
    "ClusterRole", "ClusterRoleBinding", "Deployment", "NetworkPolicy", "Service",
    "ServiceAccount",
}  # fmt: skip
CHART_APPLIED = ("CustomResourceDefinition", "Secret", "TradingBot")
CHART_NAMESPACE = NAMESPACES["dev"]


async def test_the_dev_chart_runs_in_the_sandbox_and_stops_by_the_plugin(
    venue: RunningVenueSim, tmp_path: Path
) -> None:
    # The dev values point bots at the in-cluster simulator Service; the chart keeps an
    # explicit botDefaults.exchange.urlOverride instead, so that is where the sandbox's
    # simulator goes. Nothing else in values-dev.yaml is changed.
    helm = require_tool("helm")
    rendered = run_helm(
        helm, *template_args("dev", "--set", f"botDefaults.exchange.urlOverride={venue.base_url}")
    )
    assert rendered.returncode == 0, rendered.stderr
    documents = [doc for doc in yaml.safe_load_all(rendered.stdout) if doc]
    kinds = {doc["kind"] for doc in documents}
    assert kinds - set(CHART_APPLIED) == CHART_LEFT_OUT
    by_kind = {kind: [d for d in documents if d["kind"] == kind] for kind in CHART_APPLIED}
    crds = by_kind["CustomResourceDefinition"]
    (secret,) = by_kind["Secret"]
    # The chart's dev Secret holds the simulator's keys: the same ones this simulator takes.
    assert secret["stringData"] == {
        "apiKey": venue.settings.api_key, "apiSecret": venue.settings.api_secret
    }  # fmt: skip
    (bot,) = by_kind["TradingBot"]
    name = bot["metadata"]["name"]
    assert bot["spec"]["exchange"]["urlOverride"] == venue.base_url

    async with running_harness(tmp_path / "chart-sandbox", crd=False, operator=False) as sandbox:
        await apply(sandbox, *crds)
        await sandbox.parts.operator.start()
        await apply(
            sandbox,
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": CHART_NAMESPACE}},
            secret,
            bot,
        )
        try:
            prefix = await trades_at_venue(sandbox, venue, CHART_NAMESPACE, name)
            process = await asyncio.create_subprocess_exec(
                "kubectl", "tradewarden", "stop", name, "-n", CHART_NAMESPACE,
                "--action", "Halt", "--reason", "chart e2e",
                f"--kubeconfig={sandbox.parts.kubeconfig}",
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env={**os.environ, "PATH": f"{venv_bin()}{os.pathsep}{os.environ['PATH']}"},
            )  # fmt: skip
            _, err = await asyncio.wait_for(process.communicate(), 30)
            assert process.returncode == 0, err.decode()
            await eventually_async(
                lambda: no_working_orders(venue, prefix), "the chart bot's orders to be cancelled"
            )
            await wait_phase(sandbox, CHART_NAMESPACE, name, ("Paused", "Halted", "EmergencyStop"))
            stop = sandbox.parts.find(TB_API, "TradingBot", CHART_NAMESPACE, name)
            assert stop is not None
            assert stop["spec"]["emergencyStop"] == {"action": "Halt", "reason": "chart e2e"}
        finally:
            print(sandbox.logs(CHART_NAMESPACE))
            await sandbox.kubectl("delete", "tb", name, "-n", CHART_NAMESPACE, "--wait=false")

            async def no_pods() -> bool:
                return not sandbox.pods(CHART_NAMESPACE)

            await eventually_async(
                no_pods, "the chart bot's pod to go", within=DRAIN_TIMEOUT_S + 10
            )
