"""The chaos harness's warped clock: bot time runs ``speed`` times the wall clock, stalls do not."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.support.clock import FakeClock
from tradewarden.bot.chaos.invariants import Facts, warped
from tradewarden.bot.chaos.runner import STALL_AFTER, WarpClock

T0 = 1_700_000_000.0

# (case, wall seconds after the origin, stalls as (start, length) after the origin, bot seconds)
WARPED_TABLE = [
    ("no stall", 2.0, (), 20.0),
    ("a stall counts one to one", 2.0, ((1.0, 0.5),), 1.0 * 10 + 0.5 + 0.5 * 10),
    ("inside a stall", 1.2, ((1.0, 0.5),), 10.0 + 0.2),
    ("a later stall does not count yet", 0.5, ((1.0, 0.5),), 5.0),
    ("two stalls", 3.0, ((1.0, 0.5), (2.0, 0.25)), 0.75 + (3.0 - 0.75) * 10),
]


@pytest.mark.parametrize(
    ("wall", "stalls", "bot"), [pytest.param(*r[1:], id=r[0]) for r in WARPED_TABLE]
)
def test_warped(wall: float, stalls: tuple[tuple[float, float], ...], bot: float) -> None:
    shifted = tuple((T0 + start, length) for start, length in stalls)
    assert warped(T0 + wall, T0, 10.0, shifted) - T0 == pytest.approx(bot)


def test_a_stalled_event_loop_costs_the_bot_the_stall_not_ten_times_it() -> None:
    wall = FakeClock(T0)
    warp = WarpClock(10.0, origin=T0, wall=wall)
    warp.beat()
    wall.advance(0.01)
    warp.beat()
    assert warp.clock() - T0 == pytest.approx(0.1)
    # The process gets no CPU for a second: no heartbeat, and the bot loses one second.
    wall.advance(1.0)
    stalled = 1.0 - STALL_AFTER
    during = warp.clock()
    assert during - T0 == pytest.approx(0.1 + STALL_AFTER * 10 + stalled)
    warp.beat()  # the heartbeat's next look records the stall; the clock does not jump
    assert warp.clock() - during == pytest.approx(0)
    [(start, length)] = warp.stalls
    assert (start - T0, length) == (pytest.approx(0.01 + STALL_AFTER), pytest.approx(stalled))
    wall.advance(0.01)
    assert warp.clock() - during == pytest.approx(0.1)


async def test_a_sleep_across_a_stall_lasts_its_bot_seconds() -> None:
    wall = FakeClock(T0)
    stall = [0.2]  # the first wait of the sleeper oversleeps by this: the process was descheduled

    async def wall_sleep(seconds: float) -> None:
        wall.advance(seconds + (stall.pop() if stall else 0.0))
        warp.beat()  # the loop runs again, and so does the heartbeat

    warp = WarpClock(10.0, origin=T0, wall=wall, wall_sleep=wall_sleep)
    warp.beat()
    await warp.sleep(1.0)
    assert warp.clock() - T0 == pytest.approx(1.0)
    [(start, length)] = warp.stalls
    assert (start - T0, length) == (pytest.approx(STALL_AFTER), pytest.approx(0.3 - STALL_AFTER))
    assert wall() - T0 == pytest.approx(0.1 + 0.2 + (1.0 - 0.5 - 0.25) / 10)


def test_venue_timestamps_convert_with_the_same_stalls() -> None:
    wall = FakeClock(T0)
    warp = WarpClock(10.0, origin=T0, wall=wall)
    warp.beat()
    wall.advance(2.0)  # a stall
    warp.beat()
    wall.advance(0.01)
    warp.beat()
    facts = Facts(
        symbol_id="BTCUSDT",
        bot_prefix="tw-",
        injected_ids=frozenset(),
        max_position=Decimal("0.02"),
        retry_budget=1,
        repair_window=1.0,
        restricted_grace=1.0,
        incomplete_after=1.0,
        require_stop=True,
        ended_at=T0,
        clock_origin=T0,
        speed=10.0,
        stalls=tuple(warp.stalls),
    )
    assert facts.bot_time(wall() * 1000) - warp.clock() == pytest.approx(0, abs=1e-3)
