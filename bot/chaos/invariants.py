"""Invariants checked after every chaos scenario. Pure functions over what was observed.

The inputs are behaviour, not internals: the bot's events, its journaled orders (read
back through the Journal), samples of the simulator's ``/_sim/state`` ground truth and
of the bot's ``/status``. Each check returns an :class:`InvariantResult` whose detail
names the first violation found.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tradewarden.api.bot_status import BotStatus
from tradewarden.api.tradingbot import TradingMode
from tradewarden.bot.chaos.scenario import (
    Expectation,
    ExpectEvent,
    ExpectMode,
    ExpectStatus,
    ExpectVenue,
)
from tradewarden.bot.execution.client_ids import MAX_ROTATIONS
from tradewarden.bot.model.order_state import TERMINAL_STATES, OrderState
from tradewarden.bot.model.orders import JournaledOrder
from tradewarden.bot.observability.events import Event

Record = Mapping[str, Any]
_OPEN_AT_VENUE = ("NEW", "PARTIALLY_FILLED")
_PROTECTING = ("NEW", "TRIGGERED")
_UNRESOLVED = (OrderState.SUBMITTING, OrderState.CANCELING)


@dataclass(frozen=True)
class Sample:
    """One observation taken at bot time ``at``."""

    at: float
    data: Record


@dataclass(frozen=True)
class Facts:
    """What the checks need to know about the run besides the observations."""

    symbol_id: str  # the venue's symbol, e.g. BTCUSDT
    bot_prefix: str  # client ids starting with this are the bot's
    injected_ids: frozenset[str]  # ids the harness placed itself (foreign and strays)
    max_position: Decimal
    retry_budget: int
    repair_window: float  # bot seconds a position may lack its stop
    restricted_grace: float  # bot seconds to cancel entries after a restrictive mode
    incomplete_after: float
    require_stop: bool
    ended_at: float  # bot time the bot was stopped
    divergence: tuple[tuple[float, float], ...] = ()  # absolute bot times
    clock_origin: float = 0.0  # wall time where bot time and wall time coincide
    speed: float = 1.0  # bot seconds per wall second
    stalls: tuple[tuple[float, float], ...] = ()  # (wall start, wall length) counted 1:1

    def bot_time(self, wall_ms: float) -> float:
        """Convert a venue timestamp (wall ms) to bot time."""
        return warped(wall_ms / 1000, self.clock_origin, self.speed, self.stalls)


def warped(
    wall: float, origin: float, speed: float, stalls: Sequence[tuple[float, float]]
) -> float:
    """Bot time at wall time ``wall``: ``speed`` bot seconds per wall second from ``origin``,
    except inside ``stalls`` (wall start, wall length), which count one to one.

    Monotonic in ``wall`` and continuous, whatever the stalls.
    """
    stalled = sum(max(0.0, min(length, wall - start)) for start, length in stalls)
    return origin + (wall - origin - stalled) * speed + stalled


@dataclass(frozen=True)
class StatusSample:
    """The bot's ``/status`` at bot time ``at``."""

    at: float
    data: BotStatus


@dataclass(frozen=True)
class RunObservation:
    """Everything observed during one run."""

    events: Sequence[Record]
    journal: Sequence[JournaledOrder]  # every order the bot journaled, by sequence
    venue: Sequence[Sample]  # /_sim/state samples, the last one after the bot stopped
    status: Sequence[StatusSample]  # /status samples while the bot ran
    facts: Facts


@dataclass(frozen=True)
class InvariantResult:
    """Whether one invariant held, and the first violation if not."""

    ok: bool
    detail: str = ""


HELD = InvariantResult(True)


def _fail(detail: str) -> InvariantResult:
    return InvariantResult(False, detail)


# ---------------------------------------------------------------- venue helpers


def _dec(raw: Any) -> Decimal:
    return Decimal(str(raw or 0))


