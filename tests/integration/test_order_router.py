"""The order router against the venue simulator, through unchanged ccxt.

Each test injects a venue fault on the wire and checks what a trader relies
on: the order exists at the venue exactly once, and the journal agrees.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from tradewarden.bot.execution.classification import classify
from tradewarden.bot.execution.router import OrderRouter
from tradewarden.bot.execution.sweep import sweep
from tradewarden.bot.model.order_state import OrderState
from tradewarden.bot.model.orders import OrderIntent, OrderType, Purpose, Side
from tradewarden.bot.model.outcomes import ErrorClass, Operation
from tradewarden.bot.model.venue import PastOrder
from tradewarden.bot.venue.adapter import ReadOnlyVenue, VenueAdapter

from .conftest import SYMBOL, OrderPath

CREATE = {"method": "POST", "path": "/fapi/v1/order"}
LIMIT_BUY = OrderIntent(SYMBOL, Side.BUY, OrderType.LIMIT, Decimal("0.003"), Decimal("49000"))
MARKET_BUY = OrderIntent(SYMBOL, Side.BUY, OrderType.MARKET, Decimal("0.003"))


async def venue_orders(path: OrderPath, venue_client_id: str) -> list[dict[str, Any]]:
    state = await path.sim.state()
    return [o for o in state["orders"] if o["clientOrderId"] == venue_client_id]


async def through(path: OrderPath, *marks: str) -> None:
    """Move the mark step by step; each step through a resting bid fills half of it."""
    for mark in marks:
        await path.sim.set_price("BTCUSDT", mark)


def metric(path: OrderPath, name: str, labels: dict[str, str] | None = None) -> float:
    value = path.metrics.registry.get_sample_value(name, labels or {})
    return 0.0 if value is None else value


async def test_accepted_order_is_journaled_with_venue_ids(order_path: OrderPath) -> None:
    order = order_path.journal.record_intent(LIMIT_BUY)
    placed = await order_path.router.submit(order)
    assert placed.state is OrderState.OPEN
    [at_venue] = await venue_orders(order_path, order.client_order_id)
    assert placed.exchange_order_id == str(at_venue["orderId"])
    assert order_path.events_for(order.client_order_id) == ["ORDER_SUBMIT", "ORDER_RESPONSE"]
    # Journaled as SUBMITTING before the send: one write, then the venue's answer.
    assert order_path.journal.history(order.client_order_id) == [("SUBMITTING", "OPEN")]


async def test_accept_then_drop_is_found_not_resent(order_path: OrderPath) -> None:
    await order_path.sim.set_faults(
        [{"match": CREATE, "after": 0, "times": 1, "action": {"accept_then_drop": True}}]
    )
    order = order_path.journal.record_intent(LIMIT_BUY)
    placed = await order_path.router.submit(order)

    assert placed.state is OrderState.OPEN
    assert len(await venue_orders(order_path, order.client_order_id)) == 1
    assert (await order_path.sim.state())["requests"].get("POST /fapi/v1/order") == 1
    trail = order_path.events_for(order.client_order_id)
    assert trail[:3] == ["ORDER_SUBMIT", "ORDER_ERROR", "ORDER_LOOKUP"]
    assert trail.count("ORDER_SUBMIT") == 1


async def test_an_ambiguous_create_that_filled_is_adopted_not_resent(
    order_path: OrderPath,
) -> None:
    # Binance would take a resend under the same id as a second order once the
    # first has filled, so only the lookup stands between a lost reply and a
    # doubled position.
    await order_path.sim.set_faults(
        [{"match": CREATE, "times": 1, "action": {"accept_then_drop": True}}]
    )
    order = order_path.journal.record_intent(MARKET_BUY)
    placed = await order_path.router.submit(order)

    assert (placed.state, placed.filled) == (OrderState.FILLED, Decimal("0.003"))
    state = await order_path.sim.state()
    assert state["requests"].get("POST /fapi/v1/order") == 1
    assert [p["positionAmt"] for p in state["positions"]] == ["0.003"]


READ_LAG = {"match": {"method": "GET"}, "action": {"hide_new_orders_ms": 600_000}}


def lagging_router(path: OrderPath, grace: float) -> OrderRouter:
    return OrderRouter(path.venue, dataclasses.replace(path.context, absent_grace=grace))


@pytest.mark.parametrize("intent", [MARKET_BUY, LIMIT_BUY], ids=["filled", "resting"])
async def test_an_order_reads_cannot_see_yet_is_never_sent_twice(
    order_path: OrderPath, intent: OrderIntent
) -> None:
    # The create is accepted, its reply lost, and every lookup says -2013 for
    # longer than the retry budget (Binance's reads have lagged 22-62 s).
    await order_path.sim.set_faults(
        [{"match": CREATE, "times": 1, "action": {"accept_then_drop": True}}, READ_LAG]
    )
    router = lagging_router(order_path, grace=60.0)
    order = order_path.journal.record_intent(intent)
    placed = await router.submit(order)

    assert placed.state is OrderState.SUBMITTING  # unknown: left to the reconciler
    state = await order_path.sim.state()
    assert state["requests"].get("POST /fapi/v1/order") == 1
    assert len(await venue_orders(order_path, order.client_order_id)) == 1
    assert order_path.events_for(order.client_order_id).count("ORDER_SUBMIT") == 1
    # The reconciler does not call it absent within the grace either ...
    assert await sweep(
        order_path.journal, router, clock=order_path.time, absent_grace_seconds=60.0
    ) == [order.client_order_id]
    # ... and adopts it once the reads catch up.
    await order_path.sim.clear_faults()
    await sweep(order_path.journal, router, clock=order_path.time, absent_grace_seconds=60.0)
    settled = order_path.journal.get(order.client_order_id)
    assert settled.state is (OrderState.FILLED if intent is MARKET_BUY else OrderState.OPEN)
    assert len(await venue_orders(order_path, order.client_order_id)) == 1


async def test_a_lookup_that_catches_up_within_the_grace_is_adopted(order_path: OrderPath) -> None:
    # Reads lag by less than the retry budget: the router keeps looking instead of resending.
    await order_path.sim.set_faults(
        [
            {"match": CREATE, "times": 1, "action": {"accept_then_drop": True}},
            {**READ_LAG, "times": 2},
        ]
    )
    router = lagging_router(order_path, grace=60.0)
    order = order_path.journal.record_intent(MARKET_BUY)
    placed = await router.submit(order)

    assert placed.state is OrderState.FILLED
    assert (await order_path.sim.state())["requests"].get("POST /fapi/v1/order") == 1


async def test_a_live_order_reads_cannot_see_is_not_called_cancelled(
    order_path: OrderPath,
) -> None:
    order = await order_path.router.place(LIMIT_BUY)
    await order_path.sim.set_faults([READ_LAG])

    unknown = await sweep(
        order_path.journal,
        order_path.router,
        clock=order_path.time,
        absent_grace_seconds=30.0,
    )
    assert unknown == [order.client_order_id]
    assert order_path.journal.get(order.client_order_id).state is OrderState.OPEN


async def test_unknown_status_503_is_looked_up_then_resent_under_same_id(
    order_path: OrderPath,
) -> None:
    fault = {"status": 503, "code": -1001, "msg": "Internal error; unable to process."}
    await order_path.sim.set_faults(
        [{"match": CREATE, "after": 0, "times": 1, "action": {"error": fault}}]
    )
    order = order_path.journal.record_intent(MARKET_BUY)
    placed = await order_path.router.submit(order)

    assert placed.state is OrderState.FILLED
    assert placed.filled == Decimal("0.003")
    assert len(await venue_orders(order_path, order.client_order_id)) == 1
    trail = order_path.events_for(order.client_order_id)
    assert trail.count("ORDER_SUBMIT") == 2
    assert trail.index("ORDER_LOOKUP") < trail.index("ORDER_RETRY")
    assert metric(order_path, "tradewarden_order_retries_total", {"reason_class": "ambiguous"}) == 1


async def test_duplicate_id_is_evidence_the_order_exists(order_path: OrderPath) -> None:
    order = order_path.journal.record_intent(LIMIT_BUY)
    # The order reached the venue earlier (say, before a crash) under this id.
    await order_path.venue.exchange.create_order(
        SYMBOL, "limit", "buy", 0.003, 49000, {"clientOrderId": order.venue_client_id}
    )
    placed = await order_path.router.submit(order)

    assert placed.state is OrderState.OPEN
    assert len(await venue_orders(order_path, order.client_order_id)) == 1
    assert "ORDER_LOOKUP" in order_path.events_for(order.client_order_id)


async def test_margin_rejection_is_terminal_without_retry(order_path: OrderPath) -> None:
    huge = OrderIntent(SYMBOL, Side.BUY, OrderType.MARKET, Decimal("100"))
    order = order_path.journal.record_intent(huge)
    placed = await order_path.router.submit(order)

    assert placed.state is OrderState.REJECTED
    assert order_path.events_for(order.client_order_id).count("ORDER_SUBMIT") == 1
    assert order_path.time.slept == []


async def test_rate_limit_storm_backs_off_then_succeeds(order_path: OrderPath) -> None:
    storm = {"status": 429, "code": -1003, "msg": "Too many requests."}
    await order_path.sim.set_faults(
        [{"match": CREATE, "after": 0, "times": 2, "action": {"error": storm}}]
    )
    order = order_path.journal.record_intent(LIMIT_BUY)
    placed = await order_path.router.submit(order)

    assert placed.state is OrderState.OPEN
    assert len(order_path.time.slept) == 2
    assert order_path.time.slept[1] > order_path.time.slept[0]
    assert (
        metric(order_path, "tradewarden_order_retries_total", {"reason_class": "rate_limited"}) == 2
    )


async def test_clock_skew_resyncs_time_and_retries(order_path: OrderPath) -> None:
    # The bot's clock runs 20 s ahead of the venue: -1021 until it re-syncs.
    order_path.venue.exchange.options["timeDifference"] = -20_000
    order = order_path.journal.record_intent(LIMIT_BUY)
    placed = await order_path.router.submit(order)

    assert placed.state is OrderState.OPEN
    errors = [e for e in order_path.events if e["event"] == "ORDER_ERROR"]
    assert errors[0]["venue_code"] == -1021
    assert abs(order_path.venue.exchange.options["timeDifference"]) < 5_000


@pytest.mark.parametrize(
    "garble",
    [
        {"raw": {"status": 200, "body": "<html>upstream hiccup</html>"}},
        {"drop_fields": ["orderId", "status", "clientOrderId"]},
    ],
    ids=["non-json-200", "missing-fields"],
)
async def test_garbled_create_reply_loses_nothing(
    order_path: OrderPath, garble: dict[str, Any]
) -> None:
    await order_path.sim.set_faults([{"match": CREATE, "after": 0, "times": 1, "action": garble}])
    order = order_path.journal.record_intent(LIMIT_BUY)
    placed = await order_path.router.submit(order)

    assert placed.state is OrderState.OPEN
    assert len(await venue_orders(order_path, order.client_order_id)) == 1


# A body that is JSON but not an object or array (a corrupted reply): ccxt passes
# it to its parsers as text.
GARBLED_JSON = {
    "raw": {"status": 200, "body": '"\\u0000garbled"', "content_type": "application/json"}
}


async def test_a_garbled_json_create_reply_is_ambiguous_and_looked_up(
    order_path: OrderPath,
) -> None:
    """Issue 12 item 10: classified like any other garbled reply, the order found not resent."""
    await order_path.sim.set_faults([{"match": CREATE, "times": 1, "action": GARBLED_JSON}])
    order = order_path.journal.record_intent(LIMIT_BUY)
    placed = await order_path.router.submit(order)

    assert placed.state is OrderState.OPEN
    assert len(await venue_orders(order_path, order.client_order_id)) == 1
    [error] = [e for e in order_path.events if e["event"] == "ORDER_ERROR"]
    assert error["error_class"] == "ambiguous"
    assert error["error"].startswith("BadResponse: binanceusdm POST /fapi/v1/order: reply is not")
    assert order_path.events_for(order.client_order_id).count("ORDER_SUBMIT") == 1


Read = Callable[[OrderPath], Awaitable[object]]
READS: list[tuple[str, str, Read]] = [
    ("open orders", "/fapi/v1/openOrders", lambda p: p.venue.fetch_open_orders(SYMBOL)),
    ("open stops", "/fapi/v1/openAlgoOrders", lambda p: p.venue.fetch_open_stops(SYMBOL)),
    ("position", "/fapi/v3/positionRisk", lambda p: p.venue.fetch_position(SYMBOL)),
    ("mark", "/fapi/v1/ticker/24hr", lambda p: p.venue.fetch_mark_price(SYMBOL)),
    ("batch cancel", "/fapi/v1/batchOrders", lambda p: p.venue.cancel_orders(["x"], SYMBOL)),
]


@pytest.mark.parametrize(("path", "read"), [pytest.param(*r[1:], id=r[0]) for r in READS])
async def test_a_garbled_json_read_is_retryable_never_an_empty_answer(
    order_path: OrderPath, path: str, read: Read
) -> None:
    """A corrupted reply is an error to retry, not "no orders" or "no position"."""
    await order_path.router.place(MARKET_BUY)  # a position the garbled read must not hide
    await order_path.sim.set_faults([{"match": {"path": path}, "times": 1, "action": GARBLED_JSON}])
    with pytest.raises(Exception) as raised:
        await read(order_path)

    assert classify(raised.value, Operation.READ).error_class is ErrorClass.RETRYABLE
    assert not isinstance(raised.value, AttributeError | TypeError | KeyError)
    assert f"{path}: reply is not a JSON object or array" in str(raised.value)
    assert await order_path.venue.fetch_position(SYMBOL) == Decimal("0.003")


async def test_give_up_leaves_order_unknown_and_flags_it(order_path: OrderPath) -> None:
    outage = {"status": 503, "code": -1001, "msg": "Internal error"}
    await order_path.sim.set_faults(
        [{"match": CREATE, "after": 0, "times": None, "action": {"error": outage}}]
    )
    order = order_path.journal.record_intent(LIMIT_BUY)
    placed = await order_path.router.submit(order)

    assert placed.state is OrderState.SUBMITTING
    assert "ORDER_GIVEUP" in order_path.events_for(order.client_order_id)
    assert metric(order_path, "tradewarden_order_giveups_total", {"operation": "create"}) == 1
    assert await venue_orders(order_path, order.client_order_id) == []


async def test_cancel_of_filled_order_is_idempotent_success(order_path: OrderPath) -> None:
    order = await order_path.router.place(LIMIT_BUY)
    # The price moves through the bid (half fills per step, as the level's queue trades): filled.
    await through(order_path, "48900", "48800")
    cancelled = await order_path.router.cancel(order)

    assert cancelled.state is OrderState.FILLED
    assert cancelled.filled == Decimal("0.003")


async def test_a_triggered_stop_larger_than_the_position_is_its_capped_fill_never_cancelled(
    order_path: OrderPath,
) -> None:
    # A stop sized for 0.006 over a position of 0.003 (an entry the stop has not caught
    # up with yet): when it triggers, the venue sells only what it can reduce.
    await order_path.router.place(MARKET_BUY)
    stop = OrderIntent(
        SYMBOL, Side.SELL, OrderType.STOP_MARKET, Decimal("0.006"), Decimal("49000"),
        reduce_only=True, purpose=Purpose.STOP,
    )  # fmt: skip
    placed = await order_path.router.place(stop)
    await order_path.sim.set_price("BTCUSDT", "48900")  # through the trigger
    after = await order_path.router.cancel(placed)

    assert after.state is OrderState.FILLED
    assert after.filled == Decimal("0.003")
    state = await order_path.sim.state()
    assert [p["positionAmt"] for p in state["positions"] if p["symbol"] == "BTCUSDT"] in (
        [],
        ["0"],
        ["0.000"],
    )


async def test_a_filled_order_is_never_called_cancelled_when_lookups_fail(
    order_path: OrderPath,
) -> None:
    order = await order_path.router.place(LIMIT_BUY)
    await through(order_path, "48900", "48800")  # filled while the bot is not looking
    unavailable = {"error": {"status": 503, "code": -1001, "msg": "Internal error"}}
    await order_path.sim.set_faults(
        [
            {"match": {"method": "DELETE", "path": "/fapi/v1/order"}, "action": unavailable},
            {"match": {"method": "GET", "path": "/fapi/v1/order"}, "action": unavailable},
        ]
    )
    after = await order_path.router.cancel(order)

    assert after.state is OrderState.CANCELING  # unknown: left to the reconciler
    [at_venue] = await venue_orders(order_path, order.client_order_id)
    assert at_venue["status"] == "FILLED"
    assert "ORDER_GIVEUP" in order_path.events_for(order.client_order_id)


LOOKUPS_FAIL = {
    "match": {"method": "GET", "path": "/fapi/v1/order"},
    "action": {"error": {"status": 503, "code": -1001, "msg": "Internal error"}},
}


async def test_a_duplicate_id_is_neither_rotated_nor_resent_when_the_lookup_fails(
    order_path: OrderPath,
) -> None:
    duplicate = {"error": {"status": 400, "code": -4116, "msg": "ClientOrderId is duplicated."}}
    await order_path.sim.set_faults(
        [{"match": CREATE, "times": 1, "action": duplicate}, LOOKUPS_FAIL]
    )
    order = await order_path.router.place(LIMIT_BUY)

    # -4116 says an open order has the id; rotating could duplicate it, and a resend
    # under the same id too once that order has filled: the outcome stays unknown.
    assert order.venue_client_id == order.client_order_id
    assert order.state is OrderState.SUBMITTING
    assert (await order_path.sim.state())["requests"].get("POST /fapi/v1/order") == 1


async def test_an_ambiguous_create_that_filled_is_not_resent_when_lookups_fail(
    order_path: OrderPath,
) -> None:
    # The reply is lost, the order filled, the lookups fail. Binance takes the id
    # again once its order is no longer open, so a resend would double the position.
    await order_path.sim.set_faults(
        [{"match": CREATE, "times": 1, "action": {"accept_then_drop": True}}, LOOKUPS_FAIL]
    )
    order = order_path.journal.record_intent(MARKET_BUY)
    placed = await order_path.router.submit(order)

    state = await order_path.sim.state()
    assert [p["positionAmt"] for p in state["positions"]] == ["0.003"]
    assert state["requests"].get("POST /fapi/v1/order") == 1
    assert placed.state is OrderState.SUBMITTING  # unknown: left to the reconciler
    assert "ORDER_GIVEUP" in order_path.events_for(order.client_order_id)
    # Once the venue answers, the reconciler adopts the fill.
    await order_path.sim.clear_faults()
    path = order_path
    await sweep(path.journal, path.router, clock=path.time, absent_grace_seconds=0)
    settled = order_path.journal.get(order.client_order_id)
    assert (settled.state, settled.filled) == (OrderState.FILLED, Decimal("0.003"))


async def test_cancel_of_order_the_venue_never_had(order_path: OrderPath) -> None:
    order = order_path.journal.record_intent(LIMIT_BUY)
    order = order_path.journal.transition(order.client_order_id, OrderState.OPEN)
    cancelled = await order_path.router.cancel(order)

    assert cancelled.state is OrderState.CANCELED


async def test_cancel_of_open_order(order_path: OrderPath) -> None:
    order = await order_path.router.place(LIMIT_BUY)
    cancelled = await order_path.router.cancel(order)

    assert cancelled.state is OrderState.CANCELED
    [at_venue] = await venue_orders(order_path, order.client_order_id)
    assert at_venue["status"] == "CANCELED"


async def test_an_intent_journaled_but_never_sent_is_abandoned_only_after_the_grace(
    order_path: OrderPath,
) -> None:
    # A crash between the journal commit and the send: the restart cannot know
    # the create never left, so it looks the id up and waits out the grace.
    order = order_path.journal.record_intent(LIMIT_BUY)

    early = await sweep(
        order_path.journal, order_path.router, clock=order_path.time, absent_grace_seconds=5.0
    )
    assert early == [order.client_order_id]
    assert order_path.journal.get(order.client_order_id).state is OrderState.SUBMITTING

    order_path.time.now += 6
    assert (
        await sweep(
            order_path.journal,
            order_path.router,
            clock=order_path.time,
            absent_grace_seconds=5.0,
        )
        == []
    )
    assert order_path.journal.get(order.client_order_id).state is OrderState.ABANDONED
    assert order_path.events_for(order.client_order_id) == ["ORDER_LOOKUP", "ORDER_LOOKUP"]


async def test_only_a_freshly_journaled_order_is_submitted(order_path: OrderPath) -> None:
    placed = await order_path.router.place(LIMIT_BUY)

    with pytest.raises(ValueError, match="freshly journaled"):
        await order_path.router.submit(placed)
    assert len(await venue_orders(order_path, placed.client_order_id)) == 1


def limit_buy(price: str) -> OrderIntent:
    return OrderIntent(SYMBOL, Side.BUY, OrderType.LIMIT, Decimal("0.003"), Decimal(price))


async def test_cancel_many_sends_one_batch_and_settles_each_order(order_path: OrderPath) -> None:
    resting = [await order_path.router.place(limit_buy(p)) for p in ("49000", "48900", "48800")]
    filled = await order_path.router.place(limit_buy("49500"))
    await through(order_path, "49400", "49300")  # fills the 49500 bid behind the bot's back
    before = (await order_path.sim.state())["requests"]

    settled = await order_path.router.cancel_many([*resting, filled])

    assert [o.state for o in settled] == [OrderState.CANCELED] * 3 + [OrderState.FILLED]
    requests = (await order_path.sim.state())["requests"]
    assert requests["DELETE /fapi/v1/batchOrders"] == 1
    # Only the order the batch could not cancel was asked about on its own.
    assert requests.get("DELETE /fapi/v1/order", 0) - before.get("DELETE /fapi/v1/order", 0) == 1
    for order in resting:
        [at_venue] = await venue_orders(order_path, order.client_order_id)
        assert at_venue["status"] == "CANCELED"
        assert order_path.journal.history(order.client_order_id)[-2:] == [
            ("OPEN", "CANCELING"),
            ("CANCELING", "CANCELED"),
        ]


async def test_a_failed_batch_falls_back_to_one_cancel_per_order(order_path: OrderPath) -> None:
    resting = [await order_path.router.place(limit_buy(p)) for p in ("49000", "48900")]
    await order_path.sim.set_faults(
        [
            {
                "match": {"method": "DELETE", "path": "/fapi/v1/batchOrders"},
                "action": {"accept_then_drop": True},
            }
        ]
    )

    settled = await order_path.router.cancel_many(resting)

    # The batch went through but its reply was lost: each order is settled by asking.
    assert [o.state for o in settled] == [OrderState.CANCELED, OrderState.CANCELED]
    for order in resting:
        trail = order_path.events_for(order.client_order_id)
        # The batch timed out; the plain cancel hears "unknown order"; the lookup
        # shows it cancelled.
        assert trail[3:] == ["ORDER_ERROR", "ORDER_ERROR", "ORDER_LOOKUP", "ORDER_STATE"]
        [at_venue] = await venue_orders(order_path, order.client_order_id)
        assert at_venue["status"] == "CANCELED"


async def test_dry_run_router_and_adapter_send_nothing_that_changes_the_venue(
    order_path: OrderPath,
) -> None:
    live = await order_path.router.place(LIMIT_BUY)
    assert live.state is OrderState.OPEN
    before = (await order_path.sim.state())["requests"]
    read_only = VenueAdapter(order_path.venue.exchange, read_only=True)
    dry = OrderRouter(read_only, replace(order_path.context, dry_run=True))

    assert (await dry.cancel(live)).state is OrderState.OPEN
    assert [o.state for o in await dry.cancel_many([live])] == [OrderState.OPEN]
    assert order_path.events_for(live.client_order_id).count("WOULD_CANCEL") == 2
    # Behind the router, the adapter itself refuses every create and cancel.
    with pytest.raises(ReadOnlyVenue):
        await read_only.create_order(order_path.journal.record_intent(MARKET_BUY))
    with pytest.raises(ReadOnlyVenue):
        await read_only.cancel_order(live.venue_client_id, SYMBOL)
    with pytest.raises(ReadOnlyVenue):
        await read_only.cancel_orders([live.venue_client_id], SYMBOL)

    state = await order_path.sim.state()
    assert state["requests"] == before
    assert [o["status"] for o in state["orders"]] == ["NEW"]


async def test_the_dry_run_gate_logs_what_it_holds_back(order_path: OrderPath) -> None:
    """The one gate the worker and the reconciler's stop repairs place through."""
    stop = OrderIntent(SYMBOL, Side.SELL, OrderType.STOP_MARKET, Decimal("0.003"),
                       Decimal("45000"), reduce_only=True, purpose=Purpose.STOP)  # fmt: skip

    def would_submit() -> list[dict[str, Any]]:
        return [e for e in order_path.events if e["event"] == "WOULD_SUBMIT"]

    assert order_path.context.holds_back(stop) is False
    assert would_submit() == []
    assert replace(order_path.context, dry_run=True).holds_back(stop) is True
    [would] = would_submit()
    assert (would["symbol"], would["side"], would["type"]) == (SYMBOL, Side.SELL, stop.order_type)
    assert (would["quantity"], would["price"], would["reduce_only"]) == (
        stop.quantity, stop.price, True
    )  # fmt: skip


