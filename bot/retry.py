"""Retries: one policy decides every wait, one helper applies it.

:class:`RetryPolicy` is pure: the delay before retry ``n`` (``base_delay``
grown by ``multiplier`` per retry, capped at ``max_delay``, spread by
+-``jitter``) and whether to give up (after ``max_retries`` retries, or when
the wait would cross ``max_elapsed`` since the first attempt). :class:`Retry`
is the thin async shell a retry loop runs on: it counts one request's
attempts, times them on the injected clock and waits on the injected sleep.

Every retry of the bot goes through these two: the order router's requests,
the worker's tight-loop reconcile, startup recovery, the control loops and the
market-data reconnects. None computes a delay of its own.
"""

from __future__ import annotations

import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tradewarden.bot.model.outcomes import ErrorClass

# Rate limits and bans get a longer first step: hammering a 429 earns a 418.
_CLASS_MULTIPLIER = {ErrorClass.RATE_LIMITED: 4.0}
_NEVER_RETRY = frozenset({ErrorClass.REJECTED, ErrorClass.UNKNOWN_ORDER})
# A long outage must not overflow the float: past this the delay is the cap anyway.
_MAX_EXPONENT = 64


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff settings of one kind of request.

    ``max_retries`` ``None`` and ``max_elapsed`` infinite: the policy never
    gives up (a loop that must keep trying, paced). ``jitter`` 0 draws nothing
    from the rng.
    """

    base_delay: float
    max_delay: float
    max_retries: int | None = None
    max_elapsed: float = math.inf
    multiplier: float = 2.0
    jitter: float = 0.25

    def delay(
        self, attempt: int, error_class: ErrorClass, rng: random.Random | None = None
    ) -> float:
        """Delay before retry number ``attempt`` (1-based), jittered by +-``jitter``."""
        raw = self.base_delay * self.multiplier ** min(attempt - 1, _MAX_EXPONENT)
        raw *= _CLASS_MULTIPLIER.get(error_class, 1.0)
        capped = min(raw, self.max_delay)
        if not self.jitter:
            return capped
        if rng is None:
            raise ValueError("a jittered policy needs an rng")
        return max(0.0, capped * (1 + rng.uniform(-self.jitter, self.jitter)))

    def fits(self, elapsed: float, wait: float) -> bool:
        """Whether a wait of ``wait`` after ``elapsed`` seconds stays within ``max_elapsed``."""
        return elapsed + wait <= self.max_elapsed

    def next_delay(
        self,
        attempt: int,
        error_class: ErrorClass,
        elapsed: float,
        rng: random.Random | None = None,
    ) -> float | None:
        """The wait before the next attempt, or ``None`` to give up.

        ``attempt`` counts the attempts made so far; ``elapsed`` is the time
        since the first one. A wait that would cross ``max_elapsed`` is a
        give-up now rather than a doomed attempt later.
        """
        if error_class in _NEVER_RETRY:
            return None
        if self.max_retries is not None and attempt > self.max_retries:
            return None
        wait = self.delay(attempt, error_class, rng)
        return wait if self.fits(elapsed, wait) else None


class Retry:
    """The attempts of one request under a :class:`RetryPolicy`; the only place that waits.

    A loop calls :meth:`begin` before each attempt and, after a failed one,
    :meth:`backoff` (or :meth:`next_delay` then :meth:`wait`, when it has
    something to do between deciding and waiting). ``attempt`` counts the
    attempts begun; elapsed time counts from the first one, or from the last
    :meth:`reset` (a loop that runs forever resets after each success).
    """

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
        rng: random.Random | None = None,
    ) -> None:
        self.policy = policy
        self._clock = clock
        self._sleep = sleep
        self._rng = rng
        self.attempt = 0
        self.started = clock()

    def begin(self) -> int:
        """Start the next attempt; its 1-based number."""
        self.attempt += 1
        return self.attempt

    def reset(self) -> None:
        """A fresh request: no attempts made, elapsed time from now."""
        self.attempt = 0
        self.started = self._clock()

    @property
    def elapsed(self) -> float:
        """Seconds since the first attempt."""
        return self._clock() - self.started

    def next_delay(self, error_class: ErrorClass = ErrorClass.RETRYABLE) -> float | None:
        """The policy's wait after the latest attempt failed with ``error_class``; None: give up."""
        return self.policy.next_delay(self.attempt, error_class, self.elapsed, self._rng)

    def delay(
        self, attempt: int | None = None, error_class: ErrorClass = ErrorClass.RETRYABLE
    ) -> float:
        """The policy's wait before retry ``attempt`` (the latest), whatever the budget says."""
        return self.policy.delay(
            self.attempt if attempt is None else attempt, error_class, self._rng
        )

    async def wait(self, delay: float) -> None:
        """Wait ``delay`` seconds on the injected sleep."""
        await self._sleep(delay)

    async def backoff(self, error_class: ErrorClass = ErrorClass.RETRYABLE) -> float | None:
        """Wait as the policy says after a failed attempt; the wait, or None (no wait): give up."""
        delay = self.next_delay(error_class)
        if delay is not None:
            await self._sleep(delay)
        return delay