def _signed(side: str, qty: Decimal) -> Decimal:
    return qty if side.upper() == "BUY" else -qty


def venue_position(state: Record, symbol_id: str) -> Decimal:
    """The account's net position on ``symbol_id`` at the venue."""
    return sum(
        (_dec(p["positionAmt"]) for p in state.get("positions", []) if p["symbol"] == symbol_id),
        Decimal(0),
    )


def bot_position(state: Record, facts: Facts) -> Decimal:
    """The venue position minus what the harness itself traded."""
    foreign = sum(
        (
            _signed(f["side"], _dec(f["qty"]))
            for f in state.get("fills", [])
            if f["symbol"] == facts.symbol_id and f["clientOrderId"] in facts.injected_ids
        ),
        Decimal(0),
    )
    return venue_position(state, facts.symbol_id) - foreign


def lineage(client_id: str) -> str:
    """The journal id behind a venue client id (rotations add ``.rN``)."""
    return client_id.split(".r", maxsplit=1)[0]


def _bot_orders(state: Record, facts: Facts) -> Iterator[Record]:
    for order in state.get("orders", []):
        cid = order["clientOrderId"]
        if cid.startswith(facts.bot_prefix) and cid not in facts.injected_ids:
            yield order


def _protected(state: Record, facts: Facts, position: Decimal) -> bool:
    closing_side = "SELL" if position > 0 else "BUY"
    return any(
        algo["symbol"] == facts.symbol_id
        and algo["algoStatus"] in _PROTECTING
        and algo["side"] == closing_side
        and (algo["closePosition"] or _dec(algo["quantity"]) >= abs(position))
        for algo in state.get("algoOrders", [])
    )


# ---------------------------------------------------------------- mode timeline


def _severity(mode: str) -> int:
    return [m.value for m in TradingMode].index(mode)


def effective_mode(record: Record) -> str:
    """The strictest mode a MODE_CHANGE imposes (global or on a symbol; one symbol per bot)."""
    modes = [str(record.get("mode")), *map(str, (record.get("symbols") or {}).values())]
    return max(modes, key=_severity)


def restricted_periods(events: Sequence[Record], end: float) -> list[tuple[float, float]]:
    """Bot-time intervals in which the trading mode was ReduceOnly or Halted."""
    periods: list[tuple[float, float]] = []
    start: float | None = None
    for record in events:
        if record.get("event") != Event.MODE_CHANGE:
            continue
        restricted = effective_mode(record) != TradingMode.ACTIVE
        if restricted and start is None:
            start = float(record["ts"])
        elif not restricted and start is not None:
            periods.append((start, float(record["ts"])))
            start = None
    if start is not None:
        periods.append((start, end))
    return periods


def _within(periods: Sequence[tuple[float, float]], at: float, grace: float = 0.0) -> bool:
    return any(start + grace < at < end for start, end in periods)


# ---------------------------------------------------------------- the invariants


def no_duplicate_exposure(obs: RunObservation) -> InvariantResult:
    """One venue order per intent, fills within the intent, position within maxPosition."""
    facts = obs.facts
    journal = {row.client_order_id: row for row in obs.journal}
    final = obs.venue[-1].data if obs.venue else {}
    per_lineage: dict[str, list[Record]] = defaultdict(list)
    for order in _bot_orders(final, facts):
        per_lineage[lineage(order["clientOrderId"])].append(order)
    for coid, orders in per_lineage.items():
        if coid not in journal:
            return _fail(f"venue holds bot order {orders[0]['clientOrderId']} the journal lacks")
        if len(orders) > 1:
            return _fail(f"intent {coid} exists {len(orders)} times at the venue")
        if _dec(orders[0]["executedQty"]) > journal[coid].intent.quantity:
            return _fail(f"intent {coid} filled beyond its quantity")
    for sample in obs.venue:
        position = bot_position(sample.data, facts)
        if abs(position) > facts.max_position:
            return _fail(f"bot position {position} beyond maxPosition at t={sample.at:.1f}")
    return HELD


