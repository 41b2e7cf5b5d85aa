"""The effective trading mode: most restrictive wins, and says why."""

from __future__ import annotations

import pytest

from tradewarden.api.tradingbot import EmergencyAction, EmergencyStop, TradingMode
from tradewarden.bot.posture import Restriction, decide_posture

M = TradingMode
ACTIVE, REDUCE, HALT = M.ACTIVE, M.REDUCE_ONLY, M.HALTED


def estop(action: EmergencyAction) -> EmergencyStop:
    return EmergencyStop(action=action, reason="oncall: venue incident")


API = Restriction("guard.apiHealth", REDUCE, "error rate 0.35 > 0.2")
DRIFT = Restriction("guard.drift", REDUCE, "3 detections in a row")
KILL = Restriction("guard.killSwitch", HALT, "persistent divergence")
OPERATOR = Restriction("operator", HALT, "aborted by operator")
CLEAR = Restriction("guard.markStaleness", ACTIVE, "mark fresh")

# (case, paused, emergency stop, restrictions, expected mode, sources named in the reasons)
TABLE = [
    ("all clear", False, None, (), ACTIVE, set()),
    ("paused", True, None, (), REDUCE, {"spec.paused"}),
    (
        "emergency ReduceOnly",
        False,
        estop(EmergencyAction.REDUCE_ONLY),
        (),
        REDUCE,
        {"spec.emergencyStop"},
    ),
    ("emergency Halt", False, estop(EmergencyAction.HALT), (), HALT, {"spec.emergencyStop"}),
    ("emergency Flatten", False, estop(EmergencyAction.FLATTEN), (), HALT, {"spec.emergencyStop"}),
    ("guard alone", False, None, (API,), REDUCE, {"guard.apiHealth"}),
    ("guard beats clear", False, None, (CLEAR, API), REDUCE, {"guard.apiHealth"}),
    ("paused and guard combine", True, None, (API,), REDUCE, {"spec.paused", "guard.apiHealth"}),
    ("two guards combine", False, None, (API, DRIFT), REDUCE, {"guard.apiHealth", "guard.drift"}),
    ("halt beats pause", True, estop(EmergencyAction.HALT), (), HALT, {"spec.emergencyStop"}),
    ("kill switch beats pause and guards", True, None, (API, KILL), HALT, {"guard.killSwitch"}),
    (
        "operator halt beats emergency ReduceOnly",
        False,
        estop(EmergencyAction.REDUCE_ONLY),
        (OPERATOR,),
        HALT,
        {"operator"},
    ),
    (
        "paused plus emergency ReduceOnly",
        True,
        estop(EmergencyAction.REDUCE_ONLY),
        (),
        REDUCE,
        {"spec.paused", "spec.emergencyStop"},
    ),
    (
        "every halt is named",
        False,
        estop(EmergencyAction.FLATTEN),
        (KILL, OPERATOR, API),
        HALT,
        {"spec.emergencyStop", "guard.killSwitch", "operator"},
    ),
]


@pytest.mark.parametrize(
    ("paused", "emergency", "restrictions", "mode", "sources"),
    [pytest.param(*row[1:], id=row[0]) for row in TABLE],
)
def test_decide_posture(
    paused: bool,
    emergency: EmergencyStop | None,
    restrictions: tuple[Restriction, ...],
    mode: TradingMode,
    sources: set[str],
) -> None:
    posture = decide_posture(paused, emergency, restrictions)

    assert posture.mode is mode
    named = {reason.split(": ", 1)[0] for reason in posture.reasons}
    assert named == sources


@pytest.mark.parametrize("order", [(API, KILL), (KILL, API)])
def test_order_of_restrictions_does_not_matter(order: tuple[Restriction, ...]) -> None:
    assert decide_posture(False, None, order).mode is HALT


