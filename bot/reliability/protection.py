"""Protective stops: does the position carry the stop it must, and what to do if not.

Every open position needs a reduce-only stop on the closing side for the
whole position (or a closePosition stop) at ``stopDistancePct`` from the
entry price. A missing or wrong-size stop is repaired: the right stop is
placed first and the wrong ones cancelled after, so the position is never
left bare by the repair itself. Repairs are spaced by a cooldown and bounded
in number, so a venue that keeps refusing cannot make the bot thrash. The
cooldown and the count belong to one position: when the position changes (a
fill, a stop that fired) its new stop is due at once. Pure logic; the
reconciler carries the state and does the I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from tradewarden.bot.model.order_state import OrderState
from tradewarden.bot.model.orders import JournaledOrder, Side
from tradewarden.bot.model.venue import VenuePosition, VenueStop

HUNDRED = Decimal(100)
# A stop the venue accepted (its create reply said so), not one whose create is unsettled.
_CONFIRMED = (OrderState.OPEN, OrderState.PARTIALLY_FILLED)


@dataclass(frozen=True)
class ProtectionSettings:
    """How hard the bot tries to keep a stop in place."""

    stop_distance_pct: Decimal
    required: bool = True
    # Minimum spacing between two repairs of the same symbol.
    cooldown_seconds: float = 5.0
    # Repairs in a row before giving up (a person is alerted by the gauge).
    max_attempts: int = 5
    # How long a position may be bare before it counts as unprotected in metrics.
    repair_window_seconds: float = 15.0


@dataclass(frozen=True)
class ProtectionState:
    """Repair bookkeeping of one symbol between reconciles."""

    unprotected_since: float | None = None
    attempts: int = 0
    last_attempt_at: float | None = None
    repairs: int = 0  # every repair ever started (for /status)
    # The stop (side, quantity) the repairs in a row were for; None before any.
    repairing: tuple[Side, Decimal] | None = None


@dataclass(frozen=True)
class StopPlan:
    """The stop that should exist."""

    side: Side
    quantity: Decimal
    trigger_price: Decimal


@dataclass(frozen=True)
class ProtectionDecision:
    """What to do about one symbol's protection now."""

    protected: bool  # a correct stop is in place (before any action below)
    place: StopPlan | None  # the stop to place now, if a repair is due
    cancel: tuple[str, ...]  # journal ids of the bot's stops that are wrong or surplus
    reason: str
    gave_up: bool = False  # repairs are exhausted while the position is bare
    missing: bool = False  # bare for longer than the repair window


def plan_stop(
    position: VenuePosition, distance_pct: Decimal, quantity_step: Decimal, price_tick: Decimal
) -> StopPlan | None:
    """The stop ``position`` needs, or None when flat.

    The distance is measured from the entry price; when the mark has already
    moved past that level (a stop there would fire at once, which the venue
    refuses) it is measured from the mark instead.
    """
    if position.size == 0:
        return None
    long = position.size > 0
    reference = position.entry_price or position.mark_price
    if reference is None or reference <= 0:
        reference = position.mark_price or Decimal(0)
    offset = distance_pct / HUNDRED
    trigger = reference * (1 - offset) if long else reference * (1 + offset)
    mark = position.mark_price
    if mark is not None and (trigger >= mark if long else trigger <= mark):
        trigger = mark * (1 - offset) if long else mark * (1 + offset)
    rounding = ROUND_FLOOR if long else ROUND_CEILING
    trigger = (trigger / price_tick).to_integral_value(rounding) * price_tick
    quantity = (abs(position.size) / quantity_step).to_integral_value(ROUND_FLOOR) * quantity_step
    return StopPlan(Side.SELL if long else Side.BUY, quantity, trigger)


def _covers(stop: VenueStop, plan: StopPlan) -> bool:
    if stop.side is not plan.side:
        return False
    return stop.close_position or (stop.reduce_only and stop.amount == plan.quantity)


def _journal_covers(order: JournaledOrder, plan: StopPlan) -> bool:
    intent = order.intent
    return (
        order.state in _CONFIRMED
        and intent.side is plan.side
        and intent.reduce_only
        and intent.quantity == plan.quantity
    )


def decide_protection(
    settings: ProtectionSettings,
    state: ProtectionState,
    *,
    plan: StopPlan | None,
    venue_stops: Sequence[VenueStop],
    own_stops: Sequence[JournaledOrder],
    strays: frozenset[str],
    now: float,
    unseen: frozenset[str] = frozenset(),
) -> tuple[ProtectionState, ProtectionDecision]:
    """Decide whether the position is protected and what to repair.

    ``venue_stops`` are the stops waiting at the venue; ``own_stops`` the
    journal's live stop orders of this symbol; ``strays`` the venue ids of
    bot-owned orders the journal does not know (they are cancelled as strays,
    so they never count as protection). A stop of someone else (no bot
    prefix) that covers the position is accepted: a person may set one.
    ``unseen``: venue ids of the bot's stops the venue's reads do not show yet
    within the absence grace (reads lag writes). One the venue accepted that
    covers the position counts as standing: replacing it would only put a
    second stop next to it, and the next one would lag the same way.
    """
    own_by_venue_id = {order.venue_client_id: order for order in own_stops}
    if plan is None or not settings.required or plan.quantity <= 0:
        cancel = () if plan is not None else tuple(o.client_order_id for o in own_stops)
        reason = "flat: no stop needed" if plan is None else "no protective stop required"
        return ProtectionState(repairs=state.repairs), ProtectionDecision(
            True, None, cancel, reason
        )
    covering = [s for s in venue_stops if s.venue_client_id not in strays and _covers(s, plan)]
    keep = covering[0].venue_client_id if covering else None
    if keep is None:
        keep = next(
            (
                venue_id
                for venue_id, order in own_by_venue_id.items()
                if venue_id in unseen and _journal_covers(order, plan)
            ),
            None,
        )
    # The bot's other stops are wrong (side or size) or surplus; with a correct
    # stop in place they go now, otherwise right after the replacement is placed.
    surplus = tuple(
        order.client_order_id for venue_id, order in own_by_venue_id.items() if venue_id != keep
    )
    if keep is not None:
        return ProtectionState(repairs=state.repairs), ProtectionDecision(
            True, None, surplus, "protected"
        )
    wanted = (plan.side, plan.quantity)
    if state.repairing is not None and state.repairing != wanted:
        # Another position than the one the last repairs were for: a new episode.
        state = replace(state, attempts=0, last_attempt_at=None, repairing=None)
    since = state.unprotected_since if state.unprotected_since is not None else now
    missing = now - since > settings.repair_window_seconds
    wrong = [s for s in venue_stops if s.venue_client_id in own_by_venue_id]
    reason = "wrong-size stop" if wrong else "no stop"
    if state.attempts >= settings.max_attempts:
        bare = replace(state, unprotected_since=since)
        return bare, ProtectionDecision(
            False, None, (), f"{reason}: repairs exhausted", gave_up=True, missing=missing
        )
    cooling = (
        state.last_attempt_at is not None
        and now - state.last_attempt_at < settings.cooldown_seconds
    )
    if cooling:
        bare = replace(state, unprotected_since=since)
        return bare, ProtectionDecision(
            False, None, (), f"{reason}: repair cooling down", missing=missing
        )
    repairing = ProtectionState(
        unprotected_since=since,
        attempts=state.attempts + 1,
        last_attempt_at=now,
        repairs=state.repairs + 1,
        repairing=wanted,
    )
    return repairing, ProtectionDecision(False, plan, surplus, reason, missing=missing)