def _venue_agrees(row: JournaledOrder, order: Record | None) -> str | None:
    state, filled = row.state, row.filled
    executed = _dec(order["executedQty"]) if order else Decimal(0)
    status = order["status"] if order else None
    coid = row.client_order_id
    if state is OrderState.FILLED and (status != "FILLED" or executed != filled):
        return f"{coid} FILLED in the journal, {status} {executed} at the venue"
    if state in (OrderState.CANCELED, OrderState.EXPIRED) and (
        status in _OPEN_AT_VENUE or executed != filled
    ):
        return f"{coid} {state} filled {filled} in the journal, {status} {executed} at the venue"
    if state in (OrderState.REJECTED, OrderState.ABANDONED) and (
        status in _OPEN_AT_VENUE or executed > 0
    ):
        return f"{coid} {state} in the journal but {status} {executed} at the venue"
    return None


def intents_settled(obs: RunObservation) -> InvariantResult:
    """Every send answered; every intent terminal (agreeing with the venue), resting or flagged."""
    facts = obs.facts
    answered = {
        (r.get("correlation_id"), r.get("attempt"))
        for r in obs.events
        if r.get("event") in (Event.ORDER_RESPONSE, Event.ORDER_ERROR)
        and r.get("operation") is None
    }
    for record in obs.events:
        if record.get("event") == Event.ORDER_SUBMIT:
            key = (record.get("correlation_id"), record.get("attempt"))
            if key not in answered:
                return _fail(f"ORDER_SUBMIT {key} has no ORDER_RESPONSE/ORDER_ERROR")
    final = obs.venue[-1].data if obs.venue else {}
    venue = {lineage(o["clientOrderId"]): o for o in _bot_orders(final, facts)}
    flagged = set(obs.status[-1].data.incomplete_lifecycles) if obs.status else set()
    last_status_at = obs.status[-1].at if obs.status else facts.ended_at
    for row in obs.journal:
        state, coid = row.state, row.client_order_id
        if state in TERMINAL_STATES:
            if (problem := _venue_agrees(row, venue.get(coid))) is not None:
                return _fail(problem)
        elif state in _UNRESOLVED:
            overdue = last_status_at - row.created_at > facts.incomplete_after
            if overdue and coid not in flagged:
                return _fail(f"{coid} stuck in {state} but not flagged incomplete")
    return HELD


def protected_positions(obs: RunObservation) -> InvariantResult:
    """No position lacks a reduce-only stop for longer than the repair window."""
    facts = obs.facts
    if not facts.require_stop:
        return HELD
    since: float | None = None
    for sample in obs.venue:
        position = venue_position(sample.data, facts.symbol_id)
        if position == 0 or _protected(sample.data, facts, position):
            since = None
            continue
        since = sample.at if since is None else since
        if sample.at - since > facts.repair_window:
            return _fail(
                f"position {position} without a protective stop from t={since:.1f} "
                f"to t={sample.at:.1f} (window {facts.repair_window}s)"
            )
    return HELD


def retries_within_budget(obs: RunObservation) -> InvariantResult:
    """No request retried beyond ``retryBudget``; no intent sent more than its budget allows."""
    budget = obs.facts.retry_budget
    runs: dict[tuple[str, str], list[int]] = defaultdict(list)
    for record in obs.events:
        if record.get("event") != Event.ORDER_RETRY:
            continue
        key = (str(record.get("correlation_id")), str(record.get("operation", "create")))
        attempt = int(record.get("attempt", 0))
        run = runs[key]
        if run and attempt <= run[-1]:
            run.clear()
        run.append(attempt)
        if len(run) > budget or attempt > budget:
            return _fail(f"{key[0]} {key[1]} retried {len(run)} times (budget {budget})")
    sends: dict[str, int] = defaultdict(int)
    for record in obs.events:
        if record.get("event") == Event.ORDER_SUBMIT:
            sends[str(record.get("correlation_id"))] += 1
    for coid, count in sends.items():
        if count > budget + 1 + MAX_ROTATIONS:
            return _fail(f"{coid} sent {count} times (budget {budget})")
    return HELD


