"""What deleting a TradingBot does, by its ``spec.deletionPolicy``. Pure: no I/O.

The drain sets an emergency stop the bot obeys through its own watch, waits for the
bot's ``/status`` to show the policy's end state, and only then lets the finalizer
go (the children follow). Halt (the default) leaves the position at the venue with
its protective stop; Flatten closes it and cancels the stops first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tradewarden.api.bot_status import BotStatus
from tradewarden.api.tradingbot import DeletionPolicy, EmergencyAction, TradingMode

DRAIN_REASON = "TradingBot deleted: the operator drains it before its children go"
_WORKS: dict[DeletionPolicy, frozenset[str]] = {
    # An emergency stop already set that does the policy's work is kept (with its reason).
    DeletionPolicy.HALT: frozenset({EmergencyAction.HALT.value, EmergencyAction.FLATTEN.value}),
    DeletionPolicy.FLATTEN: frozenset({EmergencyAction.FLATTEN.value}),
}


def deletion_policy(spec: Mapping[str, Any]) -> DeletionPolicy:
    """The spec's policy; Halt when absent (the CRD defaults it to Halt as well)."""
    return DeletionPolicy(spec.get("deletionPolicy") or DeletionPolicy.HALT.value)


def drain_stop(spec: Mapping[str, Any]) -> dict[str, str] | None:
    """The ``spec.emergencyStop`` the drain sets, or ``None`` when the one set does the work."""
    policy = deletion_policy(spec)
    current = (spec.get("emergencyStop") or {}).get("action")
    if current in _WORKS[policy]:
        return None
    action = EmergencyAction.FLATTEN if policy is DeletionPolicy.FLATTEN else EmergencyAction.HALT
    return {"action": action.value, "reason": DRAIN_REASON}


def draining_message(spec: Mapping[str, Any]) -> str:
    """The Draining Event: what the drain set and what will be left at the venue."""
    policy = deletion_policy(spec)
    stop = drain_stop(spec) or spec.get("emergencyStop") or {}
    if policy is DeletionPolicy.FLATTEN:
        outcome = "the position is closed and its protective stop cancelled before the bot goes"
    else:
        outcome = "orders are cancelled; the position stays at the venue with its protective stop"
    return f"deletionPolicy {policy.value}: emergencyStop {stop.get('action')}; {outcome}"


def drain_pending(bot_status: BotStatus, symbol: str, policy: DeletionPolicy) -> str | None:
    """What still keeps a reachable bot from being drained under ``policy``, or ``None``."""
    mode = bot_status.trading_mode
    entries = len(bot_status.entries())
    if policy is DeletionPolicy.HALT:
        if entries == 0 and mode is TradingMode.HALTED:
            return None
        return f"{entries} open non-protective orders, mode {mode}"
    held = bot_status.position(symbol).normalize()
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
    held = bot_status.position(symbol).normalize()
    if policy is DeletionPolicy.FLATTEN or held == 0:
        return f"deletionPolicy {policy.value}: flat, no orders left at the venue; children go now"
    stops = len(bot_status.open_orders) - len(bot_status.entries())
    return (
        f"deletionPolicy Halt: no open orders; position {held:f} {symbol} stays at the venue "
        f"with {stops} protective stop{'s' if stops != 1 else ''}; children go now"
    )