def test_reasons_carry_the_source_and_its_reason() -> None:
    posture = decide_posture(True, estop(EmergencyAction.REDUCE_ONLY), (API,))

    assert "guard.apiHealth: error rate 0.35 > 0.2" in posture.reasons
    assert any(r.startswith("spec.paused: ") for r in posture.reasons)
    emergency = next(r for r in posture.reasons if r.startswith("spec.emergencyStop: "))
    assert "ReduceOnly" in emergency
    assert "oncall: venue incident" in emergency
    for reason in posture.reasons:
        assert reason in posture.summary


def test_all_clear_summary() -> None:
    posture = decide_posture(False, None)
    assert posture.reasons == ()
    assert posture.summary == "all clear"


BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
STALE_BTC = Restriction("guard.markStaleness", REDUCE, "mark 20s old", BTC)
SLIP_BTC = Restriction("guard.slippage", REDUCE, "3 fills beyond 50 bps", BTC)
HALT_ETH = Restriction("guard.drift", HALT, "debt", ETH)

# (case, paused, emergency stop, restrictions, global mode, {symbol: mode} for BTC and ETH)
SYMBOL_TABLE = [
    (
        "symbol pause binds its symbol only",
        False,
        None,
        (STALE_BTC,),
        ACTIVE,
        {BTC: REDUCE, ETH: ACTIVE},
    ),
    ("two symbol demands", False, None, (STALE_BTC, HALT_ETH), ACTIVE, {BTC: REDUCE, ETH: HALT}),
    ("same symbol twice", False, None, (STALE_BTC, SLIP_BTC), ACTIVE, {BTC: REDUCE, ETH: ACTIVE}),
    (
        "global reduce-only covers a symbol pause",
        True,
        None,
        (STALE_BTC,),
        REDUCE,
        {BTC: REDUCE, ETH: REDUCE},
    ),
    (
        "global halt beats a symbol pause",
        False,
        estop(EmergencyAction.HALT),
        (STALE_BTC,),
        HALT,
        {BTC: HALT, ETH: HALT},
    ),
    (
        "symbol halt beats global reduce-only",
        False,
        None,
        (API, HALT_ETH),
        REDUCE,
        {BTC: REDUCE, ETH: HALT},
    ),
]


@pytest.mark.parametrize(
    ("paused", "emergency", "restrictions", "mode", "per_symbol"),
    [pytest.param(*row[1:], id=row[0]) for row in SYMBOL_TABLE],
)
def test_per_symbol_pauses(
    paused: bool,
    emergency: EmergencyStop | None,
    restrictions: tuple[Restriction, ...],
    mode: TradingMode,
    per_symbol: dict[str, TradingMode],
) -> None:
    posture = decide_posture(paused, emergency, restrictions)

    assert posture.mode is mode
    for symbol, expected in per_symbol.items():
        assert posture.mode_for(symbol) is expected


def test_a_symbol_pause_is_named_in_the_summary_not_the_global_reasons() -> None:
    posture = decide_posture(False, None, (STALE_BTC,))
    assert posture.reasons == ()
    assert "guard.markStaleness: mark 20s old [BTC/USDT:USDT]" in posture.summary


def test_a_symbol_pause_under_an_equal_global_mode_is_still_named() -> None:
    # Once the global restriction lifts, the symbol pause is what binds: the
    # reason is shown from the moment it trips, not only then.
    before = decide_posture(False, None, (API,))
    posture = decide_posture(False, None, (API, STALE_BTC))
    assert posture.mode is REDUCE
    assert posture != before
    assert "guard.markStaleness: mark 20s old [BTC/USDT:USDT]" in posture.summary


def test_a_symbol_pause_weaker_than_the_global_mode_is_not_named() -> None:
    posture = decide_posture(False, estop(EmergencyAction.HALT), (STALE_BTC,))
    assert posture.symbols == ()
    assert "markStaleness" not in posture.summary


@pytest.mark.parametrize(
    ("action", "flatten"),
    [
        (EmergencyAction.FLATTEN, True),
        (EmergencyAction.HALT, False),
        (EmergencyAction.REDUCE_ONLY, False),
    ],
)
def test_only_flatten_asks_to_close_positions(action: EmergencyAction, flatten: bool) -> None:
    assert decide_posture(False, estop(action)).flatten is flatten
