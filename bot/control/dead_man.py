"""Dead-man timing: a bot that lost the API server degrades by itself. Pure logic.

Only a *successful* API-server call counts as contact (a list, a watch event,
a Lease read or write): a bot that cannot hear an emergency stop must not keep
opening exposure.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class DeadManChange(StrEnum):
    """A transition the caller acts on (restrict / withdraw, and say so)."""

    TRIPPED = "tripped"
    RECOVERED = "recovered"


@dataclass
class DeadMan:
    """Counts time since the last contact; trips at ``timeout``, recovers on contact."""

    timeout: float
    last_contact: float
    tripped: bool = False

    def contact(self, now: float) -> DeadManChange | None:
        """A call succeeded at ``now``."""
        self.last_contact = max(self.last_contact, now)
        if self.tripped:
            self.tripped = False
            return DeadManChange.RECOVERED
        return None

    def tick(self, now: float) -> DeadManChange | None:
        """Check the time; trips once when contact has been missing for ``timeout``."""
        if not self.tripped and self.unreachable_for(now) >= self.timeout:
            self.tripped = True
            return DeadManChange.TRIPPED
        return None

    def unreachable_for(self, now: float) -> float:
        """Seconds since the last contact (since start when there was none)."""
        return max(0.0, now - self.last_contact)


def heartbeat_seconds(renew_seconds: float, timeout: float) -> float:
    """How long the Lease loop (the bot's heartbeat) may sleep between calls.

    Its renewals are the contact the dead-man counts when no watch event
    arrives, so a timeout shorter than the renewal cadence would trip while
    the API server is fine. Three calls per timeout: one lost call does not
    trip it either.
    """
    return min(renew_seconds, timeout / 3)
