"""When to reconnect a market-data stream, and when to give up. Pure; the clock comes in.

Exponential backoff with jitter: attempt ``n`` (1-based) waits
``min(cap, base * multiplier ** (n - 1))`` spread by ``+-jitter``. A stream that stays
up for ``stable_reset`` seconds earns a fresh budget; a stream that keeps dropping
before that spends it, so a flapping connection exhausts just like a dead one.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from tradewarden.api.tradingbot import WebSocketGuard


@dataclass(frozen=True)
class ReconnectSettings:
    """The knobs of :class:`ReconnectPolicy` (``spec.guards.websocket``)."""

    base_seconds: float = 2.0
    multiplier: float = 2.0
    cap_seconds: float = 60.0
    jitter: float = 0.25
    stable_reset_seconds: float = 60.0
    max_attempts: int = 10

    @classmethod
    def from_guard(cls, guard: WebSocketGuard) -> ReconnectSettings:
        """The settings a TradingBot's websocket guard asks for."""
        return cls(
            base_seconds=guard.backoff_base_seconds,
            multiplier=guard.backoff_multiplier,
            cap_seconds=guard.backoff_cap_seconds,
            jitter=guard.jitter,
            stable_reset_seconds=guard.stable_reset_seconds,
            max_attempts=guard.max_reconnects,
        )


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

    def __init__(self, settings: ReconnectSettings, rng: random.Random) -> None:
        self.settings = settings
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
        if up_since is not None and now - up_since >= self.settings.stable_reset_seconds:
            self.attempts, self.exhausted = 0, False

    def failed(self, now: float) -> Backoff:
        """The stream dropped or a connect attempt failed: how long until the next attempt."""
        self.settle(now)
        self._up_since = None
        self.attempts += 1
        exhausted_now = not self.exhausted and self.attempts > self.settings.max_attempts
        self.exhausted = self.exhausted or exhausted_now
        return Backoff(self.attempts, self._delay(self.attempts), exhausted_now)

    def _delay(self, attempt: int) -> float:
        s = self.settings
        # Clamp the exponent so a long outage cannot overflow the float.
        exponent = min(attempt - 1, 64)
        raw = min(s.cap_seconds, s.base_seconds * s.multiplier**exponent)
        spread = 1.0 + s.jitter * (2.0 * self._rng.random() - 1.0)
        return raw * spread
