"""The posture controller: every demand on the trading mode, the guards, and enforcement.

Invariants:

- :attr:`PostureController.posture` is always :func:`decide_posture` over
  ``spec.paused``, ``spec.emergencyStop`` and the restrictions in force (the
  control loop's, the operator's, preflight's, stopping's and the guards'). It is
  decided again whenever one of them changes; each change is shown (MODE_CHANGE,
  the ``trading_mode`` gauge) and enforced at once.
- The guard board's demands are restrictions like any other, keyed by
  :func:`restriction_key`. After every fact fed to the board (a request, a broker
  read, settled fills, a reconcile report, the market feed giving up, a tick,
  a person's release of the kill switch) the restrictions are brought in line
  with its active trips: a trip is announced once when it begins (GUARD_TRIP, the
  ``guard_trips_total`` counter, KILL_SWITCH when it is the kill switch) and once
  when it ends (GUARD_CLEAR).
- Enforcement begins once the bot has recovered (:meth:`enforce_with`): what the
  posture no longer allows (:func:`enforce`) goes to the worker as urgent
  commands. A command offered and no longer waiting or running (a cancel given
  up on) is offered again only after a reconcile interval, so a venue refusing
  cancels is not hammered.
- No I/O and no clock of its own: the clock is injected; commands only go to the
  worker, announcements only to the event log and metrics.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Protocol

from tradewarden.api.tradingbot import EmergencyStop, TradingBotSpec, TradingMode
from tradewarden.bot.model.guards import KILL_SWITCH
from tradewarden.bot.model.orders import Cancel, JournaledOrder, Place
from tradewarden.bot.observability.events import Event, EventLog
from tradewarden.bot.observability.metrics import BotMetrics
from tradewarden.bot.posture import Posture, Restriction, decide_posture
from tradewarden.bot.reliability.api_health import order_counts, request_failed, used_weight
from tradewarden.bot.reliability.enforcement import enforce
from tradewarden.bot.reliability.guards import GuardBoard, Trip, restriction_key
from tradewarden.bot.reliability.report import ReconcileReport
from tradewarden.bot.runtime.fills import SettledFill


class CommandSink(Protocol):
    """Where enforcement commands go (the execution worker)."""

    def holds(self, command: Cancel | Place) -> bool:
        """Whether ``command`` (or one it would repeat) waits or runs."""

    def offer(self, command: Cancel | Place, *, urgent: bool = False) -> bool:
        """Queue ``command``; False if it was not taken."""


class PostureController:
    """Decides the bot's posture from every demand on it and enforces it on working orders."""

    def __init__(
        self,
        spec: TradingBotSpec,
        *,
        events: EventLog,
        metrics: BotMetrics,
        clock: Callable[[], float],
    ) -> None:
        self.guards = GuardBoard(spec.guards)
        self._events = events
        self._metrics = metrics
        self._clock = clock
        self._retry_after = spec.execution.reconcile_interval_seconds
        self._paused = spec.paused
        self._emergency_stop = spec.emergency_stop
        self._restrictions: dict[str, Restriction] = {}
        self._guard_demands: dict[str, Restriction] = {}
        self.posture: Posture = decide_posture(self._paused, self._emergency_stop)
        self._worker: CommandSink | None = None
        self._working: Callable[[], Iterable[JournaledOrder]] = tuple
        self._positions: Mapping[str, Decimal] = {}
        # Enforcement commands offered lately, and when (see enforce).
        self._enforced: dict[Cancel | Place, float] = {}

    # -- demands on the mode ------------------------------------------------------

    def restrict(
        self,
        source: str,
        mode: TradingMode | None,
        reason: str = "",
        symbol: str | None = None,
        *,
        flatten: bool = False,
    ) -> None:
        """Set one source's demand on the trading mode (``None`` withdraws it).

        With ``symbol`` the demand binds that symbol only (a per-symbol pause); with
        ``flatten`` (a TradingHalt's Flatten) positions are closed while halted.
        """
        restriction = Restriction(source, mode or TradingMode.ACTIVE, reason, symbol, flatten)
        if mode is None:
            self._restrictions.pop(restriction_key(restriction), None)
        else:
            self._restrictions[restriction_key(restriction)] = restriction
        self._repose()

    def restrictions(self) -> tuple[Restriction, ...]:
        """Every demand on the trading mode in force (guards, control loop, operator)."""
        return tuple(self._restrictions.values())

    def update_controls(self, paused: bool, emergency_stop: EmergencyStop | None) -> None:
        """Apply ``spec.paused`` / ``spec.emergencyStop`` as they change on the live resource."""
        self._paused, self._emergency_stop = paused, emergency_stop
        self._repose()

    # -- facts for the guards -----------------------------------------------------

    def request(self, error: BaseException | None, headers: Mapping[str, str] | None) -> None:
        """One venue request's outcome and its weight and order-count headers."""
        self.guards.api_request(
            self._clock(), request_failed(error), used_weight(headers), order_counts(headers)
        )
        self._sync_guards()

    def position_read(self, fills: Iterable[SettledFill]) -> None:
        """A position read went through, with the fills of the orders settled meanwhile."""
        now = self._clock()
        self.guards.broker_read(now, ok=True)
        for fill in fills:
            self.guards.fill(now, fill.symbol, fill.side, fill.average, fill.expected)
        self._sync_guards()

    def reconciled(self, report: ReconcileReport) -> None:
        """Take in what a reconcile pass found: broker reads, drift, belief debt, kill switch.

        The report is the only account of a pass: one whose reads failed
        (``read_failed``) is one failed broker read, however it is retried.
        """
        kill_switch = self.guards.kill_switch
        engaged = kill_switch.engaged
        self.guards.reconcile(self._clock(), report)
        if engaged and not kill_switch.engaged:
            self._events.emit(
                Event.KILL_SWITCH,
                engaged=False,
                reason=f"{kill_switch.clean_to_recover} clean reconciles in a row",
            )
        self._sync_guards()

    def websocket_exhausted(self) -> None:
        """The market feed gave up reconnecting: trips the WebSocket guard now."""
        self.guards.websocket_exhausted(self._clock())
        self._sync_guards()

    def tick(self, marks_updated_at: Mapping[str, float]) -> None:
        """Expire cooldowns, check mark staleness, and enforce the posture on working orders."""
        self.guards.marks(self._clock(), marks_updated_at)
        self._sync_guards()
        self.enforce()

    def reset_kill_switch(self, reason: str, by: str = "") -> bool:
        """A person's release of the kill switch; True if it was engaged."""
        released = self.guards.reset_kill_switch()
        if released:
            self._events.emit(Event.KILL_SWITCH, engaged=False, reason=reason, by=by)
        self._sync_guards()
        return released

    # -- enforcement ----------------------------------------------------------------

    def enforce_with(
        self,
        worker: CommandSink,
        working: Callable[[], Iterable[JournaledOrder]],
        positions: Mapping[str, Decimal],
    ) -> None:
        """Enforce from now on: the bot has recovered, its journal and positions are settled.

        ``working`` lists the orders working now (the journal's non-terminal ones);
        ``positions`` is read as it changes.
        """
        self._worker, self._working, self._positions = worker, working, positions

    def enforce(self) -> None:
        """Cancel what the posture no longer allows (and flatten on request), urgently.

        The worker drops a command that repeats one waiting or running; one that
        ran and did not settle the order (a cancel given up on) is offered again
        only after a reconcile interval. Before :meth:`enforce_with` nothing is offered.
        """
        worker = self._worker
        if worker is None:
            return
        now = self._clock()
        self._enforced = {c: at for c, at in self._enforced.items() if now - at < self._retry_after}
        for command in enforce(self.posture, self._working(), self._positions):
            if command in self._enforced and not worker.holds(command):
                continue
            if worker.offer(command, urgent=True):
                self._enforced.setdefault(command, now)

    def show_mode(self) -> None:
        """Announce the posture: the ``trading_mode`` gauge and MODE_CHANGE."""
        for mode in TradingMode:
            self._metrics.trading_mode.labels(mode=mode.value).set(
                1 if mode is self.posture.mode else 0
            )
        self._events.emit(
            Event.MODE_CHANGE,
            mode=self.posture.mode,
            reason=self.posture.summary,
            symbols={symbol: held.mode for symbol, held in self.posture.symbols},
        )

    # -- internals --------------------------------------------------------------------

    def _sync_guards(self) -> None:
        """Turn the guard board's demands into restrictions, announcing every change."""
        guards = self.guards
        now = self._clock()
        trips = {restriction_key(trip.restriction()): trip for trip in guards.active(now)}
        demands = {key: trip.restriction() for key, trip in trips.items()}
        for key, trip in trips.items():
            if key not in self._guard_demands:
                self._announce_trip(trip)
        for key, old in self._guard_demands.items():
            if key not in demands:
                self._events.emit(
                    Event.GUARD_CLEAR, guard=old.source, symbol=old.symbol, reason=old.reason
                )
        metrics = self._metrics
        metrics.belief_confidence.set(guards.confidence())
        metrics.mismatch_streak.set(guards.belief.streak)
        metrics.kill_switch_engaged.set(1 if guards.kill_switch.engaged else 0)
        metrics.api_error_rate.set(guards.api.error_rate(now))
        metrics.rate_limit_usage.set(guards.api.usage(now))
        if demands == self._guard_demands:
            return
        for key in self._guard_demands:
            self._restrictions.pop(key, None)
        self._restrictions.update(demands)
        self._guard_demands = demands
        self._repose()

    def _announce_trip(self, trip: Trip) -> None:
        self._metrics.guard_trips.labels(guard=trip.name).inc()
        self._events.emit(
            Event.GUARD_TRIP,
            guard=trip.name,
            mode=trip.mode,
            reason=trip.reason,
            symbol=trip.symbol,
            until=trip.until,
        )
        if trip.name == KILL_SWITCH:
            self._events.emit(Event.KILL_SWITCH, engaged=True, reason=trip.reason)

    def _repose(self) -> None:
        posture = decide_posture(
            self._paused, self._emergency_stop, tuple(self._restrictions.values())
        )
        if posture != self.posture:
            self.posture = posture
            self.show_mode()
            self.enforce()
