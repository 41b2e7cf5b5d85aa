"""Soak: randomized fault schedules over many seeds (``make soak``), property-based.

Every generated schedule must keep the standard invariants. The number of runs
and any seed that broke one are printed at the end of the session.
"""

from __future__ import annotations

import asyncio
import os

import ccxt.async_support as ccxt_async
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.chaos.conftest import SOAK_FAILURES, SOAK_RUNS
from tradewarden.bot.chaos.proxy import ProxyFault, Raise, When
from tradewarden.bot.chaos.runner import run_scenario
from tradewarden.bot.chaos.scenario import (
    ClearWireFaults,
    Controls,
    MovePrice,
    ProxyFaults,
    Scenario,
    Step,
    StepAction,
    WireFaults,
)
from tradewarden.bot.venue_sim.faults import FaultSpec

EXAMPLES = int(os.environ.get("TRADEWARDEN_SOAK_EXAMPLES", "60"))
PATHS = (
    "/fapi/v1/order",
    "/fapi/v1/openOrders",
    "/fapi/v3/positionRisk",
    "/fapi/v1/algoOrder",
    "/fapi/v1/openAlgoOrders",
    "/fapi/v1/ticker/24hr",
    None,
)
WIRE_ACTIONS = st.one_of(
    st.builds(lambda: {"accept_then_drop": True}),
    st.integers(50, 400).map(lambda ms: {"delay_ms": ms}),
    st.sampled_from([(503, -1001), (429, -1003), (500, -1000), (400, -4116)]).map(
        lambda pair: {"error": {"status": pair[0], "code": pair[1], "msg": "soak"}}
    ),
    st.sampled_from([-10000, 10000]).map(lambda ms: {"skew_ms": ms}),
    st.integers(5000, 20000).map(lambda ms: {"lag_ms": ms}),
    st.integers(500, 5000).map(lambda ms: {"stale_ms": ms}),
)
WIRE_FAULT = st.builds(
    lambda action, path, method, after, times: FaultSpec.model_validate(
        {
            "match": {"path": path, "method": method},
            "after": after,
            "times": times,
            "action": action,
        }
    ),
    WIRE_ACTIONS,
    st.sampled_from(PATHS),
    st.sampled_from(["GET", "POST", "DELETE", None]),
    st.integers(0, 3),
    st.integers(1, 12),
)
PROXY_FAULT = st.builds(
    ProxyFault,
    st.sampled_from(
        ["create_order", "cancel_order", "fetch_order", "fetch_open_orders", "fetch_positions"]
    ),
    st.sampled_from(
        [
            ccxt_async.RequestTimeout,
            ccxt_async.NetworkError,
            ccxt_async.ExchangeNotAvailable,
            ccxt_async.OrderNotFound,
            ccxt_async.DDoSProtection,
        ]
    ).map(Raise),
    after=st.integers(0, 3),
    times=st.integers(1, 4),
    when=st.sampled_from(list(When)),
)
ACTIONS: st.SearchStrategy[StepAction] = st.one_of(
    st.lists(WIRE_FAULT, min_size=1, max_size=3).map(lambda f: WireFaults(tuple(f))),
    st.builds(ClearWireFaults),
    st.lists(PROXY_FAULT, min_size=1, max_size=2).map(lambda f: ProxyFaults(tuple(f))),
    st.sampled_from([-0.5, -0.25, 0.25, 0.5, 1.0]).map(MovePrice),
    st.booleans().map(lambda paused: Controls(paused=paused)),
)
SCHEDULES = st.lists(st.builds(Step, st.floats(1.0, 14.0), ACTIONS), min_size=1, max_size=5).map(
    tuple
)


@pytest.mark.soak
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)
@given(seed=st.integers(0, 2**31 - 1), steps=SCHEDULES)
def test_random_fault_schedules_keep_the_invariants(seed: int, steps: tuple[Step, ...]) -> None:
    scenario = Scenario(
        name="soak", covers="soak", summary="random fault schedule", steps=steps, duration=20
    )
    result = asyncio.run(run_scenario(scenario, seed))
    SOAK_RUNS.append(seed)
    failed = {name: v.detail for name, v in result.verdicts.items() if not v.ok}
    if failed:
        SOAK_FAILURES.append((seed, [s.action.describe() for s in steps], failed))
    assert not failed, failed
