"""Backoff: exponential, capped, jittered within bounds, and bounded in count and time."""

from __future__ import annotations

import random

import pytest

from tests.support.clock import FakeClock
from tradewarden.bot.model.outcomes import ErrorClass
from tradewarden.bot.retry import Retry, RetryPolicy

C = ErrorClass


def policy(**overrides: float) -> RetryPolicy:
    settings: dict[str, float] = {
        "max_retries": 10,
        "base_delay": 0.5,
        "max_delay": 8.0,
        "max_elapsed": 1000.0,
        "multiplier": 2.0,
        "jitter": 0.0,
    }
    settings.update(overrides)
    return RetryPolicy(
        max_retries=int(settings["max_retries"]),
        base_delay=settings["base_delay"],
        max_delay=settings["max_delay"],
        max_elapsed=settings["max_elapsed"],
        multiplier=settings["multiplier"],
        jitter=settings["jitter"],
    )


@pytest.mark.parametrize(
    ("attempt", "expected"),
    [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0), (6, 8.0), (10, 8.0)],
)
def test_exponential_growth_capped_at_max_delay(attempt: int, expected: float) -> None:
    assert policy().delay(attempt, C.AMBIGUOUS, random.Random(0)) == pytest.approx(expected)


@pytest.mark.parametrize("error_class", [C.AMBIGUOUS, C.RETRYABLE, C.RATE_LIMITED, C.CLOCK_SKEW])
@pytest.mark.parametrize("seed", range(5))
def test_jitter_stays_within_bounds_and_the_cap(error_class: ErrorClass, seed: int) -> None:
    jitter = 0.25
    jittered = policy(jitter=jitter)
    plain = policy(jitter=0.0)
    rng = random.Random(seed)
    seen = set()
    for attempt in range(1, 9):
        for _ in range(50):
            centre = plain.delay(attempt, error_class, rng)
            value = jittered.delay(attempt, error_class, rng)
            assert centre * (1 - jitter) <= value <= centre * (1 + jitter)
            assert value <= jittered.max_delay * (1 + jitter)
            seen.add(round(value, 9))
    # jitter actually spreads the waits (no thundering herd)
    assert len(seen) > 100


def test_jitter_is_reproducible_with_a_seeded_rng() -> None:
    p = policy(jitter=0.25)
    first = [p.delay(a, C.AMBIGUOUS, random.Random(42)) for a in range(1, 6)]
    second = [p.delay(a, C.AMBIGUOUS, random.Random(42)) for a in range(1, 6)]
    assert first == second


@pytest.mark.parametrize(
    ("max_retries", "attempt", "gives_up"),
    [(3, 1, False), (3, 3, False), (3, 4, True), (3, 10, True), (0, 1, True), (1, 1, False)],
)
def test_gives_up_after_max_retries(max_retries: int, attempt: int, gives_up: bool) -> None:
    wait = policy(max_retries=max_retries).next_delay(attempt, C.AMBIGUOUS, 0.0, random.Random(0))
    assert (wait is None) == gives_up


@pytest.mark.parametrize(
    ("elapsed", "gives_up"),
    [(0.0, False), (8.0, False), (9.0, False), (9.01, True), (10.0, True), (50.0, True)],
)
def test_gives_up_when_the_wait_would_cross_max_elapsed(elapsed: float, gives_up: bool) -> None:
    # attempt 2 waits exactly 1.0 s without jitter; max_elapsed is 10 s
    p = policy(max_elapsed=10.0)

    wait = p.next_delay(2, C.RETRYABLE, elapsed, random.Random(0))

    assert (wait is None) == gives_up
    if wait is not None:
        assert elapsed + wait <= p.max_elapsed


@pytest.mark.parametrize("error_class", [C.REJECTED, C.UNKNOWN_ORDER])
@pytest.mark.parametrize("attempt", [1, 2, 5])
def test_never_retries_what_retrying_cannot_fix(error_class: ErrorClass, attempt: int) -> None:
    assert policy().next_delay(attempt, error_class, 0.0, random.Random(0)) is None


@pytest.mark.parametrize(
    "error_class",
    [C.RETRYABLE, C.AMBIGUOUS, C.RATE_LIMITED, C.CLOCK_SKEW, C.DUPLICATE_ID],
)
def test_retryable_classes_get_a_positive_wait(error_class: ErrorClass) -> None:
    wait = policy().next_delay(1, error_class, 0.0, random.Random(0))
    assert wait is not None
    assert wait > 0


@pytest.mark.parametrize("attempt", [1, 2, 3])
def test_rate_limited_waits_longer(attempt: int) -> None:
    p = policy(max_delay=100.0)
    rate_limited = p.delay(attempt, C.RATE_LIMITED, random.Random(7))
    for other in (C.RETRYABLE, C.AMBIGUOUS, C.CLOCK_SKEW):
        assert rate_limited > p.delay(attempt, other, random.Random(7))


def test_rate_limited_wait_still_respects_the_cap() -> None:
    assert policy(max_delay=3.0).delay(5, C.RATE_LIMITED, random.Random(0)) == pytest.approx(3.0)


def test_total_backoff_of_a_full_retry_run_stays_within_max_elapsed() -> None:
    p = policy(max_retries=20, base_delay=0.25, max_delay=5.0, max_elapsed=30.0, jitter=0.25)
    rng = random.Random(3)
    elapsed, attempt = 0.0, 1
    while (wait := p.next_delay(attempt, C.AMBIGUOUS, elapsed, rng)) is not None:
        elapsed += wait
        attempt += 1
    assert elapsed <= p.max_elapsed
    assert attempt <= p.max_retries + 1


async def test_retry_waits_the_policys_delays_then_gives_up_without_waiting() -> None:
    time = FakeClock(100.0)
    retry = Retry(policy(max_retries=3), clock=time, sleep=time.sleep, rng=random.Random(0))
    waits = []
    while True:
        retry.begin()
        if (wait := await retry.backoff(C.RETRYABLE)) is None:
            break
        waits.append(wait)
    assert waits == time.slept == [0.5, 1.0, 2.0]
    assert retry.attempt == 4
    assert retry.elapsed == pytest.approx(3.5)


async def test_retry_times_the_budget_from_the_first_attempt_and_a_reset_starts_afresh() -> None:
    time = FakeClock(100.0)
    retry = Retry(policy(max_elapsed=2.0), clock=time, sleep=time.sleep)
    retry.begin()
    time.advance(1.6)
    assert retry.next_delay() is None  # 1.6 s gone + 0.5 s wait > 2 s
    retry.reset()
    assert retry.attempt == 0 and retry.elapsed == 0.0
    retry.begin()
    assert retry.next_delay() == 0.5


def test_an_unbounded_policy_never_gives_up_and_stays_finite() -> None:
    forever = RetryPolicy(base_delay=1.0, max_delay=4.0, jitter=0.0)
    assert [forever.next_delay(n, C.RETRYABLE, 1e9) for n in (1, 2, 3, 4, 10_000)] == [
        1.0,
        2.0,
        4.0,
        4.0,
        4.0,
    ]


def test_a_policy_without_jitter_draws_nothing_from_the_rng() -> None:
    rng = random.Random(5)
    state = rng.getstate()
    RetryPolicy(base_delay=1.0, max_delay=4.0, jitter=0.0).delay(3, C.RETRYABLE, rng)
    assert rng.getstate() == state
