"""Dead-man: no successful API-server call for the timeout -> trip once; contact -> recover."""

from __future__ import annotations

import pytest

from tradewarden.bot.control.dead_man import DeadMan, DeadManChange, heartbeat_seconds

TRIP, RECOVER = DeadManChange.TRIPPED, DeadManChange.RECOVERED

# (case, steps, expected change per step). A step is ("contact"|"tick", seconds since start).
TABLE = [
    ("quiet start trips after the timeout", [("tick", 59.9), ("tick", 60)], [None, TRIP]),
    ("contact resets the count", [("contact", 30), ("tick", 60), ("tick", 90)], [None, None, TRIP]),
    ("trips only once", [("tick", 60), ("tick", 61), ("tick", 500)], [TRIP, None, None]),
    ("contact after a trip recovers", [("tick", 61), ("contact", 62)], [TRIP, RECOVER]),
    (
        "recovered, then silent again: trips again",
        [("tick", 61), ("contact", 62), ("tick", 121), ("tick", 122)],
        [TRIP, RECOVER, None, TRIP],
    ),
    ("contact while fine changes nothing", [("contact", 1), ("contact", 2)], [None, None]),
    (
        "a late contact report never moves time back",
        [("contact", 50), ("contact", 10), ("tick", 109)],
        [None, None, None],
    ),
]


@pytest.mark.parametrize(("case", "steps", "expected"), TABLE, ids=[row[0] for row in TABLE])
def test_dead_man(
    case: str, steps: list[tuple[str, float]], expected: list[DeadManChange | None]
) -> None:
    start = 1_000.0
    dead_man = DeadMan(timeout=60, last_contact=start)
    changes = [
        dead_man.contact(start + at) if what == "contact" else dead_man.tick(start + at)
        for what, at in steps
    ]
    assert changes == expected


def test_unreachable_for_counts_from_the_last_contact() -> None:
    dead_man = DeadMan(timeout=5, last_contact=100.0)
    dead_man.contact(103.0)
    assert dead_man.unreachable_for(110.0) == 7.0


def test_a_shorter_timeout_from_the_spec_applies_at_the_next_tick() -> None:
    dead_man = DeadMan(timeout=60, last_contact=0.0)
    assert dead_man.tick(10.0) is None
    dead_man.timeout = 5.0
    assert dead_man.tick(10.0) is TRIP


@pytest.mark.parametrize(
    ("renew", "timeout", "expected"),
    [
        (5.0, 60.0, 5.0),  # the default: renewals every 5 s are contact enough
        (5.0, 2.0, 2.0 / 3),  # a short timeout: three calls within it
        (0.3, 1.0, 0.3),
    ],
)
def test_the_heartbeat_reaches_the_api_server_three_times_per_timeout(
    renew: float, timeout: float, expected: float
) -> None:
    interval = heartbeat_seconds(renew, timeout)
    assert interval == pytest.approx(expected)
    assert interval * 3 <= timeout
