"""The reconciler against the venue simulator, through unchanged ccxt.

What a trader relies on: fills arriving piecemeal end up in the journal as
they happen, every position carries its protective stop (repaired when it is
missing or wrong, without thrashing), the bot's own orders that its journal
does not know are cancelled after repeated sightings, and a position snapshot
that contradicts the journal's fills is flagged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import ccxt
import pytest

from tests.integration.conftest import sim_client
from tradewarden.api.identity import bot_prefix
from tradewarden.bot.model.order_state import OrderState
from tradewarden.bot.model.orders import Cancel, OrderIntent, OrderType, Place, Purpose, Side
from tradewarden.bot.reliability.protection import ProtectionSettings
from tradewarden.bot.reliability.reconciler import PassInterrupted, Reconciler, ReconcilerSettings
from tradewarden.bot.reliability.report import ReconcileReport
from tradewarden.bot.runtime.worker import ExecutionWorker, ReconcileAll, WorkerSettings
from tradewarden.bot.venue_sim.server import RunningVenueSim, running_venue_sim
from tradewarden.bot.venue_sim.settings import SimSettings

from .conftest import SYMBOL, OrderPath

PREFIX = bot_prefix("test/bot")
STOP_DISTANCE = Decimal("2")  # percent


@dataclass
class Harness:
    """A reconciler on the order path, with what it reported and the gate's verdicts."""

    path: OrderPath
    reconciler: Reconciler
    reports: list[ReconcileReport]
    positions: dict[str, Decimal]
    refusal: str | None = None

    async def run(self) -> ReconcileReport:
        [report] = await self.reconciler.reconcile()
        return report

    async def algo_orders(self, status: str = "NEW") -> list[dict[str, Any]]:
        state = await self.path.sim.state()
        return [a for a in state["algoOrders"] if a["algoStatus"] == status]

    def repairs(self) -> list[dict[str, Any]]:
        return [e for e in self.path.events if e["event"] == "STOP_REPAIR"]

    def metric(self, name: str, labels: dict[str, str] | None = None) -> float:
        value = self.path.metrics.registry.get_sample_value(name, labels or {})
        return 0.0 if value is None else value


def harness_for(path: OrderPath, **protection: Any) -> Harness:
    reports: list[ReconcileReport] = []
    positions: dict[str, Decimal] = {}
    harness: Harness

    def gate(_intent: OrderIntent) -> str | None:
        return harness.refusal

    reconciler = Reconciler(
        path.venue,
        path.router,
        path.router._ctx,
        ReconcilerSettings(
            symbols=(SYMBOL,),
            bot_prefix=PREFIX,
            absent_grace_seconds=5.0,
            drift_detections=3,
            protection=ProtectionSettings(STOP_DISTANCE, **protection),
        ),
        gate=gate,
        on_position=positions.__setitem__,
        on_report=reports.append,
    )
    harness = Harness(path, reconciler, reports, positions)
    return harness


@pytest.fixture
def harness(order_path: OrderPath) -> Harness:
    return harness_for(order_path)


def worker_for(harness: Harness) -> ExecutionWorker:
    """An execution worker that reconciles through the harness's reconciler."""
    path = harness.path
    return ExecutionWorker(
        path.router,
        path.router._ctx,
        harness.reconciler,
        settings=WorkerSettings(tight_loop_timeout=30),
        gate=lambda intent: None,
    )


async def buy_market(path: OrderPath, quantity: str) -> None:
    intent = OrderIntent(SYMBOL, Side.BUY, OrderType.MARKET, Decimal(quantity))
    await path.router.place(intent)


async def test_flat_account_reconciles_clean(harness: Harness) -> None:
    report = await harness.run()
    assert report.clean and not report.unprotected
    assert report.position == 0
    assert harness.reports == [report]


