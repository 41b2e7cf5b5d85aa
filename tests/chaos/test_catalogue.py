"""Every catalogue scenario on fixed seeds: a real simulator, the bot in process, ccxt unchanged."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tradewarden.bot.chaos.catalogue import CATALOGUE, FILL_ONE_BUY, scenario_named
from tradewarden.bot.chaos.invariants import INVARIANTS
from tradewarden.bot.chaos.runner import SIM_DEFAULTS, SYMBOL_ID, chaos_manifest, run_scenario
from tradewarden.bot.chaos.scenario import Scenario
from tradewarden.bot.model.orders import Side
from tradewarden.bot.reliability.guards import slippage_bps
from tradewarden.bot.venue_sim.engine import Engine, OrderRequest
from tradewarden.bot.venue_sim.models import OrderType
from tradewarden.bot.venue_sim.models import Side as VenueSide
from tradewarden.bot.venue_sim.settings import SimSettings

SEEDS = (1, 2)  # make test
SOAK_SEEDS = (3, 4, 5)  # make soak


def test_the_catalogue_covers_every_fmea_and_matrix_row() -> None:
    rows = {scenario.covers.split(" (")[0] for scenario in CATALOGUE}
    assert sum(row.startswith("FMEA:") for row in rows) == 10
    assert sum(row.startswith("matrix:") for row in rows) >= 6
    assert len({scenario.name for scenario in CATALOGUE}) == len(CATALOGUE) >= 19


def test_matrix_slippage_fails_a_stop_a_small_dip_triggers() -> None:
    """After a gap the position's entries can span it, so its stop sits just under the mark,
    where the scenario's re-entry dip triggers it; whether it does depends on how fast the
    bot re-priced its entries. A fill within tolerance ends a run of failures (the guard's
    contract), so on that venue the third gap would not pause the symbol (about 1 run in 20
    with both cores busy). The scenario's venue makes that stop fill a failure as well."""
    scenario = scenario_named("matrix_slippage")
    manifest = chaos_manifest(scenario, 1, "http://127.0.0.1:1")
    tolerance = manifest.spec.guards.slippage.max_slippage_bps
    settings = SimSettings(**{**SIM_DEFAULTS, **scenario.sim, "price_tick_s": 0})
    engine = Engine(settings, lambda: 1_700_000_000.0)
    quantity = Decimal("0.003")
    engine.place_order(
        OrderRequest(symbol=SYMBOL_ID, side=VenueSide.BUY, type=OrderType.MARKET, quantity=quantity)
    )
    mark = engine.mark(SYMBOL_ID)
    trigger = engine.spec(SYMBOL_ID).round_price(mark * Decimal("0.9999"))
    stop = OrderRequest(
        symbol=SYMBOL_ID,
        side=VenueSide.SELL,
        type=OrderType.STOP_MARKET,
        quantity=quantity,
        trigger_price=trigger,
        reduce_only=True,
    )
    engine.place_algo_order(stop)
    engine.set_mark(SYMBOL_ID, mark * (1 + Decimal(str(FILL_ONE_BUY)) / 100))
    [fill] = [f for f in engine.fills(SYMBOL_ID) if f.side is VenueSide.SELL]
    assert slippage_bps(Side.SELL, fill.price, trigger) > tolerance


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("scenario", CATALOGUE, ids=[s.name for s in CATALOGUE])
async def test_scenario_keeps_every_invariant(scenario: Scenario, seed: int) -> None:
    result = await run_scenario(scenario, seed)
    assert set(INVARIANTS) <= set(result.verdicts)
    failed = {name: v.detail for name, v in result.verdicts.items() if not v.ok}
    assert not failed, failed


@pytest.mark.soak
@pytest.mark.parametrize("seed", SOAK_SEEDS)
@pytest.mark.parametrize("scenario", CATALOGUE, ids=[s.name for s in CATALOGUE])
async def test_scenario_keeps_every_invariant_on_more_seeds(scenario: Scenario, seed: int) -> None:
    await test_scenario_keeps_every_invariant(scenario, seed)
