"""The admission gate: vetoes first, then a mark, then posture and risk over the working orders."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from tests.support.manifests import example_manifest
from tests.support.orders import journaled
from tradewarden.api.tradingbot import TradingBot, TradingMode
from tradewarden.bot.model.orders import JournaledOrder, OrderIntent, OrderType, Side
from tradewarden.bot.posture import Posture, Restriction, decide_posture
from tradewarden.bot.runtime.admission_gate import AdmissionGate, Veto

BTC = "BTC/USDT:USDT"
RISK = TradingBot.model_validate(example_manifest()).spec.risk
BUY = OrderIntent(BTC, Side.BUY, OrderType.LIMIT, Decimal("0.003"), Decimal(50_000))


@dataclass
class State:
    posture: Posture = field(default_factory=lambda: decide_posture(False, None))
    marks: dict[str, Decimal] = field(default_factory=lambda: {BTC: Decimal(50_000)})
    positions: dict[str, Decimal] = field(default_factory=dict)
    working: list[JournaledOrder] = field(default_factory=list)
    vetoes: list[Veto] = field(default_factory=list)

    def gate(self) -> AdmissionGate:
        return AdmissionGate(
            vetoes=self.vetoes,
            working=lambda: self.working,
            posture=self,
            marks=self.marks,
            positions=self.positions,
            risk=RISK,
        )


def test_an_order_within_the_limits_is_admitted() -> None:
    assert State().gate()(BUY) is None


def test_a_veto_refuses_before_anything_else() -> None:
    state = State(marks={})
    state.vetoes += [lambda intent: None, lambda intent: "lease: not held", lambda intent: "other"]
    assert state.gate()(BUY) == "lease: not held"


def test_no_mark_yet_refuses() -> None:
    assert State(marks={}).gate()(BUY) == "no-mark: no mark price yet"


def test_the_gate_reads_the_posture_and_working_orders_when_asked() -> None:
    state = State()
    gate = state.gate()
    state.posture = decide_posture(
        False, None, (Restriction("guard.slippage", TradingMode.REDUCE_ONLY, "slip", BTC),)
    )
    assert gate(BUY) == "reduce-only: new exposure is blocked"

    state.posture = decide_posture(False, None)
    big = OrderIntent(BTC, Side.BUY, OrderType.LIMIT, Decimal("0.019"), Decimal(50_000))
    assert gate(big) is None
    state.working.append(journaled(BUY))
    assert (gate(big) or "").startswith("max-position:")
