"""Every catalogue scenario on fixed seeds: a real simulator, the bot in process, ccxt unchanged."""

from __future__ import annotations

import pytest

from tradewarden.bot.chaos.catalogue import CATALOGUE
from tradewarden.bot.chaos.invariants import INVARIANTS
from tradewarden.bot.chaos.runner import run_scenario
from tradewarden.bot.chaos.scenario import Scenario

SEEDS = (1, 2)


def test_the_catalogue_covers_every_fmea_and_matrix_row() -> None:
    rows = {scenario.covers.split(" (")[0] for scenario in CATALOGUE}
    assert sum(row.startswith("FMEA:") for row in rows) == 10
    assert sum(row.startswith("matrix:") for row in rows) >= 6
    assert len({scenario.name for scenario in CATALOGUE}) == len(CATALOGUE) >= 19


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("scenario", CATALOGUE, ids=[s.name for s in CATALOGUE])
async def test_scenario_keeps_every_invariant(scenario: Scenario, seed: int) -> None:
    result = await run_scenario(scenario, seed)
    assert set(INVARIANTS) <= set(result.verdicts)
    failed = {name: v.detail for name, v in result.verdicts.items() if not v.ok}
    assert not failed, failed
