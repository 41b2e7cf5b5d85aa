"""The private user-data stream as Binance USD-M serves it, read by unchanged ccxt.pro.

listenKey endpoints (POST/PUT/DELETE, API key only, -1125 once lapsed), the
``/private/ws?listenKey=`` socket with ORDER_TRADE_UPDATE, ALGO_UPDATE and
ACCOUNT_UPDATE in Binance's field names, ``listenKeyExpired``, the ``events`` allow
list, and the forced-disconnect fault.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import ccxt
import pytest

from tradewarden.bot.venue.ccxt_client import build_stream_exchange
from tradewarden.bot.venue_sim.server import RunningVenueSim

SYMBOL = "BTC/USDT:USDT"
WAIT_S = 10.0
ORDER_FIELDS = {
    "s", "c", "S", "o", "f", "q", "p", "ap", "sp", "x", "X", "i", "l", "z", "L", "N", "n",
    "T", "t", "b", "a", "m", "R", "wt", "ot", "ps", "cp", "rp", "pP", "si", "ss", "V", "pm",
    "gtd", "er",
}  # fmt: skip
ALGO_FIELDS = {
    "caid", "aid", "at", "o", "s", "S", "ps", "f", "q", "X", "ai", "tp", "p", "V", "wt",
    "pm", "cp", "pP", "R", "tt", "gtd",
}  # fmt: skip
POSITION_FIELDS = {"s", "pa", "ep", "bep", "cr", "up", "mt", "iw", "ps", "ma"}


@pytest.fixture
async def pro(venue_sim: RunningVenueSim) -> AsyncIterator[Any]:
    """An unchanged ccxt.pro binanceusdm with the simulator's credentials."""
    client = build_stream_exchange(
        "binanceusdm",
        api_key=venue_sim.settings.api_key,
        api_secret=venue_sim.settings.api_secret,
        url_override=venue_sim.base_url,
    )
    await client.load_markets()
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def _listen_key(
    http: aiohttp.ClientSession, sim: RunningVenueSim, method: str, key: str | None = "sim-key"
) -> tuple[int, dict[str, Any]]:
    headers = {} if key is None else {"X-MBX-APIKEY": key}
    async with http.request(method, sim.base_url + "/fapi/v1/listenKey", headers=headers) as r:
        return r.status, await r.json()


async def _socket(
    http: aiohttp.ClientSession, sim: RunningVenueSim, key: str, events: str | None = None
) -> aiohttp.ClientWebSocketResponse:
    url = "ws" + sim.base_url.removeprefix("http") + f"/private/ws?listenKey={key}"
    if events is not None:
        url += f"&events={events}"
    return await http.ws_connect(url)