async def test_position_without_stop_gets_one(harness: Harness) -> None:
    await buy_market(harness.path, "0.004")
    report = await harness.run()

    assert report.position == Decimal("0.004")
    assert not report.unprotected
    [stop] = await harness.algo_orders()
    assert stop["side"] == "SELL" and stop["reduceOnly"] is True
    assert Decimal(stop["quantity"]) == Decimal("0.004")
    assert Decimal(stop["triggerPrice"]) == Decimal("49000")  # 2 % under the 50000 entry
    assert stop["clientAlgoId"].startswith(PREFIX)
    # Journaled before it was sent, like every order.
    journaled = harness.path.journal.get(stop["clientAlgoId"])
    assert journaled.intent.purpose is Purpose.STOP
    assert journaled.state is OrderState.OPEN
    [repair] = harness.repairs()
    assert (repair["outcome"], repair["reason"]) == ("placed", "no stop")
    assert harness.metric("tradewarden_stop_repairs_total", {"outcome": "placed"}) == 1

    again = await harness.run()
    assert again.clean and not again.unprotected
    assert len(await harness.algo_orders()) == 1
    assert len(harness.repairs()) == 1


async def test_wrong_size_stop_is_replaced(harness: Harness) -> None:
    await buy_market(harness.path, "0.004")
    await harness.run()
    await buy_market(harness.path, "0.002")  # position grows; the stop no longer covers it
    harness.path.time.now += 6  # past the repair cooldown

    report = await harness.run()

    assert not report.unprotected
    [stop] = await harness.algo_orders()
    assert Decimal(stop["quantity"]) == Decimal("0.006")
    [old] = await harness.algo_orders("CANCELED")
    assert Decimal(old["quantity"]) == Decimal("0.004")
    assert harness.path.journal.get(old["clientAlgoId"]).state is OrderState.CANCELED
    outcomes = [r["outcome"] for r in harness.repairs()]
    assert outcomes == ["placed", "placed", "cancel_canceled"]


async def test_refused_repairs_respect_cooldown_and_bound(order_path: OrderPath) -> None:
    harness = harness_for(order_path, cooldown_seconds=5.0, max_attempts=2)
    harness.refusal = "lease not held"
    await buy_market(order_path, "0.004")

    await harness.run()
    await harness.run()  # within the cooldown: no second attempt
    assert [r["outcome"] for r in harness.repairs()] == ["refused"]
    order_path.time.now += 6
    await harness.run()
    order_path.time.now += 6
    report = await harness.run()  # attempts exhausted
    order_path.time.now += 60
    await harness.run()

    assert [r["outcome"] for r in harness.repairs()] == ["refused", "refused", "gave_up"]
    assert report.unprotected
    assert await harness.algo_orders() == []
    assert harness.metric("tradewarden_protection_missing") == 1
    watch = harness.reconciler.watch[SYMBOL]
    assert watch.protection.unprotected_since is not None


async def test_partial_fills_are_adopted_incrementally(order_path: OrderPath) -> None:
    # The fixture venue fills crosses fully; this one fills 40 % of the order per cross.
    settings = SimSettings(price_tick_s=0, seed=3, partial_fill_ratio=0.4)
    async with running_venue_sim(settings) as sim:
        exchange = sim_client(sim)
        try:
            await _partial_fill_scenario(order_path, sim, exchange)
        finally:
            await exchange.close()


async def _partial_fill_scenario(path: OrderPath, sim: RunningVenueSim, exchange: Any) -> None:
    path.venue._exchange = exchange  # the same adapter, pointed at the partial-fill venue
    await path.venue.load_markets()
    harness = harness_for(path)
    intent = OrderIntent(SYMBOL, Side.BUY, OrderType.LIMIT, Decimal("0.010"), Decimal("49900"))
    order = await path.router.place(intent)
    assert order.state is OrderState.OPEN

    seen: list[tuple[OrderState, Decimal, Decimal]] = []
    for price in ("49850", "49950", "49850"):
        await sim.set_price("BTCUSDT", price)
        report = await harness.run()
        current = path.journal.get(order.client_order_id)
        seen.append((current.state, current.filled, report.position))
        assert not report.contradictory

    assert seen == [
        (OrderState.PARTIALLY_FILLED, Decimal("0.004"), Decimal("0.004")),
        (OrderState.PARTIALLY_FILLED, Decimal("0.004"), Decimal("0.004")),
        (OrderState.PARTIALLY_FILLED, Decimal("0.008"), Decimal("0.008")),
    ]
    # Protection followed the position as it grew.
    [stop] = await _open_algos(sim)
    assert Decimal(stop["quantity"]) == Decimal("0.008")


