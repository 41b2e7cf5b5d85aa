"""The posture controller: demands decide the posture, guard trips come and go once, enforcement."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.support.clock import FakeClock
from tests.support.manifests import example_manifest
from tests.support.orders import journaled
from tradewarden.api.tradingbot import (
    EmergencyAction,
    EmergencyStop,
    TradingBot,
    TradingBotSpec,
    TradingMode,
)
from tradewarden.bot.model.orders import Cancel, JournaledOrder, OrderIntent, OrderType, Place, Side
from tradewarden.bot.observability.events import EventLog
from tradewarden.bot.observability.metrics import BotMetrics
from tradewarden.bot.reliability.guards import ExpectedFill
from tradewarden.bot.reliability.report import ReconcileReport
from tradewarden.bot.runtime.fills import SettledFill
from tradewarden.bot.runtime.posture_controller import PostureController

BTC = "BTC/USDT:USDT"
ENTRY = journaled(OrderIntent(BTC, Side.BUY, OrderType.LIMIT, Decimal("0.003"), Decimal(100)))


def spec(**guards: Any) -> TradingBotSpec:
    document = example_manifest()
    document["spec"]["guards"] = guards
    return TradingBot.model_validate(document).spec


class Worker:
    """Takes every command offered; holds those not yet marked as run."""

    def __init__(self) -> None:
        self.offered: list[tuple[Cancel | Place, bool]] = []
        self.held: list[Cancel | Place] = []

    def holds(self, command: Cancel | Place) -> bool:
        return command in self.held

    def offer(self, command: Cancel | Place, *, urgent: bool = False) -> bool:
        self.offered.append((command, urgent))
        self.held.append(command)
        return True


class Harness:
    def __init__(self, spec: TradingBotSpec) -> None:
        self.clock = FakeClock()
        self.records: list[dict[str, Any]] = []
        events = EventLog(self.clock)
        events.listeners.append(self.records.append)
        self.metrics = BotMetrics()
        self.control = PostureController(
            spec, events=events, metrics=self.metrics, clock=self.clock
        )

    def named(self, name: str) -> list[dict[str, Any]]:
        return [r for r in self.records if r["event"] == name]

    def trips(self, guard: str) -> float:
        value = self.metrics.registry.get_sample_value(
            "tradewarden_guard_trips_total", {"guard": guard}
        )
        return 0.0 if value is None else value


@pytest.fixture
def h() -> Harness:
    return Harness(spec())


def test_every_demand_decides_the_posture_and_each_change_is_shown_once(h: Harness) -> None:
    h.control.restrict("control.operatorAbort", TradingMode.REDUCE_ONLY, "oncall")
    h.control.restrict("control.operatorAbort", TradingMode.REDUCE_ONLY, "oncall")
    assert h.control.posture.mode is TradingMode.REDUCE_ONLY
    h.control.update_controls(False, EmergencyStop(action=EmergencyAction.HALT, reason="x"))
    assert h.control.posture.mode is TradingMode.HALTED
    h.control.update_controls(False, None)
    h.control.restrict("control.operatorAbort", None)

    assert h.control.posture.mode is TradingMode.ACTIVE
    assert h.control.restrictions() == ()
    assert [r["mode"] for r in h.named("MODE_CHANGE")] == [
        TradingMode.REDUCE_ONLY,
        TradingMode.HALTED,
        TradingMode.REDUCE_ONLY,
        TradingMode.ACTIVE,
    ]
    gauge = h.metrics.registry.get_sample_value
    assert gauge("tradewarden_trading_mode", {"mode": "Active"}) == 1
    assert gauge("tradewarden_trading_mode", {"mode": "Halted"}) == 0


def test_a_guard_trip_is_a_restriction_announced_when_it_begins_and_when_it_ends() -> None:
    h = Harness(spec(brokerReads={"maxConsecutiveFailures": 2, "pauseSeconds": 60}))
    failed = ReconcileReport(BTC, h.clock(), read_failed=True)
    h.control.reconciled(failed)
    assert h.control.posture.mode is TradingMode.ACTIVE
    h.control.reconciled(failed)
    h.control.reconciled(failed)  # a third failure extends the trip, announces nothing
    assert h.control.posture.mode is TradingMode.REDUCE_ONLY
    assert [r.source for r in h.control.restrictions()] == ["guard.brokerReads"]

    h.clock.advance(60)
    h.control.tick({})

    assert h.control.posture.mode is TradingMode.ACTIVE
    assert [r["guard"] for r in h.named("GUARD_TRIP")] == ["brokerReads"]
    assert [r["guard"] for r in h.named("GUARD_CLEAR")] == ["guard.brokerReads"]
    assert h.trips("brokerReads") == 1


def test_settled_fills_feed_the_slippage_guard() -> None:
    h = Harness(spec(slippage={"maxSlippageBps": 50, "maxFailures": 2}))
    slipped = SettledFill(BTC, Side.BUY, Decimal(101), ExpectedFill(Decimal(100)))
    h.control.position_read([slipped])
    assert h.control.posture.mode_for(BTC) is TradingMode.ACTIVE
    h.control.position_read([slipped])
    assert h.control.posture.mode_for(BTC) is TradingMode.REDUCE_ONLY
    assert h.trips("slippage") == 1


def test_enforcement_begins_once_the_bot_has_recovered(h: Harness) -> None:
    h.control.restrict("control.operatorAbort", TradingMode.REDUCE_ONLY, "oncall")
    h.control.enforce()  # not recovered: nowhere to send commands, nothing fails

    worker = Worker()
    working: list[JournaledOrder] = [ENTRY]
    h.control.enforce_with(worker, lambda: working, {})
    h.control.tick({})

    cancel = Cancel(ENTRY.client_order_id, "ReduceOnly: entry orders are cancelled")
    assert worker.offered == [(cancel, True)]


def test_an_enforcement_command_that_did_not_settle_waits_a_reconcile_interval(
    h: Harness,
) -> None:
    worker = Worker()
    h.control.enforce_with(worker, lambda: [ENTRY], {})
    h.control.restrict("control.operatorAbort", TradingMode.REDUCE_ONLY, "oncall")
    assert len(worker.offered) == 1
    worker.held.clear()  # the cancel ran and the order still works

    h.control.tick({})
    assert len(worker.offered) == 1
    h.clock.advance(spec().execution.reconcile_interval_seconds)
    h.control.tick({})
    assert len(worker.offered) == 2
