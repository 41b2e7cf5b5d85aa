"""One bot process: the composition root and its life, recovery first, then trading.

:class:`BotRuntime` builds the parts and wires them to each other: the venue
adapters, the router, worker and reconciler, the posture controller (every
demand on the trading mode, the guards, enforcement: :mod:`.posture_controller`),
the admission gate (:mod:`.admission_gate`), the fill tracker behind the
slippage guard (:mod:`.fills`), the market feed, the strategy and the
companions. The decisions live in those parts; this module runs them in order.

The order of start-up is the safety argument: the journal is opened, markets
are loaded, every non-terminal intent is settled against the venue, and only
then may the strategy propose anything. Shutdown is the reverse: proposals
stop, the order in flight finishes, the journal is checkpointed.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import ccxt.async_support as ccxt_async

from tradewarden.api.error_text import error_text
from tradewarden.api.identity import bot_identity, bot_prefix
from tradewarden.api.tradingbot import EmergencyStop, TradingBot, TradingMode
from tradewarden.bot.execution.admission import working_orders
from tradewarden.bot.execution.journal import Journal, JournalError, LostJournal
from tradewarden.bot.execution.lost_journal import lost_journal
from tradewarden.bot.execution.router import OrderPathHooks, OrderRouter, RouterContext
from tradewarden.bot.execution.sweep import sweep
from tradewarden.bot.market.feed import FeedHooks, MarketFeed, MarketState
from tradewarden.bot.market.reconnect import ReconnectPolicy
from tradewarden.bot.market.user_stream import UserStream, UserStreamHooks, open_user_stream
from tradewarden.bot.observability.events import Event, EventLog
from tradewarden.bot.observability.metrics import BotMetrics
from tradewarden.bot.posture import Posture, Restriction
from tradewarden.bot.preflight.checks import PreflightReport
from tradewarden.bot.preflight.runner import run_preflight
from tradewarden.bot.reliability.api_health import DEFAULT_ORDER_LIMITS, DEFAULT_WEIGHT_LIMIT
from tradewarden.bot.reliability.guards import GuardBoard
from tradewarden.bot.reliability.protection import ProtectionSettings
from tradewarden.bot.reliability.reconciler import Reconciler, ReconcilerSettings
from tradewarden.bot.reliability.report import ReconcileReport
from tradewarden.bot.retry import Retry, RetryPolicy
from tradewarden.bot.runtime.admission_gate import AdmissionGate, Veto
from tradewarden.bot.runtime.fills import FillTracker
from tradewarden.bot.runtime.posture_controller import PostureController
from tradewarden.bot.runtime.worker import (
    ExecutionWorker,
    ReconcileAll,
    TightLoopTimeout,
    WorkerSettings,
)
from tradewarden.bot.strategy.base import MarketView, Strategy
from tradewarden.bot.strategy.registry import load_strategy
from tradewarden.bot.venue.adapter import VenueAdapter
from tradewarden.bot.venue.ccxt_client import streams_for

EXIT_OK = 0
EXIT_TIGHT_LOOP = 3
MARKET_POLL_SECONDS = 1.0
# A failed preflight is retried this often; the bot stays up so the operator can see why.
PREFLIGHT_RETRY_SECONDS = 30.0
# Startup recovery retries a failing venue after 2 s, doubling to spec.execution.backoffMaxSeconds.
RECOVERY_RETRY_BASE_SECONDS = 2.0
STRATEGY_INTERVAL_SECONDS = 1.0
# How often cooldowns, mark staleness and the posture's demands on working orders are checked.
GUARD_TICK_SECONDS = 1.0
# Wall seconds the side tasks (market data, timers, companions) get to finish once
# cancelled at shutdown; one stuck closing a connection must not keep the process up.
SHUTDOWN_GRACE_SECONDS = 5.0
# A stopping bot's wind-down (cancel entries, settle, protect the final position):
# reconcile passes at most, and seconds of the bot's clock, well inside the pod's 30 s grace.
WIND_DOWN_PASSES = 3
WIND_DOWN_SECONDS = 15.0
JOURNAL_FILE = "journal.sqlite"
PREFLIGHT_SOURCE = "preflight"
STOPPING_SOURCE = "stopping"


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
        market_streams: bool = True,
        preflight_warn_only: bool = False,
        lane: ccxt_async.Exchange | None = None,
    ) -> None:
        self.manifest = manifest
        self.spec = manifest.spec
        self.clocks = clocks or BotClocks()
        self.events = events or EventLog(self.clocks.clock)
        self.metrics = metrics or BotMetrics()
        # Every demand on the trading mode, the guards they come from, and their enforcement.
        self.control = PostureController(
            self.spec, events=self.events, metrics=self.metrics, clock=self.clocks.clock
        )
        # A dry run's adapters refuse every create and cancel (see VenueAdapter).
        self.venue = VenueAdapter(exchange, self.control.request, read_only=dry_run)
        # A second client of the account for emergency batch cancels: its throttle is
        # never drawn down by the bot's own orders (see OrderRouter.cancel_many).
        self.lane = (
            None if lane is None else VenueAdapter(lane, self.control.request, read_only=dry_run)
        )
        self.state_dir = state_dir
        self.dry_run = dry_run
        self.strategy: Strategy = load_strategy(self.spec.strategy)
        self.market = MarketState()
        # False, or a venue ccxt.pro cannot stream, leaves market data on REST polling.
        self.market_streams = market_streams
        self._market_stream: ccxt_async.Exchange | None = None
        self.user_stream: UserStream | None = None
        self.market_feed: MarketFeed | None = None
        self.preflight_warn_only = preflight_warn_only
        self.preflight: PreflightReport | None = None
        self.positions: dict[str, Decimal] = {}
        # Extra vetoes consulted before every order (e.g. Lease fencing); a reason refuses.
        self.order_gates: list[Veto] = []
        self.companions = tuple(companions)
        self.last_reconcile: ReconcileReport | None = None
        # Orders sent and not yet settled, for the slippage guard.
        self.fills = FillTracker(self.market.marks)
        self.recovered = False
        self.last_errors: deque[dict[str, Any]] = deque(maxlen=10)
        self.events.listeners.append(self._remember_errors)
        self.journal: Journal | None = None
        self.worker: ExecutionWorker | None = None
        self.reconciler: Reconciler | None = None

    @property
    def posture(self) -> Posture:
        """The trading posture in force (see :class:`PostureController`)."""
        return self.control.posture

    @property
    def guards(self) -> GuardBoard:
        """Every guard of the degradation matrix."""
        return self.control.guards

    @property
    def ready(self) -> bool:
        """Recovered, markets known, a mark price seen: safe to trade."""
        return self.recovered and self.spec.symbol in self.market.marks

    def open_journal(self) -> Journal:
        """Open the journal and bind it to this bot and its symbol (once).

        Raises :class:`JournalError` naming the file and what is wrong with it.
        """
        if self.journal is None:
            path = self.state_dir / JOURNAL_FILE
            journal = Journal.open(path, bot_identity(self.manifest), self.clocks.clock)
            try:
                journal.claim_symbol(self.spec.symbol)
            except JournalError as error:
                journal.close()
                raise JournalError(f"{path}: {error}") from error
            self.journal = journal
        return self.journal

    async def run(
        self, stop: asyncio.Event, *, before_close: Callable[[], Awaitable[object]] | None = None
    ) -> int:
        """Run until ``stop`` is set; the exit code says how it ended.

        Shutdown order: every task has stopped, then ``before_close`` runs (the
        command stops its HTTP server there, so /status never reads a closed
        journal), then the journal closes, then the venue connections.
        """
        journal = self.open_journal()
        try:
            return await self._run(journal, stop)
        finally:
            if before_close is not None:
                await before_close()
            journal.close()
            await self.venue.close()
            if self.lane is not None:
                await self.lane.close()
            await self._close_market_stream()
            if self.user_stream is not None:
                await self.user_stream.close(SHUTDOWN_GRACE_SECONDS)
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
            dry_run=self.dry_run,
            absent_grace=execution.absent_grace_seconds,
            hooks=OrderPathHooks(sent=self.fills.sent),
        )
        router = OrderRouter(self.venue, context, lane=self.lane)
        gate = AdmissionGate(
            vetoes=self.order_gates,
            working=journal.non_terminal,
            posture=self.control,
            marks=self.market.marks,
            positions=self.positions,
            risk=self.spec.risk,
        )
        self.worker = ExecutionWorker(
            router,
            context,
            self._reconciler(router, context, gate),
            settings=WorkerSettings.from_spec(execution),
            gate=gate,
        )
        self.events.emit(
            Event.BOT_START,
            bot=bot_identity(self.manifest),
            symbol=self.spec.symbol,
            dry_run=self.dry_run,
            mode=self.posture.mode,
        )
        self.control.show_mode()
        if not await self._until_stopped(stop, self._preflight()):
            return EXIT_OK
        if not await self._until_stopped(stop, self._recover(router, journal)):
            return EXIT_OK
        worker_task = asyncio.create_task(self.worker.run(), name="execution")
        strategy_task = asyncio.create_task(self._propose(), name="strategy")
        helpers = [
            *(asyncio.create_task(companion.run(self)) for companion in self.companions),
            asyncio.create_task(self._market_data(), name="market-data"),
            strategy_task,
            asyncio.create_task(self._reconcile_timer(), name="reconcile-timer"),
            asyncio.create_task(self._user_data(), name="user-data"),
            asyncio.create_task(self._guard_timer(), name="guards"),
        ]
        stop_task = asyncio.create_task(stop.wait(), name="stop")
        try:
            await asyncio.wait({worker_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
            if not worker_task.done():
                strategy_task.cancel()
                await self._wind_down(journal, worker_task)
        finally:
            self.worker.stop()
            stop_task.cancel()
            for task in helpers:
                task.cancel()
            _, stuck = await asyncio.wait(helpers, timeout=SHUTDOWN_GRACE_SECONDS)
            if stuck:
                self.events.emit(
                    Event.BOT_FATAL,
                    reason="tasks did not stop in time",
                    tasks=sorted(task.get_name() for task in stuck),
                )
        try:
            await worker_task
        except TightLoopTimeout as error:
            self.events.emit(Event.BOT_FATAL, reason="tight-loop timeout", error=str(error))
            return EXIT_TIGHT_LOOP
        return EXIT_OK

    async def _wind_down(self, journal: Journal, worker_task: asyncio.Task[None]) -> None:
        """Leave the venue safe before exiting: no entry order rests, every position its stop.

        An entry left resting could fill after the bot is gone and grow the position
        past its stop. So a stopping bot goes reduce-only (its entries are cancelled
        through the posture, like any ReduceOnly), then reconciles, which settles
        the cancels and repairs the stop to the final position; a few passes at most,
        within ``WIND_DOWN_SECONDS``. ``BOT_STOPPING`` and ``BOT_STOP_SETTLED`` say
        what was cancelled and what was left.
        """
        assert self.worker is not None
        entries = [o.client_order_id for o in journal.non_terminal() if not o.intent.reduce_only]
        self.events.emit(Event.BOT_STOPPING, entries=entries)
        self.restrict(STOPPING_SOURCE, TradingMode.REDUCE_ONLY, "stopping: entries cancelled")
        # The bot's clock times the wind-down, like every other safety timer.
        out_of_time = asyncio.ensure_future(self.clocks.sleep(WIND_DOWN_SECONDS))
        try:
            for _ in range(WIND_DOWN_PASSES):
                self.control.enforce()
                self.worker.offer(ReconcileAll())
                drained = asyncio.ensure_future(self.worker.drained())
                await asyncio.wait(
                    {drained, worker_task, out_of_time}, return_when=asyncio.FIRST_COMPLETED
                )
                drained.cancel()
                if worker_task.done() or self._wound_down(journal) or out_of_time.done():
                    break
        finally:
            out_of_time.cancel()
        self.events.emit(
            Event.BOT_STOP_SETTLED,
            entries_left=[
                o.client_order_id for o in journal.non_terminal() if not o.intent.reduce_only
            ],
            position=self.positions.get(self.spec.symbol, Decimal(0)),
            protected=self._protected(),
        )

    def _wound_down(self, journal: Journal) -> bool:
        """No entry order works and every position carries its stop."""
        working_entries = any(not o.intent.reduce_only for o in journal.non_terminal())
        return not working_entries and self._protected()

    def _protected(self) -> bool:
        reconciler = self.reconciler
        return reconciler is None or all(watch.protected for watch in reconciler.watch.values())

    def _reconciler(
        self, router: OrderRouter, context: RouterContext, gate: AdmissionGate
    ) -> Reconciler:
        """The reconciler the worker runs after every order and on the reconcile timer."""
        settings = ReconcilerSettings(
            symbols=(self.spec.symbol,),
            bot_prefix=bot_prefix(bot_identity(self.manifest)),
            absent_grace_seconds=self.spec.execution.absent_grace_seconds,
            drift_detections=self.spec.guards.drift.detections_in_a_row,
            # As long as the reconcile timer alone would keep drift on.
            drift_hold_seconds=self.spec.guards.drift.detections_in_a_row
            * self.spec.execution.reconcile_interval_seconds,
            protection=ProtectionSettings(
                self.spec.risk.stop_distance_pct,
                required=self.spec.risk.require_protective_stop,
            ),
        )
        self.reconciler = Reconciler(
            self.venue,
            router,
            context,
            settings,
            gate=gate,
            on_position=self._record_position,
            on_report=self._reconciled,
        )
        return self.reconciler

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
        """Load markets and settle the journal; no order goes out before this ends.

        Raises :class:`LostJournal` when the journal has no history but the
        venue shows the bot's orders (a dry run only reports it: it sends nothing).
        """
        self.events.emit(Event.RECOVERY_START, pending=len(journal.non_terminal()))
        lost, clocks = None, self.clocks
        policy = RetryPolicy(
            RECOVERY_RETRY_BASE_SECONDS, self.spec.execution.backoff_max_seconds, jitter=0
        )
        retry = Retry(policy, clock=clocks.clock, sleep=clocks.sleep)
        while True:
            try:
                await self.venue.load_markets()
                if self.lane is not None:
                    self.venue.share_markets(self.lane)
                still_unknown = await sweep(
                    journal,
                    router,
                    clock=self.clocks.clock,
                    absent_grace_seconds=self.spec.execution.absent_grace_seconds,
                )
                if not still_unknown:
                    await self._baseline(journal)
                    lost = await self._lost_journal(journal)
                    break
                wait = self.spec.execution.absent_grace_seconds
                self.events.emit(Event.RECOVERY_WAIT, waiting_on=still_unknown)
            except Exception as error:
                retry.begin()
                wait = retry.delay()
                self.events.emit(Event.RECOVERY_WAIT, retry_in=wait, error=error_text(error))
            await retry.wait(wait)
        if lost is not None:
            self.events.emit(Event.JOURNAL_LOST, reason=lost, dry_run=self.dry_run)
            if not self.dry_run:
                raise LostJournal(lost)
        self.recovered = True
        # From now on the posture's demands on working orders are enforced.
        assert self.worker is not None
        self.control.enforce_with(self.worker, journal.non_terminal, self.positions)
        self.events.emit(Event.RECOVERY_DONE, counts=journal.counts_by_state())

    async def _lost_journal(self, journal: Journal) -> str | None:
        """Why a journal without history must be a lost one (see lost_journal), else None.

        Runs after the baseline, whose position read it reuses.
        """
        if journal.has_history():
            return None
        symbol = self.spec.symbol
        return lost_journal(
            self.state_dir / JOURNAL_FILE,
            bot_prefix(bot_identity(self.manifest)),
            await self.venue.fetch_order_history(symbol),
            self.positions.get(symbol, Decimal(0)),
            symbol,
        )

    async def _baseline(self, journal: Journal) -> None:
        """Read what the account holds once the journal is settled, and the venue's weight budget.

        With no order working, whatever the venue position differs from the
        journal's fills by was there before the bot: the reconciler's baseline.
        A position that appears later is divergence.
        """
        symbol = self.spec.symbol
        position = await self.venue.fetch_position(symbol)
        self._record_position(symbol, position)
        if self.reconciler is not None:
            self.reconciler.baseline(symbol, position - journal.net_filled(symbol))
        # A venue that publishes no budget is held to Binance's.
        self.guards.api.weight_limit = (
            await self.venue.request_weight_limit() or DEFAULT_WEIGHT_LIMIT
        )
        published = await self.venue.order_count_limits()
        self.guards.api.order_limits = {**DEFAULT_ORDER_LIMITS, **published}

    async def _preflight(self) -> None:
        """Run the preflight checks until they pass; nothing is recovered or sent before.

        A failure does not end the process: the report stays on ``/status`` (the operator
        turns it into Aborted/PreflightFailed) and the checks are retried. Warn-only
        reports the failure and goes on.
        """
        while True:
            report = await run_preflight(
                self.venue.exchange,
                self.spec,
                warn_only=self.preflight_warn_only,
                change_leverage=not self.dry_run,
            )
            self.preflight = report
            self.metrics.preflight_passed.set(1 if report.passed else 0)
            if report.passed:
                self.restrict(PREFLIGHT_SOURCE, None)
                self.events.emit(Event.PREFLIGHT_PASSED)
                return
            self.events.emit(
                Event.PREFLIGHT_FAILED,
                warn_only=report.warn_only,
                failed=[check.to_json() for check in report.failed],
            )
            if report.warn_only:
                return
            # Nothing is sent until the checks pass: /status (and the operator) say Halted.
            self.restrict(PREFLIGHT_SOURCE, TradingMode.HALTED, "preflight failed")
            await self.clocks.sleep(PREFLIGHT_RETRY_SECONDS)

    async def _market_data(self) -> None:
        """Mark prices from the venue's stream with REST fallback, or from REST polling only."""
        stream = streams_for(self.spec.exchange) if self.market_streams else None
        # The stream's own client also serves the fallback, so it never queues behind orders.
        rest = self.venue if stream is None else VenueAdapter(stream)
        guards = self.spec.guards
        self.market_feed = MarketFeed(
            self.spec.symbol,
            stream=stream,
            rest=rest.fetch_mark_price,
            hooks=FeedHooks(
                on_mark=self._record_mark, on_exhausted=self.control.websocket_exhausted
            ),
            policy=ReconnectPolicy(guards.websocket, self.clocks.rng),
            events=self.events,
            metrics=self.metrics,
            clock=self.clocks.clock,
            sleep=self.clocks.sleep,
            poll_seconds=MARKET_POLL_SECONDS,
            read_timeout_seconds=guards.mark_staleness.stale_after_seconds / 2,
        )
        # Closed at shutdown after the tasks, not here: a cancelled task that
        # waits on a WebSocket close handshake outlives the grace period.
        self._market_stream = stream
        await self.market_feed.run()

    async def _close_market_stream(self) -> None:
        """Close the stream client, giving its close handshake the shutdown grace at most."""
        stream, self._market_stream = self._market_stream, None
        if stream is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stream.close(), SHUTDOWN_GRACE_SECONDS)

    async def _user_data(self) -> None:
        """Wake the reconcile on the venue's private order stream (``userDataStream``)."""
        assert self.worker is not None
        worker = self.worker
        self.user_stream = open_user_stream(
            self.spec,
            self.venue.exchange,
            UserStreamHooks(
                lambda _reason: worker.offer(ReconcileAll()), self.control.websocket_exhausted
            ),
            events=self.events,
            metrics=self.metrics,
            clocks=(self.clocks.clock, self.clocks.sleep, self.clocks.rng),
        )
        if self.user_stream is not None:
            await self.user_stream.run()

    def _record_mark(self, symbol: str, mark: Decimal) -> None:
        self.market.marks[symbol] = mark
        self.market.updated_at[symbol] = self.clocks.clock()

    async def _propose(self) -> None:
        assert self.worker is not None and self.journal is not None
        while True:
            await self.clocks.sleep(STRATEGY_INTERVAL_SECONDS)
            # Proposing while earlier orders are still queued would repeat them.
            if not self.ready or self.worker.orders_pending():
                continue
            view = self._market_view()
            for proposal in self.strategy.propose(view):
                self.worker.offer(proposal)

    async def _reconcile_timer(self) -> None:
        assert self.worker is not None
        while True:
            await self.clocks.sleep(self.spec.execution.reconcile_interval_seconds)
            self.worker.offer(ReconcileAll())

    async def _guard_timer(self) -> None:
        while True:
            await self.clocks.sleep(GUARD_TICK_SECONDS)
            self.control.tick(self.market.updated_at)

    def _market_view(self) -> MarketView:
        assert self.journal is not None
        step, tick = self.venue.market_limits(self.spec.symbol)
        return MarketView(
            symbol=self.spec.symbol,
            mark=self.market.marks[self.spec.symbol],
            position=self.positions.get(self.spec.symbol, Decimal(0)),
            working=working_orders(self.journal.non_terminal()),
            mode=self.posture.mode_for(self.spec.symbol),
            quantity_step=step,
            price_tick=tick,
            risk=self.spec.risk,
        )

    def restrict(
        self,
        source: str,
        mode: TradingMode | None,
        reason: str = "",
        symbol: str | None = None,
        *,
        flatten: bool = False,
    ) -> None:
        """Set one source's demand on the trading mode (see :meth:`PostureController.restrict`)."""
        self.control.restrict(source, mode, reason, symbol, flatten=flatten)

    def restrictions(self) -> tuple[Restriction, ...]:
        """Every demand on the trading mode in force (guards, control loop, operator)."""
        return self.control.restrictions()

    def update_controls(self, paused: bool, emergency_stop: EmergencyStop | None) -> None:
        """Apply ``spec.paused`` / ``spec.emergencyStop`` as they change on the live resource."""
        self.control.update_controls(paused, emergency_stop)

    def reset_kill_switch(self, reason: str, by: str = "") -> bool:
        """A person's release of the kill switch (the clear-abort path); True if it was engaged."""
        if self.reconciler is not None:
            # The person vouches for what the venue holds now: it is the new baseline.
            self.reconciler.rebaseline()
        return self.control.reset_kill_switch(reason, by)

    def _reconciled(self, report: ReconcileReport) -> None:
        self.last_reconcile = report
        self.control.reconciled(report)

    def _record_position(self, symbol: str, position: Decimal) -> None:
        self.positions[symbol] = position
        self.metrics.position.labels(symbol=symbol).set(float(position))
        journal = self.journal
        self.control.position_read(self.fills.settled(journal.find) if journal else ())

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
