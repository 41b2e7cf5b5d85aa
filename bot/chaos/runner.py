"""Run one scenario: a real simulator on 127.0.0.1, a BotRuntime in process, unchanged ccxt.

Bot time runs ``speed`` times faster than the wall clock (a warped clock and sleep
are injected through :class:`BotClocks`), so a scenario of twenty bot seconds
takes two real ones while every network call stays real. ccxt's request
throttle is scaled the same way (:func:`pace_in_bot_time`), so requests cost
the bot the same bot time they cost it in production. The harness applies
the seeded schedule, samples the venue's ground truth and the bot's ``/status``
once per bot second, stops the bot and hands everything to the invariants.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import ccxt.async_support as ccxt_async

from tradewarden.api.error_text import error_text
from tradewarden.api.identity import bot_identity, bot_prefix
from tradewarden.api.tradingbot import TradingBot
from tradewarden.bot.chaos.invariants import (
    Facts,
    InvariantResult,
    RunObservation,
    Sample,
    StatusSample,
    evaluate,
    venue_position,
    warped,
)
from tradewarden.bot.chaos.proxy import FaultyExchange, ProxyPlan
from tradewarden.bot.chaos.scenario import (
    ClearWireFaults,
    Controls,
    DropStreams,
    MovePrice,
    OnceEntriesRest,
    OnceProtected,
    OnceWireFaultActs,
    OrderStorm,
    PriceWalk,
    ProxyFaults,
    RogueCancelStops,
    RogueOrder,
    Scenario,
    SpendWeight,
    StepAction,
    UserDataFault,
    WireFaults,
)
from tradewarden.bot.execution.journal import Journal
from tradewarden.bot.model.orders import JournaledOrder
from tradewarden.bot.observability.events import EventLog
from tradewarden.bot.reliability.api_health import used_weight
from tradewarden.bot.runtime.bot import JOURNAL_FILE, BotClocks, BotRuntime
from tradewarden.bot.runtime.status import render_status
from tradewarden.bot.venue.ccxt_client import build_exchange
from tradewarden.bot.venue_sim.server import RunningVenueSim, running_venue_sim
from tradewarden.bot.venue_sim.settings import SimSettings

DEFAULT_SPEED = 10.0
SYMBOL = "BTC/USDT:USDT"
SYMBOL_ID = "BTCUSDT"
SAMPLE_EVERY = 1.0  # bot seconds
TICKER_ALL_WEIGHT = 40  # GET /fapi/v1/ticker/24hr without a symbol, on Binance and the simulator
READY_TIMEOUT = 15.0  # wall seconds
PROTECTED_TIMEOUT = 15.0  # bot seconds an OnceProtected step waits for a stop
PROTECTED_POLL = 0.2  # bot seconds
STOP_TIMEOUT = 30.0  # wall seconds
STORM_MAX_ORDERS = 2000  # an OrderStorm gives up (and notes it) after this many orders
STORM_PRICE_SHARE = Decimal("0.97")  # 3 % under the mark: within PERCENT_PRICE, never filled
STORM_NOTIONAL = 50.0  # USDT per storm order, over the minimum notional of every listed perpetual
HEARTBEAT = 0.01  # wall seconds between the stall watcher's looks at the wall clock
STALL_AFTER = 0.05  # wall seconds the event loop may not run before the stretch is a stall

# A fast, nearly flat price walk: marks change (so the streams push) about every
# 0.1 s, yet drift far less than the grid spacing, so only MovePrice steps fill orders.
SIM_DEFAULTS: Mapping[str, Any] = {"price_tick_s": 0.1, "volatility_bps": 0.3}

# The bundled example (examples/tradingbot-sim.yaml) with every time scaled for a
# scenario of a few bot seconds: fast reconciles, short guard cooldowns.
BASE_SPEC: Mapping[str, Any] = {
    "environment": "dev",
    "exchange": {
        "id": "binanceusdm",
        "sandbox": True,
        "account": "sim",
        "requestTimeoutMs": 600,
    },
    "symbol": SYMBOL,
    "strategy": {
        "type": "grid",
        "params": {"levels": 2, "spacingPct": "0.2", "orderQuantity": "0.003"},
    },
    "risk": {"maxPosition": "0.02", "maxOrderNotional": "2000", "stopDistancePct": "2"},
    "execution": {
        "retryBudget": 3,
        "backoffBaseSeconds": 0.25,
        "backoffMaxSeconds": 1.0,
        "maxElapsedSeconds": 10.0,
        "reconcileIntervalSeconds": 3.0,
        "tightLoopTimeoutSeconds": 60.0,
        "absentGraceSeconds": 2.0,
        "incompleteAfterSeconds": 10.0,
    },
    "guards": {
        "apiHealth": {"windowSeconds": 10.0, "pauseSeconds": 8.0},
        "markStaleness": {"staleAfterSeconds": 6.0, "pauseSeconds": 6.0},
        "slippage": {"pauseSeconds": 6.0},
        "brokerReads": {"pauseSeconds": 6.0},
        "websocket": {
            "maxReconnects": 3,
            "backoffBaseSeconds": 0.2,
            "backoffCapSeconds": 0.5,
            "stableResetSeconds": 5.0,
            "pauseSeconds": 8.0,
        },
        "killSwitch": {"cleanReconcilesToRecover": 3},
    },
}


@dataclass
class WarpClock:
    """Bot time that runs ``speed`` times faster than the wall clock, but not through stalls.

    While :meth:`watch_stalls` runs, a stretch in which the event loop could not run
    (the process was descheduled on a loaded machine, or something blocked the loop)
    beyond ``STALL_AFTER`` counts one bot second per wall second: the warp speeds up the
    bot's time, not the machine's stalls, which would otherwise cost the bot ``speed``
    times what they cost it in production.
    """

    speed: float
    origin: float = field(default_factory=time.time)
    wall: Callable[[], float] = time.time
    wall_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    stalls: list[tuple[float, float]] = field(default_factory=list)  # (wall start, length)
    _beat: float | None = None  # wall time of the last heartbeat while watching

    def clock(self) -> float:
        """Bot time now; equal to the wall clock at ``origin``."""
        now = self.wall()
        stalls = self.stalls
        if self._beat is not None and now - self._beat > STALL_AFTER:
            # A stall still going on (the heartbeat has not run yet) counts already.
            stalls = [*stalls, (self._beat + STALL_AFTER, now - self._beat - STALL_AFTER)]
        return warped(now, self.origin, self.speed, stalls)

    def beat(self) -> None:
        """Look at the wall clock: a stretch since the last look beyond STALL_AFTER was a stall."""
        now = self.wall()
        if self._beat is not None and now - self._beat > STALL_AFTER:
            self.stalls.append((self._beat + STALL_AFTER, now - self._beat - STALL_AFTER))
        self._beat = now

    async def watch_stalls(self) -> None:
        """Look every HEARTBEAT, recording every stall of this event loop (until cancelled)."""
        try:
            while True:
                self.beat()
                await self.wall_sleep(HEARTBEAT)
        finally:
            self._beat = None

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` of bot time (a stall on the way makes it longer on the wall)."""
        await self.until(self.clock() + max(0.0, seconds))

    async def until(self, at: float) -> None:
        """Sleep until bot time ``at`` (yields once even when it has passed)."""
        await self.wall_sleep(max(0.0, at - self.clock()) / self.speed)
        while (left := at - self.clock()) > 0:
            await self.wall_sleep(left / self.speed)