def _refused_cancels(events: Sequence[Record]) -> dict[str, list[float]]:
    """Bot times at which the venue refused a cancel, by the order's lineage."""
    refused: dict[str, list[float]] = defaultdict(list)
    for record in events:
        if record.get("event") == Event.ORDER_ERROR and record.get("operation") == "cancel":
            refused[str(record.get("correlation_id"))].append(float(record["ts"]))
    return refused


def no_new_exposure_when_restricted(obs: RunObservation) -> InvariantResult:
    """While ReduceOnly/Halted: no entry sent, no entry left working, no entry filled.

    An entry still working after the grace is the bot's fault unless the venue
    refused the bot's cancel of it in the restrictive mode (a venue that refuses
    every signed call, say): the bot tried, and nothing else could take it down.
    A fill while restricted fails either way.
    """
    facts = obs.facts
    periods = restricted_periods(obs.events, facts.ended_at)
    for record in obs.events:
        if (
            record.get("event") == Event.ORDER_SUBMIT
            and record.get("attempt") == 1
            and not record.get("reduce_only")
            and _within(periods, float(record["ts"]))
        ):
            return _fail(f"entry {record.get('correlation_id')} sent at t={record['ts']:.1f}")
    grace = facts.restricted_grace
    refused = _refused_cancels(obs.events)
    entries: dict[str, Record] = {}
    for sample in obs.venue:
        for order in _bot_orders(sample.data, facts):
            if order["reduceOnly"]:
                continue
            entries[order["clientOrderId"]] = order
            tried = any(
                at <= sample.at and _within(periods, at)
                for at in refused.get(lineage(order["clientOrderId"]), ())
            )
            if (
                order["status"] in _OPEN_AT_VENUE
                and _within(periods, sample.at, grace)
                and not tried
            ):
                return _fail(
                    f"entry {order['clientOrderId']} still working at t={sample.at:.1f} "
                    f"in a restrictive mode"
                )
    final = obs.venue[-1].data if obs.venue else {}
    for fill in final.get("fills", []):
        at = facts.bot_time(float(fill["time"]))
        if fill["clientOrderId"] in entries and _within(periods, at, grace):
            return _fail(f"entry {fill['clientOrderId']} filled at t={at:.1f} while restricted")
    return HELD


def _path(data: Record, dotted: str) -> Any:
    """The value at a dotted path of camelCase wire names, ``None`` when there is none."""
    value: Any = data
    for key in dotted.split("."):
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


def kill_switch_holds(obs: RunObservation) -> InvariantResult:
    """Engaged means Halted; persistent divergence engages it and it holds until the end."""
    engaged = [(s.at, s.data.kill_switch.engaged) for s in obs.status]
    for sample in obs.status:
        mode = sample.data.trading_mode
        if sample.data.kill_switch.engaged and mode is not TradingMode.HALTED:
            return _fail(f"kill switch engaged but mode {mode}")
    for start, end in obs.facts.divergence:
        inside = [(at, on) for at, on in engaged if start <= at <= end]
        first = next((i for i, (_, on) in enumerate(inside) if on), None)
        if first is None:
            return _fail(f"divergence from t={start:.1f} to t={end:.1f} never engaged it")
        released = next((at for at, on in inside[first:] if not on), None)
        if released is not None:
            return _fail(f"kill switch released at t={released:.1f} while divergence persisted")
    return HELD


INVARIANTS: dict[str, Callable[[RunObservation], InvariantResult]] = {
    "noDuplicateExposure": no_duplicate_exposure,
    "intentsSettled": intents_settled,
    "protectedPositions": protected_positions,
    "retriesWithinBudget": retries_within_budget,
    "noNewExposureWhenRestricted": no_new_exposure_when_restricted,
    "killSwitchHolds": kill_switch_holds,
}


