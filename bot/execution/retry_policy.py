"""Bounded exponential backoff with jitter and a cap on elapsed time.

The one place that decides whether and how long to wait before the next
attempt. Clock and randomness are injected so tests never sleep.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from tradewarden.bot.model.outcomes import ErrorClass

# Rate limits and bans get a longer first step: hammering a 429 earns a 418.
_CLASS_MULTIPLIER = {ErrorClass.RATE_LIMITED: 4.0}
_NEVER_RETRY = frozenset({ErrorClass.REJECTED, ErrorClass.UNKNOWN_ORDER})


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff settings for one request."""

    max_retries: int
    base_delay: float
    max_delay: float
    max_elapsed: float
    multiplier: float = 2.0
    jitter: float = 0.25

    def delay(self, attempt: int, error_class: ErrorClass, rng: random.Random) -> float:
        """Delay before retry number ``attempt`` (1-based), jittered by +-``jitter``."""
        raw = self.base_delay * self.multiplier ** (attempt - 1)
        raw *= _CLASS_MULTIPLIER.get(error_class, 1.0)
        capped = min(raw, self.max_delay)
        return max(0.0, capped * (1 + rng.uniform(-self.jitter, self.jitter)))

    def next_delay(
        self,
        attempt: int,
        error_class: ErrorClass,
        elapsed: float,
        rng: random.Random,
    ) -> float | None:
        """The wait before the next attempt, or ``None`` to give up.

        ``attempt`` counts the attempts made so far; ``elapsed`` is the time
        since the first one. A wait that would cross ``max_elapsed`` is a
        give-up now rather than a doomed attempt later.
        """
        if error_class in _NEVER_RETRY or attempt > self.max_retries:
            return None
        wait = self.delay(attempt, error_class, rng)
        if elapsed + wait > self.max_elapsed:
            return None
        return wait
