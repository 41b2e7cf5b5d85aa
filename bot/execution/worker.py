"""The execution worker: one command at a time, each reconciled before the next.

Commands arrive on a bounded queue. Producers (strategy, timers) never wait on
it: a full queue drops the command and raises an alarm, so market data never
stalls behind execution. After every order the worker reconciles it (order
state and position); if that keeps failing past the tight-loop timeout it
raises :class:`TightLoopTimeout` and the bot exits non-zero so the pod
restarts, with the journal making the restart safe.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from tradewarden.bot.execution.intent import Cancel, JournaledOrder, OrderIntent, Place
from tradewarden.bot.execution.journal import Journal
from tradewarden.bot.execution.router import OrderRouter, RouterContext
from tradewarden.bot.execution.sweep import sweep
from tradewarden.bot.observability.events import Event
from tradewarden.bot.venue.adapter import VenueAdapter

# Tight-loop reconcile: three quick retries, then keep the last spacing until
# the timeout (the execution-manager spec's 1 s, 2 s, 4 s schedule).
RECONCILE_BACKOFF = (1.0, 2.0, 4.0)


@dataclass(frozen=True)
class ReconcileAll:
    """Settle every non-terminal intent and refresh positions."""


Command = Place | Cancel | ReconcileAll
Gate = Callable[[OrderIntent], str | None]
PositionSink = Callable[[str, Decimal], None]


class TightLoopTimeout(RuntimeError):
    """Reconciliation kept failing past the tight-loop timeout."""


@dataclass(frozen=True)
class WorkerSettings:
    """Knobs of the execution worker."""

    symbols: tuple[str, ...]
    tight_loop_timeout: float
    absent_grace_seconds: float
    queue_size: int = 64
    dry_run: bool = False


class ExecutionWorker:
    """Runs commands sequentially against the venue."""

    def __init__(
        self,
        venue: VenueAdapter,
        router: OrderRouter,
        context: RouterContext,
        *,
        settings: WorkerSettings,
        gate: Gate,
        on_position: PositionSink,
    ) -> None:
        self._venue = venue
        self._router = router
        self._ctx = context
        self._settings = settings
        self._gate = gate
        self._on_position = on_position
        # Unbounded underneath so the stop marker always fits; offer() enforces the bound.
        self._queue: asyncio.Queue[Command | None] = asyncio.Queue()
        self._stopping = False
        self.idle = asyncio.Event()
        self.idle.set()

    @property
    def journal(self) -> Journal:
        """The journal the worker writes."""
        return self._ctx.journal

    def offer(self, command: Command) -> bool:
        """Queue ``command`` without waiting; False (and an alarm) if the queue is full."""
        if self._stopping:
            return False
        if self._queue.qsize() >= self._settings.queue_size:
            self._ctx.metrics.execution_queue_full.inc()
            self._ctx.events.emit(
                Event.EXECUTION_QUEUE_FULL, command=type(command).__name__, size=self._queue.qsize()
            )
            return False
        self._queue.put_nowait(command)
        self.idle.clear()
        return True

    def pending(self) -> int:
        """Commands waiting in the queue."""
        return self._queue.qsize()

    def stop(self) -> None:
        """Drop queued commands and let :meth:`run` return after the current one."""
        self._stopping = True
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(None)

    async def run(self) -> None:
        """Execute commands until :meth:`stop`; a command in progress always completes."""
        while (command := await self._queue.get()) is not None:
            await self._execute_quietly(command)
            if self._queue.empty():
                self.idle.set()
        self.idle.set()

    async def _execute_quietly(self, command: Command) -> None:
        try:
            await self.execute(command)
        except TightLoopTimeout:
            raise
        except Exception as error:
            # A bug or an unexpected reply must not kill the loop; the journal
            # still holds the intent and the next reconcile settles it.
            self._ctx.events.emit(
                Event.BOT_FATAL, command=type(command).__name__, error=repr(error)[:300]
            )

    async def execute(self, command: Command) -> None:
        """Run one command, including its tight-loop reconcile."""
        if isinstance(command, Place):
            await self._place(command.intent)
        elif isinstance(command, Cancel):
            order = self.journal.find(command.client_order_id)
            if order is not None and not order.state.is_terminal:
                await self._reconcile_tight(await self._router.cancel(order))
        else:
            await self._reconcile_tight(None)
            self.journal.checkpoint()

    async def _place(self, intent: OrderIntent) -> None:
        ctx = self._ctx
        refusal = self._gate(intent)
        if refusal is not None:
            ctx.metrics.intents_refused.labels(reason=refusal.split(":")[0]).inc()
            ctx.events.emit(Event.INTENT_REFUSED, symbol=intent.symbol, reason=refusal)
            return
        if self._settings.dry_run:
            ctx.events.emit(
                Event.WOULD_SUBMIT,
                symbol=intent.symbol,
                side=intent.side,
                type=intent.order_type,
                quantity=intent.quantity,
                price=intent.price,
                reduce_only=intent.reduce_only,
            )
            return
        order = self.journal.record_intent(intent)
        ctx.events.emit(
            Event.INTENT_CREATED,
            order.client_order_id,
            symbol=intent.symbol,
            side=intent.side,
            quantity=intent.quantity,
            price=intent.price,
            purpose=intent.purpose,
        )
        await self._reconcile_tight(await self._router.submit(order))

    async def _reconcile_tight(self, order: JournaledOrder | None) -> None:
        """Settle ``order`` (or everything) and refresh positions, or time out."""
        ctx = self._ctx
        started, attempt = ctx.clock(), 0
        while True:
            try:
                if order is None:
                    await sweep(
                        self.journal,
                        self._router,
                        clock=ctx.clock,
                        absent_grace_seconds=self._settings.absent_grace_seconds,
                        after_restart=False,
                    )
                elif not order.state.is_terminal:
                    await self._router.resolve(order)
                for symbol in self._settings.symbols:
                    self._on_position(symbol, await self._venue.fetch_position(symbol))
                return
            except Exception as error:
                elapsed = ctx.clock() - started
                if elapsed >= self._settings.tight_loop_timeout:
                    raise TightLoopTimeout(
                        f"reconcile failing for {elapsed:.0f}s: {error!r}"
                    ) from error
                delay = RECONCILE_BACKOFF[min(attempt, len(RECONCILE_BACKOFF) - 1)]
                attempt += 1
                ctx.events.emit(
                    Event.RECONCILE_MISMATCH,
                    None if order is None else order.client_order_id,
                    verdict="reconcile-failed",
                    attempt=attempt,
                    error=repr(error)[:200],
                )
                await ctx.sleep(min(delay, self._settings.tight_loop_timeout - elapsed))