def _merged(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = value
    return merged


def chaos_manifest(scenario: Scenario, seed: int, base_url: str) -> TradingBot:
    """The TradingBot a scenario runs: the base spec, its overrides, the simulator URL."""
    spec = _merged(BASE_SPEC, scenario.spec)
    spec["exchange"] = {**spec["exchange"], "urlOverride": base_url}
    return TradingBot.model_validate(
        {
            "apiVersion": "tradewarden.io/v1alpha1",
            "kind": "TradingBot",
            "metadata": {
                "name": scenario.name.replace("_", "-"),
                "namespace": "chaos",
                "uid": f"seed-{seed}",
            },
            "spec": spec,
        }
    )


@dataclass
class ScenarioResult:
    """What one run found."""

    scenario: str
    seed: int
    verdicts: dict[str, InvariantResult]
    exit_code: int | None
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Every invariant and expectation held."""
        return all(verdict.ok for verdict in self.verdicts.values())

    def to_json(self) -> dict[str, Any]:
        """The report ``chaos --json`` prints."""
        return {
            "scenario": self.scenario,
            "seed": self.seed,
            "invariants": {name: verdict.ok for name, verdict in self.verdicts.items()},
            "passed": self.passed,
            "details": {name: v.detail for name, v in self.verdicts.items() if not v.ok},
            "exitCode": self.exit_code,
            "notes": self.notes,
        }


class _Harness:
    """Applies schedule actions to the simulator, the proxy, the bot and a rogue client."""

    def __init__(
        self,
        sim: RunningVenueSim,
        plan: ProxyPlan,
        rogue: ccxt_async.Exchange,
        prefix: str,
        warp: WarpClock,
    ) -> None:
        self.sim = sim
        self.warp = warp
        self.speed = warp.speed
        self.plan = plan
        self.rogue = rogue
        self.prefix = prefix
        self.bot: BotRuntime | None = None
        self.injected: set[str] = set()
        self.notes: list[str] = []

    async def apply(self, action: StepAction) -> None:
        try:
            await self._apply(action)
        except ccxt_async.BaseError as error:
            # A refused rogue order is part of the story, not a harness crash.
            self.notes.append(f"{action.describe()}: {error_text(error)}")

    async def _apply(self, action: StepAction) -> None:
        if isinstance(action, WireFaults):
            await self.sim.set_faults([f.model_dump(exclude_none=True) for f in action.faults])
        elif isinstance(action, ClearWireFaults):
            await self.sim.clear_faults()
        elif isinstance(action, ProxyFaults):
            self.plan.replace(action.faults)
        elif isinstance(action, DropStreams):
            await self.sim.disrupt_streams(refuse_seconds=action.refuse_seconds / self.speed)
        elif isinstance(action, UserDataFault):
            await self.sim.disrupt_user_data(drop=action.drop, expire_key=action.expire_key)
        elif isinstance(action, MovePrice):
            mark = await self._mark()
            await self.sim.set_price(SYMBOL_ID, mark * (1 + Decimal(str(action.pct)) / 100))
        elif isinstance(action, PriceWalk):
            await self.sim.pause_walk(action.paused)
        elif isinstance(action, Controls):
            assert self.bot is not None
            self.bot.update_controls(action.paused, action.emergency_stop)
        elif isinstance(action, RogueOrder):
            await self._rogue_order(action)
        elif isinstance(action, RogueCancelStops):
            await self.rogue.cancel_all_orders(SYMBOL, {"trigger": True})
        elif isinstance(action, SpendWeight):
            await self._spend_weight(action.share)
        elif isinstance(action, OrderStorm):
            await self._order_storm(action.symbol)
        elif isinstance(action, OnceProtected):
            if not await self._stop_stands():
                self.notes.append(f"{action.describe()}: no stop within {PROTECTED_TIMEOUT:g}s")
            await self._apply(action.action)
        elif isinstance(action, OnceWireFaultActs):
            if not await self._wire_fault_acted():
                self.notes.append(f"{action.describe()}: none within {PROTECTED_TIMEOUT:g}s")
            for each in action.actions:
                await self._apply(each)
        elif isinstance(action, OnceEntriesRest):
            if not await self._entry_rests_near_mark(Decimal(str(action.within_pct))):
                self.notes.append(f"{action.describe()}: no such buy within {PROTECTED_TIMEOUT:g}s")
            await self._apply(action.action)

    async def _wire_fault_acted(self) -> bool:
        """Wait until a fault of the venue's current plan has disturbed a request."""
        deadline = self.warp.clock() + PROTECTED_TIMEOUT
        while self.warp.clock() < deadline:
            if any(fault["applied"] for fault in await self.sim.faults()):
                return True
            await self.warp.sleep(PROTECTED_POLL)
        return False

    async def _entry_rests_near_mark(self, within_pct: Decimal) -> bool:
        """Wait until one of the bot's buys rests within ``within_pct`` under the mark."""
        deadline = self.warp.clock() + PROTECTED_TIMEOUT
        while self.warp.clock() < deadline:
            state = await self.sim.state()
            floor = Decimal(state["marks"][SYMBOL_ID]) * (1 - within_pct / 100)
            if any(
                order["clientOrderId"].startswith(self.prefix)
                and order["symbol"] == SYMBOL_ID
                and order["side"] == "BUY"
                and order["status"] in ("NEW", "PARTIALLY_FILLED")
                and Decimal(str(order["price"])) >= floor
                for order in state.get("orders", [])
            ):
                return True
            await self.warp.sleep(PROTECTED_POLL)
        return False

    async def _stop_stands(self) -> bool:
        """Wait until a position is open and a stop waits at the venue; False on timeout."""
        deadline = self.warp.clock() + PROTECTED_TIMEOUT
        while self.warp.clock() < deadline:
            state = await self.sim.state()
            stops = [
                algo
                for algo in state.get("algoOrders", [])
                if algo["symbol"] == SYMBOL_ID and algo["algoStatus"] == "NEW"
            ]
            if stops and venue_position(state, SYMBOL_ID) != 0:
                return True
            await self.warp.sleep(PROTECTED_POLL)
        return False

    async def _spend_weight(self, share: float) -> None:
        limit = self.sim.settings.weight_limit_1m
        used = 0
        # Never past the limit itself: the point is high usage before any 429.
        while used < share * limit and used + TICKER_ALL_WEIGHT <= limit:
            await self.rogue.fapiPublicGetTicker24hr()
            used = used_weight(self.rogue.last_response_headers) or limit

    async def _order_storm(self, symbol: str) -> None:
        """Place orders far under ``symbol``'s mark until the venue refuses one with -1015."""
        await self.rogue.load_markets()
        market = self.rogue.market(symbol)
        state = await self.sim.state()
        price = float(Decimal(state["marks"][market["id"]]) * STORM_PRICE_SHARE)
        price = float(self.rogue.price_to_precision(symbol, price))
        amount = float(self.rogue.amount_to_precision(symbol, STORM_NOTIONAL / price))
        for _ in range(STORM_MAX_ORDERS):
            try:
                await self.rogue.create_order(symbol, "limit", "buy", amount, price)
            except ccxt_async.DDoSProtection as refused:
                if "-1015" in str(refused):
                    return
                raise
        self.notes.append(f"order storm: no -1015 after {STORM_MAX_ORDERS} orders")

    async def _mark(self) -> Decimal:
        state = await self.sim.state()
        return Decimal(state["marks"][SYMBOL_ID])

    async def _rogue_order(self, action: RogueOrder) -> None:
        await self.rogue.load_markets()
        client_id = (
            f"{self.prefix}zz{len(self.injected)}"
            if action.bot_owned
            else f"chaos-{len(self.injected)}"
        )
        self.injected.add(client_id)
        params: dict[str, Any] = {"clientOrderId": client_id}
        if action.reduce_only:
            params["reduceOnly"] = True
        price = None
        if action.limit_offset_pct is not None:
            mark = await self._mark()
            price = float(mark * (1 + Decimal(str(action.limit_offset_pct)) / 100))
            price = float(self.rogue.price_to_precision(SYMBOL, price))
        order_type = "market" if price is None else "limit"
        await self.rogue.create_order(
            SYMBOL, order_type, action.side, float(action.quantity), price, params
        )


def _journaled_orders(bot: BotRuntime, clock: Callable[[], float]) -> list[JournaledOrder]:
    """Every order the stopped bot journaled, read back through its Journal (none without one)."""
    path = bot.state_dir / JOURNAL_FILE
    if not path.exists():
        return []
    journal = Journal.open(path, bot_identity(bot.manifest), clock)
    try:
        return journal.orders()
    finally:
        journal.close()


async def _wait_ready(bot: BotRuntime, task: asyncio.Task[int]) -> bool:
    """Wait until the bot can trade, exits, or the timeout passes."""
    deadline = time.monotonic() + READY_TIMEOUT
    while not bot.ready and time.monotonic() < deadline:
        done, _ = await asyncio.wait({task}, timeout=0.02)
        if done:
            break
    return bot.ready


def _facts(
    scenario: Scenario,
    manifest: TradingBot,
    harness: _Harness,
    warp: WarpClock,
    window: tuple[float, float],
) -> Facts:
    spec = manifest.spec
    started, ended = window
    interval = spec.execution.reconcile_interval_seconds
    return Facts(
        symbol_id=SYMBOL_ID,
        bot_prefix=harness.prefix,
        injected_ids=frozenset(harness.injected),
        max_position=spec.risk.max_position,
        retry_budget=spec.execution.retry_budget,
        repair_window=4 * interval + 4.0,
        restricted_grace=4 * interval + 4.0,
        incomplete_after=spec.execution.incomplete_after_seconds,
        require_stop=spec.risk.require_protective_stop,
        ended_at=ended,
        divergence=tuple((started + a, started + b) for a, b in scenario.divergence),
        clock_origin=warp.origin,
        speed=warp.speed,
        stalls=tuple(warp.stalls),
    )


def _client(settings: SimSettings, base_url: str, timeout_ms: int) -> ccxt_async.Exchange:
    client = build_exchange(
        "binanceusdm",
        api_key=settings.api_key,
        api_secret=settings.api_secret,
        url_override=base_url,
        timeout_ms=timeout_ms,
    )
    # ccxt lingers on close so TLS connections can drain; plain HTTP on 127.0.0.1 has none.
    client.timeout_on_exit = 0
    return client


def pace_in_bot_time(client: ccxt_async.Exchange, speed: float) -> None:
    """Make ccxt's request throttle wait bot time, as it waits real time in production.

    ccxt paces requests (``enableRateLimit``) on the wall clock; under a warped
    clock an unscaled throttle would make every request ``speed`` times dearer in
    bot time than on the real venue, and the bot would look slower than it is.
    """
    client.rateLimit = client.rateLimit / speed
    client.tokenBucket = None
    client.init_rest_rate_limiter()


async def run_scenario(
    scenario: Scenario, seed: int, *, speed: float = DEFAULT_SPEED
) -> ScenarioResult:
    """Run ``scenario`` with ``seed`` and check every invariant against the ground truth."""
    warp = WarpClock(speed)
    settings = SimSettings(**{**SIM_DEFAULTS, "seed": seed, **scenario.sim})
    with tempfile.TemporaryDirectory(prefix="tw-chaos-") as tmp:
        state_dir = Path(tmp)
        async with running_venue_sim(settings) as sim:
            manifest = chaos_manifest(scenario, seed, sim.base_url)
            plan = ProxyPlan()
            client = _client(settings, sim.base_url, manifest.spec.exchange.request_timeout_ms)
            pace_in_bot_time(client, warp.speed)
            exchange = FaultyExchange(client, plan, warp.sleep)
            lane_client = _client(settings, sim.base_url, manifest.spec.exchange.request_timeout_ms)
            pace_in_bot_time(lane_client, warp.speed)
            lane = FaultyExchange(lane_client, plan, warp.sleep)
            rogue = _client(settings, sim.base_url, 2000)
            # Another client on the IP spends weight in a burst, unthrottled by our ccxt pacing.
            rogue.enableRateLimit = False
            harness = _Harness(sim, plan, rogue, bot_prefix(bot_identity(manifest)), warp)
            recording = _Recording()
            log = EventLog(warp.clock)
            log.listeners.append(recording.events.append)
            watching = asyncio.create_task(warp.watch_stalls())
            try:
                for action in scenario.setup:
                    await harness.apply(action)
                bot = BotRuntime(
                    manifest,
                    exchange,
                    state_dir,
                    clocks=BotClocks(warp.clock, warp.sleep, random.Random(seed)),
                    events=log,
                    lane=lane,
                )
                return await _drive(
                    scenario, seed, warp=warp, bot=bot, harness=harness, recording=recording
                )
            finally:
                watching.cancel()
                await asyncio.gather(watching, return_exceptions=True)
                await rogue.close()


@dataclass
class _Recording:
    """What the sampler collects while the bot runs."""

    venue: list[Sample] = field(default_factory=list)
    status: list[StatusSample] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)


