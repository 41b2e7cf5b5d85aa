"""The sandbox tour behind ``make demo``: bots on a local cluster, a drift flip, an emergency
stop, and a desk-wide TradingHalt.

Steps, each narrated with the kubectl commands it runs and their output:

1. start the sandbox (API server, venue simulator, pod runner, the real operator);
2. ``kubectl apply`` the example bots (re-pointed at this simulator) and wait for Running;
3. let them trade, then ``kubectl get tb`` and the venue's open orders;
4. drift: place an order at the venue under one bot's client-id prefix that its
   journal never wrote; the bot sees it in three reconciles in a row, cancels it
   and goes reduce-only, and the operator flips the TradingBot to ReduceOnly;
5. emergency stop: ``kubectl patch`` another bot's ``spec.emergencyStop`` to Halt;
6. the desk's red button: one TradingHalt stops the remaining bots of the namespace, and
   ``kubectl wait --for=condition=FleetConfirmed`` returns once the venue confirms it;
7. the phases, the flip events and the venue's open orders; then everything stops.

Everything is stopped on the way out, on success, error or Ctrl-C alike
(:func:`running_sandbox` owns the processes).
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import yaml

from tradewarden.api.identity import bot_identity, bot_prefix
from tradewarden.api.tradingbot import TradingBot
from tradewarden.bot.venue.ccxt_client import build_exchange
from tradewarden.bot.venue_sim.server import RunningVenueSim
from tradewarden.bot.venue_sim.settings import SimSettings
from tradewarden.operator.sandbox.manifests import EXAMPLE_VENUE_URL, manifests, point_at_venue
from tradewarden.operator.sandbox.resources import Obj
from tradewarden.operator.sandbox.stack import Sandbox, SandboxOptions, running_sandbox

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
# A livelier walk than the simulator's default, so the grids fill within seconds.
DEMO_VENUE = SimSettings(seed=7, price_tick_s=0.25, volatility_bps=8.0)
DRIFTED_BOT = "btc-grid-sim"
STOPPED_BOT = "eth-grid-sim"
STRAY_SUFFIX = "demo1"  # after the prefix, where the bot puts its sequence number
STRAY_QUANTITY = Decimal("0.003")
# A stray buys 3 % under the mark: it rests, unfilled, inside PERCENT_PRICE (0.95 of the mark).
STRAY_DISTANCE = Decimal("0.97")
KUBECTL_GRACE_S = 15.0  # beyond a command's own --timeout
STATUS_FIELDS = "{.status.phase} {.status.tradingMode} {.status.lastFlip.reason}"
DESK_HALT = "desk-stop"
# What drift legitimately ends in: reduce-only after the strays are confirmed, or,
# when the stray also makes the belief debt persist, the kill switch (Aborted) first.
DRIFT_OUTCOMES = ("ReduceOnly", "Aborted")
PHASE_POLL_SECONDS = 0.5


class DemoError(RuntimeError):
    """A step did not reach the state the tour expects."""


@dataclass(frozen=True)
class DemoOptions:
    """What ``tradewarden demo`` was asked for."""

    directory: Path
    kubectl: Path
    trade_seconds: float = 15.0
    wait_seconds: float = 90.0
    examples: Path = EXAMPLES


@dataclass(frozen=True)
class BotPhase:
    """What ``kubectl get tb`` says about one bot."""

    phase: str
    mode: str
    reason: str  # of the last flip


@dataclass
class Kubectl:
    """The real kubectl against the sandbox, echoing each command and its output."""

    binary: Path
    kubeconfig: Path
    out: TextIO

    async def __call__(self, *args: str, wait_s: float = 30.0) -> str:
        """Run ``kubectl ARGS``; its output is printed and returned; DemoError if it fails."""
        self.out.write(f"\n$ {shlex.join(['kubectl', *args])}\n")
        self.out.flush()
        process = await asyncio.create_subprocess_exec(
            str(self.binary),
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            # The same KUBECONFIG the tour tells the reader to export, so the echoed
            # command is exactly what ran.
            env={**os.environ, "KUBECONFIG": str(self.kubeconfig)},
        )
        try:
            output, _ = await asyncio.wait_for(process.communicate(), wait_s + KUBECTL_GRACE_S)
        except TimeoutError as exc:
            raise DemoError(f"`{shlex.join(['kubectl', *args])}` did not finish") from exc
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        text = output.decode(errors="replace")
        self.out.write(text if text.endswith("\n") or not text else text + "\n")
        self.out.flush()
        if process.returncode != 0:
            raise DemoError(f"`{shlex.join(['kubectl', *args])}` exited {process.returncode}")
        return text


@dataclass
class Tour:
    """One run of the tour: the narration, the bots applied and who owns which client ids."""

    options: DemoOptions
    out: TextIO
    owners: dict[str, str] = field(default_factory=dict)  # client-id prefix -> bot name

    def step(self, number: int, title: str) -> None:
        """A numbered heading."""
        self.say(f"\n=== {number}. {title} ===")

    def say(self, text: str) -> None:
        """A line of narration."""
        self.out.write(text + "\n")
        self.out.flush()

    async def run(self, interrupted: asyncio.Event) -> bool:
        """The whole tour; False when ``interrupted`` cut it short.

        The steps run as a task of their own, and an interruption cancels only
        that task: the sandbox is then stopped by a task that is not being
        cancelled, so none of its shutdown waits is cut short or left hanging.
        """
        self.step(1, "Start the sandbox: API server, venue simulator, pod runner, operator")
        options = SandboxOptions(
            directory=self.options.directory,
            venue=DEMO_VENUE,
            operator_log=self.options.directory / "operator.log",
        )
        async with running_sandbox(options) as sandbox:
            steps = asyncio.create_task(self.steps(sandbox, options), name="demo-steps")
            stop = asyncio.create_task(interrupted.wait(), name="demo-interrupt")
            try:
                await asyncio.wait({steps, stop}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (steps, stop):
                    task.cancel()
                await asyncio.wait({steps, stop})
            completed = not steps.cancelled()
            if completed:
                steps.result()  # a failed step raises here, after its task is done
            self.step(8, "Stop everything")
            self.say("operator first (so it does not react), then every bot pod, the simulator,")
            self.say("and the API server ...")
        self.say("stopped.")
        return completed

    async def steps(self, sandbox: Sandbox, options: SandboxOptions) -> None:
        """Steps 1 (what runs where) to 7."""
        self.say(f"Kubernetes API (KMock-based sandbox): {sandbox.api.url}")
        self.say(f"venue simulator (Binance USD-M futures): {sandbox.venue.base_url}")
        self.say(f"operator: a real `tradewarden operator` process, log {options.operator_log}")
        self.say(
            "pods: each bot StatefulSet runs as a local process, logs "
            f"{sandbox.runner.pods_dir}/dev/POD/logs/bot.log"
        )
        self.say(f"kubectl: {self.options.kubectl} (shown as `kubectl` below)")
        self.say(f"to follow along in another terminal: export KUBECONFIG={sandbox.kubeconfig}")
        self.say(f"  and run {self.options.kubectl} -n dev get tb --watch")
        kubectl = Kubectl(self.options.kubectl, sandbox.kubeconfig, self.out)
        bots = await self.apply_examples(kubectl, sandbox.venue.base_url)
        await self.show_trading(kubectl, sandbox.venue)
        await self.inject_drift(kubectl, sandbox.venue, bots[DRIFTED_BOT])
        await self.emergency_stop(kubectl)
        await self.halt_the_desk(kubectl)
        await self.show_outcome(kubectl, sandbox.venue)

    async def apply_examples(self, kubectl: Kubectl, venue_url: str) -> dict[str, Obj]:
        """Apply examples/ pointed at this simulator; wait until every bot is Running."""
        self.step(2, "Apply the example bots")
        rendered = self.options.directory / "manifests"
        rendered.mkdir(parents=True, exist_ok=True)
        bots: dict[str, Obj] = {}
        for source in sorted(self.options.examples.glob("*.yaml")):
            documents = [point_at_venue(doc, venue_url) for doc in manifests([source])]
            bots.update({d["metadata"]["name"]: d for d in documents if d["kind"] == "TradingBot"})
            (rendered / source.name).write_text(yaml.safe_dump_all(documents), encoding="utf-8")
        self.say(f"The bots in {self.options.examples} name the simulator at {EXAMPLE_VENUE_URL},")
        self.say("where `tradewarden sandbox` serves it. This demo's simulator took a free port")
        self.say(f"({venue_url}), so it never collides with a running sandbox; the demo applies")
        self.say(f"copies with spec.exchange.urlOverride re-pointed there: {rendered}")
        await kubectl("apply", "-f", str(rendered))
        self.say("\nThe operator creates each bot's ServiceAccount, Role, ConfigMap, StatefulSet")
        self.say("and Service; the pod runner starts the pod; the bot runs its preflight checks.")
        await kubectl(
            "-n",
            "dev",
            "wait",
            "tb",
            "--all",
            "--for=jsonpath={.status.phase}=Running",
            f"--timeout={self.options.wait_seconds:.0f}s",
            wait_s=self.options.wait_seconds,
        )
        await kubectl("-n", "dev", "get", "statefulsets,services,configmaps")
        for name, doc in bots.items():
            uid = await kubectl("-n", "dev", "get", "tb", name, "-o", "jsonpath={.metadata.uid}")
            identified = TradingBot.model_validate(
                {**doc, "metadata": {**doc["metadata"], "uid": uid.strip()}}
            )
            self.owners[bot_prefix(bot_identity(identified))] = name
        return bots

    async def show_trading(self, kubectl: Kubectl, venue: RunningVenueSim) -> None:
        """Let the grids work for a while, then show the bots and the venue."""
        self.step(3, f"Let them trade for {self.options.trade_seconds:.0f} s")
        await asyncio.sleep(self.options.trade_seconds)
        await kubectl("-n", "dev", "get", "tb", "-o", "wide")
        await kubectl("-n", "dev", "get", "pods")
        self.say("")
        self.venue_report(await venue.state())

    async def inject_drift(self, kubectl: Kubectl, venue: RunningVenueSim, bot: Obj) -> None:
        """Place an order under the bot's prefix behind its back; wait for ReduceOnly."""
        self.step(4, f"Drift: an order at the venue that {DRIFTED_BOT}'s journal never wrote")
        prefix = next(p for p, name in self.owners.items() if name == DRIFTED_BOT)
        stray_id = f"{prefix}{STRAY_SUFFIX}"
        symbol = bot["spec"]["symbol"]
        state = await venue.state()
        price = (Decimal(state["marks"][_venue_symbol(symbol)]) * STRAY_DISTANCE).quantize(
            Decimal("1")
        )
        self.say(f"{DRIFTED_BOT}'s client order ids start with {prefix} (a digest of its")
        self.say("namespace/name/uid). The demo places one directly at the venue, as a second")
        self.say(f"process under the same identity would: BUY {STRAY_QUANTITY} {symbol} limit")
        self.say(f"@ {price}, clientOrderId {stray_id}")
        exchange = build_exchange(
            bot["spec"]["exchange"]["id"],
            api_key=DEMO_VENUE.api_key,
            api_secret=DEMO_VENUE.api_secret,
            url_override=venue.base_url,
        )
        try:
            await exchange.create_order(
                symbol,
                "limit",
                "buy",
                float(STRAY_QUANTITY),
                float(price),
                {"clientOrderId": stray_id},
            )
        finally:
            await exchange.close()
        self.say("The bot's reconciler sees an order with its prefix that it does not know;")
        self.say("after 3 reconciles in a row it cancels it and goes reduce-only; the operator")
        self.say("reads that from the bot's /status and flips the phase (DriftDetected). If the")
        self.say("divergence persists in its belief, the kill switch may come first (Aborted).")
        flipped = await self.wait_for_phase(kubectl, DRIFTED_BOT, DRIFT_OUTCOMES)
        await kubectl("-n", "dev", "get", "tb", DRIFTED_BOT, "-o", "wide")
        self.say(f"FLIP: {DRIFTED_BOT} is {flipped.phase} ({flipped.reason})")
        orders = {o["clientOrderId"]: o["status"] for o in (await venue.state())["orders"]}
        self.say(f"the stray {stray_id} at the venue: {orders.get(stray_id, 'unknown')}")
        self.say("Drift clears by itself after clean reconciles; divergence that persists")
        self.say("(belief debt) escalates to the kill switch instead, which only a person clears.")

    async def emergency_stop(self, kubectl: Kubectl) -> None:
        """The documented break-glass patch; wait until the bot reports Halted."""
        self.step(5, f"Emergency stop {STOPPED_BOT} with kubectl patch")
        self.say("The bot watches its own TradingBot and halts within one watch event, even")
        self.say("without the operator: it cancels its entry orders, keeps protective stops.")
        patch = {"spec": {"emergencyStop": {"action": "Halt", "reason": "demo"}}}
        await kubectl(
            "-n",
            "dev",
            "patch",
            "tb",
            STOPPED_BOT,
            "--type=merge",
            "-p",
            json.dumps(patch, separators=(",", ":")),
        )
        await kubectl(
            "-n",
            "dev",
            "wait",
            f"tb/{STOPPED_BOT}",
            "--for=jsonpath={.status.tradingMode}=Halted",
            f"--timeout={self.options.wait_seconds:.0f}s",
            wait_s=self.options.wait_seconds,
        )
        stopped = await self.bot_status(kubectl, STOPPED_BOT)
        self.say(f"FLIP: {STOPPED_BOT} is {stopped.mode} (phase {stopped.phase}, {stopped.reason})")

    async def halt_the_desk(self, kubectl: Kubectl) -> None:
        """One TradingHalt for every bot of the namespace; wait until the venue confirms it."""
        self.step(6, "Halt the rest of the desk with one TradingHalt")
        self.say("A TradingHalt is cluster-scoped: it selects bots by namespace and labels. Every")
        self.say("bot it selects obeys it by itself (the operator need not run); the operator")
        self.say("confirms it at the venue: no open entry order left, per bot, from its /status.")
        self.say("The plugin's equivalent: kubectl tradewarden halt -n dev --action Halt \\")
        self.say(f'  --reason "demo: the desk stops" --name {DESK_HALT}')
        halt = {
            "apiVersion": "tradewarden.io/v1alpha1",
            "kind": "TradingHalt",
            "metadata": {
                "name": DESK_HALT,
                "annotations": {"tradewarden.io/created-by": "make-demo"},
            },
            "spec": {"namespaces": ["dev"], "action": "Halt", "reason": "demo: the desk stops"},
        }
        path = self.options.directory / "manifests" / f"tradinghalt-{DESK_HALT}.yaml"
        path.write_text(yaml.safe_dump(halt, sort_keys=False), encoding="utf-8")
        await kubectl("create", "-f", str(path))
        await kubectl(
            "wait",
            f"tradinghalt/{DESK_HALT}",
            "--for=condition=FleetConfirmed",
            f"--timeout={self.options.wait_seconds:.0f}s",
            wait_s=self.options.wait_seconds,
        )
        await kubectl("get", "tradinghalts", "-o", "wide")
        halted = await self.bot_status(kubectl, DRIFTED_BOT)
        why = await kubectl(
            "-n", "dev", "get", "tb", DRIFTED_BOT, "-o",
            'jsonpath={.status.conditions[?(@.type=="TradingHalt")].message}',
        )  # fmt: skip
        self.say(f"HALTED: {DRIFTED_BOT} is {halted.mode}, by {why.strip()}")
        self.say(f"(its phase still names the worst finding, {halted.phase} {halted.reason})")
        self.say(f"Release it with: kubectl tradewarden release {DESK_HALT} --reason WHY")

    async def show_outcome(self, kubectl: Kubectl, venue: RunningVenueSim) -> None:
        """Phases, the flip events and the venue's open orders."""
        self.step(7, "Where things stand")
        await kubectl("-n", "dev", "get", "tb", "-o", "wide")
        await kubectl("-n", "dev", "get", "pods")
        await kubectl(
            "-n",
            "dev",
            "get",
            "events",
            "--field-selector=involvedObject.kind=TradingBot",
            "-o",
            "custom-columns=BOT:.involvedObject.name,TYPE:.type,REASON:.reason,MESSAGE:.message",
        )
        for name in (DRIFTED_BOT, STOPPED_BOT):
            self.say(f"{name}: {explain(await self.bot_status(kubectl, name), name)}")
        self.say("")
        self.venue_report(await venue.state())

    async def wait_for_phase(self, kubectl: Kubectl, name: str, phases: Sequence[str]) -> BotPhase:
        """The bot's status once its phase is any of ``phases`` (kubectl wait takes only one)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.wait_seconds
        while (status := await self.bot_status(kubectl, name)).phase not in phases:
            if loop.time() >= deadline:
                raise DemoError(f"tb/{name} did not reach {' or '.join(phases)}: {status}")
            await asyncio.sleep(PHASE_POLL_SECONDS)
        return status

    async def bot_status(self, kubectl: Kubectl, name: str) -> BotPhase:
        """The TradingBot's phase, trading mode and last flip reason, as kubectl prints them."""
        text = await kubectl("-n", "dev", "get", "tb", name, "-o", f"jsonpath={STATUS_FIELDS}")
        phase, mode, reason = ([*text.split(), "-", "-", "-"])[:3]
        return BotPhase(phase, mode, reason)

    def venue_report(self, state: Mapping[str, Any]) -> None:
        """The simulator's ground truth: open orders by bot, fills and positions."""
        self.say("The venue's open orders (simulator ground truth, GET /_sim/state):")
        for line in venue_lines(state, self.owners):
            self.say("  " + line)


