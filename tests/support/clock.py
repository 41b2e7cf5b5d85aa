"""A clock the test moves: the house rule is fake clocks, never real sleeps."""

from __future__ import annotations


class FakeClock:
    """Time that moves only when the test, or the code under test through :meth:`sleep`, moves it.

    Call it for the time (it is a ``Callable[[], float]``, the clock every
    component takes). ``sleep`` is the matching injected sleep: it records the
    seconds asked for in ``slept`` and advances the time by them at once, so a
    backoff schedule is read off ``slept`` without waiting. ``now`` may be set
    directly to jump.
    """

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the time forward by ``seconds``."""
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        """Record the sleep and advance by it, returning at once."""
        self.slept.append(seconds)
        self.now += seconds