async def _open_algos(sim: RunningVenueSim) -> list[dict[str, Any]]:
    return [a for a in (await sim.state())["algoOrders"] if a["algoStatus"] == "NEW"]


async def test_stray_is_cancelled_after_three_detections(harness: Harness) -> None:
    stray_id = f"{PREFIX}zz9"
    await harness.path.venue.exchange.create_order(
        SYMBOL, "limit", "buy", 0.003, 48000, {"clientOrderId": stray_id}
    )
    foreign = "someone-else-1"
    await harness.path.venue.exchange.create_order(
        SYMBOL, "limit", "buy", 0.003, 48000, {"clientOrderId": foreign}
    )

    first, second = await harness.run(), await harness.run()
    assert first.strays == second.strays == (stray_id,)
    assert first.strays_confirmed == second.strays_confirmed == ()
    third = await harness.run()
    assert third.strays_confirmed == (stray_id,)
    assert harness.reconciler.watch[SYMBOL].drift.detected

    state = await harness.path.sim.state()
    status = {o["clientOrderId"]: o["status"] for o in state["orders"]}
    assert status == {stray_id: "CANCELED", foreign: "NEW"}
    fourth = await harness.run()
    assert fourth.strays == () and fourth.strays_confirmed == ()


async def test_stray_stop_is_cancelled_too(harness: Harness) -> None:
    await buy_market(harness.path, "0.004")
    await harness.run()  # the bot's own stop goes in
    stray_id = f"{PREFIX}st1"
    await harness.path.venue.exchange.create_order(
        SYMBOL,
        "STOP_MARKET",
        "sell",
        0.004,
        None,
        {"triggerPrice": 48000, "reduceOnly": True, "clientOrderId": stray_id},
    )
    reports = [await harness.run() for _ in range(3)]

    assert [r.strays for r in reports] == [(stray_id,)] * 3
    assert reports[2].strays_confirmed == (stray_id,)
    [cancelled] = await harness.algo_orders("CANCELED")
    assert cancelled["clientAlgoId"] == stray_id
    [kept] = await harness.algo_orders()
    assert kept["clientAlgoId"] != stray_id


async def test_stale_position_snapshot_is_contradictory(harness: Harness) -> None:
    await harness.run()  # learns the account is flat
    await buy_market(harness.path, "0.004")
    await harness.path.sim.set_faults(
        [
            {
                "match": {"method": "GET", "path": "/fapi/v3/positionRisk"},
                "times": 2,
                "action": {"stale_ms": 60_000},
            }
        ]
    )
    report = await harness.run()

    assert report.contradictory
    assert report.position == 0
    assert any("journal fills imply 0.004" in m for m in report.mismatches)
    assert not report.clean

    recovered = await harness.run()
    assert not recovered.contradictory
    assert recovered.position == Decimal("0.004")


@pytest.mark.parametrize("read", ["fetch_open_orders", "fetch_open_stops", "fetch_position_detail"])
async def test_a_pass_drops_the_read_in_flight_and_decides_nothing(
    harness: Harness, read: str
) -> None:
    await buy_market(harness.path, "0.004")  # unprotected: a full pass would place a stop
    stray_id = f"{PREFIX}zz9"
    await harness.path.venue.exchange.create_order(
        SYMBOL, "limit", "buy", 0.003, 48000, {"clientOrderId": stray_id}
    )
    venue, urgent = harness.path.venue, asyncio.Event()
    finished: list[str] = []
    for name in ("fetch_open_orders", "fetch_open_stops", "fetch_position_detail"):
        method = getattr(venue, name)

        async def call(*args: Any, _name: str = name, _method: Any = method) -> Any:
            if _name == read:
                urgent.set()  # an emergency stop lands while this read is in flight
            reply = await _method(*args)
            finished.append(_name)
            return reply

        setattr(venue, name, call)

    with pytest.raises(PassInterrupted):
        await harness.reconciler.reconcile(give_way=urgent)

    assert read not in finished  # dropped, not waited for
    assert harness.reports == []  # no report, so no guard reacts to half a pass
    assert await harness.algo_orders() == []  # no stop repair
    assert dict(harness.reconciler.watch[SYMBOL].strays.streaks) == {}  # no sighting counted
    with pytest.raises(PassInterrupted):  # still set: the next pass gives way at once
        await harness.reconciler.reconcile(give_way=urgent)
    # Once the urgent work is done, a pass does the whole job.
    urgent.clear()
    report = await harness.run()
    assert report.strays == (stray_id,) and not report.unprotected