async def test_an_old_order_under_the_same_id_is_a_conflict_never_the_fill(
    order_path: OrderPath,
) -> None:
    """A lost journal's old BUY, still resting, holds the id a fresh SELL is sent under.

    The venue refuses the id while the BUY is open (-4116); the lookup finds the
    BUY. Taken as the SELL, its later fill would become the SELL's.
    """
    sell = OrderIntent(SYMBOL, Side.SELL, OrderType.LIMIT, Decimal("0.003"), Decimal("51000"))
    order = order_path.journal.record_intent(sell)
    old_buy = await order_path.venue.exchange.create_order(
        SYMBOL, "limit", "buy", 0.003, 49000, {"clientOrderId": order.venue_client_id}
    )

    placed = await order_path.router.submit(order)

    # The SELL rests at the venue under an id of its own lineage, not as the BUY.
    assert placed.state is OrderState.OPEN
    assert placed.venue_client_id != order.venue_client_id
    assert placed.exchange_order_id != str(old_buy["id"])
    [ours] = [
        o for o in (await order_path.sim.state())["orders"]
        if o["clientOrderId"] == placed.venue_client_id
    ]  # fmt: skip
    assert (ours["side"], ours["status"]) == ("SELL", "NEW")
    conflicts = [
        e for e in order_path.events
        if e["event"] == "RECONCILE_MISMATCH" and e.get("verdict") == "conflict"
    ]  # fmt: skip
    assert conflicts and "side buy" in conflicts[0]["reason"]
    # The old BUY fills: never the SELL's fill.
    await order_path.sim.set_price("BTCUSDT", "48900")
    settled = await order_path.router.resolve(placed)
    assert settled is not None and settled.filled == 0
    assert order_path.journal.net_filled(SYMBOL) == 0