def explain(status: BotPhase, name: str) -> str:
    """What a newcomer should make of a bot's phase, and the documented way out."""
    phase, mode, reason = status.phase, status.mode, status.reason
    if phase == "Aborted":
        return (
            f"Aborted ({reason}, mode {mode}): stays so until a person has checked the venue "
            f"and runs kubectl -n dev annotate tb {name} tradewarden.io/clear-abort=WHY"
        )
    if reason == "EmergencyStop":
        return (
            f"{phase}, mode {mode} (EmergencyStop): resume with kubectl -n dev patch tb {name} "
            """--type=merge -p '{"spec":{"emergencyStop":null}}'"""
        )
    if reason == "TradingHalt":
        return (
            f"{phase}, mode {mode} (TradingHalt {DESK_HALT}): release with "
            f"kubectl tradewarden release {DESK_HALT} --reason WHY"
        )
    if phase == "ReduceOnly":
        return (
            f"ReduceOnly ({reason}), mode {mode}: closing only while drift is on; "
            "it clears by itself after clean reconciles"
        )
    return f"{phase}, mode {mode} ({reason})"


def _venue_symbol(symbol: str) -> str:
    """BTC/USDT:USDT -> BTCUSDT, the venue's market id."""
    return symbol.split(":", maxsplit=1)[0].replace("/", "")


