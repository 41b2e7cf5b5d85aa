"""The guard board: every guard of the degradation matrix, fed facts, read as demands.

Callers feed it what happened (request outcomes, marks, fills, reconcile
reports, WebSocket exhaustion) with the time it happened; :meth:`GuardBoard.demands`
says which guards trip at a given time, and with which mode. Cooldowns expire by
themselves; the kill switch needs clean evidence or a person. No I/O, no clock
of its own: ``now`` is always passed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal

from tradewarden.api.tradingbot import GuardsSpec, TradingMode
from tradewarden.bot.model.guards import (
    API_HEALTH,
    BROKER_READS,
    DRIFT,
    KILL_SWITCH,
    MARK_STALENESS,
    SLIPPAGE,
    WEBSOCKET,
)
from tradewarden.bot.model.orders import OrderIntent, OrderType, Side
from tradewarden.bot.posture import Restriction
from tradewarden.bot.reliability.api_health import DEFAULT_WEIGHT_LIMIT, ApiHealth
from tradewarden.bot.reliability.belief import (
    BeliefLevel,
    BeliefSettings,
    BeliefState,
    absorb,
    clean_evidence,
    confidence,
    level,
)
from tradewarden.bot.reliability.kill_switch import KillSwitch
from tradewarden.bot.reliability.report import ReconcileReport


def guard_source(name: str) -> str:
    """The ``PostureController.restrict`` source of a guard, e.g. ``guard.apiHealth``."""
    return f"guard.{name}"


@dataclass(frozen=True)
class Trip:
    """One tripped guard: what it demands, why, until when, and for which symbol."""

    name: str
    mode: TradingMode
    reason: str
    until: float | None = None  # None: until clean evidence (drift, kill switch)
    symbol: str | None = None  # None: every symbol

    def restriction(self) -> Restriction:
        """The demand this trip puts on the posture."""
        return Restriction(guard_source(self.name), self.mode, self.reason, self.symbol)


def slippage_bps(side: Side, average: Decimal, expected: Decimal) -> float:
    """Adverse slippage of a fill against the price it was expected at, in basis points."""
    return float(side.sign * (average - expected) / expected * 10_000)


@dataclass(frozen=True)
class ExpectedFill:
    """The price an order should fill at; ``bounded`` when the venue caps the fill by it."""

    price: Decimal
    bounded: bool = False


def expected_fill(intent: OrderIntent, mark_at_send: Decimal | None) -> ExpectedFill | None:
    """What a settled order's average fill is judged against (``None``: nothing to judge).

    A market order against the mark when it was sent; a stop against its trigger
    (a gap through the trigger is where a stop slips); a limit against its own
    price, which bounds an honest fill, so only a fill through it says anything.
    """
    if intent.order_type is OrderType.MARKET:
        return None if mark_at_send is None else ExpectedFill(mark_at_send)
    if intent.price is None:
        return None
    return ExpectedFill(intent.price, bounded=intent.order_type is OrderType.LIMIT)


@dataclass
class GuardBoard:
    """All guards of one bot."""

    spec: GuardsSpec
    weight_limit: int = DEFAULT_WEIGHT_LIMIT
    belief_settings: BeliefSettings = field(default_factory=BeliefSettings)

    def __post_init__(self) -> None:
        self.api = ApiHealth(self.spec.api_health, self.weight_limit)
        self.kill_switch = KillSwitch(self.spec.kill_switch.clean_reconciles_to_recover)
        self.belief = BeliefState()
        self._trips: dict[tuple[str, str | None], Trip] = {}
        self._slippage_failures: dict[str, int] = {}
        self._read_failures = 0

    # -- inputs -----------------------------------------------------------------

    def api_request(
        self,
        now: float,
        failed: bool,
        weight: int | None = None,
        orders: Mapping[str, int] | None = None,
    ) -> None:
        """One venue request's outcome and its used-weight and order-count headers.

        More than :meth:`ApiHealth.record`: trouble the request shows trips the
        API-health guard at ``now``, so its pause holds even if the error rate is
        back under the threshold by the next :meth:`active` (a burst between two
        reads of the board still pauses).
        """
        self.api.record(now, failed, weight, orders)
        self._check_api(now)

    def marks(self, now: float, updated_at: Mapping[str, float]) -> None:
        """Pause every symbol whose mark is older than the staleness threshold."""
        settings = self.spec.mark_staleness
        for symbol, at in updated_at.items():
            age = now - at
            if age > settings.stale_after_seconds:
                self._trip(
                    Trip(
                        MARK_STALENESS,
                        TradingMode.REDUCE_ONLY,
                        f"mark {age:.0f}s old > {settings.stale_after_seconds:g}s",
                        now + settings.pause_seconds,
                        symbol,
                    )
                )

    def fill(
        self, now: float, symbol: str, side: Side, average: Decimal, expected: ExpectedFill
    ) -> None:
        """A settled order's average fill against the price it was expected to fill at.

        A fill within tolerance ends a run of failures, unless it is a limit
        fill (``expected.bounded``): the venue caps those by their price, so one
        at its price says nothing about slippage.
        """
        settings = self.spec.slippage
        bps = slippage_bps(side, average, expected.price)
        if bps <= settings.max_slippage_bps:
            if not expected.bounded:
                self._slippage_failures.pop(symbol, None)
            return
        failures = self._slippage_failures.get(symbol, 0) + 1
        if failures < settings.max_failures:
            self._slippage_failures[symbol] = failures
            return
        self._slippage_failures.pop(symbol, None)
        self._trip(
            Trip(
                SLIPPAGE,
                TradingMode.REDUCE_ONLY,
                f"{failures} fills beyond {settings.max_slippage_bps:g} bps (last {bps:.0f})",
                now + settings.pause_seconds,
                symbol,
            )
        )

    def broker_read(self, now: float, ok: bool) -> None:
        """A position/open-orders/account read succeeded or failed.

        ``brokerReads.maxConsecutiveFailures`` failures with no success between
        them trip the guard. Each failure must be fed exactly once: one failed
        reconcile pass is one failed broker read (:meth:`reconcile` feeds it).
        """
        if ok:
            self._read_failures = 0
            return
        self._read_failures += 1
        settings = self.spec.broker_reads
        if self._read_failures >= settings.max_consecutive_failures:
            self._trip(
                Trip(
                    BROKER_READS,
                    TradingMode.REDUCE_ONLY,
                    f"{self._read_failures} broker reads failed in a row",
                    now + settings.pause_seconds,
                )
            )

    def websocket_exhausted(self, now: float) -> None:
        """The market feed gave up reconnecting: pause everything for a while."""
        settings = self.spec.websocket
        self._trip(
            Trip(
                WEBSOCKET,
                TradingMode.REDUCE_ONLY,
                f"market-data reconnects exhausted ({settings.max_reconnects})",
                now + settings.pause_seconds,
            )
        )

    def reconcile(self, now: float, report: ReconcileReport) -> None:
        """Take in one reconcile pass: broker reads, drift, belief debt, kill switch.

        The pass's report is the broker-read guard's only account of it: a
        ``read_failed`` report is one failed broker read, a completed pass one
        that went through.
        """
        self.broker_read(now, not report.read_failed)
        if report.strays_confirmed:
            self._trip(
                Trip(
                    DRIFT,
                    TradingMode.REDUCE_ONLY,
                    f"{len(report.strays_confirmed)} unknown bot orders at the venue",
                    symbol=None,
                )
            )
        elif report.clean and not report.drift_detected:
            # Held while drift is on, so the bot stays reduce-only as long as its
            # /status (and so the operator) says DriftDetected.
            self._trips.pop((DRIFT, None), None)
        self.belief = absorb(self.belief, report, self.belief_settings)
        demanded, reason = level(self.belief, self.belief_settings)
        if demanded is BeliefLevel.KILL:
            self.kill_switch.engage(reason)
        elif not report.read_failed and self.kill_switch.observe(
            clean_evidence(report, self.belief_settings)
        ):
            # Enough clean evidence released the switch: the old debt is paid.
            self.belief = BeliefState()
        demanded, reason = level(self.belief, self.belief_settings)
        if demanded is BeliefLevel.REDUCE_ONLY:
            self._trip(Trip(DRIFT, TradingMode.REDUCE_ONLY, reason, symbol=report.symbol))
        else:
            self._trips.pop((DRIFT, report.symbol), None)

    def reset_kill_switch(self) -> bool:
        """A person's release of the kill switch; belief starts over. True if it was engaged."""
        self.belief = BeliefState()
        self._trips = {key: trip for key, trip in self._trips.items() if trip.name != DRIFT}
        return self.kill_switch.reset()

    # -- outputs ----------------------------------------------------------------

    def active(self, now: float) -> list[Trip]:
        """Every trip in force at ``now`` (expired cooldowns are dropped)."""
        self._check_api(now)
        self._trips = {
            key: trip for key, trip in self._trips.items() if trip.until is None or now < trip.until
        }
        trips = list(self._trips.values())
        if self.kill_switch.engaged:
            trips.append(Trip(KILL_SWITCH, TradingMode.HALTED, self.kill_switch.reason))
        return trips

    def demands(self, now: float) -> dict[str, Restriction]:
        """The restrictions in force, keyed as the ``PostureController`` keys them."""
        return {restriction_key(t.restriction()): t.restriction() for t in self.active(now)}

    def confidence(self) -> float:
        """Belief confidence in 0..1."""
        if self.kill_switch.engaged:
            return 0.0
        return confidence(self.belief, self.belief_settings)

    # -- internals --------------------------------------------------------------

    def _check_api(self, now: float) -> None:
        """Hold the API trip to the end the health dates from its trouble, not from ``now``.

        A trip held for a half-open circuit (no end) lifts when its probe closes
        the circuit; one with an end runs out by itself.
        """
        key = (API_HEALTH, None)
        current = self._trips.get(key)
        trouble = self.api.trouble(now)
        if trouble is None:
            if current is not None and current.until is None:
                del self._trips[key]
            return
        until = trouble.until
        if current is not None and current.until is not None and until is not None:
            until = max(current.until, until)
        reason = trouble.reason if current is None else current.reason
        self._trips[key] = Trip(API_HEALTH, TradingMode.REDUCE_ONLY, reason, until)

    def _trip(self, trip: Trip) -> None:
        """Trip a guard, or extend a trip in force (keeping the reason it tripped with)."""
        key = (trip.name, trip.symbol)
        current = self._trips.get(key)
        if current is not None and current.mode is trip.mode:
            until = None if trip.until is None or current.until is None else trip.until
            trip = replace(current, until=until)
        self._trips[key] = trip


def restriction_key(restriction: Restriction) -> str:
    """One key per source and symbol, so per-symbol demands do not overwrite each other."""
    if restriction.symbol is None:
        return restriction.source
    return f"{restriction.source}[{restriction.symbol}]"