async def _next(socket: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    message = await asyncio.wait_for(socket.receive(), WAIT_S)
    assert message.type == aiohttp.WSMsgType.TEXT, message
    event: dict[str, Any] = json.loads(message.data)
    return event


async def _until_open(sim: RunningVenueSim, count: int) -> None:
    async with asyncio.timeout(WAIT_S):
        while (await sim.user_data())["open"] != count:  # noqa: ASYNC110 - another process
            await asyncio.sleep(0.01)


async def test_listen_key_lifecycle_as_binance(
    venue_sim: RunningVenueSim, http: aiohttp.ClientSession
) -> None:
    status, body = await _listen_key(http, venue_sim, "POST", key=None)
    assert (status, body["code"]) == (401, -2014)
    status, body = await _listen_key(http, venue_sim, "PUT")
    assert (status, body) == (400, {"code": -1125, "msg": "This listenKey does not exist."})
    status, first = await _listen_key(http, venue_sim, "POST")
    assert status == 200 and len(first["listenKey"]) == 64
    # An account with an active key gets the same key back.
    assert (await _listen_key(http, venue_sim, "POST"))[1] == first
    assert (await _listen_key(http, venue_sim, "PUT")) == (200, first)
    assert (await _listen_key(http, venue_sim, "DELETE")) == (200, {})
    assert (await _listen_key(http, venue_sim, "PUT"))[1]["code"] == -1125
    status, second = await _listen_key(http, venue_sim, "POST")
    assert second["listenKey"] != first["listenKey"]


async def test_key_lapses_after_its_validity_and_the_socket_hears_it(
    venue_sim: RunningVenueSim, http: aiohttp.ClientSession
) -> None:
    await venue_sim.disrupt_user_data(drop=False, validity_seconds=0.5)
    key = (await _listen_key(http, venue_sim, "POST"))[1]["listenKey"]
    socket = await _socket(http, venue_sim, key)
    try:
        expired = await _next(socket)
        assert expired["e"] == "listenKeyExpired" and expired["listenKey"] == key
        # Binance USD-M sends this event's time as a string, unlike its other events' E.
        assert isinstance(expired["E"], str) and expired["E"].isdigit()
        assert (await _listen_key(http, venue_sim, "PUT"))[1]["code"] == -1125
        # The socket stays open and silent: an order placed now is not pushed to it.
        await venue_sim.pause_walk()
        assert not socket.closed
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(socket.receive(), 0.5)
    finally:
        await socket.close()


async def test_events_filter_is_an_allow_list(
    venue_sim: RunningVenueSim, http: aiohttp.ClientSession, exchange: Any
) -> None:
    key = (await _listen_key(http, venue_sim, "POST"))[1]["listenKey"]
    only_account = await _socket(http, venue_sim, key, events="ACCOUNT_UPDATE")
    try:
        await _until_open(venue_sim, 1)
        await exchange.create_order(SYMBOL, "market", "buy", 0.01)
        event = await _next(only_account)
        assert event["e"] == "ACCOUNT_UPDATE"
        assert event["a"]["m"] == "ORDER"
        assert set(event["a"]["P"][0]) == POSITION_FIELDS
        assert event["a"]["P"][0]["pa"] == "0.01"
    finally:
        await only_account.close()


async def test_ccxt_pro_watch_orders_sees_new_fill_and_cancel(
    venue_sim: RunningVenueSim, pro: Any, exchange: Any
) -> None:
    watch = asyncio.ensure_future(pro.watch_orders(SYMBOL))
    await _until_open(venue_sim, 1)
    await exchange.create_order(SYMBOL, "limit", "buy", 0.01, 49000)
    orders = await asyncio.wait_for(watch, WAIT_S)
    assert [(o["status"], o["filled"], o["price"]) for o in orders] == [("open", 0.0, 49000.0)]
    raw = orders[0]["info"]
    assert set(raw) == ORDER_FIELDS and (raw["x"], raw["X"]) == ("NEW", "NEW")
    assert raw["b"] == "490"  # the bid notional of the symbol's open orders
    await venue_sim.set_price("BTCUSDT", 48900)  # half fills: the level's queue takes the rest
    partial = await asyncio.wait_for(pro.watch_orders(SYMBOL), WAIT_S)
    assert (partial[-1]["status"], partial[-1]["filled"]) == ("open", 0.005)
    await venue_sim.set_price("BTCUSDT", 48800)
    filled = await asyncio.wait_for(pro.watch_orders(SYMBOL), WAIT_S)
    last = filled[-1]
    assert (last["status"], last["filled"], last["average"]) == ("closed", 0.01, 49000.0)
    assert (last["info"]["x"], last["info"]["l"], last["info"]["m"]) == ("TRADE", "0.005", True)
    resting = await exchange.create_order(SYMBOL, "limit", "sell", 0.01, 51000)
    await asyncio.wait_for(pro.watch_orders(SYMBOL), WAIT_S)
    await exchange.cancel_order(resting["id"], SYMBOL)
    cancelled = await asyncio.wait_for(pro.watch_orders(SYMBOL), WAIT_S)
    assert cancelled[-1]["id"] == resting["id"] and cancelled[-1]["status"] == "canceled"


async def test_ccxt_pro_watch_positions_and_algo_updates(
    venue_sim: RunningVenueSim, pro: Any, exchange: Any
) -> None:
    # Updates only: ccxt's REST snapshot of positions is not what this test is about.
    pro.options["watchPositions"]["fetchPositionsSnapshot"] = False
    watch = asyncio.ensure_future(pro.watch_positions([SYMBOL]))
    await _until_open(venue_sim, 1)
    await exchange.create_order(SYMBOL, "market", "buy", 0.02)
    positions = await asyncio.wait_for(watch, WAIT_S)
    assert [(p["symbol"], p["contracts"], p["side"]) for p in positions] == [(SYMBOL, 0.02, "long")]
    watch_orders = asyncio.ensure_future(pro.watch_orders(SYMBOL))
    stop = await exchange.create_order(
        SYMBOL, "STOP_MARKET", "sell", 0.02, None, {"stopPrice": 45000, "reduceOnly": True}
    )
    algo = (await asyncio.wait_for(watch_orders, WAIT_S))[-1]
    assert algo["id"] == stop["id"] and algo["status"] == "open"
    assert set(algo["info"]) == ALGO_FIELDS | {"T"} and algo["info"]["X"] == "NEW"
    assert algo["triggerPrice"] == 45000.0 and algo["reduceOnly"] is True
    flat_watch = asyncio.ensure_future(pro.watch_positions([SYMBOL]))
    await venue_sim.set_price("BTCUSDT", 44990)
    statuses: list[str] = []
    async with asyncio.timeout(WAIT_S):
        while "FINISHED" not in statuses:
            for order in await pro.watch_orders(SYMBOL):
                info = order["info"]
                statuses.append(info["X"] if "aid" in info else f"order:{info['X']}")
    assert statuses.index("TRIGGERED") < statuses.index("order:FILLED")
    assert statuses.index("order:FILLED") < statuses.index("FINISHED")
    flat = await asyncio.wait_for(flat_watch, WAIT_S)
    assert flat[-1]["contracts"] == 0.0


async def test_forced_disconnect_and_stale_key_surface_in_ccxt_pro(
    venue_sim: RunningVenueSim, pro: Any, exchange: Any
) -> None:
    watch = asyncio.ensure_future(pro.watch_orders(SYMBOL))
    await _until_open(venue_sim, 1)
    dropped = await venue_sim.disrupt_user_data(refuse_count=1)
    assert dropped["dropped"] == 1
    with pytest.raises(ccxt.NetworkError):
        await asyncio.wait_for(watch, WAIT_S)
    # A reconnect the venue refuses fails too; the next one is admitted.
    with pytest.raises(ccxt.NetworkError):
        await asyncio.wait_for(pro.watch_orders(SYMBOL), WAIT_S)
    watch = asyncio.ensure_future(pro.watch_orders(SYMBOL))
    await _until_open(venue_sim, 1)
    await exchange.create_order(SYMBOL, "market", "buy", 0.01)
    assert (await asyncio.wait_for(watch, WAIT_S))[-1]["status"] == "closed"
    # A stale key: the keepalive meets -1125 and ccxt fails the watch, then takes a new key.
    before = await venue_sim.user_data()
    assert before["listenKeyActive"]
    await venue_sim.disrupt_user_data(drop=False, expire_key=True)
    watch = asyncio.ensure_future(pro.watch_orders(SYMBOL))
    await pro.keep_alive_listen_key({"type": "future"})
    with pytest.raises(ccxt.AuthenticationError, match="-1125"):
        await asyncio.wait_for(watch, WAIT_S)
    watch = asyncio.ensure_future(pro.watch_orders(SYMBOL))
    await _until_open(venue_sim, 2)  # the stale socket stays open, silent
    await exchange.create_order(SYMBOL, "market", "sell", 0.01)
    assert (await asyncio.wait_for(watch, WAIT_S))[-1]["amount"] == 0.01