def _owner(client_id: str, owners: Mapping[str, str]) -> str:
    return next((name for prefix, name in owners.items() if client_id.startswith(prefix)), "-")


def venue_lines(state: Mapping[str, Any], owners: Mapping[str, str]) -> list[str]:
    """Open orders and stops at the venue, one row each, with the bot owning each id."""
    rows: list[Sequence[str]] = [("BOT", "SYMBOL", "SIDE", "TYPE", "PRICE", "QTY", "CLIENT ID")]
    for order in state.get("orders", []):
        if order["status"] in ("NEW", "PARTIALLY_FILLED"):
            cid = order["clientOrderId"]
            rows.append(
                (
                    _owner(cid, owners),
                    order["symbol"],
                    order["side"],
                    order["type"],
                    order["price"],
                    order["origQty"],
                    cid,
                )
            )
    for algo in state.get("algoOrders", []):
        if algo["algoStatus"] == "NEW":
            cid = algo["clientAlgoId"]
            rows.append(
                (
                    _owner(cid, owners),
                    algo["symbol"],
                    algo["side"],
                    f"{algo['orderType']} (stop)",
                    algo["triggerPrice"],
                    algo["quantity"] if not algo["closePosition"] else "all",
                    cid,
                )
            )
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    if len(rows) == 1:
        lines.append("(none)")
    fills: dict[str, int] = {}
    for fill in state.get("fills", []):
        fills[fill["symbol"]] = fills.get(fill["symbol"], 0) + 1
    positions = {p["symbol"]: p["positionAmt"] for p in state.get("positions", [])}
    lines.append(
        "fills so far: "
        + (", ".join(f"{s} {n}" for s, n in sorted(fills.items())) or "none")
        + "; positions: "
        + (", ".join(f"{s} {a}" for s, a in sorted(positions.items())) or "flat")
    )
    return [line.rstrip() for line in lines]