async def test_an_unanswered_create_is_not_settled_by_an_old_filled_order_under_its_id(
    order_path: OrderPath,
) -> None:
    """The venue takes an id again once its first order is done (Binance): after a create
    the venue refused with a 503, the lookup by id finds only the old, filled BUY."""
    sell = OrderIntent(SYMBOL, Side.SELL, OrderType.LIMIT, Decimal("0.003"), Decimal("51000"))
    order = order_path.journal.record_intent(sell)
    await order_path.venue.exchange.create_order(
        SYMBOL, "market", "buy", 0.003, None, {"clientOrderId": order.venue_client_id}
    )
    outage = {"status": 503, "code": -1001, "msg": "Internal error"}
    await order_path.sim.set_faults(
        [{"match": CREATE, "after": 0, "times": 1, "action": {"error": outage}}]
    )

    placed = await order_path.router.submit(order)

    assert placed.filled == 0
    assert order_path.journal.net_filled(SYMBOL) == 0
    assert placed.state is OrderState.OPEN
    sells = [
        o for o in (await order_path.sim.state())["orders"]
        if o["clientOrderId"] == placed.venue_client_id and o["side"] == "SELL"
    ]  # fmt: skip
    assert [o["status"] for o in sells] == ["NEW"]


async def test_order_history_lists_open_and_done_orders_and_stops(order_path: OrderPath) -> None:
    """What the lost-journal check reads: every order and stop, open or done, by client id."""
    exchange = order_path.venue.exchange
    await exchange.create_order(SYMBOL, "limit", "buy", 0.003, 49000, {"clientOrderId": "h-open"})
    await exchange.create_order(SYMBOL, "market", "buy", 0.003, None, {"clientOrderId": "h-fill"})
    stop = {"clientOrderId": "h-stop", "triggerPrice": 45000, "reduceOnly": True}
    await exchange.create_order(SYMBOL, "STOP_MARKET", "sell", 0.003, None, stop)
    gone = {"clientOrderId": "h-gone", "triggerPrice": 44000, "reduceOnly": True}
    await exchange.create_order(SYMBOL, "STOP_MARKET", "sell", 0.003, None, gone)
    await exchange.cancel_order(None, SYMBOL, {"origClientOrderId": "h-gone", "trigger": True})

    history = await order_path.venue.fetch_order_history(SYMBOL)

    assert set(history) == set(
        [
            PastOrder("h-open", "open", stop=False),
            PastOrder("h-fill", "closed", stop=False),
            PastOrder("h-stop", "open", stop=True),
            PastOrder("h-gone", "canceled", stop=True),
        ]
    )


