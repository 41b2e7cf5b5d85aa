"""The kill switch: recovers only on N clean reconciles in a row, or by a person."""

from __future__ import annotations

import pytest

from tradewarden.bot.reliability.kill_switch import KillSwitch

# (case, steps, engaged at the end, clean count at the end); steps: "E" engage,
# "c" clean reconcile, "x" dirty reconcile, "R" person resets
TABLE = [
    ("never engaged ignores reconciles", "cccx", False, 0),
    ("engaged stays engaged", "E", True, 0),
    ("too few clean", "Ecc", True, 2),
    ("enough clean in a row", "Eccc", False, 0),
    ("a dirty reconcile starts over", "Eccxcc", True, 2),
    ("engaging again starts over", "EccEcc", True, 2),
    ("a person releases it", "ER", False, 0),
    ("reset when not engaged is harmless", "R", False, 0),
]


@pytest.mark.parametrize(
    ("steps", "engaged", "clean"), [pytest.param(*row[1:], id=row[0]) for row in TABLE]
)
def test_kill_switch_table(steps: str, engaged: bool, clean: int) -> None:
    switch = KillSwitch(clean_to_recover=3)
    for step in steps:
        if step == "E":
            switch.engage("persistent divergence")
        elif step == "R":
            switch.reset()
        else:
            switch.observe(step == "c")

    assert switch.engaged is engaged
    assert switch.clean_reconciles == clean
    assert (switch.reason != "") is engaged


def test_it_reports_the_transitions() -> None:
    switch = KillSwitch(clean_to_recover=2)
    assert switch.engage("debt 5 on BTC") is True
    assert switch.engage("debt 6 on BTC") is False
    assert switch.reason == "debt 5 on BTC"
    assert switch.observe(True) is False
    assert switch.observe(True) is True
    assert switch.reset() is False
