"""The order router: send and cancel orders so that ambiguity never duplicates one.

- An intent is SUBMITTING in the journal before its first byte leaves.
- An ambiguous create (timeout after send, dropped connection, 5xx, garbled
  reply) is *unknown*, not failed: the order is looked up by its client id
  before anything else, and only ever resent under the same id, and only once
  the venue has answered that it does not know the id. A lookup that fails
  proves nothing: the outcome stays unknown and the reconciler settles it.
- Reads lag writes (Binance can answer -2013 for an order it accepted seconds
  ago): after an ambiguous create, "not found" counts as absence only once
  ``absent_grace`` has passed since the send; until then the router looks
  again instead of resending. Binance wants a client id unique only among
  *open* orders, so resending the id of an order that already filled would
  place a second order.
- A duplicate-id reply (-4116) is evidence the order exists: fetch it. Only if
  it is provably absent does the id rotate, a bounded number of times.
- A cancel of an order the venue does not know is success unless the venue
  shows the order still open.
- Every wait comes from :class:`RetryPolicy` through one :class:`Retry` per
  request; a -1021 re-syncs the clock before the wait. Every decision is an event with
  the client order id as correlation id: ORDER_SUBMIT is always followed by
  ORDER_RESPONSE or ORDER_ERROR.
- Events are for people and log pipelines; a fact the bot decides on (an order's
  first send) reaches it through :class:`OrderPathHooks`.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from tradewarden.bot.execution.classification import Classified, classify
from tradewarden.bot.execution.client_ids import MAX_ROTATIONS, rotated_client_order_id
from tradewarden.bot.execution.evidence import judge, mismatch
from tradewarden.bot.execution.journal import Journal
from tradewarden.bot.model.order_state import OrderState
from tradewarden.bot.model.orders import JournaledOrder, OrderIntent, OrderType
from tradewarden.bot.model.outcomes import ErrorClass, Operation, Verdict
from tradewarden.bot.model.venue import VenueOrder
from tradewarden.bot.observability.events import Event, EventLog
from tradewarden.bot.observability.metrics import BotMetrics
from tradewarden.bot.retry import Retry, RetryPolicy
from tradewarden.bot.venue.adapter import VenueAdapter

Sleep = Callable[[float], Awaitable[None]]
_CANCELLABLE = (OrderState.OPEN, OrderState.PARTIALLY_FILLED, OrderState.CANCELING)
MAX_BATCH_CANCEL = 10  # Binance's limit per batchOrders request


class LookupFailed(RuntimeError):
    """The venue could not be asked about an order within the retry budget."""


def _ignore_order(order: JournaledOrder) -> None:
    """No one listens for sends."""


@dataclass(frozen=True)
class OrderPathHooks:
    """Facts of the order path the bot decides on, delivered as calls, never as log records.

    ``sent`` runs once per order, just before its first send (a resend under the
    same or a rotated id is the same order), synchronously, and must not raise.
    The event logged at the same moment (ORDER_SUBMIT) is for people and log
    pipelines: renaming or dropping its fields changes no decision. (A failed
    reconcile pass reaches the bot as the reconciler's report, not through here.)
    """

    sent: Callable[[JournaledOrder], None] = _ignore_order


@dataclass
class RouterContext:
    """What the router needs besides the venue: clock, sleep, randomness, telemetry.

    ``dry_run``: nothing that changes the venue is sent. Whoever would send
    logs WOULD_SUBMIT (through :meth:`holds_back`) or WOULD_CANCEL instead;
    the venue adapter refuses any create or cancel behind them
    (:class:`ReadOnlyVenue`).
    """

    journal: Journal
    policy: RetryPolicy
    events: EventLog
    metrics: BotMetrics
    clock: Callable[[], float]
    sleep: Sleep
    rng: random.Random
    dry_run: bool = False
    # How long the venue's reads may miss an order it accepted; see the module docstring.
    absent_grace: float = 0.0
    hooks: OrderPathHooks = OrderPathHooks()

    def retry(self) -> Retry:
        """The attempts of one request under :attr:`policy`."""
        return Retry(self.policy, clock=self.clock, sleep=self.sleep, rng=self.rng)

    def holds_back(self, intent: OrderIntent) -> bool:
        """Whether a dry run keeps ``intent`` from the venue; if so it is logged as WOULD_SUBMIT.

        The one dry-run gate of every place (the worker's, the reconciler's stop
        repairs): the caller sends nothing when this is true.
        """
        if not self.dry_run:
            return False
        self.events.emit(
            Event.WOULD_SUBMIT,
            symbol=intent.symbol,
            side=intent.side,
            type=intent.order_type,
            quantity=intent.quantity,
            price=intent.price,
            reduce_only=intent.reduce_only,
        )
        return True


class OrderRouter:
    """Creates, cancels and looks up orders with one retry policy."""

    def __init__(
        self, venue: VenueAdapter, context: RouterContext, *, lane: VenueAdapter | None = None
    ) -> None:
        """``lane`` is a second client of the same venue for batch cancels (see cancel_many)."""
        self._venue = venue
        self._lane = lane or venue
        self._ctx = context
        self._ticks: dict[str, Decimal] = {}

    async def place(self, intent: OrderIntent) -> JournaledOrder:
        """Journal ``intent`` and send it; the order in its best-evidenced state."""
        order = self._ctx.journal.record_intent(intent)
        self._ctx.events.emit(
            Event.INTENT_CREATED,
            order.client_order_id,
            symbol=intent.symbol,
            side=intent.side,
            quantity=intent.quantity,
            price=intent.price,
            purpose=intent.purpose,
        )
        return await self.submit(order)

    async def submit(self, order: JournaledOrder) -> JournaledOrder:
        """Send an order :meth:`Journal.record_intent` just journaled; its best-evidenced state.

        Returns SUBMITTING only when the outcome is still unknown after the
        retry budget; the reconciler owns it from there.
        """
        ctx, coid = self._ctx, order.client_order_id
        if order.state is not OrderState.SUBMITTING or order.attempts != 1:
            raise ValueError(f"{coid}: only a freshly journaled order is submitted")
        retry, rotations, ever_ambiguous = ctx.retry(), 0, False
        ctx.hooks.sent(order)
        while True:
            attempt = retry.begin()
            if attempt > 1:
                order = ctx.journal.transition(
                    coid, OrderState.SUBMITTING, detail="resend", attempted=True
                )
            ctx.metrics.orders_submitted.inc()
            ctx.events.emit(
                Event.ORDER_SUBMIT,
                coid,
                venue_client_id=order.venue_client_id,
                attempt=attempt,
                symbol=order.intent.symbol,
                side=order.intent.side,
                type=order.intent.order_type,
                quantity=order.intent.quantity,
                price=order.intent.price,
                reduce_only=order.intent.reduce_only,
            )
            sent_at = ctx.clock()
            try:
                seen = await self._venue.create_order(order)
            except Exception as error:
                verdict = self._report_error(coid, error, Operation.CREATE, attempt)
                ctx.metrics.orders_responded.labels(outcome=verdict.error_class.value).inc()
                ctx.journal.note_error(coid, verdict.summary)
                error_class = verdict.error_class
            else:
                ctx.metrics.orders_responded.labels(outcome="accepted").inc()
                ctx.events.emit(
                    Event.ORDER_RESPONSE,
                    coid,
                    attempt=attempt,
                    exchange_order_id=seen.exchange_order_id,
                    state=seen.state,
                    filled=seen.filled,
                )
                return self._adopt(order, seen, "create reply", announce=False)

            if error_class is ErrorClass.REJECTED:
                return ctx.journal.transition(coid, OrderState.REJECTED, detail=verdict.summary)
            if error_class in (ErrorClass.AMBIGUOUS, ErrorClass.DUPLICATE_ID):
                ever_ambiguous = True
                asked, found = await self._lookup_past_read_lag(order, sent_at, retry)
                if found is not None:
                    return self._adopt(order, found, f"lookup after {error_class}")
                if not asked:
                    # The order may exist and may have filled; Binance would take a resend
                    # under its id as a second order then. Only the reconciler may settle it.
                    return self._give_up(order, attempt, "lookups failed, outcome unknown")
                if ctx.clock() - sent_at < ctx.absent_grace:
                    return self._give_up(order, attempt, "retry budget spent, outcome unknown")
                # Rotate only when the venue said the id is free.
                if error_class is ErrorClass.DUPLICATE_ID:
                    if rotations >= MAX_ROTATIONS:
                        return self._give_up(order, attempt, "duplicate id, rotations exhausted")
                    rotations += 1
                    order = ctx.journal.rotate_venue_id(
                        coid,
                        rotated_client_order_id(coid, rotations),
                        detail="venue says duplicate id but no order carries it",
                    )
                    continue
            elif error_class is ErrorClass.UNKNOWN_ORDER:
                # "unknown order" in reply to a create means the venue refused it.
                return ctx.journal.transition(coid, OrderState.REJECTED, detail=verdict.summary)

            if not await self._backoff(retry, error_class, coid, announce={}):
                if ever_ambiguous:
                    return self._give_up(order, attempt, "retry budget spent, outcome unknown")
                return self._abandon_unsent(order, attempt)

    async def cancel(self, order: JournaledOrder) -> JournaledOrder:
        """Cancel an order; unknown-at-venue counts as done unless it is still open."""
        ctx, coid = self._ctx, order.client_order_id
        if order.state.is_terminal:
            return order
        if ctx.dry_run:
            ctx.events.emit(Event.WOULD_CANCEL, coid, venue_client_id=order.venue_client_id)
            return order
        if order.state is OrderState.SUBMITTING:
            # Cancelling what may not exist yet would race the create: settle it first.
            resolved = await self.resolve(order)
            if resolved is None or resolved.state not in _CANCELLABLE:
                return resolved or order
        order = ctx.journal.transition(coid, OrderState.CANCELING, detail="cancel requested")
        retry = ctx.retry()
        while True:
            attempt = retry.begin()
            try:
                seen = await self._venue.cancel_order(
                    order.venue_client_id, order.intent.symbol, stop=_is_stop(order)
                )
            except Exception as error:
                error_class = self._report_error(coid, error, Operation.CANCEL, attempt).error_class
            else:
                ctx.events.emit(Event.ORDER_RESPONSE, coid, operation="cancel", state=seen.state)
                return self._adopt(order, seen, "cancel reply", announce=False)

            if error_class in (ErrorClass.UNKNOWN_ORDER, ErrorClass.AMBIGUOUS):
                asked, found = await self._try_lookup(order)
                # A lookup that failed proves nothing: the order may have filled.
                if asked and found is None:
                    return ctx.journal.transition(
                        coid, OrderState.CANCELED, detail="venue does not know the order"
                    )
                if found is not None and found.state.is_terminal:
                    return self._adopt(order, found, "lookup after cancel error")

            # "Unknown" yet shown open means the venue is lagging: retrying is right.
            if error_class is ErrorClass.UNKNOWN_ORDER:
                error_class = ErrorClass.RETRYABLE
            if not await self._backoff(retry, error_class, coid, announce={"operation": "cancel"}):
                self._cancel_given_up(coid, "cancel", attempt)
                return ctx.journal.get(coid)

    async def cancel_many(self, orders: Sequence[JournaledOrder]) -> list[JournaledOrder]:
        """Cancel several orders; working plain orders go ten to a request.

        What an emergency stop needs: its cancels reach the venue together
        instead of one throttled request each, over the lane, whose throttle
        no recent order has drawn down (ccxt spaces requests after each
        placement, 200 ms on Binance). A batch is sent once; every order it did
        not visibly cancel (refused, already filled, a lost reply), every stop
        (the algo service has no batch cancel) and every order whose create is
        unsettled goes through :meth:`cancel`.
        """
        batched: dict[str, list[JournaledOrder]] = {}
        for order in orders:
            if order.state in _CANCELLABLE and not _is_stop(order) and not self._ctx.dry_run:
                batched.setdefault(order.intent.symbol, []).append(order)
        settled: dict[str, JournaledOrder] = {}
        for symbol, group in batched.items():
            for start in range(0, len(group), MAX_BATCH_CANCEL):
                settled.update(
                    await self._cancel_batch(symbol, group[start : start + MAX_BATCH_CANCEL])
                )
        results = []
        for order in orders:
            done = settled.get(order.client_order_id)
            results.append(done or await self.cancel(self._ctx.journal.get(order.client_order_id)))
        return results

    async def _cancel_batch(
        self, symbol: str, orders: Sequence[JournaledOrder]
    ) -> dict[str, JournaledOrder]:
        """One batch cancel request; the orders it settled, by client order id."""
        ctx = self._ctx
        orders = [
            ctx.journal.transition(
                o.client_order_id, OrderState.CANCELING, detail="cancel requested"
            )
            for o in orders
        ]
        try:
            seen = await self._lane.cancel_orders([o.venue_client_id for o in orders], symbol)
        except Exception as error:
            for order in orders:
                self._report_error(order.client_order_id, error, Operation.CANCEL, 1)
            return {}
        settled = {}
        for order in orders:
            found = seen.get(order.venue_client_id)
            if found is None:
                continue
            ctx.events.emit(
                Event.ORDER_RESPONSE, order.client_order_id, operation="cancel", state=found.state
            )
            settled[order.client_order_id] = self._adopt(
                order, found, "batch cancel reply", announce=False
            )
        return settled

    async def resolve(self, order: JournaledOrder) -> JournaledOrder | None:
        """Bring the journal up to date with the venue's view of one order.

        Returns ``None`` when the venue does not know the order: what absence
        means (abandon, cancel) is the caller's call. Raises
        :class:`LookupFailed` when the venue cannot be asked.
        """
        found = await self.lookup(order)
        return None if found is None else self._adopt(order, found, "lookup")

    async def lookup(self, order: JournaledOrder) -> VenueOrder | None:
        """The venue's view of ``order`` by client id, ``None`` if it has none.

        An order under that id that is not the intent (an earlier journal's, a
        reused id) is not this order: a conflict is reported and the answer is
        ``None``, so it is never adopted.
        """
        ctx, coid = self._ctx, order.client_order_id
        retry = ctx.retry()
        while True:
            retry.begin()
            try:
                seen = await self._venue.fetch_order(
                    order.venue_client_id, order.intent.symbol, stop=_is_stop(order)
                )
            except Exception as error:
                verdict = classify(error, Operation.READ)
                if verdict.error_class is ErrorClass.UNKNOWN_ORDER:
                    ctx.events.emit(Event.ORDER_LOOKUP, coid, found=False)
                    return None
                if not await self._backoff(retry, verdict.error_class, coid):
                    raise LookupFailed(f"{coid}: {verdict.summary}") from error
            else:
                different = mismatch(order.intent, seen, self._tick(order))
                if different is not None:
                    self._mismatch(coid, Verdict.CONFLICT, different)
                    ctx.events.emit(Event.ORDER_LOOKUP, coid, found=False, other=True)
                    return None
                ctx.events.emit(Event.ORDER_LOOKUP, coid, found=True, state=seen.state)
                return seen

    async def cancel_unjournaled(self, venue_client_id: str, symbol: str, *, stop: bool) -> bool:
        """Cancel an order the journal never issued (a stray); True once it is gone.

        Idempotent: an order the venue does not know (already cancelled,
        filled, never there) counts as gone. False when the retry budget ran
        out with the order possibly still working; the next reconcile retries.
        """
        ctx, retry = self._ctx, self._ctx.retry()
        while True:
            attempt = retry.begin()
            try:
                await self._venue.cancel_order(venue_client_id, symbol, stop=stop)
            except Exception as error:
                error_class = self._report_error(
                    venue_client_id, error, Operation.CANCEL, attempt
                ).error_class
            else:
                ctx.events.emit(Event.ORDER_RESPONSE, venue_client_id, operation="cancel-stray")
                return True
            if error_class is ErrorClass.UNKNOWN_ORDER:
                return True
            if not await self._backoff(retry, error_class, venue_client_id):
                self._cancel_given_up(venue_client_id, "cancel-stray", attempt)
                return False

    def adopt(self, order: JournaledOrder, seen: VenueOrder, source: str) -> JournaledOrder:
        """Apply a venue snapshot of ``order`` read elsewhere (e.g. an open-orders list)."""
        return self._adopt(order, seen, source)

    async def _backoff(
        self,
        retry: Retry,
        error_class: ErrorClass,
        correlation_id: str,
        *,
        announce: dict[str, str] | None = None,
    ) -> bool:
        """Wait before the next attempt as the policy says; False (no wait) when it gives up.

        A clock skew re-syncs the clock first. Each retry is counted; with
        ``announce`` (extra fields) it is also an ORDER_RETRY event.
        """
        ctx = self._ctx
        if error_class is ErrorClass.CLOCK_SKEW:
            await self.resync_clock(correlation_id)
        delay = retry.next_delay(error_class)
        if delay is None:
            return False
        ctx.metrics.retries.labels(reason_class=error_class.value).inc()
        if announce is not None:
            ctx.events.emit(
                Event.ORDER_RETRY,
                correlation_id,
                **announce,
                attempt=retry.attempt,
                delay=round(delay, 3),
            )
        await retry.wait(delay)
        return True

    def _cancel_given_up(self, correlation_id: str, operation: str, attempts: int) -> None:
        self._ctx.metrics.giveups.labels(operation="cancel").inc()
        self._ctx.events.emit(
            Event.ORDER_GIVEUP, correlation_id, operation=operation, attempts=attempts
        )

    def _report_error(
        self, coid: str, error: Exception, operation: Operation, attempt: int
    ) -> Classified:
        verdict = classify(error, operation)
        # Create errors carry no "operation" field: ORDER_SUBMIT/ORDER_ERROR pair up.
        extra = {} if operation is Operation.CREATE else {"operation": operation.value}
        self._ctx.events.emit(
            Event.ORDER_ERROR,
            coid,
            attempt=attempt,
            error_class=verdict.error_class,
            venue_code=verdict.venue_code,
            error=verdict.summary,
            **extra,
        )
        return verdict

    async def _lookup_past_read_lag(
        self, order: JournaledOrder, sent_at: float, retry: Retry
    ) -> tuple[bool, VenueOrder | None]:
        """Look ``order`` up until it is found or its absence outlasts the read lag.

        ``(asked, found)`` as :meth:`_try_lookup`. An absence younger than
        ``absent_grace`` since ``sent_at`` is no evidence: look again after the
        policy's delay (never past the grace) on the request's ``retry``. When its time budget
        ends first, the absence is still unproven: the caller must not resend.
        """
        ctx, waits = self._ctx, 0
        while True:
            asked, found = await self._try_lookup(order)
            grace_left = ctx.absent_grace - (ctx.clock() - sent_at)
            if found is not None or not asked or grace_left <= 0:
                return asked, found
            waits += 1
            delay = min(retry.delay(waits, ErrorClass.AMBIGUOUS), grace_left)
            if not retry.policy.fits(retry.elapsed, delay):
                return asked, found
            await retry.wait(delay)

    async def _try_lookup(self, order: JournaledOrder) -> tuple[bool, VenueOrder | None]:
        """``(asked, found)``: ``asked`` is False when the venue could not be asked at all."""
        try:
            return True, await self.lookup(order)
        except LookupFailed:
            return False, None

    async def resync_clock(self, correlation_id: str | None) -> None:
        """Re-measure the venue clock after a -1021; a failure is logged, not raised."""
        try:
            await self._venue.sync_time()
        except Exception as error:
            self._ctx.events.emit(
                Event.ORDER_ERROR, correlation_id, operation="time-sync", error=str(error)
            )

    def _adopt(
        self, order: JournaledOrder, seen: VenueOrder, source: str, *, announce: bool = True
    ) -> JournaledOrder:
        """Apply a venue snapshot; ``announce=False`` when ORDER_RESPONSE already said it."""
        ctx, coid = self._ctx, order.client_order_id
        current = ctx.journal.get(coid)
        judgement = judge(current, seen, self._tick(current))
        if judgement.verdict is Verdict.APPLY:
            updated = ctx.journal.transition(
                coid,
                seen.state,
                filled=seen.filled,
                average_price=seen.average_price,
                exchange_order_id=seen.exchange_order_id,
                detail=source,
            )
            if announce:
                ctx.events.emit(
                    Event.ORDER_STATE,
                    coid,
                    state=updated.state,
                    filled=updated.filled,
                    source=source,
                )
            return updated
        if judgement.verdict is not Verdict.SAME:
            self._mismatch(coid, judgement.verdict, judgement.reason)
        return current

    def _tick(self, order: JournaledOrder) -> Decimal:
        """The price tick of the order's symbol (markets are loaded before any order)."""
        symbol = order.intent.symbol
        tick = self._ticks.get(symbol)
        if tick is None:
            tick = self._ticks[symbol] = self._venue.market_limits(symbol)[1]
        return tick

    def _mismatch(self, coid: str, verdict: Verdict, reason: str) -> None:
        self._ctx.metrics.reconcile_mismatches.labels(kind=verdict.value).inc()
        self._ctx.events.emit(Event.RECONCILE_MISMATCH, coid, verdict=verdict, reason=reason)

    def _give_up(self, order: JournaledOrder, attempts: int, reason: str) -> JournaledOrder:
        ctx = self._ctx
        ctx.metrics.giveups.labels(operation="create").inc()
        ctx.events.emit(Event.ORDER_GIVEUP, order.client_order_id, attempts=attempts, reason=reason)
        return ctx.journal.get(order.client_order_id)

    def _abandon_unsent(self, order: JournaledOrder, attempts: int) -> JournaledOrder:
        # Every attempt was refused before the venue acted on it (429, -1021,
        # retryable), so nothing exists to wait for.
        self._give_up(order, attempts, "retry budget spent, never accepted")
        return self._ctx.journal.transition(
            order.client_order_id, OrderState.ABANDONED, detail="never accepted by the venue"
        )


def _is_stop(order: JournaledOrder) -> bool:
    # Stops live in the venue's algo service and are addressed there.
    return order.intent.order_type is OrderType.STOP_MARKET
