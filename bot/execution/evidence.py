"""What a venue snapshot of one order means for the journal. Pure logic.

Snapshots can be late (a replica behind, a cached reply) and the venue can
contradict us; neither may silently rewrite the journal. A snapshot is
applied only when it moves the order forward along the state machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from tradewarden.bot.execution.intent import JournaledOrder
from tradewarden.bot.execution.order_state import TRANSITIONS, OrderState


@dataclass(frozen=True)
class VenueOrder:
    """An order as the venue reports it."""

    venue_client_id: str
    exchange_order_id: str
    state: OrderState
    amount: Decimal
    filled: Decimal
    average_price: Decimal | None


class Verdict(StrEnum):
    """How a snapshot relates to what the journal knows."""

    APPLY = "apply"  # newer evidence: adopt it
    SAME = "same"  # nothing new
    STALE = "stale"  # older than what we know: ignore, count as mismatch
    CONFLICT = "conflict"  # contradicts a terminal outcome: real divergence


@dataclass(frozen=True)
class Judgement:
    """A verdict and the reason for it."""

    verdict: Verdict
    reason: str


def judge(known: JournaledOrder, seen: VenueOrder) -> Judgement:
    """Compare the journal's view of an order with a venue snapshot of it."""
    if seen.filled < known.filled:
        return Judgement(
            Verdict.STALE, f"venue shows filled {seen.filled} < journaled {known.filled}"
        )
    if seen.state is known.state and seen.filled == known.filled:
        return Judgement(Verdict.SAME, "no change")
    if known.state.is_terminal:
        return Judgement(
            Verdict.CONFLICT,
            f"journal says {known.state} (filled {known.filled}), "
            f"venue says {seen.state} (filled {seen.filled})",
        )
    if seen.state in TRANSITIONS[known.state] or seen.state is known.state:
        return Judgement(Verdict.APPLY, f"{known.state} -> {seen.state}")
    # A move the lifecycle cannot make from here (REJECTED after OPEN, say):
    # keep the journal and let the mismatch count speak.
    return Judgement(Verdict.STALE, f"venue shows {seen.state} while journal says {known.state}")
