"""One bot process: recovery first, then market data, strategy and execution.

The order of start-up is the safety argument: the journal is opened, markets
are loaded, every non-terminal intent is settled against the venue, and only
then may the strategy propose anything. Shutdown is the reverse: proposals
stop, the order in flight finishes, the journal is checkpointed.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import ccxt.async_support as ccxt_async

from tradewarden.api.tradingbot import EmergencyStop, TradingBot, TradingMode
from tradewarden.bot.execution.admission import Exposure, refusal, working_orders
from tradewarden.bot.execution.intent import OrderIntent
from tradewarden.bot.execution.journal import Journal
from tradewarden.bot.execution.retry_policy import RetryPolicy
from tradewarden.bot.execution.router import OrderRouter, RouterContext
from tradewarden.bot.execution.sweep import sweep
from tradewarden.bot.execution.worker import (
    ExecutionWorker,
    ReconcileAll,
    TightLoopTimeout,
    WorkerSettings,
)
from tradewarden.bot.observability.events import Event, EventLog
from tradewarden.bot.observability.metrics import BotMetrics
from tradewarden.bot.posture import Posture, Restriction, decide_posture
from tradewarden.bot.reliability.report import ReconcileReport
from tradewarden.bot.strategy.base import MarketView, Strategy
from tradewarden.bot.strategy.registry import strategy_factory
from tradewarden.bot.venue.adapter import VenueAdapter

EXIT_OK = 0
EXIT_TIGHT_LOOP = 3
MARKET_POLL_SECONDS = 1.0
STRATEGY_INTERVAL_SECONDS = 1.0
JOURNAL_FILE = "journal.sqlite"


def bot_identity(manifest: TradingBot) -> str:
    """Stable identity of a bot: it seeds client order ids and owns the journal."""
    meta = manifest.metadata
    return f"{meta.namespace}/{meta.name}" + (f"/{meta.uid}" if meta.uid else "")


@dataclass
class MarketState:
    """Latest mark price per symbol."""

    marks: dict[str, Decimal] = field(default_factory=dict)


OrderGate = Callable[[OrderIntent], str | None]


class Companion(Protocol):
    """A task that runs beside the bot for its whole life (e.g. the control loop)."""

    async def run(self, bot: BotRuntime) -> None:
        """Run until cancelled; talk to the bot through its public methods."""


@dataclass
class BotClocks:
    """Time and randomness, injected so tests control them."""

    clock: Callable[[], float] = time.time
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    rng: random.Random = field(default_factory=random.Random)


class BotRuntime:
    """Runs one TradingBot until told to stop."""

    def __init__(
        self,
        manifest: TradingBot,
        exchange: ccxt_async.Exchange,
        state_dir: Path,
        *,
        dry_run: bool = False,
        clocks: BotClocks | None = None,
        events: EventLog | None = None,
        metrics: BotMetrics | None = None,
        companions: Sequence[Companion] = (),
    ) -> None:
        self.manifest = manifest
        self.spec = manifest.spec
        self.clocks = clocks or BotClocks()
        self.events = events or EventLog(self.clocks.clock)
        self.metrics = metrics or BotMetrics()
        self.venue = VenueAdapter(exchange)
        self.state_dir = state_dir
        self.dry_run = dry_run
        self.strategy: Strategy = strategy_factory(self.spec.strategy.type)(
            self.spec.strategy.params
        )
        self.market = MarketState()
        self.positions: dict[str, Decimal] = {}
        self._paused = self.spec.paused
        self._emergency_stop = self.spec.emergency_stop
        self._restrictions: dict[str, Restriction] = {}
        self.posture: Posture = decide_posture(self._paused, self._emergency_stop)
        # Extra vetoes consulted before every order (e.g. Lease fencing); a reason refuses.
        self.order_gates: list[OrderGate] = []
        self.companions = tuple(companions)
        self.last_reconcile: ReconcileReport | None = None
        self.recovered = False
        self.last_errors: deque[dict[str, Any]] = deque(maxlen=10)
        self.events.listeners.append(self._remember_errors)
        self.journal: Journal | None = None
        self.worker: ExecutionWorker | None = None

    @property
    def ready(self) -> bool:
        """Recovered, markets known, a mark price seen: safe to trade."""
        return self.recovered and self.spec.symbol in self.market.marks

    async def run(self, stop: asyncio.Event) -> int:
        """Run until ``stop`` is set; the exit code says how it ended."""
        self.journal = Journal.open(
            self.state_dir / JOURNAL_FILE, bot_identity(self.manifest), self.clocks.clock
        )
        try:
            return await self._run(self.journal, stop)
        finally:
            self.journal.close()
            await self.venue.close()
            self.events.emit(Event.BOT_STOP)

    async def _run(self, journal: Journal, stop: asyncio.Event) -> int:
        execution = self.spec.execution
        context = RouterContext(
            journal=journal,
            policy=RetryPolicy(
                max_retries=execution.retry_budget,
                base_delay=execution.backoff_base_seconds,
                max_delay=execution.backoff_max_seconds,
                max_elapsed=execution.max_elapsed_seconds,
            ),
            events=self.events,
            metrics=self.metrics,
            clock=self.clocks.clock,
            sleep=self.clocks.sleep,
            rng=self.clocks.rng,
        )
        router = OrderRouter(self.venue, context)
        self.worker = ExecutionWorker(
            self.venue,
            router,
            context,
            settings=WorkerSettings(
                symbols=(self.spec.symbol,),
                tight_loop_timeout=execution.tight_loop_timeout_seconds,
                absent_grace_seconds=execution.absent_grace_seconds,
                dry_run=self.dry_run,
            ),
            gate=self._admit,
            on_position=self._record_position,
        )
        self.events.emit(
            Event.BOT_START,
            bot=bot_identity(self.manifest),
            symbol=self.spec.symbol,
            dry_run=self.dry_run,
            mode=self.posture.mode,
        )
        self._show_mode()
        if not await self._until_stopped(stop, self._recover(router, journal)):
            return EXIT_OK
        worker_task = asyncio.create_task(self.worker.run(), name="execution")
        helpers = [
            *(asyncio.create_task(companion.run(self)) for companion in self.companions),
            asyncio.create_task(self._poll_market(), name="market-data"),
            asyncio.create_task(self._propose(), name="strategy"),
            asyncio.create_task(self._reconcile_timer(), name="reconcile-timer"),
        ]
        stop_task = asyncio.create_task(stop.wait(), name="stop")
        try:
            await asyncio.wait({worker_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            stop_task.cancel()
            self.worker.stop()
        try:
            await worker_task
        except TightLoopTimeout as error:
            self.events.emit(Event.BOT_FATAL, reason="tight-loop timeout", error=str(error))
            return EXIT_TIGHT_LOOP
        return EXIT_OK

    async def _until_stopped(self, stop: asyncio.Event, work: Awaitable[None]) -> bool:
        """Run ``work`` unless ``stop`` comes first; True if it completed."""
        work_task = asyncio.ensure_future(work)
        stop_task = asyncio.create_task(stop.wait())
        await asyncio.wait({work_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
        stop_task.cancel()
        if work_task.done():
            work_task.result()
            return True
        work_task.cancel()
        await asyncio.gather(work_task, return_exceptions=True)
        return False

    async def _recover(self, router: OrderRouter, journal: Journal) -> None:
        """Load markets and settle the journal; no order goes out before this ends."""
        self.events.emit(Event.RECOVERY_START, pending=len(journal.non_terminal()))
        attempt = 0
        while True:
            try:
                await self.venue.load_markets()
                still_unknown = await sweep(
                    journal,
                    router,
                    clock=self.clocks.clock,
                    absent_grace_seconds=self.spec.execution.absent_grace_seconds,
                    after_restart=True,
                )
                if not still_unknown:
                    self._record_position(
                        self.spec.symbol, await self.venue.fetch_position(self.spec.symbol)
                    )
                    break
                wait = self.spec.execution.absent_grace_seconds
                self.events.emit(Event.RECOVERY_WAIT, waiting_on=still_unknown)
            except Exception as error:
                attempt += 1
                wait = min(self.spec.execution.backoff_max_seconds, 2.0**attempt)
                self.events.emit(Event.RECOVERY_WAIT, retry_in=wait, error=repr(error)[:200])
            await self.clocks.sleep(wait)
        self.recovered = True
        self.events.emit(Event.RECOVERY_DONE, counts=journal.counts_by_state())

    async def _poll_market(self) -> None:
        symbol = self.spec.symbol
        while True:
            try:
                mark = await self.venue.fetch_mark_price(symbol)
            except Exception as error:
                self.events.emit(Event.MARKET_DATA_ERROR, error=repr(error)[:200])
            else:
                self.market.marks[symbol] = mark
            await self.clocks.sleep(MARKET_POLL_SECONDS)

    async def _propose(self) -> None:
        assert self.worker is not None and self.journal is not None
        while True:
            await self.clocks.sleep(STRATEGY_INTERVAL_SECONDS)
            # Proposing while earlier commands are still queued would repeat them.
            if not self.ready or not self.worker.idle.is_set():
                continue
            view = self._market_view()
            for proposal in self.strategy.propose(view):
                self.worker.offer(proposal)

    async def _reconcile_timer(self) -> None:
        assert self.worker is not None
        while True:
            await self.clocks.sleep(self.spec.execution.reconcile_interval_seconds)
            self.worker.offer(ReconcileAll())

    def _market_view(self) -> MarketView:
        assert self.journal is not None
        step, tick = self.venue.market_limits(self.spec.symbol)
        return MarketView(
            symbol=self.spec.symbol,
            mark=self.market.marks[self.spec.symbol],
            position=self.positions.get(self.spec.symbol, Decimal(0)),
            working=working_orders(self.journal.non_terminal()),
            mode=self.posture.mode,
            quantity_step=step,
            price_tick=tick,
            risk=self.spec.risk,
        )

    def restrict(self, source: str, mode: TradingMode | None, reason: str = "") -> None:
        """Set one source's demand on the trading mode (``None`` withdraws it)."""
        if mode is None:
            self._restrictions.pop(source, None)
        else:
            self._restrictions[source] = Restriction(source, mode, reason)
        self._repose()

    def update_controls(self, paused: bool, emergency_stop: EmergencyStop | None) -> None:
        """Apply ``spec.paused`` / ``spec.emergencyStop`` as they change on the live resource."""
        self._paused, self._emergency_stop = paused, emergency_stop
        self._repose()

    def observe_reconcile(self, report: ReconcileReport) -> None:
        """Take in what a reconcile pass found (the guards and belief debt read it)."""
        self.last_reconcile = report

    def _repose(self) -> None:
        posture = decide_posture(
            self._paused, self._emergency_stop, tuple(self._restrictions.values())
        )
        if posture != self.posture:
            self.posture = posture
            self._show_mode()

    def _admit(self, intent: OrderIntent) -> str | None:
        assert self.journal is not None
        for gate in self.order_gates:
            if (veto := gate(intent)) is not None:
                return veto
        mark = self.market.marks.get(intent.symbol)
        if mark is None:
            return "no mark price yet"
        exposure = Exposure(
            self.positions.get(intent.symbol, Decimal(0)),
            working_orders(self.journal.non_terminal()),
        )
        return refusal(intent, self.posture.mode, exposure, self.spec.risk, mark)

    def _record_position(self, symbol: str, position: Decimal) -> None:
        self.positions[symbol] = position
        self.metrics.position.labels(symbol=symbol).set(float(position))

    def _show_mode(self) -> None:
        for mode in TradingMode:
            self.metrics.trading_mode.labels(mode=mode.value).set(
                1 if mode is self.posture.mode else 0
            )
        self.events.emit(Event.MODE_CHANGE, mode=self.posture.mode, reason=self.posture.summary)

    def refresh_gauges(self) -> None:
        """Bring journal-derived gauges up to date (called on scrape)."""
        if self.journal is None:
            return
        counts = self.journal.counts_by_state()
        for state, count in counts.items():
            self.metrics.journal_orders.labels(state=state).set(count)
        incomplete = self.journal.incomplete(self.spec.execution.incomplete_after_seconds)
        self.metrics.incomplete_lifecycles.set(len(incomplete))

    def _remember_errors(self, record: dict[str, Any]) -> None:
        if record.get("event") in (Event.ORDER_ERROR, Event.ORDER_GIVEUP, Event.BOT_FATAL):
            self.last_errors.append(record)
