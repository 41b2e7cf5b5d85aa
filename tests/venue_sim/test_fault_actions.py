"""Every fault action, observed through an unchanged ccxt client."""

from __future__ import annotations

import time
from typing import Any

import ccxt
import pytest

from tests.venue_sim.factory import ExchangeFactory
from tests.venue_sim.symbols import BTC
from tradewarden.bot.venue_sim.server import RunningVenueSim

NEW_ORDER = {"method": "POST", "path": "/fapi/v1/order"}


async def test_delay_slows_the_reply_and_can_time_the_client_out(
    exchange_factory: ExchangeFactory, venue_sim: RunningVenueSim
) -> None:
    patient = await exchange_factory()
    impatient = await exchange_factory(timeout_ms=100)
    await venue_sim.set_faults(
        [{"match": {"path": "/fapi/v1/time"}, "times": 2, "action": {"delay_ms": 300}}]
    )
    started = time.monotonic()
    await patient.fetch_time()
    assert time.monotonic() - started >= 0.3
    with pytest.raises(ccxt.RequestTimeout):
        await impatient.fetch_time()
    started = time.monotonic()
    await patient.fetch_time()  # both delays are used up
    assert time.monotonic() - started < 0.3


async def test_accept_then_drop_creates_the_order_once_and_the_client_times_out(
    exchange_factory: ExchangeFactory, venue_sim: RunningVenueSim
) -> None:
    exchange = await exchange_factory(timeout_ms=300)
    await venue_sim.set_faults(
        [{"match": NEW_ORDER, "times": 1, "action": {"accept_then_drop": True}}]
    )
    with pytest.raises(ccxt.RequestTimeout):
        await exchange.create_order(BTC, "market", "buy", 0.01, None, {"clientOrderId": "lost-1"})
    state = await venue_sim.state()
    assert [(o["clientOrderId"], o["status"]) for o in state["orders"]] == [("lost-1", "FILLED")]
    assert state["positions"][0]["positionAmt"] == "0.01"
    # The lookup finds the accepted order.
    found = await exchange.fetch_order(None, BTC, {"clientOrderId": "lost-1"})
    assert found["status"] == "closed"
    # It has filled, so, as on Binance, a resend under the same id is a second order.
    await exchange.create_order(BTC, "market", "buy", 0.01, None, {"clientOrderId": "lost-1"})
    state = await venue_sim.state()
    assert [o["clientOrderId"] for o in state["orders"]] == ["lost-1", "lost-1"]
    assert state["positions"][0]["positionAmt"] == "0.02"


async def test_error_honours_after_and_times(exchange: Any, venue_sim: RunningVenueSim) -> None:
    error = {"status": 503, "code": -1001, "msg": "Internal error."}
    await venue_sim.set_faults(
        [{"match": NEW_ORDER, "after": 1, "times": 1, "action": {"error": error}}]
    )
    await exchange.create_order(BTC, "limit", "buy", 0.01, 48000, {"clientOrderId": "e-1"})
    with pytest.raises(ccxt.OperationFailed, match="-1001"):
        await exchange.create_order(BTC, "limit", "buy", 0.01, 48000, {"clientOrderId": "e-2"})
    await exchange.create_order(BTC, "limit", "buy", 0.01, 48000, {"clientOrderId": "e-3"})
    state = await venue_sim.state()
    assert [o["clientOrderId"] for o in state["orders"]] == ["e-1", "e-3"]  # e-2 never processed
    (fault,) = await venue_sim.faults()
    assert (fault["passed"], fault["applied"], fault["remaining"]) == (1, 1, 0)


async def test_stale_serves_old_positions_and_open_orders(
    exchange: Any, venue_sim: RunningVenueSim
) -> None:
    await exchange.create_order(BTC, "market", "buy", 0.01)
    await exchange.create_order(BTC, "limit", "buy", 0.01, 48000)
    await exchange.create_order(
        BTC, "market", "sell", None, None, {"triggerPrice": 45000, "closePosition": True}
    )
    await venue_sim.set_faults([{"action": {"stale_ms": 60_000}}])
    assert await exchange.fetch_positions([BTC]) == []
    assert await exchange.fetch_open_orders(BTC) == []
    assert await exchange.fetch_open_orders(BTC, None, None, {"trigger": True}) == []
    await venue_sim.clear_faults()
    assert len(await exchange.fetch_positions([BTC])) == 1
    assert len(await exchange.fetch_open_orders(BTC)) == 1
    assert len(await exchange.fetch_open_orders(BTC, None, None, {"trigger": True})) == 1


async def test_skew_moves_server_time_and_breaks_unsynced_clients(
    exchange_factory: ExchangeFactory, venue_sim: RunningVenueSim
) -> None:
    await venue_sim.set_faults([{"action": {"skew_ms": 30_000}}])
    naive = await exchange_factory()
    synced = await exchange_factory(adjust_for_time_difference=True)
    assert await naive.fetch_time() - naive.milliseconds() > 25_000
    with pytest.raises(ccxt.InvalidNonce):
        await naive.fetch_balance()
    assert (await synced.fetch_balance())["USDT"]["total"] == 10000


