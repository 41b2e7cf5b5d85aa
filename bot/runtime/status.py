"""The bot's ``/status`` document, built from its state. Pure rendering."""

from __future__ import annotations

from typing import Any

from tradewarden.api.identity import bot_identity
from tradewarden.bot.control.companion import render_control
from tradewarden.bot.model.guards import GUARD_NAMES
from tradewarden.bot.preflight.checks import preflight_status
from tradewarden.bot.runtime.bot import BotRuntime

DEAD_MAN_SOURCE = "control.deadMan"


def render_status(bot: BotRuntime) -> dict[str, Any]:
    """What ``/status`` shows: mode and why, positions, orders, journal health."""
    journal = bot.journal
    working = journal.non_terminal() if journal else []
    incomplete = journal.incomplete(bot.spec.execution.incomplete_after_seconds) if journal else []
    return {
        "bot": bot_identity(bot.manifest),
        "symbol": bot.spec.symbol,
        "dryRun": bot.dry_run,
        "ready": bot.ready,
        "recovered": bot.recovered,
        "tradingMode": bot.posture.mode.value,
        "modeReasons": list(bot.posture.reasons),
        "marks": {symbol: str(mark) for symbol, mark in bot.market.marks.items()},
        "positions": {symbol: str(size) for symbol, size in bot.positions.items()},
        "openOrders": [
            {
                "clientOrderId": order.client_order_id,
                "side": order.intent.side.value,
                "type": order.intent.order_type.value,
                "price": None if order.intent.price is None else str(order.intent.price),
                "quantity": str(order.intent.quantity),
                "filled": str(order.filled),
                "state": order.state.value,
            }
            for order in working
        ],
        "journal": journal.counts_by_state() if journal else {},
        "incompleteLifecycles": [order.client_order_id for order in incomplete],
        "executionQueue": bot.worker.pending() if bot.worker else 0,
        "lastErrors": list(bot.last_errors),
        "preflight": preflight_status(bot.preflight, bot.preflight_warn_only),
        "guards": render_guards(bot),
        "killSwitch": render_kill_switch(bot),
        "belief": render_belief(bot),
        "drift": render_drift(bot),
        "protection": render_protection(bot),
        "control": render_control(bot.companions),
    }


def render_guards(bot: BotRuntime) -> list[dict[str, Any]]:
    """One entry per guard, or one per symbol it holds; untripped guards show as such."""
    trips = bot.guards.active(bot.clocks.clock())
    entries: list[dict[str, Any]] = []
    for name in GUARD_NAMES:
        mine = [trip for trip in trips if trip.name == name]
        entries += [
            {
                "name": name,
                "tripped": True,
                "mode": trip.mode.value,
                "reason": trip.reason,
                "until": trip.until,
                "symbol": trip.symbol,
            }
            for trip in mine
        ] or [_untripped(name)]
    dead_man = [r for r in bot.restrictions() if r.source == DEAD_MAN_SOURCE]
    entries += [
        {
            "name": "deadMan",
            "tripped": True,
            "mode": r.mode.value,
            "reason": r.reason,
            "until": None,
            "symbol": r.symbol,
        }
        for r in dead_man
    ] or [_untripped("deadMan")]
    return entries


def _untripped(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "tripped": False,
        "mode": None,
        "reason": "",
        "until": None,
        "symbol": None,
    }


def render_kill_switch(bot: BotRuntime) -> dict[str, Any]:
    """Whether the kill switch holds the bot, why, and the clean evidence seen since."""
    switch = bot.guards.kill_switch
    return {
        "engaged": switch.engaged,
        "reason": switch.reason,
        "cleanReconciles": switch.clean_reconciles,
    }


def render_belief(bot: BotRuntime) -> dict[str, Any]:
    """Confidence in the local picture, the mismatch streak and the debt per symbol."""
    belief = bot.guards.belief
    return {
        "confidence": round(bot.guards.confidence(), 4),
        "mismatchStreak": belief.streak,
        "debt": dict(belief.debt),
    }


def render_drift(bot: BotRuntime) -> dict[str, Any]:
    """Bot-owned orders at the venue the journal does not know, and whether drift is on."""
    watches = bot.reconciler.watch.values() if bot.reconciler else ()
    return {
        "detected": any(w.drift.detected for w in watches),
        "strayStreak": max((w.drift.streak for w in watches), default=0),
        "strays": [cid for w in watches for cid in w.drift.strays],
    }


def render_protection(bot: BotRuntime) -> dict[str, Any]:
    """Whether every position carries its stop, since when not, and the repairs so far."""
    watches = bot.reconciler.watch.values() if bot.reconciler else ()
    since = [w.protection.unprotected_since for w in watches if not w.protected]
    return {
        "protected": all(w.protected for w in watches),
        "unprotectedSince": min((t for t in since if t is not None), default=None),
        "stopRepairs": sum(w.protection.repairs for w in watches),
    }