async def test_an_emergency_stop_during_a_pass_cancels_before_the_pass_reads_on(
    harness: Harness,
) -> None:
    path = harness.path
    resting = [
        await path.router.place(
            OrderIntent(SYMBOL, Side.BUY, OrderType.LIMIT, Decimal("0.003"), Decimal(price))
        )
        for price in ("49000", "48900", "48800")
    ]
    worker = worker_for(harness)
    calls: list[str] = []
    venue = path.venue

    def recorded(name: str, during: Callable[[], None] = lambda: None) -> None:
        method = getattr(venue, name)

        async def call(*args: Any) -> Any:
            calls.append(name)
            during()
            return await method(*args)

        setattr(venue, name, call)

    def halt() -> None:
        if calls.count("fetch_open_stops") == 1:  # the stop lands while the pass reads
            for order in resting:
                worker.offer(Cancel(order.client_order_id, "emergency stop"), urgent=True)

    recorded("fetch_open_orders")
    recorded("fetch_open_stops", halt)
    recorded("fetch_position_detail")
    recorded("cancel_orders")

    await worker.execute(ReconcileAll())

    assert calls == [
        "fetch_open_orders",
        "fetch_open_stops",  # the pass gives way here
        "cancel_orders",  # all three in one request
        "fetch_open_orders",  # a fresh pass settles them
        "fetch_open_stops",
        "fetch_position_detail",
    ]
    assert {path.journal.get(o.client_order_id).state for o in resting} == {OrderState.CANCELED}
    assert len(harness.reports) == 1


async def test_an_emergency_stop_ends_the_wait_between_failing_passes(harness: Harness) -> None:
    path = harness.path
    resting = await path.router.place(
        OrderIntent(SYMBOL, Side.BUY, OrderType.LIMIT, Decimal("0.003"), Decimal("49000"))
    )
    worker = worker_for(harness)
    venue, read = path.venue, path.venue.fetch_open_orders
    waits: list[float] = []

    async def read_failing_once(symbol: str) -> Any:
        venue.fetch_open_orders = read  # type: ignore[method-assign]
        raise ccxt.NetworkError("connection reset")

    async def wait_for_ever(seconds: float) -> None:
        waits.append(seconds)
        # The stop lands while the worker waits to retry; this wait never ends by itself.
        worker.offer(Cancel(resting.client_order_id, "emergency stop"), urgent=True)
        await asyncio.Event().wait()

    venue.fetch_open_orders = read_failing_once  # type: ignore[method-assign]
    path.router._ctx.sleep = wait_for_ever

    await asyncio.wait_for(worker.execute(ReconcileAll()), timeout=30)

    assert waits == [1.0]
    assert path.journal.get(resting.client_order_id).state is OrderState.CANCELED
    assert [r.read_failed for r in harness.reports] == [True, False]


def move_price_at_the_next_stops_read(path: OrderPath, price: str, *, after_read: bool) -> None:
    """Move the venue's price once, just before or just after the next open-stops read."""
    venue = path.venue
    read_stops = venue.fetch_open_stops

    async def read_once(symbol: str) -> Any:
        venue.fetch_open_stops = read_stops  # type: ignore[method-assign]
        if not after_read:
            await path.sim.set_price("BTCUSDT", price)
        stops = await read_stops(symbol)
        if after_read:
            await path.sim.set_price("BTCUSDT", price)
        return stops

    venue.fetch_open_stops = read_once  # type: ignore[method-assign]


async def test_a_fill_between_the_reads_is_settled_without_a_false_mismatch(
    harness: Harness,
) -> None:
    path = harness.path
    await harness.run()  # learns the account is flat
    order = await path.router.place(
        OrderIntent(SYMBOL, Side.BUY, OrderType.LIMIT, Decimal("0.004"), Decimal("49900"))
    )
    assert order.state is OrderState.OPEN
    # The order fills (half of it: the price moved through the bid once) after the
    # open-orders read listed it, before the position read.
    move_price_at_the_next_stops_read(path, "49850", after_read=False)
    report = await harness.run()

    assert path.journal.get(order.client_order_id).state is OrderState.PARTIALLY_FILLED
    assert report.position == Decimal("0.002")
    assert report.mismatches == ()
    assert not report.contradictory


