"""The reconciler: one pass compares the journal with the venue and repairs what it may.

A pass, per symbol: read the open orders and open stops; settle every live
journal order (adopted from that snapshot, partial fills included, or looked
up by client id); read the position; compare (:mod:`comparison`); track and
cancel strays (:mod:`strays`); check and repair the protective stop
(:mod:`protection`); hand a :class:`ReconcileReport` to the bot. The
decisions are pure functions; this module only reads, sends and remembers.

The execution worker runs a pass after every order and on the reconcile
timer, one command at a time, so a pass never races the bot's own orders.
While a pass is still only reading, it gives way to urgent commands (an
emergency stop's cancels): the read in flight is dropped (a read changes
nothing, and it may sit in ccxt's throttle for a while), the pass stops with
:class:`PassInterrupted` before deciding anything, and the worker starts it
over once they are sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TypeVar

from tradewarden.bot.execution.router import OrderRouter, RouterContext
from tradewarden.bot.execution.sweep import sweep
from tradewarden.bot.model.order_state import OrderState
from tradewarden.bot.model.orders import JournaledOrder, OrderIntent, OrderType, Purpose
from tradewarden.bot.model.venue import VenueOrder, VenuePosition, VenueStop
from tradewarden.bot.observability.events import Event
from tradewarden.bot.observability.metrics import SNAPSHOT_MISMATCH
from tradewarden.bot.reliability.comparison import Comparison, VenueView, compare
from tradewarden.bot.reliability.protection import (
    ProtectionSettings,
    ProtectionState,
    StopPlan,
    decide_protection,
    plan_stop,
)
from tradewarden.bot.reliability.report import ReconcileReport
from tradewarden.bot.reliability.strays import StrayState, StrayVerdict, owned, track_strays
from tradewarden.bot.venue.adapter import VenueAdapter

Gate = Callable[[OrderIntent], str | None]
PositionSink = Callable[[str, Decimal], None]
ReportSink = Callable[[ReconcileReport], None]


@dataclass(frozen=True)
class ReconcilerSettings:
    """What a pass needs to know about the bot."""

    symbols: tuple[str, ...]
    bot_prefix: str  # client-id prefix of every order this bot sends
    absent_grace_seconds: float
    drift_detections: int  # guards.drift.detectionsInARow
    protection: ProtectionSettings
    # Least time drift stays detected after a confirmation (see track_strays).
    drift_hold_seconds: float = 0.0


@dataclass
class SymbolWatch:
    """What the reconciler remembers about one symbol between passes."""

    strays: StrayState = field(default_factory=StrayState)
    drift: StrayVerdict = field(default_factory=lambda: StrayVerdict((), (), 0, False))
    protection: ProtectionState = field(default_factory=ProtectionState)
    protected: bool = True
    gave_up: bool = False  # stop repairs are exhausted (reported once)
    # Venue position minus the journal's net fills: what the account held apart
    # from the bot. Set by :meth:`Reconciler.baseline`, else learnt on the first pass.
    offset: Decimal | None = None


class PassInterrupted(Exception):
    """A pass stopped during its reads to let urgent commands go first."""


class Reconciler:
    """Runs reconcile passes; the bot reads ``watch`` for /status."""

    def __init__(
        self,
        venue: VenueAdapter,
        router: OrderRouter,
        context: RouterContext,
        settings: ReconcilerSettings,
        *,
        gate: Gate,
        on_position: PositionSink,
        on_report: ReportSink,
    ) -> None:
        self._venue = venue
        self._router = router
        self._ctx = context
        self._settings = settings
        self._gate = gate
        self._on_position = on_position
        self._on_report = on_report
        self.watch = {symbol: SymbolWatch() for symbol in settings.symbols}

    def baseline(self, symbol: str, offset: Decimal) -> None:
        """Fix what ``symbol``'s position holds apart from the journal's fills.

        The bot reads it once its journal is settled and no order is working,
        so a position that appears later (someone else trading the account, a
        lost fill) is divergence rather than part of the baseline. Without a
        baseline the first pass learns it, stale snapshot or not.
        """
        self.watch[symbol].offset = offset

    def rebaseline(self) -> None:
        """Forget every baseline: the next pass takes the venue's positions as given.

        For a person's release of the kill switch, which vouches for what the
        venue holds now.
        """
        for watch in self.watch.values():
            watch.offset = None

    async def reconcile(self, give_way: asyncio.Event | None = None) -> list[ReconcileReport]:
        """One pass over every symbol.

        A read failure is reported (``read_failed``) and then raised, so the
        caller's retry and tight-loop timeout apply. The report is the bot's
        one account of the failed pass (one failed broker read): the caller
        counts nothing more. Once ``give_way`` is set during the reads, the
        pass raises :class:`PassInterrupted`.
        """
        reports = []
        for symbol in self._settings.symbols:
            try:
                report = await self._pass(symbol, give_way)
            except PassInterrupted:
                raise
            except Exception:
                self._on_report(ReconcileReport(symbol, self._ctx.clock(), read_failed=True))
                raise
            self._on_report(report)
            reports.append(report)
        return reports

    async def _pass(self, symbol: str, give_way: asyncio.Event | None) -> ReconcileReport:
        ctx, watch = self._ctx, self.watch[symbol]
        started = ctx.clock()
        read = await self._read_and_compare(symbol, give_way)
        if read[2].contradictory:
            # A fill can land between the reads. Every snapshot goes stale with
            # it (the open-orders list still shows the filled order), so the
            # whole read is taken once more before calling them contradictory.
            read = await self._read_and_compare(symbol, give_way)
        open_stops, position, comparison, unseen = read
        self._on_position(symbol, position.size)
        if watch.offset is None:
            watch.offset = position.size - ctx.journal.net_filled(symbol)
        snapshot_age = ctx.clock() - started
        for mismatch in comparison.mismatches:
            ctx.metrics.reconcile_mismatches.labels(kind=SNAPSHOT_MISMATCH).inc()
            ctx.events.emit(Event.RECONCILE_MISMATCH, None, symbol=symbol, reason=mismatch)

        stop_ids = {s.venue_client_id for s in open_stops}
        watch.strays, watch.drift = track_strays(
            watch.strays,
            comparison.unknown_owned,
            self._settings.drift_detections,
            now=ctx.clock(),
            hold_seconds=self._settings.drift_hold_seconds,
        )
        for venue_id in watch.drift.confirmed:
            if ctx.dry_run:
                # A dry run's strays are often a live bot's orders: never touch them.
                ctx.events.emit(Event.WOULD_CANCEL, venue_id, symbol=symbol, reason="stray")
                action = "would-cancel"
            else:
                gone = await self._router.cancel_unjournaled(
                    venue_id, symbol, stop=venue_id in stop_ids
                )
                action = "cancelled" if gone else "cancel-failed"
            ctx.events.emit(
                Event.RECONCILE_MISMATCH, venue_id, symbol=symbol, verdict="stray", action=action
            )

        watch.protected = await self._protect(
            symbol, position, open_stops, frozenset(comparison.unknown_owned), unseen
        )
        return ReconcileReport(
            symbol=symbol,
            at=ctx.clock(),
            mismatches=comparison.mismatches,
            strays=watch.drift.strays,
            strays_confirmed=watch.drift.confirmed,
            drift_detected=watch.drift.detected,
            contradictory=comparison.contradictory,
            snapshot_age_seconds=snapshot_age,
            position=position.size,
            unprotected=not watch.protected,
        )

    async def _read_and_compare(
        self, symbol: str, give_way: asyncio.Event | None
    ) -> tuple[Sequence[VenueStop], VenuePosition, Comparison, frozenset[str]]:
        """The venue's stops and position, the comparison, and the live orders not seen yet."""
        venue = self._venue
        live_when_read = frozenset(o.venue_client_id for o in self._live(symbol))
        open_orders = await _read(venue.fetch_open_orders(symbol), give_way)
        open_stops = await _read(venue.fetch_open_stops(symbol), give_way)
        # Settling adopts what the venue says order by order: it is not dropped halfway.
        unseen = await self._settle(symbol, {o.venue_client_id: o for o in open_orders})
        position = await _read(venue.fetch_position_detail(symbol), give_way)
        view = VenueView(open_orders, open_stops, position.size)
        comparison = self._compare(symbol, view, live_when_read, unseen)
        return open_stops, position, comparison, unseen

    async def _settle(
        self, symbol: str, snapshot: Mapping[str, VenueOrder] | None
    ) -> frozenset[str]:
        """Settle the live orders; the venue ids of those its reads miss within the grace."""
        journal = self._ctx.journal
        missed = await sweep(
            journal,
            self._router,
            clock=self._ctx.clock,
            absent_grace_seconds=self._settings.absent_grace_seconds,
            symbol=symbol,
            snapshot=snapshot,
        )
        return frozenset(journal.get(coid).venue_client_id for coid in missed)

    def _live(self, symbol: str) -> list[JournaledOrder]:
        return [o for o in self._ctx.journal.non_terminal() if o.intent.symbol == symbol]

    def _compare(
        self,
        symbol: str,
        view: VenueView,
        live_when_read: frozenset[str],
        unseen: frozenset[str],
    ) -> Comparison:
        journal = self._ctx.journal
        ids = [o.venue_client_id for o in view.open_orders]
        ids += [s.venue_client_id for s in view.open_stops]
        mine = {vid: journal.find_by_venue_id(vid) for vid in owned(ids, self._settings.bot_prefix)}
        return compare(
            view,
            self._live(symbol),
            mine,
            net_filled=journal.net_filled(symbol),
            offset=self.watch[symbol].offset,
            live_when_read=live_when_read,
            unseen=unseen,
        )

    async def _protect(
        self,
        symbol: str,
        position: VenuePosition,
        stops: Sequence[VenueStop],
        strays: frozenset[str],
        unseen: frozenset[str],
    ) -> bool:
        """Check the stop, repair it if due; True when the position is protected."""
        ctx, watch, settings = self._ctx, self.watch[symbol], self._settings.protection
        step, tick = self._venue.market_limits(symbol)
        own = [order for order in self._live(symbol) if order.intent.purpose is Purpose.STOP]
        watch.protection, decision = decide_protection(
            settings,
            watch.protection,
            plan=plan_stop(position, settings.stop_distance_pct, step, tick),
            venue_stops=stops,
            own_stops=own,
            strays=strays,
            now=ctx.clock(),
            unseen=unseen,
        )
        protected, missing = decision.protected, decision.missing
        if decision.place is not None:
            protected = await self._place_stop(symbol, decision.place, decision.reason)
            missing = missing and not protected
        if decision.gave_up and not watch.gave_up:
            self._repaired(None, symbol, decision.reason, "gave_up")
        watch.gave_up = decision.gave_up
        if protected:
            # Wrong stops go only once the right one stands: never leave the position bare.
            for coid in decision.cancel:
                cancelled = await self._router.cancel(ctx.journal.get(coid))
                self._repaired(
                    coid, symbol, "wrong or surplus stop", f"cancel_{cancelled.state.value.lower()}"
                )
        ctx.metrics.protection_missing.set(1 if missing else 0)
        return protected

    async def _place_stop(self, symbol: str, plan: StopPlan, reason: str) -> bool:
        ctx = self._ctx
        intent = OrderIntent(
            symbol,
            plan.side,
            OrderType.STOP_MARKET,
            plan.quantity,
            plan.trigger_price,
            reduce_only=True,
            purpose=Purpose.STOP,
        )
        if (refused := self._gate(intent)) is not None:
            self._repaired(None, symbol, f"{reason}; refused: {refused}", "refused", plan)
            return False
        if ctx.holds_back(intent):
            return False
        placed = await self._router.place(intent)
        outcome = "placed" if placed.state is OrderState.OPEN else "failed"
        self._repaired(placed.client_order_id, symbol, reason, outcome, plan)
        return outcome == "placed"

    def _repaired(
        self,
        coid: str | None,
        symbol: str,
        reason: str,
        outcome: str,
        plan: StopPlan | None = None,
    ) -> None:
        """Log and count one stop-repair step."""
        ctx = self._ctx
        ctx.metrics.stop_repairs.labels(outcome=outcome).inc()
        extra = (
            {}
            if plan is None
            else {
                "side": plan.side,
                "quantity": plan.quantity,
                "trigger_price": plan.trigger_price,
            }
        )
        ctx.events.emit(
            Event.STOP_REPAIR,
            coid,
            symbol=symbol,
            reason=reason,
            outcome=outcome,
            attempt=self.watch[symbol].protection.attempts,
            **extra,
        )


_T = TypeVar("_T")


async def _read(read: Awaitable[_T], give_way: asyncio.Event | None) -> _T:
    """Await one read of a pass; once ``give_way`` is set, drop it: :class:`PassInterrupted`.

    A read that finished is kept even if the signal came with it. Nothing is
    decided before a pass's last read, so stopping at one loses only reads.
    """
    if give_way is None:
        return await read
    reading = asyncio.ensure_future(read)
    if give_way.is_set():
        reading.cancel()  # before its first step: nothing was sent
        raise PassInterrupted("urgent commands waiting")
    waiting = asyncio.ensure_future(give_way.wait())
    try:
        done, _ = await asyncio.wait({reading, waiting}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiting.cancel()
        if not reading.done():
            reading.cancel()
    if reading not in done:
        raise PassInterrupted("urgent commands waiting")
    return reading.result()
