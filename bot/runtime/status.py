"""The bot's ``/status`` document (:class:`tradewarden.api.bot_status.BotStatus`), built from
its state. Pure rendering; the HTTP server serves it as JSON.

It reads the bot through :class:`StatusSource`, what ``/status`` shows and nothing
more; the runtime satisfies it without this module importing the runtime.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Protocol

from tradewarden.api.bot_status import (
    BeliefStatus,
    BotStatus,
    DriftStatus,
    GuardStatus,
    KillSwitchStatus,
    OpenOrder,
    ProtectionStatus,
)
from tradewarden.api.identity import bot_identity
from tradewarden.api.tradingbot import TradingBot, TradingBotSpec
from tradewarden.bot.control.companion import SOURCE_DEAD_MAN, Clocks, render_control
from tradewarden.bot.execution.journal import Journal
from tradewarden.bot.market.feed import MarketState
from tradewarden.bot.model.guards import DEAD_MAN, GUARD_NAMES
from tradewarden.bot.posture import Posture, Restriction
from tradewarden.bot.preflight.checks import PreflightReport, preflight_status
from tradewarden.bot.reliability.guards import GuardBoard
from tradewarden.bot.reliability.reconciler import SymbolWatch


class Queue(Protocol):
    """The execution worker, as /status sees it."""

    def pending(self) -> int:
        """Commands waiting in the queue."""


class Watches(Protocol):
    """The reconciler, as /status sees it."""

    @property
    def watch(self) -> Mapping[str, SymbolWatch]:
        """What the reconciler remembers per symbol."""


class StatusSource(Protocol):
    """What ``/status`` reads of the running bot, and nothing more."""

    @property
    def manifest(self) -> TradingBot: ...

    @property
    def spec(self) -> TradingBotSpec: ...

    @property
    def clocks(self) -> Clocks: ...

    @property
    def dry_run(self) -> bool: ...

    @property
    def ready(self) -> bool: ...

    @property
    def recovered(self) -> bool: ...

    @property
    def posture(self) -> Posture: ...

    @property
    def guards(self) -> GuardBoard: ...

    @property
    def market(self) -> MarketState: ...

    @property
    def positions(self) -> Mapping[str, Decimal]: ...

    @property
    def journal(self) -> Journal | None: ...

    @property
    def worker(self) -> Queue | None: ...

    @property
    def reconciler(self) -> Watches | None: ...

    @property
    def last_errors(self) -> Sequence[dict[str, Any]]: ...

    @property
    def preflight(self) -> PreflightReport | None: ...

    @property
    def preflight_warn_only(self) -> bool: ...

    @property
    def companions(self) -> Sequence[object]: ...

    def restrictions(self) -> tuple[Restriction, ...]: ...


def render_status(bot: StatusSource) -> BotStatus:
    """What ``/status`` shows: mode and why, positions, orders, journal health."""
    journal = bot.journal
    working = journal.non_terminal() if journal else []
    incomplete = journal.incomplete(bot.spec.execution.incomplete_after_seconds) if journal else []
    return BotStatus(
        bot=bot_identity(bot.manifest),
        symbol=bot.spec.symbol,
        dry_run=bot.dry_run,
        ready=bot.ready,
        recovered=bot.recovered,
        trading_mode=bot.posture.mode,
        mode_reasons=list(bot.posture.reasons),
        marks=dict(bot.market.marks),
        positions=dict(bot.positions),
        open_orders=[
            OpenOrder(
                client_order_id=order.client_order_id,
                side=order.intent.side.value,
                type=order.intent.order_type.value,
                price=order.intent.price,
                quantity=order.intent.quantity,
                filled=order.filled,
                state=order.state.value,
            )
            for order in working
        ],
        journal=journal.counts_by_state() if journal else {},
        incomplete_lifecycles=[order.client_order_id for order in incomplete],
        execution_queue=bot.worker.pending() if bot.worker else 0,
        last_errors=list(bot.last_errors),
        preflight=preflight_status(bot.preflight, bot.preflight_warn_only),
        guards=render_guards(bot),
        kill_switch=render_kill_switch(bot),
        belief=render_belief(bot),
        drift=render_drift(bot),
        protection=render_protection(bot),
        control=render_control(bot.companions),
    )


def render_guards(bot: StatusSource) -> list[GuardStatus]:
    """One entry per guard, or one per symbol it holds; untripped guards show as such."""
    trips = bot.guards.active(bot.clocks.clock())
    entries: list[GuardStatus] = []
    for name in GUARD_NAMES:
        mine = [trip for trip in trips if trip.name == name]
        entries += [
            GuardStatus(
                name=name,
                tripped=True,
                mode=trip.mode,
                reason=trip.reason,
                until=trip.until,
                symbol=trip.symbol,
            )
            for trip in mine
        ] or [GuardStatus(name=name)]
    dead_man = [r for r in bot.restrictions() if r.source == SOURCE_DEAD_MAN]
    entries += [
        GuardStatus(name=DEAD_MAN, tripped=True, mode=r.mode, reason=r.reason, symbol=r.symbol)
        for r in dead_man
    ] or [GuardStatus(name=DEAD_MAN)]
    return entries


def render_kill_switch(bot: StatusSource) -> KillSwitchStatus:
    """Whether the kill switch holds the bot, why, and the clean evidence seen since."""
    switch = bot.guards.kill_switch
    return KillSwitchStatus(
        engaged=switch.engaged, reason=switch.reason, clean_reconciles=switch.clean_reconciles
    )


def render_belief(bot: StatusSource) -> BeliefStatus:
    """Confidence in the local picture, the mismatch streak and the debt per symbol."""
    belief = bot.guards.belief
    return BeliefStatus(
        confidence=round(bot.guards.confidence(), 4),
        mismatch_streak=belief.streak,
        debt=dict(belief.debt),
    )


def render_drift(bot: StatusSource) -> DriftStatus:
    """Bot-owned orders at the venue the journal does not know, and whether drift is on."""
    watches = bot.reconciler.watch.values() if bot.reconciler else ()
    return DriftStatus(
        detected=any(w.drift.detected for w in watches),
        stray_streak=max((w.drift.streak for w in watches), default=0),
        strays=[cid for w in watches for cid in w.drift.strays],
    )


def render_protection(bot: StatusSource) -> ProtectionStatus:
    """Whether every position carries its stop, since when not, and the repairs so far."""
    watches = bot.reconciler.watch.values() if bot.reconciler else ()
    since = [w.protection.unprotected_since for w in watches if not w.protected]
    return ProtectionStatus(
        protected=all(w.protected for w in watches),
        unprotected_since=min((t for t in since if t is not None), default=None),
        stop_repairs=sum(w.protection.repairs for w in watches),
    )