async def _drive(
    scenario: Scenario,
    seed: int,
    *,
    warp: WarpClock,
    bot: BotRuntime,
    harness: _Harness,
    recording: _Recording,
) -> ScenarioResult:
    harness.bot = bot
    stop = asyncio.Event()
    task = asyncio.create_task(bot.run(stop), name=f"chaos-bot-{scenario.name}")
    try:
        if scenario.needs_ready and not await _wait_ready(bot, task):
            harness.notes.append("the bot never became ready")
        started = warp.clock()
        sampling = asyncio.create_task(_sample(bot, task, harness.sim, warp, recording))
        for at, action in scenario.schedule(seed):
            await warp.until(started + at)
            await harness.apply(action)
        await warp.until(started + scenario.duration)
        ended = warp.clock()
        sampling.cancel()
        await asyncio.gather(sampling, return_exceptions=True)
        await harness.sim.clear_faults()
        harness.plan.clear()
        stop.set()
        exit_code = await asyncio.wait_for(task, STOP_TIMEOUT)
    finally:
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    recording.venue.append(Sample(warp.clock(), await harness.sim.state()))
    facts = _facts(scenario, bot.manifest, harness, warp, (started, ended))
    observation = RunObservation(
        recording.events,
        _journaled_orders(bot, warp.clock),
        recording.venue,
        recording.status,
        facts,
    )
    return ScenarioResult(
        scenario.name, seed, evaluate(observation, scenario.expect), exit_code, harness.notes
    )


async def _sample(
    bot: BotRuntime,
    task: asyncio.Task[int],
    sim: RunningVenueSim,
    warp: WarpClock,
    recording: _Recording,
) -> None:
    while True:
        recording.venue.append(Sample(warp.clock(), await sim.state()))
        if not task.done() and bot.journal is not None:
            recording.status.append(StatusSample(warp.clock(), render_status(bot)))
        await warp.sleep(SAMPLE_EVERY)
