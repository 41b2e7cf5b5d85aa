"""When to reconnect a market-data stream, and when to give up. Pure; the clock comes in.

The delays are a :class:`RetryPolicy` built from ``spec.guards.websocket``:
attempt ``n`` (1-based) waits ``min(cap, base * multiplier ** (n - 1))`` spread
by ``+-jitter``. A stream that stays up for ``stable_reset`` seconds earns a
fresh budget; a stream that keeps dropping before that spends it, so a flapping
connection exhausts just like a dead one. Exhaustion is reported, never a
give-up: the stream keeps reconnecting at the cap so it can recover.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from tradewarden.api.tradingbot import WebSocketGuard
from tradewarden.bot.model.outcomes import ErrorClass
from tradewarden.bot.retry import RetryPolicy


@dataclass(frozen=True)
class Backoff:
    """What to do after the stream failed: wait ``delay`` seconds, then try attempt ``attempt``.

    ``exhausted_now`` is true exactly once, on the failure that used up the budget;
    the policy keeps answering with capped delays after that so the stream can recover.
    """

    attempt: int
    delay: float
    exhausted_now: bool


class ReconnectPolicy:
    """Counts reconnect attempts and turns them into delays."""

    def __init__(self, guard: WebSocketGuard, rng: random.Random) -> None:
        self.guard = guard
        self.retry = RetryPolicy(
            base_delay=guard.backoff_base_seconds,
            max_delay=guard.backoff_cap_seconds,
            multiplier=guard.backoff_multiplier,
            jitter=guard.jitter,
        )
        self._rng = rng
        self.attempts = 0
        self.exhausted = False
        self._up_since: float | None = None

    def connected(self, now: float) -> None:
        """The stream delivered its first update after (re)connecting."""
        self._up_since = now

    def settle(self, now: float) -> None:
        """Reset the budget once the stream has been up for the reset period."""
        up_since = self._up_since
        if up_since is not None and now - up_since >= self.guard.stable_reset_seconds:
            self.attempts, self.exhausted = 0, False

    def failed(self, now: float) -> Backoff:
        """The stream dropped or a connect attempt failed: how long until the next attempt."""
        self.settle(now)
        self._up_since = None
        self.attempts += 1
        exhausted_now = not self.exhausted and self.attempts > self.guard.max_reconnects
        self.exhausted = self.exhausted or exhausted_now
        delay = self.retry.delay(self.attempts, ErrorClass.RETRYABLE, self._rng)
        return Backoff(self.attempts, delay, exhausted_now)
