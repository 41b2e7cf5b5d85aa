"""The WebSocket reconnect policy: backoff, jitter, cap, budget, reset after a stable stream."""

from __future__ import annotations

import random

import pytest

from tradewarden.api.tradingbot import WebSocketGuard
from tradewarden.bot.market.reconnect import ReconnectPolicy


class FixedRng(random.Random):
    """Always draws the same number, so jitter is exact."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def random(self) -> float:
        return self.value


DEFAULTS = WebSocketGuard()


def test_defaults_follow_the_degradation_matrix() -> None:
    assert (
        DEFAULTS.backoff_base_seconds,
        DEFAULTS.backoff_multiplier,
        DEFAULTS.backoff_cap_seconds,
        DEFAULTS.jitter,
        DEFAULTS.stable_reset_seconds,
        DEFAULTS.max_reconnects,
    ) == (2.0, 2.0, 60.0, 0.25, 60.0, 10)


@pytest.mark.parametrize(
    ("draw", "expected"),
    [
        # draw 0.5 = no jitter: 2, 4, 8, 16, 32, then the 60 s cap
        (0.5, [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]),
        # draw 0 = -25 %
        (0.0, [1.5, 3.0, 6.0, 12.0, 24.0, 45.0, 45.0]),
        # draw just under 1 = almost +25 %
        (0.999999, [2.5, 5.0, 10.0, 20.0, 40.0, 75.0, 75.0]),
    ],
)
def test_delays_grow_to_the_cap_with_jitter(draw: float, expected: list[float]) -> None:
    policy = ReconnectPolicy(DEFAULTS, FixedRng(draw))
    delays = [policy.failed(now=float(i)).delay for i in range(len(expected))]
    assert delays == pytest.approx(expected, rel=1e-5)


def test_budget_is_spent_after_max_attempts_and_reported_once() -> None:
    policy = ReconnectPolicy(DEFAULTS, FixedRng(0.5))
    outcomes = [policy.failed(now=float(i)) for i in range(13)]
    # failure 1 is the drop, failures 2..11 are the 10 attempts that failed
    assert [b.attempt for b in outcomes] == list(range(1, 14))
    assert [b.exhausted_now for b in outcomes] == [False] * 10 + [True, False, False]
    assert policy.exhausted


@pytest.mark.parametrize(
    ("up_for", "next_attempt"),
    [
        (59.9, 4),  # not stable long enough: the flapping stream keeps spending the budget
        (60.0, 1),  # stable for the reset period: a fresh budget
        (600.0, 1),
    ],
)
def test_a_stable_connection_resets_the_counter(up_for: float, next_attempt: int) -> None:
    policy = ReconnectPolicy(DEFAULTS, FixedRng(0.5))
    for i in range(3):
        policy.failed(now=float(i))
    policy.connected(now=100.0)
    assert policy.failed(now=100.0 + up_for).attempt == next_attempt


def test_settle_while_up_resets_and_ends_an_exhaustion() -> None:
    settings = WebSocketGuard(max_reconnects=2)
    policy = ReconnectPolicy(settings, FixedRng(0.5))
    for i in range(3):
        policy.failed(now=float(i))
    assert policy.exhausted
    policy.connected(now=10.0)
    policy.settle(now=30.0)
    assert policy.exhausted and policy.attempts == 3
    policy.settle(now=70.0)
    assert not policy.exhausted and policy.attempts == 0
    assert policy.failed(now=71.0).delay == 2.0


def test_a_failed_connect_is_not_a_stable_period() -> None:
    policy = ReconnectPolicy(DEFAULTS, FixedRng(0.5))
    policy.connected(now=0.0)
    policy.failed(now=1.0)
    # the stream never came back, so a long wait afterwards does not reset anything
    assert policy.failed(now=500.0).attempt == 2


def test_delays_stay_finite_for_a_very_long_outage() -> None:
    policy = ReconnectPolicy(DEFAULTS, FixedRng(0.5))
    for i in range(2000):
        backoff = policy.failed(now=float(i))
    assert backoff.delay == 60.0
