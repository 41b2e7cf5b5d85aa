"""A TradingHalt's status from what the probes saw of every bot. Pure: the clock is an argument.

A halt *matches* the bots its scope selects while it is in force (see
:mod:`tradewarden.api.halts`). A matched bot has *reached* the
demanded mode when its status shows that mode or a stricter one. It is
*confirmed* when, besides, its ``/status`` answers and shows no open
non-protective order (protective stops stay: they only ever reduce), and for
Flatten a position of zero. A bot that does not answer is never confirmed:
its open orders at the venue are not known. ``FleetConfirmed`` is True when
every matched bot is confirmed and at least one is matched (a selector that
matches nothing is not a stop anyone can rely on); ``confirmedAt`` is when that
first became true, and goes when it stops being true.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from tradewarden.api.halts import Halt, in_force, selects
from tradewarden.api.tradingbot import (
    EMERGENCY_MODE,
    MODE_SEVERITY,
    Condition,
    EmergencyAction,
    TradingMode,
)
from tradewarden.api.tradinghalt import (
    FLEET_CONFIRMED,
    HaltState,
    OutstandingBot,
    TradingHaltStatus,
)
from tradewarden.operator.status_decision import timestamp

MAX_OUTSTANDING = 50


@dataclass(frozen=True)
class BotView:
    """What the operator's last probe of one bot saw, for the halts that match it."""

    namespace: str
    name: str
    labels: Mapping[str, str]
    mode: TradingMode
    # /status answered; ``open_entries`` and ``position`` are only known when it did.
    reachable: bool
    pod_exists: bool
    open_entries: int = 0
    position: Decimal = Decimal(0)


def halt_state(halt: Halt, now: datetime) -> HaltState:
    """Active, Released (final) or Expired."""
    if halt.spec.release is not None:
        return HaltState.RELEASED
    return HaltState.ACTIVE if in_force(halt.spec, now) else HaltState.EXPIRED


def _why(view: BotView, action: EmergencyAction) -> str | None:
    """What keeps a matched bot from being confirmed, or ``None`` when it is."""
    demanded = EMERGENCY_MODE[action]
    if not view.pod_exists:
        return "no bot pod: its open orders at the venue are not known"
    if not view.reachable:
        return "the bot's /status does not answer: its open orders are not known"
    if MODE_SEVERITY[view.mode] < MODE_SEVERITY[demanded]:
        return f"mode {view.mode.value}, {demanded.value} demanded"
    if view.open_entries:
        return f"{view.open_entries} open non-protective orders at the venue"
    if action is EmergencyAction.FLATTEN and view.position != 0:
        return f"position {view.position} not flat yet"
    return None


def _condition(
    previous: TradingHaltStatus | None, status: str, reason: str, message: str, now: str
) -> Condition:
    before = next(
        (c for c in (previous.conditions if previous else []) if c.type == FLEET_CONFIRMED), None
    )
    since = before.last_transition_time if before and before.status == status else now
    return Condition(
        type=FLEET_CONFIRMED,
        status="True" if status == "True" else "False",
        reason=reason,
        message=message,
        last_transition_time=since,
    )


def decide_halt_status(
    halt: Halt,
    views: Iterable[BotView],
    *,
    namespace_labels: Mapping[str, Mapping[str, str]],
    previous: TradingHaltStatus | None,
    generation: int | None,
    now: datetime,
) -> TradingHaltStatus:
    """The halt's status: matched, reached, confirmed, outstanding and FleetConfirmed."""
    stamp = timestamp(now)
    state = halt_state(halt, now)
    if state is not HaltState.ACTIVE:
        return TradingHaltStatus(
            observed_generation=generation,
            state=state,
            confirmed_at=previous.confirmed_at if previous else None,
            conditions=[
                _condition(previous, "False", state.value, "the halt no longer applies", stamp)
            ],
        )
    action = halt.spec.action
    demanded = EMERGENCY_MODE[action]
    matched = [
        view
        for view in views
        if selects(halt.spec, view.namespace, namespace_labels.get(view.namespace), view.labels)
    ]
    reached = sum(1 for view in matched if MODE_SEVERITY[view.mode] >= MODE_SEVERITY[demanded])
    outstanding = sorted(
        (
            OutstandingBot(namespace=view.namespace, name=view.name, why=why)
            for view in matched
            if (why := _why(view, action)) is not None
        ),
        key=lambda bot: (bot.namespace, bot.name),
    )
    confirmed = len(matched) - len(outstanding)
    if not matched:
        condition = _condition(previous, "False", "NoBotsMatched", "no TradingBot matches", stamp)
    elif outstanding:
        message = f"{len(outstanding)} of {len(matched)} matched bots not confirmed yet"
        condition = _condition(previous, "False", "Outstanding", message, stamp)
    else:
        message = f"all {len(matched)} matched bots confirmed at the venue ({action.value})"
        condition = _condition(previous, "True", "AllConfirmed", message, stamp)
    fleet_confirmed = condition.status == "True"
    confirmed_at = None
    if fleet_confirmed:
        confirmed_at = (previous.confirmed_at if previous else None) or stamp
    return TradingHaltStatus(
        observed_generation=generation,
        state=state,
        matched=len(matched),
        reached_mode=reached,
        confirmed=confirmed,
        outstanding=outstanding[:MAX_OUTSTANDING],
        confirmed_at=confirmed_at,
        conditions=[condition],
    )
