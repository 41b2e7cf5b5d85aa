"""Stray tracking: only the bot's own unknown orders, confirmed after N sightings in a row."""

from __future__ import annotations

import pytest

from tradewarden.bot.reliability.strays import StrayState, owned, track_strays

P = "tw0123456789-"


def test_owned_keeps_only_the_bot_prefix_once_each() -> None:
    assert owned([f"{P}1", "other-1", f"{P}2", f"{P}1"], P) == (f"{P}1", f"{P}2")


# (case, sightings per pass, confirmed per pass, detected per pass)
TABLE = [
    ("three in a row", [["a"], ["a"], ["a"]], [(), (), ("a",)], [False, False, True]),
    ("gap resets the streak", [["a"], ["a"], [], ["a"]], [(), (), (), ()], [False] * 4),
    ("confirmed again while still there", [["a"]] * 4, [(), (), ("a",), ("a",)], [0, 0, 1, 1]),
    (
        "detected until the third quiet pass",
        [["a"], ["a"], ["a"], [], [], [], []],
        [(), (), ("a",), (), (), (), ()],
        [False, False, True, True, True, False, False],
    ),
    ("two strays, own streaks", [["a"], ["a", "b"], ["a", "b"]], [(), (), ("a",)], [0, 0, 1]),
]


@pytest.mark.parametrize(
    ("sightings", "confirmed", "detected"), [t[1:] for t in TABLE], ids=[t[0] for t in TABLE]
)
def test_streaks(
    sightings: list[list[str]], confirmed: list[tuple[str, ...]], detected: list[bool]
) -> None:
    state = StrayState()
    got_confirmed, got_detected = [], []
    for seen in sightings:
        state, verdict = track_strays(state, seen, threshold=3)
        assert verdict.strays == tuple(seen)
        got_confirmed.append(verdict.confirmed)
        got_detected.append(verdict.detected)
    assert got_confirmed == confirmed
    assert got_detected == [bool(d) for d in detected]


def test_streak_is_the_longest() -> None:
    state = StrayState()
    for seen in (["a"], ["a", "b"]):
        state, verdict = track_strays(state, seen, threshold=3)
    assert verdict.streak == 2


def test_drift_stays_detected_for_the_hold_time_however_fast_the_passes() -> None:
    state, verdict = StrayState(), None
    for now, seen in ((0.0, ["a"]), (0.1, ["a"]), (0.2, ["a"])):
        state, verdict = track_strays(state, seen, threshold=3, now=now, hold_seconds=6.0)
    assert verdict is not None and verdict.confirmed == ("a",)
    detected = []
    for now in (0.3, 0.4, 0.5, 6.1, 6.3):
        state, verdict = track_strays(state, [], threshold=3, now=now, hold_seconds=6.0)
        detected.append(verdict.detected)
    # Three quiet passes within a second no longer end it; the hold does.
    assert detected == [True, True, True, True, False]
