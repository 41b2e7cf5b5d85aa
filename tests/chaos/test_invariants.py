"""The chaos invariants, as tables over hand-made observations (no servers)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from tests.support.orders import journaled
from tradewarden.api.bot_status import BotStatus
from tradewarden.api.tradingbot import TradingMode
from tradewarden.bot.chaos.invariants import (
    Facts,
    InvariantResult,
    RunObservation,
    Sample,
    StatusSample,
    check_expectation,
    intents_settled,
    kill_switch_holds,
    no_duplicate_exposure,
    no_new_exposure_when_restricted,
    protected_positions,
    restricted_periods,
    retries_within_budget,
)
from tradewarden.bot.chaos.scenario import ExpectEvent, ExpectMode, ExpectStatus, ExpectVenue
from tradewarden.bot.model.order_state import OrderState
from tradewarden.bot.model.orders import JournaledOrder, OrderIntent, OrderType, Side

P = "twabc-"
SYMBOL = "BTC/USDT:USDT"
FACTS = Facts(
    symbol_id="BTCUSDT",
    bot_prefix=P,
    injected_ids=frozenset({"chaos-0", f"{P}zz1"}),
    max_position=Decimal("0.02"),
    retry_budget=2,
    repair_window=5.0,
    restricted_grace=3.0,
    incomplete_after=10.0,
    require_stop=True,
    ended_at=100.0,
    divergence=(),
)


def order(
    cid: str, status: str = "NEW", qty: str = "0.003", executed: str = "0", **extra: Any
) -> dict[str, Any]:
    return {
        "clientOrderId": cid,
        "symbol": "BTCUSDT",
        "side": extra.pop("side", "BUY"),
        "status": status,
        "origQty": qty,
        "executedQty": executed,
        "reduceOnly": extra.pop("reduce_only", False),
        **extra,
    }


def state(
    orders: Sequence[Mapping[str, Any]] = (),
    position: str = "0",
    algos: Sequence[Mapping[str, Any]] = (),
    fills: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    positions = [] if position == "0" else [{"symbol": "BTCUSDT", "positionAmt": position}]
    return {
        "orders": list(orders),
        "positions": positions,
        "algoOrders": list(algos),
        "fills": list(fills),
    }


def stop(qty: str = "0.003", side: str = "SELL", status: str = "NEW") -> dict[str, Any]:
    return {
        "symbol": "BTCUSDT",
        "side": side,
        "algoStatus": status,
        "quantity": qty,
        "closePosition": False,
    }


def row(
    coid: str, state_: str, qty: str = "0.003", filled: str = "0", created: float = 0.0
) -> JournaledOrder:
    intent = OrderIntent(SYMBOL, Side.BUY, OrderType.LIMIT, Decimal(qty), Decimal("50000"))
    return journaled(intent, coid, state=OrderState(state_), filled=filled, created_at=created)


def obs(
    *,
    events: Sequence[Mapping[str, Any]] = (),
    journal: Sequence[JournaledOrder] = (),
    venue: Sequence[tuple[float, Mapping[str, Any]]] = ((0.0, state()),),
    status: Sequence[tuple[float, Mapping[str, Any]]] = (),
    facts: Facts = FACTS,
) -> RunObservation:
    return RunObservation(
        list(events),
        list(journal),
        [Sample(at, data) for at, data in venue],
        [StatusSample(at, BotStatus.model_validate(data)) for at, data in status],
        facts,
    )


def ev(name: str, ts: float = 0.0, **fields: Any) -> dict[str, Any]:
    return {"event": name, "ts": ts, **fields}


Check = Callable[[RunObservation], InvariantResult]

CASES: list[tuple[str, Check, RunObservation, bool]] = [
    # no duplicate exposure
    (
        "one order per intent",
        no_duplicate_exposure,
        obs(journal=[row(f"{P}1", "OPEN")], venue=[(0, state([order(f"{P}1")]))]),
        True,
    ),
    (
        "rotated twin of an intent",
        no_duplicate_exposure,
        obs(
            journal=[row(f"{P}1", "OPEN")], venue=[(0, state([order(f"{P}1"), order(f"{P}1.r1")]))]
        ),
        False,
    ),
    (
        "bot order the journal lacks",
        no_duplicate_exposure,
        obs(journal=[], venue=[(0, state([order(f"{P}9")]))]),
        False,
    ),
    (
        "injected stray is not the bot's",
        no_duplicate_exposure,
        obs(journal=[], venue=[(0, state([order(f"{P}zz1")]))]),
        True,
    ),
    (
        "fill beyond the intent",
        no_duplicate_exposure,
        obs(
            journal=[row(f"{P}1", "FILLED", qty="0.003", filled="0.003")],
            venue=[(0, state([order(f"{P}1", "FILLED", executed="0.006")]))],
        ),
        False,
    ),
    (
        "position beyond maxPosition",
        no_duplicate_exposure,
        obs(venue=[(0, state(position="0.03"))]),
        False,
    ),
    (
        "foreign fills do not count against the bot",
        no_duplicate_exposure,
        obs(
            venue=[
                (
                    0,
                    state(
                        position="0.03",
                        fills=[
                            {
                                "symbol": "BTCUSDT",
                                "clientOrderId": "chaos-0",
                                "side": "BUY",
                                "qty": "0.02",
                            }
                        ],
                    ),
                )
            ]
        ),
        True,
    ),
    # intents settled
    (
        "submit answered",
        intents_settled,
        obs(
            events=[
                ev("ORDER_SUBMIT", correlation_id="a", attempt=1),
                ev("ORDER_ERROR", correlation_id="a", attempt=1),
            ]
        ),
        True,
    ),
    (
        "submit never answered",
        intents_settled,
        obs(events=[ev("ORDER_SUBMIT", correlation_id="a", attempt=1)]),
        False,
    ),
    (
        "journal filled, venue filled",
        intents_settled,
        obs(
            journal=[row(f"{P}1", "FILLED", filled="0.003")],
            venue=[(0, state([order(f"{P}1", "FILLED", executed="0.003")]))],
        ),
        True,
    ),
    (
        "journal filled, venue still open",
        intents_settled,
        obs(
            journal=[row(f"{P}1", "FILLED", filled="0.003")],
            venue=[(0, state([order(f"{P}1", "NEW")]))],
        ),
        False,
    ),
    (
        "cancelled but a partial fill was lost",
        intents_settled,
        obs(
            journal=[row(f"{P}1", "CANCELED", filled="0")],
            venue=[(0, state([order(f"{P}1", "CANCELED", executed="0.001")]))],
        ),
        False,
    ),
    (
        "abandoned yet live at the venue",
        intents_settled,
        obs(journal=[row(f"{P}1", "ABANDONED")], venue=[(0, state([order(f"{P}1")]))]),
        False,
    ),
    (
        "stuck submit flagged",
        intents_settled,
        obs(
            journal=[row(f"{P}1", "SUBMITTING")], status=[(50, {"incompleteLifecycles": [f"{P}1"]})]
        ),
        True,
    ),
    (
        "stuck submit not flagged",
        intents_settled,
        obs(journal=[row(f"{P}1", "SUBMITTING")], status=[(50, {"incompleteLifecycles": []})]),
        False,
    ),
    # protection
    (
        "stopped position",
        protected_positions,
        obs(
            venue=[
                (0, state(position="0.003", algos=[stop()])),
                (9, state(position="0.003", algos=[stop()])),
            ]
        ),
        True,
    ),
    (
        "unprotected within the window",
        protected_positions,
        obs(venue=[(0, state(position="0.003")), (4, state(position="0.003", algos=[stop()]))]),
        True,
    ),
    (
        "unprotected beyond the window",
        protected_positions,
        obs(venue=[(0, state(position="0.003")), (6, state(position="0.003"))]),
        False,
    ),
    (
        "stop too small",
        protected_positions,
        obs(
            venue=[
                (0, state(position="0.006", algos=[stop("0.003")])),
                (6, state(position="0.006", algos=[stop("0.003")])),
            ]
        ),
        False,
    ),
    (
        "stop on the wrong side",
        protected_positions,
        obs(
            venue=[
                (0, state(position="0.003", algos=[stop(side="BUY")])),
                (6, state(position="0.003", algos=[stop(side="BUY")])),
            ]
        ),
        False,
    ),
    # retries
    (
        "retries within budget",
        retries_within_budget,
        obs(
            events=[
                ev("ORDER_RETRY", correlation_id="a", attempt=1),
                ev("ORDER_RETRY", correlation_id="a", attempt=2),
            ]
        ),
        True,
    ),
    (
        "retries beyond budget",
        retries_within_budget,
        obs(events=[ev("ORDER_RETRY", correlation_id="a", attempt=n) for n in (1, 2, 3)]),
        False,
    ),
    (
        "two cancel calls each within budget",
        retries_within_budget,
        obs(
            events=[
                ev("ORDER_RETRY", correlation_id="a", operation="cancel", attempt=n)
                for n in (1, 2, 1, 2)
            ]
        ),
        True,
    ),
    # restrictive modes
    (
        "entry sent while reduce-only",
        no_new_exposure_when_restricted,
        obs(
            events=[
                ev("MODE_CHANGE", 10, mode="ReduceOnly"),
                ev("ORDER_SUBMIT", 11, correlation_id="a", attempt=1, reduce_only=False),
            ]
        ),
        False,
    ),
    (
        "reduce-only order while reduce-only",
        no_new_exposure_when_restricted,
        obs(
            events=[
                ev("MODE_CHANGE", 10, mode="ReduceOnly"),
                ev("ORDER_SUBMIT", 11, correlation_id="a", attempt=1, reduce_only=True),
            ]
        ),
        True,
    ),
    (
        "entry sent after recovery",
        no_new_exposure_when_restricted,
        obs(
            events=[
                ev("MODE_CHANGE", 10, mode="ReduceOnly"),
                ev("MODE_CHANGE", 12, mode="Active"),
                ev("ORDER_SUBMIT", 13, correlation_id="a", attempt=1, reduce_only=False),
            ]
        ),
        True,
    ),
    (
        "per-symbol pause counts",
        no_new_exposure_when_restricted,
        obs(
            events=[
                ev("MODE_CHANGE", 10, mode="Active", symbols={"BTC/USDT:USDT": "ReduceOnly"}),
                ev("ORDER_SUBMIT", 11, correlation_id="a", attempt=1, reduce_only=False),
            ]
        ),
        False,
    ),
    (
        "entry left working past the grace",
        no_new_exposure_when_restricted,
        obs(
            events=[ev("MODE_CHANGE", 10, mode="Halted")],
            venue=[(11, state([order(f"{P}1")])), (20, state([order(f"{P}1")]))],
        ),
        False,
    ),
    (
        "entry whose cancel the venue refused",
        no_new_exposure_when_restricted,
        obs(
            events=[
                ev("MODE_CHANGE", 10, mode="Halted"),
                ev("ORDER_ERROR", 12, correlation_id=f"{P}1", operation="cancel"),
            ],
            venue=[(11, state([order(f"{P}1")])), (30, state([order(f"{P}1")]))],
        ),
        True,
    ),
    (
        "refused cancel of another order excuses nothing",
        no_new_exposure_when_restricted,
        obs(
            events=[
                ev("MODE_CHANGE", 10, mode="Halted"),
                ev("ORDER_ERROR", 12, correlation_id=f"{P}2", operation="cancel"),
                ev("ORDER_ERROR", 5, correlation_id=f"{P}1", operation="cancel"),
            ],
            venue=[(11, state([order(f"{P}1")])), (30, state([order(f"{P}1")]))],
        ),
        False,
    ),
    (
        "entry cancelled within the grace",
        no_new_exposure_when_restricted,
        obs(
            events=[ev("MODE_CHANGE", 10, mode="Halted")],
            venue=[(11, state([order(f"{P}1")])), (20, state([order(f"{P}1", "CANCELED")]))],
        ),
        True,
    ),
    # kill switch
    (
        "engaged means halted",
        kill_switch_holds,
        obs(status=[(1, {"killSwitch": {"engaged": True}, "tradingMode": "ReduceOnly"})]),
        False,
    ),
    (
        "divergence engages and holds",
        kill_switch_holds,
        obs(
            facts=replace(FACTS, divergence=((0, 10),)),
            status=[
                (
                    t,
                    {
                        "killSwitch": {"engaged": t >= 3},
                        "tradingMode": "Halted" if t >= 3 else "Active",
                    },
                )
                for t in range(0, 12)
            ],
        ),
        True,
    ),
    (
        "divergence never engages",
        kill_switch_holds,
        obs(
            facts=replace(FACTS, divergence=((0, 10),)),
            status=[
                (t, {"killSwitch": {"engaged": False}, "tradingMode": "Active"}) for t in range(12)
            ],
        ),
        False,
    ),
    (
        "released while divergence persists",
        kill_switch_holds,
        obs(
            facts=replace(FACTS, divergence=((0, 10),)),
            status=[
                (
                    t,
                    {
                        "killSwitch": {"engaged": 3 <= t < 6},
                        "tradingMode": "Halted" if 3 <= t < 6 else "Active",
                    },
                )
                for t in range(12)
            ],
        ),
        False,
    ),
]


@pytest.mark.parametrize(
    ("label", "check", "observation", "holds"), CASES, ids=[c[0] for c in CASES]
)
def test_invariant(label: str, check: Check, observation: RunObservation, holds: bool) -> None:
    verdict = check(observation)
    assert verdict.ok is holds, verdict.detail
    assert verdict.ok or verdict.detail


def test_restricted_periods_follow_mode_changes() -> None:
    events = [
        ev("MODE_CHANGE", 1, mode="Active"),
        ev("MODE_CHANGE", 2, mode="ReduceOnly"),
        ev("MODE_CHANGE", 3, mode="Halted"),
        ev("MODE_CHANGE", 5, mode="Active"),
        ev("MODE_CHANGE", 8, mode="ReduceOnly"),
    ]
    assert restricted_periods(events, 10) == [(2, 5), (8, 10)]


MODES = [
    ev("MODE_CHANGE", 1, mode="ReduceOnly", reason="guard.apiHealth: errors"),
    ev("MODE_CHANGE", 5, mode="Active", reason="all clear"),
]


@pytest.mark.parametrize(
    ("expectation", "observation", "holds"),
    [
        (ExpectMode(TradingMode.REDUCE_ONLY, "apiHealth"), obs(events=MODES), True),
        (ExpectMode(TradingMode.REDUCE_ONLY, "apiHealth", recovers=True), obs(events=MODES), True),
        (
            ExpectMode(TradingMode.REDUCE_ONLY, "apiHealth", recovers=True),
            obs(events=MODES[:1]),
            False,
        ),
        (ExpectMode(TradingMode.HALTED), obs(events=MODES), False),
        (ExpectMode(TradingMode.REDUCE_ONLY, "drift"), obs(events=MODES), False),
        (
            ExpectEvent("ORDER_LOOKUP", where=(("found", "True"),)),
            obs(events=[ev("ORDER_LOOKUP", found=True)]),
            True,
        ),
        (
            ExpectEvent("ORDER_LOOKUP", where=(("found", "True"),)),
            obs(events=[ev("ORDER_LOOKUP", found=False)]),
            False,
        ),
        (
            ExpectEvent("ORDER_SUBMIT", at_least=0, at_most=0),
            obs(events=[ev("ORDER_SUBMIT")]),
            False,
        ),
        (
            ExpectStatus("belief.confidence", "lt", 1.0),
            obs(status=[(0, {"belief": {"confidence": 0.4}})]),
            True,
        ),
        (
            ExpectStatus("belief.confidence", "lt", 1.0),
            obs(status=[(0, {"belief": {"confidence": 1.0}})]),
            False,
        ),
        (ExpectStatus("preflight.passed", "eq", False), obs(status=[(0, {})]), False),
        (
            ExpectVenue(position_seen=True),
            obs(venue=[(0, state()), (1, state(position="0.003"))]),
            True,
        ),
        (
            ExpectVenue(flat_at_end=True),
            obs(venue=[(0, state(position="0.003")), (1, state())]),
            True,
        ),
        (ExpectVenue(flat_at_end=True), obs(venue=[(1, state(position="0.003"))]), False),
        (ExpectVenue(strays_cancelled=True), obs(venue=[(1, state([order(f"{P}zz1")]))]), False),
        (
            ExpectVenue(strays_cancelled=True),
            obs(venue=[(1, state([order(f"{P}zz1", "CANCELED")]))]),
            True,
        ),
    ],
)
def test_expectation(expectation: Any, observation: RunObservation, holds: bool) -> None:
    verdict = check_expectation(expectation, observation)
    assert verdict.ok is holds, verdict.detail