async def test_lag_ages_signed_requests_past_recv_window_and_a_resync_cannot_help(
    exchange_factory: ExchangeFactory, venue_sim: RunningVenueSim
) -> None:
    # 15 s late: past the recvWindow of 10 s that ccxt sends.
    await venue_sim.set_faults([{"action": {"lag_ms": 15_000}}])
    synced = await exchange_factory()
    await synced.load_time_difference()
    assert abs(synced.options["timeDifference"]) < 2_000  # /time is not moved
    with pytest.raises(ccxt.InvalidNonce, match="outside of the recvWindow"):
        await synced.fetch_balance()
    await venue_sim.clear_faults()
    assert (await synced.fetch_balance())["USDT"]["total"] == 10000


async def test_raw_replaces_the_reply_after_processing(
    exchange: Any, venue_sim: RunningVenueSim
) -> None:
    """The order is processed; the bot's client refuses the non-JSON 200 as a bad response.

    (Bare ccxt would return an empty order around the raw text.)
    """
    await venue_sim.set_faults(
        [{"match": NEW_ORDER, "times": 1, "action": {"raw": {"status": 200, "body": "<html>oops"}}}]
    )
    with pytest.raises(ccxt.BadResponse, match="POST /fapi/v1/order: reply is not a JSON"):
        await exchange.create_order(BTC, "market", "buy", 0.01, None, {"clientOrderId": "raw-1"})
    assert [o["clientOrderId"] for o in (await venue_sim.state())["orders"]] == ["raw-1"]


async def test_raw_error_status_surfaces_by_http_status(
    exchange: Any, venue_sim: RunningVenueSim
) -> None:
    await venue_sim.set_faults(
        [{"match": NEW_ORDER, "action": {"raw": {"status": 502, "body": "<html>bad gateway"}}}]
    )
    with pytest.raises(ccxt.ExchangeNotAvailable):
        await exchange.create_order(BTC, "market", "buy", 0.01, None, {"clientOrderId": "raw-2"})
    assert len((await venue_sim.state())["orders"]) == 1


async def test_drop_fields_strips_keys_from_the_reply(
    exchange: Any, venue_sim: RunningVenueSim
) -> None:
    await venue_sim.set_faults(
        [{"match": NEW_ORDER, "times": 1, "action": {"drop_fields": ["orderId", "status"]}}]
    )
    order = await exchange.create_order(BTC, "market", "buy", 0.01, None, {"clientOrderId": "d-1"})
    assert (order["id"], order["status"], order["clientOrderId"]) == (None, None, "d-1")
    assert (await venue_sim.state())["orders"][0]["status"] == "FILLED"


async def test_fault_plan_is_listed_and_cleared(venue_sim: RunningVenueSim) -> None:
    await venue_sim.set_faults(
        [{"match": NEW_ORDER, "times": 3, "action": {"delay_ms": 1}}, {"action": {"skew_ms": 5}}]
    )
    plan = await venue_sim.faults()
    assert [(f["match"], f["remaining"]) for f in plan] == [(NEW_ORDER, 3), ({}, None)]
    await venue_sim.clear_faults()
    assert await venue_sim.faults() == []


async def test_reads_lag_writes_hides_new_orders_from_lookups_and_lists(
    exchange: Any, venue_sim: RunningVenueSim
) -> None:
    await venue_sim.set_faults([{"action": {"hide_new_orders_ms": 60_000}}])
    placed = await exchange.create_order(
        BTC, "limit", "buy", 0.01, 48000, {"clientOrderId": "lagging"}
    )
    # The order is at the venue, but queries do not see it yet: -2013 and absent from lists.
    with pytest.raises(ccxt.OrderNotFound, match="-2013"):
        await exchange.fetch_order(None, BTC, {"clientOrderId": "lagging"})
    with pytest.raises(ccxt.OrderNotFound, match="-2013"):
        await exchange.fetch_order(placed["id"], BTC)
    assert await exchange.fetch_open_orders(BTC) == []
    assert await exchange.fetch_orders(BTC) == []
    # The matching engine knows it: a resend is a duplicate, and a cancel reaches it.
    with pytest.raises(ccxt.InvalidOrder, match="-4116"):
        await exchange.create_order(BTC, "limit", "buy", 0.01, 48000, {"clientOrderId": "lagging"})
    cancelled = await exchange.cancel_order(None, BTC, {"clientOrderId": "lagging"})
    assert cancelled["status"] == "canceled"
    # Once the reads catch up, the order is there.
    await venue_sim.clear_faults()
    found = await exchange.fetch_order(None, BTC, {"clientOrderId": "lagging"})
    assert (found["id"], found["status"]) == (placed["id"], "canceled")


async def test_reads_lag_writes_hides_new_stops_too(
    exchange: Any, venue_sim: RunningVenueSim
) -> None:
    await exchange.create_order(BTC, "market", "buy", 0.01)
    await venue_sim.set_faults([{"action": {"hide_new_orders_ms": 60_000}}])
    stop = {"stopPrice": 40000, "reduceOnly": True, "clientOrderId": "lagging-stop"}
    await exchange.create_order(BTC, "STOP_MARKET", "sell", 0.01, None, stop)
    with pytest.raises(ccxt.OrderNotFound, match="-2013"):
        await exchange.fetch_order(
            None, BTC, {"origClientOrderId": "lagging-stop", "trigger": True}
        )
    assert await exchange.fetch_open_orders(BTC, None, None, {"trigger": True}) == []
    await venue_sim.clear_faults()
    [listed] = await exchange.fetch_open_orders(BTC, None, None, {"trigger": True})
    assert listed["clientOrderId"] == "lagging-stop"