async def test_a_stop_triggering_between_the_reads_is_settled_without_a_false_mismatch(
    harness: Harness,
) -> None:
    path = harness.path
    await harness.run()  # learns the account is flat
    await buy_market(path, "0.004")
    await harness.run()  # places the stop at 49000
    [stop] = await harness.algo_orders()
    # The stop triggers after the open-stops read listed it, before it is looked up.
    move_price_at_the_next_stops_read(path, "48900", after_read=True)
    report = await harness.run()

    assert path.journal.get(stop["clientAlgoId"]).state is OrderState.FILLED
    assert report.position == 0
    assert report.mismatches == ()
    assert not report.contradictory


async def test_a_clock_skew_on_the_reads_is_fixed_by_a_resync_not_retried_to_the_timeout(
    harness: Harness,
) -> None:
    path = harness.path
    # The venue clock (and its /time) is 30 s behind ours: every signed read gets -1021.
    await path.sim.set_faults([{"action": {"skew_ms": -30_000}}])
    worker = worker_for(harness)

    await worker.execute(ReconcileAll())

    failures = [e for e in path.events if e.get("verdict") == "reconcile-failed"]
    assert len(failures) == 1 and "-1021" in failures[0]["error"]
    assert path.venue.exchange.options["timeDifference"] > 25_000
    assert [r.read_failed for r in harness.reports] == [True, False]
    assert harness.reports[-1].clean


async def test_an_order_the_venue_filters_refuse_is_not_resent_every_tick(
    harness: Harness,
) -> None:
    # The strategy proposes the same order every tick; the venue refuses it every time:
    # 0.001 BTC at 49000 is 49 USDT, under BTCUSDT's 100 USDT minimum notional (-4164).
    path, hold = harness.path, 30.0
    worker = ExecutionWorker(
        path.router,
        path.router._ctx,
        harness.reconciler,
        settings=WorkerSettings(tight_loop_timeout=30, filter_hold_seconds=hold),
        gate=lambda intent: None,
    )
    too_small = OrderIntent(SYMBOL, Side.BUY, OrderType.LIMIT, Decimal("0.001"), Decimal("49000"))

    async def creates() -> int:
        return int((await path.sim.state())["requests"].get("POST /fapi/v1/order", 0))

    for _ in range(5):
        await worker.execute(Place(too_small))

    assert await creates() == 1
    [error] = [e for e in path.events if e["event"] == "ORDER_ERROR"]
    assert error["venue_code"] == -4164
    refused = [e["reason"] for e in path.events if e["event"] == "INTENT_REFUSED"]
    assert len(refused) == 4
    assert refused[0].startswith("venue-filter: ") and "-4164" in refused[0]
    assert harness.metric("tradewarden_intents_refused_total", {"reason": "venue-filter"}) == 4
    # The other side is not held.
    sell = OrderIntent(SYMBOL, Side.SELL, OrderType.LIMIT, Decimal("0.003"), Decimal("51000"))
    await worker.execute(Place(sell))
    assert await creates() == 2
    # Once the hold passes the order is tried again: the venue may have changed.
    path.time.advance(hold)
    await worker.execute(Place(too_small))
    assert await creates() == 3


async def test_a_stop_the_reads_do_not_show_yet_is_neither_missing_nor_placed_twice(
    order_path: OrderPath,
) -> None:
    # Binance's reads lag its writes: every order younger than the lag is missing from
    # lookups (-2013) and from the open lists. Within the absence grace the stop the
    # venue accepted stands: no mismatch, no second stop (no cooldown holds one back).
    harness = harness_for(order_path, cooldown_seconds=0)
    await buy_market(order_path, "0.004")
    await order_path.sim.set_faults(
        [{"match": {"method": "GET"}, "action": {"hide_new_orders_ms": 600_000}}]
    )
    first = await harness.run()
    assert not first.unprotected

    again = await harness.run()
    assert again.mismatches == ()
    assert not again.unprotected
    assert len(await harness.algo_orders()) == 1
    assert [r["outcome"] for r in harness.repairs()] == ["placed"]
