"""The execution worker: one command at a time, each reconciled before the next.

Commands arrive on a bounded queue. Producers (strategy, timers) never wait on
it: a full queue drops the command and raises an alarm, so market data never
stalls behind execution. A command equal to one already waiting or running is
not queued twice, so a slow venue cannot pile up reconciles. Urgent commands
(what a restrictive posture demands: cancels, flatten closes) go before
everything queued. Every command ends in the reconcile loop (a full
reconciler pass, retried until one completes), and urgent commands drain at
one place, the top of that loop: their cancels leave together (batched per
symbol), a pass still reading the venue gives way to them and starts over,
and a pass waiting to retry failed reads stops waiting for them. If the passes
keep failing past the tight-loop timeout the worker raises
:class:`TightLoopTimeout` and the bot exits non-zero so the pod restarts, with
the journal making the restart safe. After :meth:`stop` the command in
progress completes its request but retries nothing.

Cancel/replace loops are bounded: each cancel command already stops after the
retry budget; after ``max_cancel_replace`` cancel commands in a row left one
order working, the strategy's further cancels of it are dropped (ORDER_GIVEUP,
operation=cancel) until a cool-down passes. Cancels the posture demands are
urgent and not bounded here: the bot paces those itself.

Rejection loops are bounded too: once the venue's filters refuse an order
(precision, tick, step, minimum notional: ``FILTER_CODES``), further orders of
that symbol, side and kind are refused before sending (INTENT_REFUSED
``venue-filter``, naming the venue's error) until a hold passes; the strategy
would propose the same order every tick and get the same answer.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

from tradewarden.api.error_text import error_text
from tradewarden.api.tradingbot import ExecutionSpec
from tradewarden.bot.execution.admission import refusal_kind
from tradewarden.bot.execution.classification import FILTER_CODES, classify, venue_code
from tradewarden.bot.execution.journal import Journal
from tradewarden.bot.execution.router import OrderRouter, RouterContext
from tradewarden.bot.model.order_state import OrderState
from tradewarden.bot.model.orders import Cancel, JournaledOrder, OrderIntent, Place, Side
from tradewarden.bot.model.outcomes import ErrorClass, Operation, RefusalKind
from tradewarden.bot.observability.events import Event
from tradewarden.bot.reliability.reconciler import PassInterrupted, Reconciler
from tradewarden.bot.retry import Retry, RetryPolicy

# Tight-loop reconcile: three quick retries, then keep the last spacing until
# the timeout (the execution-manager spec's 1 s, 2 s, 4 s schedule). The policy
# never gives up: the tight-loop timeout ends the loop, as a fatal error.
RECONCILE_RETRY = RetryPolicy(base_delay=1.0, max_delay=4.0, jitter=0.0)


@dataclass(frozen=True)
class ReconcileAll:
    """Settle every non-terminal intent and refresh positions."""


Command = Place | Cancel | ReconcileAll
Gate = Callable[[OrderIntent], str | None]


def same_command(a: Command, b: Command) -> bool:
    """Whether ``b`` would repeat ``a``: cancels of one order, or equal commands."""
    if isinstance(a, Cancel) and isinstance(b, Cancel):
        return a.client_order_id == b.client_order_id
    return a == b


class CommandQueue:
    """Waiting commands, urgent ones first, without repeats. Pure bookkeeping.

    ``running`` holds the commands being executed (an urgent one may run inside
    another's reconcile), so an offer that would repeat one of them is dropped too.
    ``urgent`` is set exactly while urgent commands wait, for code that must
    notice them mid-await (a reconcile pass giving way).
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._urgent: deque[Command] = deque()
        self._normal: deque[Command] = deque()
        self.running: list[Command] = []
        self.urgent = asyncio.Event()

    def _track_urgent(self) -> None:
        if self._urgent:
            self.urgent.set()
        else:
            self.urgent.clear()

    def _all(self) -> Iterator[Command]:
        yield from self.running
        yield from self._urgent
        yield from self._normal

    def holds(self, command: Command) -> bool:
        """Whether ``command`` (or one it would repeat) is waiting or running."""
        return any(same_command(other, command) for other in self._all())

    def put(self, command: Command, *, urgent: bool = False) -> bool:
        """Queue ``command``; False only if the normal queue is full.

        A repeat of a waiting or running command is not queued (and is no failure).
        Urgent commands are few (one per working order at most) and never refused.
        """
        if self.holds(command):
            return True
        if urgent:
            self._urgent.append(command)
            self._track_urgent()
            return True
        if len(self._normal) >= self.limit:
            return False
        self._normal.append(command)
        return True

    def take_urgent_cancels(self) -> list[Cancel]:
        """Every urgent cancel waiting, in order; other urgent commands stay queued."""
        cancels = [command for command in self._urgent if isinstance(command, Cancel)]
        self._urgent = deque(command for command in self._urgent if not isinstance(command, Cancel))
        self._track_urgent()
        return cancels

    def take(self, *, urgent_only: bool = False) -> Command | None:
        """The next command to run (urgent first), or ``None``."""
        if self._urgent:
            command = self._urgent.popleft()
            self._track_urgent()
            return command
        if self._normal and not urgent_only:
            return self._normal.popleft()
        return None

    def orders_pending(self) -> bool:
        """Whether an order command (place or cancel) waits or runs."""
        return any(isinstance(command, Place | Cancel) for command in self._all())

    def __len__(self) -> int:
        return len(self._urgent) + len(self._normal)

    def clear(self) -> None:
        """Drop every waiting command."""
        self._urgent.clear()
        self._normal.clear()
        self._track_urgent()


@dataclass
class CancelAttempts:
    """Per order, the cancel commands in a row that left it working. Pure bookkeeping."""

    limit: int
    cooldown: float
    _failed: dict[str, int] = field(default_factory=dict)
    _exhausted_at: dict[str, float] = field(default_factory=dict)

    def exhausted(self, client_order_id: str, now: float) -> bool:
        """Whether cancels of the order are given up on at ``now``."""
        since = self._exhausted_at.get(client_order_id)
        if since is None:
            return False
        if now - since < self.cooldown:
            return True
        # The cool-down passed: another bounded round of attempts.
        del self._exhausted_at[client_order_id]
        self._failed.pop(client_order_id, None)
        return False

    def record(self, client_order_id: str, *, settled: bool, now: float) -> int | None:
        """One cancel command's outcome; the attempt count when it just ran out, else None."""
        if settled:
            self._failed.pop(client_order_id, None)
            self._exhausted_at.pop(client_order_id, None)
            return None
        failed = self._failed.get(client_order_id, 0) + 1
        self._failed[client_order_id] = failed
        if failed < self.limit:
            return None
        self._exhausted_at[client_order_id] = now
        return failed


@dataclass
class FilterHolds:
    """Orders the venue's filters refused, held back by symbol, side and kind. Pure bookkeeping.

    A hold starts when a send is refused with a filter code and ends ``hold``
    seconds later; the next order of that kind is then sent again, and a second
    refusal holds it again: one refused send per kind and hold, never one per tick.
    """

    hold: float
    _held: dict[tuple[str, Side, bool], tuple[float, str]] = field(default_factory=dict)

    @staticmethod
    def _key(intent: OrderIntent) -> tuple[str, Side, bool]:
        return intent.symbol, intent.side, intent.reduce_only

    def record(self, order: JournaledOrder, now: float) -> None:
        """Hold the order's kind if the venue's filters refused it."""
        error = order.last_error or ""
        if order.state is OrderState.REJECTED and venue_code(error) in FILTER_CODES:
            self._held[self._key(order.intent)] = (now + self.hold, error)

    def refusal(self, intent: OrderIntent, now: float) -> str | None:
        """Why ``intent`` is held back at ``now``, or ``None`` if it may be sent."""
        until, error = self._held.get(self._key(intent), (0.0, ""))
        if now >= until:
            self._held.pop(self._key(intent), None)
            return None
        return (
            f"{RefusalKind.VENUE_FILTER}: the venue refused the last such order "
            f"({error}); held for {until - now:.0f}s"
        )


class TightLoopTimeout(RuntimeError):
    """Reconciliation kept failing past the tight-loop timeout."""


# The CRD's defaults (spec.execution), for a worker built without a TradingBot.
_EXECUTION_DEFAULTS = ExecutionSpec()


@dataclass(frozen=True)
class WorkerSettings:
    """Knobs of the execution worker."""

    tight_loop_timeout: float = _EXECUTION_DEFAULTS.tight_loop_timeout_seconds
    queue_size: int = 64
    # Cancel commands in a row that may leave one order working, and how long
    # further cancels of it are then dropped (spec.execution.maxCancelReplace,
    # maxElapsedSeconds).
    max_cancel_replace: int = _EXECUTION_DEFAULTS.max_cancel_replace
    cancel_giveup_seconds: float = _EXECUTION_DEFAULTS.max_elapsed_seconds
    # How long orders of a kind the venue's filters refused are held back (FilterHolds).
    filter_hold_seconds: float = _EXECUTION_DEFAULTS.max_elapsed_seconds

    @classmethod
    def from_spec(cls, execution: ExecutionSpec) -> WorkerSettings:
        """The settings a TradingBot's ``spec.execution`` asks for."""
        return cls(
            tight_loop_timeout=execution.tight_loop_timeout_seconds,
            max_cancel_replace=execution.max_cancel_replace,
            cancel_giveup_seconds=execution.max_elapsed_seconds,
            filter_hold_seconds=execution.max_elapsed_seconds,
        )


class ExecutionWorker:
    """Runs commands sequentially against the venue."""

    def __init__(
        self,
        router: OrderRouter,
        context: RouterContext,
        reconciler: Reconciler,
        *,
        settings: WorkerSettings,
        gate: Gate,
    ) -> None:
        self._router = router
        self._ctx = context
        self._settings = settings
        self._gate = gate
        self.reconciler = reconciler
        self._queue = CommandQueue(settings.queue_size)
        self._cancels = CancelAttempts(
            max(1, settings.max_cancel_replace), settings.cancel_giveup_seconds
        )
        self._filter_holds = FilterHolds(settings.filter_hold_seconds)
        self._wakeup = asyncio.Event()
        # Set while run() waits with nothing queued: every command offered so far has run.
        self._idle = asyncio.Event()
        self._stopping = False

    @property
    def journal(self) -> Journal:
        """The journal the worker writes."""
        return self._ctx.journal

    def offer(self, command: Command, *, urgent: bool = False) -> bool:
        """Queue ``command`` without waiting; False (and an alarm) if the queue is full.

        ``urgent`` puts it before every waiting command and lets it run between
        the attempts of a reconcile that keeps failing.
        """
        if self._stopping:
            return False
        if not self._queue.put(command, urgent=urgent):
            self._ctx.metrics.execution_queue_full.inc()
            self._ctx.events.emit(
                Event.EXECUTION_QUEUE_FULL, command=type(command).__name__, size=len(self._queue)
            )
            return False
        self._idle.clear()
        self._wakeup.set()
        return True

    def pending(self) -> int:
        """Commands waiting in the queue."""
        return len(self._queue)

    def holds(self, command: Command) -> bool:
        """Whether ``command`` (or one it would repeat) waits or runs."""
        return self._queue.holds(command)

    def orders_pending(self) -> bool:
        """Whether a place or cancel waits or runs: proposing now could repeat it."""
        return self._queue.orders_pending()

    async def drained(self) -> None:
        """Return once every command offered before (and while) waiting has run."""
        await self._idle.wait()

    def stop(self) -> None:
        """Drop queued commands and let :meth:`run` return after the current one."""
        self._stopping = True
        self._queue.clear()
        self._wakeup.set()

    async def run(self) -> None:
        """Execute commands until :meth:`stop`; a command in progress always completes."""
        while not self._stopping:
            if self._queue.urgent.is_set():
                # A pass runs the urgent commands first, then settles them all at once.
                await self._run(ReconcileAll(), self._execute_quietly)
                continue
            command = self._queue.take()
            if command is None:
                self._wakeup.clear()
                self._idle.set()
                await self._wakeup.wait()
                continue
            if self._cancel_given_up(command):
                continue
            await self._run(command, self._execute_quietly)

    async def _run(self, command: Command, how: Callable[[Command], Awaitable[None]]) -> None:
        self._queue.running.append(command)
        try:
            await how(command)
        finally:
            self._queue.running.remove(command)

    async def _execute_quietly(self, command: Command) -> None:
        try:
            await self.execute(command)
        except TightLoopTimeout:
            raise
        except Exception as error:
            # A bug or an unexpected reply must not kill the loop; the journal
            # still holds the intent and the next reconcile settles it.
            self._fatal(type(command).__name__, error)

    async def execute(self, command: Command) -> None:
        """Run one command, including its tight-loop reconcile."""
        if isinstance(command, ReconcileAll):
            await self._reconcile_tight(None)
            self.journal.checkpoint()
            return
        order = await self._send(command)
        if order is not None:
            await self._reconcile_tight(order.client_order_id)

    async def _send(self, command: Place | Cancel) -> JournaledOrder | None:
        """Send one order command without reconciling it; the order it touched, if any."""
        if isinstance(command, Place):
            return await self._place(command.intent)
        order = self.journal.find(command.client_order_id)
        if order is None or order.state.is_terminal:
            return None
        order = await self._router.cancel(order)
        self._count_cancel(order)
        return order

    def _count_cancel(self, order: JournaledOrder) -> None:
        """Bound cancel/replace: note whether a cancel command left ``order`` working."""
        ctx = self._ctx
        attempts = self._cancels.record(
            order.client_order_id, settled=order.state.is_terminal, now=ctx.clock()
        )
        if attempts is not None:
            ctx.metrics.giveups.labels(operation="cancel").inc()
            ctx.events.emit(
                Event.ORDER_GIVEUP,
                order.client_order_id,
                operation="cancel",
                attempts=attempts,
                reason=f"{attempts} cancel commands left the order working",
            )

    def _cancel_given_up(self, command: Command) -> bool:
        """Whether ``command`` is a cancel of an order whose cancels are given up on."""
        return isinstance(command, Cancel) and self._cancels.exhausted(
            command.client_order_id, self._ctx.clock()
        )

    async def _send_quietly(self, command: Command) -> None:
        # Runs inside another command's reconcile, which settles what this sends.
        if isinstance(command, ReconcileAll):
            return
        try:
            await self._send(command)
        except Exception as error:
            self._fatal(type(command).__name__, error)

    def _fatal(self, what: str, error: Exception) -> None:
        self._ctx.events.emit(Event.BOT_FATAL, command=what, error=error_text(error))

    async def _run_urgent(self) -> None:
        """Run the urgent commands waiting now (what a restrictive posture demands).

        Its cancels go first and together: an emergency stop pays for one
        request per symbol, not one throttled request per order.
        """
        while not self._stopping:
            cancels = self._queue.take_urgent_cancels()
            if cancels:
                await self._cancel_together(cancels)
                continue
            command = self._queue.take(urgent_only=True)
            if command is None:
                return
            await self._run(command, self._send_quietly)

    async def _cancel_together(self, cancels: list[Cancel]) -> None:
        self._queue.running.extend(cancels)
        try:
            orders = [
                order
                for cancel in cancels
                if (order := self.journal.find(cancel.client_order_id)) is not None
                and not order.state.is_terminal
            ]
            for order in await self._router.cancel_many(orders):
                self._count_cancel(order)
        except Exception as error:
            self._fatal("Cancel", error)
        finally:
            for cancel in cancels:
                self._queue.running.remove(cancel)

    async def _place(self, intent: OrderIntent) -> JournaledOrder | None:
        ctx = self._ctx
        refusal = self._gate(intent) or self._filter_holds.refusal(intent, ctx.clock())
        if refusal is not None:
            ctx.metrics.intents_refused.labels(reason=refusal_kind(refusal)).inc()
            ctx.events.emit(Event.INTENT_REFUSED, symbol=intent.symbol, reason=refusal)
            return None
        if ctx.holds_back(intent):
            return None
        order = await self._router.place(intent)
        self._filter_holds.record(order, ctx.clock())
        return order

    async def _reconcile_tight(self, correlation_id: str | None) -> None:
        """Run reconcile passes until one completes (it settles every live order), or time out.

        The top of this loop is the one place urgent commands run: cancels a
        restrictive posture demanded meanwhile go out before the pass, which
        then settles them with everything else, so an emergency stop pays for
        one pass, not one per cancelled order. ``correlation_id`` names the
        order that asked for the pass in the events.
        """
        ctx = self._ctx
        # Counts failed passes only: a pass that gave way to urgent work starts over.
        retry = Retry(RECONCILE_RETRY, clock=ctx.clock, sleep=ctx.sleep)
        while True:
            await self._run_urgent()
            try:
                await self.reconciler.reconcile(give_way=self._queue.urgent)
                return
            except PassInterrupted:
                if self._stopping:
                    return
                # Only reads were lost: the urgent commands go now, then a fresh pass.
                continue
            except Exception as error:
                retry.begin()
                elapsed = retry.elapsed
                if elapsed >= self._settings.tight_loop_timeout:
                    raise TightLoopTimeout(
                        f"reconcile failing for {elapsed:.0f}s: {error!r}"
                    ) from error
                ctx.events.emit(
                    Event.RECONCILE_MISMATCH,
                    correlation_id,
                    verdict="reconcile-failed",
                    attempt=retry.attempt,
                    error=error_text(error),
                )
                if self._stopping:
                    # Shutting down: the journal lets the next start settle it.
                    return
                if classify(error, Operation.READ).error_class is ErrorClass.CLOCK_SKEW:
                    # Reads are signed too: without a re-sync they would fail until the timeout.
                    await self._router.resync_clock(correlation_id)
                # The last wait ends at the timeout: one more pass, then the verdict.
                await self._wait_unless_urgent(
                    retry, min(retry.delay(), self._settings.tight_loop_timeout - elapsed)
                )

    async def _wait_unless_urgent(self, retry: Retry, seconds: float) -> None:
        """Wait ``seconds`` before the next pass; urgent commands arriving end the wait."""
        urgent = self._queue.urgent
        if urgent.is_set():
            return
        waits = [asyncio.ensure_future(retry.wait(seconds)), asyncio.ensure_future(urgent.wait())]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()
            await asyncio.gather(*waits, return_exceptions=True)