# ---------------------------------------------------------------- expectations


def _expect_mode(expectation: ExpectMode, obs: RunObservation) -> InvariantResult:
    wanted = _severity(expectation.mode)
    reached: float | None = None
    for record in obs.events:
        if record.get("event") != Event.MODE_CHANGE:
            continue
        mode, reason = effective_mode(record), str(record.get("reason", ""))
        if reached is None and _severity(mode) >= wanted and expectation.reason in reason:
            reached = float(record["ts"])
        elif reached is not None and mode == TradingMode.ACTIVE:
            return HELD
    if reached is None:
        return _fail(f"never reached {expectation.mode} with reason {expectation.reason!r}")
    if expectation.recovers:
        return _fail(f"reached {expectation.mode} at t={reached:.1f} but never recovered")
    return HELD


def _expect_event(expectation: ExpectEvent, obs: RunObservation) -> InvariantResult:
    count = sum(
        1
        for record in obs.events
        if record.get("event") == expectation.event
        and all(value in str(record.get(key)) for key, value in expectation.where)
    )
    too_many = expectation.at_most is not None and count > expectation.at_most
    if count < expectation.at_least or too_many:
        return _fail(f"{count} matching {expectation.event} events")
    return HELD


def _compare(value: Any, op: str, wanted: Any) -> bool:
    if value is None:
        return False
    if op == "eq":
        return bool(value == wanted)
    try:
        return float(value) < float(wanted) if op == "lt" else float(value) > float(wanted)
    except (TypeError, ValueError):
        return False


def _expect_status(expectation: ExpectStatus, obs: RunObservation) -> InvariantResult:
    values = [_path(s.data.to_json(), expectation.path) for s in obs.status]
    if any(_compare(v, expectation.op, expectation.value) for v in values):
        return HELD
    seen = sorted({repr(v) for v in values})[:5]
    return _fail(f"/status {expectation.path} never {expectation.op} {expectation.value}: {seen}")


def _expect_venue(expectation: ExpectVenue, obs: RunObservation) -> InvariantResult:
    facts = obs.facts
    if not obs.venue:
        return _fail("no venue samples")
    if expectation.position_seen and all(bot_position(s.data, facts) == 0 for s in obs.venue):
        return _fail("the bot never held a position")
    final = obs.venue[-1].data
    if expectation.flat_at_end and venue_position(final, facts.symbol_id) != 0:
        return _fail(f"position {venue_position(final, facts.symbol_id)} left at the end")
    if expectation.strays_cancelled:
        open_strays = [
            o["clientOrderId"]
            for o in final.get("orders", [])
            if o["clientOrderId"] in facts.injected_ids
            and o["clientOrderId"].startswith(facts.bot_prefix)
            and o["status"] in _OPEN_AT_VENUE
        ]
        if open_strays:
            return _fail(f"strays still open: {open_strays}")
    return HELD


def check_expectation(expectation: Expectation, obs: RunObservation) -> InvariantResult:
    """Whether one scenario-specific expectation held."""
    if isinstance(expectation, ExpectMode):
        return _expect_mode(expectation, obs)
    if isinstance(expectation, ExpectEvent):
        return _expect_event(expectation, obs)
    if isinstance(expectation, ExpectStatus):
        return _expect_status(expectation, obs)
    return _expect_venue(expectation, obs)


def evaluate(
    obs: RunObservation, expectations: Sequence[Expectation]
) -> dict[str, InvariantResult]:
    """Every standard invariant plus the scenario's expectations, by name."""
    verdicts = {name: check(obs) for name, check in INVARIANTS.items()}
    for expectation in expectations:
        verdicts[expectation.name] = check_expectation(expectation, obs)
    return verdicts
