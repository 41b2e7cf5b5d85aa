"""Settle the journal against the venue: after a restart and on every reconcile.

Every non-terminal intent is looked up by its client id. What absence means
depends on the state: an order that was never sent is abandoned; one sent
but not found is abandoned only after a grace period (a request can still be
in flight); a live order the venue no longer knows is done.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from tradewarden.bot.execution.journal import Journal
from tradewarden.bot.execution.order_state import OrderState
from tradewarden.bot.execution.router import OrderRouter


@dataclass
class SweepReport:
    """What one sweep found."""

    looked_up: int = 0
    abandoned: list[str] = field(default_factory=list)
    closed_unknown: list[str] = field(default_factory=list)
    still_unknown: list[str] = field(default_factory=list)


async def sweep(
    journal: Journal,
    router: OrderRouter,
    *,
    clock: Callable[[], float],
    absent_grace_seconds: float,
    after_restart: bool,
) -> SweepReport:
    """Look up every non-terminal intent and settle what the venue says.

    With ``after_restart`` the process that created CREATED intents is gone,
    so they can never be sent: they are abandoned. Outside a restart they
    belong to the execution worker and are left alone. Raises
    :class:`~tradewarden.bot.execution.router.LookupFailed` if the venue
    cannot be asked; nothing is decided on a failed lookup.
    """
    report = SweepReport()
    for order in journal.non_terminal():
        coid = order.client_order_id
        if order.state is OrderState.CREATED:
            if after_restart:
                journal.transition(coid, OrderState.ABANDONED, detail="never sent before restart")
                report.abandoned.append(coid)
            continue
        report.looked_up += 1
        if await router.resolve(order) is not None:
            continue
        if order.state is not OrderState.SUBMITTING:
            journal.transition(coid, OrderState.CANCELED, detail="venue no longer knows the order")
            report.closed_unknown.append(coid)
        elif clock() - order.updated_at >= absent_grace_seconds:
            journal.transition(coid, OrderState.ABANDONED, detail="absent at the venue")
            report.abandoned.append(coid)
        else:
            report.still_unknown.append(coid)
    return report
