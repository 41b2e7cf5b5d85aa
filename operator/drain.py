"""What deleting a TradingBot does, by its ``spec.deletionPolicy``. Pure: no I/O.

The drain sets an emergency stop the bot obeys through its own watch, waits for the
bot's ``/status`` to show the policy's end state, and only then lets the finalizer
go (the children follow). Halt (the default) leaves the position at the venue with
its protective stop; Flatten closes it and cancels the stops first. A spec the
operator cannot read (a CRD of another version) drains by Halt, the CRD's
default: it stops the bot trading and closes nothing a person did not ask for.
"""

from __future__ import annotations

from decimal import Decimal

from tradewarden.api.bot_status import BotStatus
from tradewarden.api.tradingbot import (
    DeletionPolicy,
    EmergencyAction,
    EmergencyStop,
    TradingBotSpec,
    TradingMode,
)

DRAIN_REASON = "TradingBot deleted: the operator drains it before its children go"
# An emergency stop already set that does the policy's work is kept (with its reason).
_WORKS: dict[DeletionPolicy, frozenset[EmergencyAction]] = {
    DeletionPolicy.HALT: frozenset({EmergencyAction.HALT, EmergencyAction.FLATTEN}),
    DeletionPolicy.FLATTEN: frozenset({EmergencyAction.FLATTEN}),
}


def deletion_policy(spec: TradingBotSpec | None) -> DeletionPolicy:
    """The spec's policy; Halt, the CRD's default, when the spec cannot be read (``None``)."""
    return DeletionPolicy.HALT if spec is None else spec.deletion_policy


def _drain_target(spec: TradingBotSpec | None) -> tuple[EmergencyStop, bool]:
    """The emergency stop the drain relies on, and whether the drain has to set it."""
    policy = deletion_policy(spec)
    current = None if spec is None else spec.emergency_stop
    if current is not None and current.action in _WORKS[policy]:
        return current, False
    action = EmergencyAction.FLATTEN if policy is DeletionPolicy.FLATTEN else EmergencyAction.HALT
    return EmergencyStop(action=action, reason=DRAIN_REASON), True


def drain_stop(spec: TradingBotSpec | None) -> EmergencyStop | None:
    """The ``spec.emergencyStop`` the drain sets, or ``None`` when the one set does the work."""
    stop, to_set = _drain_target(spec)
    return stop if to_set else None


def draining_message(spec: TradingBotSpec | None) -> str:
    """The Draining Event: what the drain set and what will be left at the venue."""
    policy = deletion_policy(spec)
    stop, _ = _drain_target(spec)
    if policy is DeletionPolicy.FLATTEN:
        outcome = "the position is closed and its protective stop cancelled before the bot goes"
    else:
        outcome = "orders are cancelled; the position stays at the venue with its protective stop"
    return f"deletionPolicy {policy.value}: emergencyStop {stop.action.value}; {outcome}"


def _held(bot_status: BotStatus, symbol: str) -> Decimal:
    """The position in ``symbol`` (empty: the spec is unreadable, the bot's own symbol)."""
    return bot_status.position(symbol or bot_status.symbol).normalize()


def drain_pending(bot_status: BotStatus, symbol: str, policy: DeletionPolicy) -> str | None:
    """What still keeps a reachable bot from being drained under ``policy``, or ``None``."""
    mode = bot_status.trading_mode
    entries = len(bot_status.entries())
    if policy is DeletionPolicy.HALT:
        if entries == 0 and mode is TradingMode.HALTED:
            return None
        return f"{entries} open non-protective orders, mode {mode}"
    held = _held(bot_status, symbol)
    stops = len(bot_status.open_orders) - entries
    if entries == 0 and stops == 0 and held == 0 and mode is TradingMode.HALTED:
        return None
    return (
        f"deletionPolicy Flatten: position {held:f} {symbol}, {entries} open non-protective "
        f"orders, {stops} protective stops, mode {mode}"
    )


def drained_message(bot_status: BotStatus | None, symbol: str, policy: DeletionPolicy) -> str:
    """The Drained Event: what the bot left at the venue as it goes."""
    if bot_status is None:
        return (
            f"deletionPolicy {policy.value}: the bot's pod is not running (never started, "
            "gone or crash-looping), so it trades no more; children go now"
        )
    held = _held(bot_status, symbol)
    if policy is DeletionPolicy.FLATTEN or held == 0:
        return f"deletionPolicy {policy.value}: flat, no orders left at the venue; children go now"
    stops = len(bot_status.open_orders) - len(bot_status.entries())
    return (
        f"deletionPolicy Halt: no open orders; position {held:f} {symbol} stays at the venue "
        f"with {stops} protective stop{'s' if stops != 1 else ''}; children go now"
    )