async def test_an_acknowledged_market_order_is_settled_by_the_next_lookup(
    order_path: OrderPath,
) -> None:
    # Binance answers ACK before matching when the client does not ask for the
    # result: a market order that filled at once reads NEW in its reply.
    exchange = order_path.venue.exchange
    create = exchange.create_order

    async def acknowledge_only(*args: Any) -> Any:
        *head, params = args
        return await create(*head, {**params, "newOrderRespType": "ACK"})

    exchange.create_order = acknowledge_only
    order = order_path.journal.record_intent(MARKET_BUY)
    placed = await order_path.router.submit(order)
    assert (placed.state, placed.filled) == (OrderState.OPEN, Decimal(0))

    await sweep(
        order_path.journal,
        order_path.router,
        clock=order_path.time,
        absent_grace_seconds=60.0,
    )
    settled = order_path.journal.get(order.client_order_id)
    assert (settled.state, settled.filled) == (OrderState.FILLED, Decimal("0.003"))
    assert (await order_path.sim.state())["requests"].get("POST /fapi/v1/order") == 1


async def test_the_router_asks_for_the_result_so_a_filled_reply_is_final(
    order_path: OrderPath,
) -> None:
    order = order_path.journal.record_intent(MARKET_BUY)
    placed = await order_path.router.submit(order)
    assert (placed.state, placed.filled) == (OrderState.FILLED, Decimal("0.003"))
    assert order_path.journal.history(order.client_order_id) == [("SUBMITTING", "FILLED")]
