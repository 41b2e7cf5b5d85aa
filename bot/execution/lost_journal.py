"""Is the journal lost? What the venue shows of a bot whose journal has no history. Pure logic.

A journal with no intent in it is either a new bot's or a lost one's (deleted,
truncated, a fresh volume). The venue tells them apart: orders or stops under
the bot's client-id prefix, open or in the order history (fills included),
were sent by an earlier journal of this bot. A bot whose journal lost them
must not trade: it would not know its working orders, its fills or what its
position is made of. A position alone is not proof (the account may hold one
apart from the bot, which the reconciler takes as its baseline); it is named
in the message when there is other evidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from tradewarden.bot.model.venue import PastOrder

RUNBOOK = "runbooks/lost-journal.md"


def lost_journal(
    journal: Path,
    prefix: str,
    history: Sequence[PastOrder],
    position: Decimal,
    symbol: str,
) -> str | None:
    """Why the empty journal at ``journal`` must be a lost one, or None if nothing says so."""
    ours = [order for order in history if order.venue_client_id.startswith(prefix)]
    if not ours:
        return None
    counts = {
        "open orders": sum(1 for o in ours if o.status == "open" and not o.stop),
        "open stops": sum(1 for o in ours if o.status == "open" and o.stop),
        "filled orders": sum(1 for o in ours if o.status == "closed"),
        "other past orders": sum(1 for o in ours if o.status not in ("open", "closed")),
    }
    found = ", ".join(f"{count} {what}" for what, count in counts.items() if count)
    return (
        f"journal {journal} has no history, but the venue shows this bot's orders "
        f"(client ids {prefix}*) on {symbol}: {found}; position {position}. The journal was "
        f"lost or replaced: the bot does not trade without it. Restore it, or see {RUNBOOK}"
    )
