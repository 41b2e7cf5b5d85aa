"""Garbage in, Binance-style JSON errors out: never a 500, never a hang."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest

from tradewarden.bot.venue_sim.server import RunningVenueSim
from tradewarden.bot.venue_sim.signing import sign


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        yield session


async def send(
    http: aiohttp.ClientSession,
    sim: RunningVenueSim,
    method: str,
    path: str,
    *,
    params: dict[str, Any] | None = None,
    signed: bool = False,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any, aiohttp.typedefs.LooseHeaders]:
    query = urlencode(params or {})
    all_headers = dict(headers or {})
    if signed:
        stamped = urlencode({**(params or {}), "timestamp": int(time.time() * 1000)})
        query = f"{stamped}&signature={sign(stamped, sim.settings.api_secret)}"
        all_headers.setdefault("X-MBX-APIKEY", sim.settings.api_key)
    url = f"{sim.base_url}{path}" + (f"?{query}" if query else "")
    async with http.request(method, url, data=body, headers=all_headers) as reply:
        return reply.status, await reply.json(content_type=None), reply.headers


ORDER = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}

SIGNED_GARBAGE = {
    "quantity not a number": ("POST", {**ORDER, "quantity": "abc", "price": "1"}, -1100),
    "quantity in exponent form": ("POST", {**ORDER, "quantity": "1e400", "price": "1"}, -1100),
    "price negative": ("POST", {**ORDER, "quantity": "1", "price": "-5"}, -1100),
    "quantity missing": ("POST", {**ORDER, "price": "40000"}, -1102),
    "side missing": ("POST", {"symbol": "BTCUSDT", "type": "MARKET", "quantity": "1"}, -1102),
    "side invalid": ("POST", {**ORDER, "side": "HOLD", "quantity": "1", "price": "1"}, -1117),
    "type invalid": ("POST", {**ORDER, "type": "ICEBERG", "quantity": "1"}, -1116),
    "time in force invalid": ("POST", {**ORDER, "timeInForce": "NOW", "quantity": "1"}, -1115),
    "reduceOnly not a bool": ("POST", {**ORDER, "quantity": "1", "reduceOnly": "maybe"}, -1130),
    "client id too long": ("POST", {**ORDER, "newClientOrderId": "x" * 37}, -1100),
    "price zero": ("POST", {**ORDER, "quantity": "0.01", "price": "0"}, -4013),
    "unknown symbol": ("POST", {**ORDER, "symbol": "NOPEUSDT", "quantity": "1"}, -1121),
    "stop on the order endpoint": ("POST", {**ORDER, "type": "STOP_MARKET"}, -1116),
    "order id not a number": ("GET", {"symbol": "BTCUSDT", "orderId": "12ab"}, -1100),
    "no order reference": ("GET", {"symbol": "BTCUSDT"}, -1102),
    "no symbol": ("GET", {"orderId": "1"}, -1102),
}


@pytest.mark.parametrize(
    ("method", "params", "code"), SIGNED_GARBAGE.values(), ids=SIGNED_GARBAGE.keys()
)
async def test_bad_order_parameters(
    http: aiohttp.ClientSession,
    venue_sim: RunningVenueSim,
    method: str,
    params: dict[str, Any],
    code: int,
) -> None:
    status, body, headers = await send(
        http, venue_sim, method, "/fapi/v1/order", params=params, signed=True
    )
    assert (status, body["code"]) == (400, code)
    assert isinstance(body["msg"], str)
    assert "X-MBX-USED-WEIGHT-1M" in headers


AUTH_GARBAGE = {
    "no api key header": ({}, {}, 401, -2014),
    "foreign api key": ({}, {"X-MBX-APIKEY": "other"}, 401, -2015),
    "no signature": ({"timestamp": "1"}, {"X-MBX-APIKEY": "sim-key"}, 400, -1102),
    "bad signature": (
        {"timestamp": "1", "signature": "00"},
        {"X-MBX-APIKEY": "sim-key"},
        400,
        -1022,
    ),
}


@pytest.mark.parametrize("case", AUTH_GARBAGE.values(), ids=AUTH_GARBAGE.keys())
async def test_bad_authentication(
    http: aiohttp.ClientSession,
    venue_sim: RunningVenueSim,
    case: tuple[dict[str, str], dict[str, str], int, int],
) -> None:
    params, headers, status, code = case
    reply = await send(http, venue_sim, "GET", "/fapi/v3/account", params=params, headers=headers)
    assert (reply[0], reply[1]["code"]) == (status, code)


async def test_bad_timestamps_and_recv_window(
    http: aiohttp.ClientSession, venue_sim: RunningVenueSim
) -> None:
    for params, code in (({"recvWindow": "70000"}, -1130), ({"recvWindow": "x"}, -1100)):
        status, body, _ = await send(
            http, venue_sim, "GET", "/fapi/v3/account", params=params, signed=True
        )
        assert (status, body["code"]) == (400, code)
    stale = urlencode({"timestamp": int(time.time() * 1000) - 60_000})
    query = f"{stale}&signature={sign(stale, venue_sim.settings.api_secret)}"
    status, body, _ = await send(
        http, venue_sim, "GET", f"/fapi/v3/account?{query}", headers={"X-MBX-APIKEY": "sim-key"}
    )
    assert (status, body["code"]) == (400, -1021)


async def test_non_utf8_body_is_a_parameter_error(
    http: aiohttp.ClientSession, venue_sim: RunningVenueSim
) -> None:
    status, body, _ = await send(
        http,
        venue_sim,
        "POST",
        "/fapi/v1/order",
        body=b"\xff\xfe=\x00",
        headers={"X-MBX-APIKEY": "sim-key", "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert (status, body["code"]) == (400, -1102)


@pytest.mark.parametrize(
    ("method", "path", "params"),
    [
        ("GET", "/fapi/v1/nope", {}),
        ("PATCH", "/fapi/v1/order", {}),
        ("GET", "/", {}),
        ("GET", "/api/v3/time", {}),
        ("POST", "/_sim/state", {}),
    ],
)
async def test_unknown_paths_and_methods_get_json(
    http: aiohttp.ClientSession,
    venue_sim: RunningVenueSim,
    method: str,
    path: str,
    params: dict[str, str],
) -> None:
    status, body, _ = await send(http, venue_sim, method, path, params=params)
    assert status in (404, 405)
    assert body["code"] == -5000


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"symbol": "NOPEUSDT"}, -1121),
        ({"symbol": "BTCUSDT", "limit": "7"}, -1130),
        ({"symbol": "BTCUSDT", "limit": "-5"}, -1100),
        ({}, -1102),
    ],
)
async def test_bad_public_parameters(
    http: aiohttp.ClientSession, venue_sim: RunningVenueSim, params: dict[str, str], code: int
) -> None:
    status, body, _ = await send(http, venue_sim, "GET", "/fapi/v1/depth", params=params)
    assert (status, body["code"]) == (400, code)


ADMIN_GARBAGE = {
    "price not json": ("/_sim/price", b"{nope", -1100),
    "price not an object": ("/_sim/price", b"[1, 2]", -1102),
    "price missing": ("/_sim/price", b'{"symbol": "BTCUSDT"}', -1102),
    "price not a number": ("/_sim/price", b'{"symbol": "BTCUSDT", "price": "abc"}', -1102),
    "price negative": ("/_sim/price", b'{"symbol": "BTCUSDT", "price": "-1"}', -1102),
    "price infinite": ("/_sim/price", b'{"symbol": "BTCUSDT", "price": "Infinity"}', -1102),
    "price unknown symbol": ("/_sim/price", b'{"symbol": "NOPEUSDT", "price": "1"}', -1121),
    "faults not json": ("/_sim/faults", b"\xff", -1100),
    "faults not a list": ("/_sim/faults", b'{"action": {"delay_ms": 1}}', -1102),
    "fault without action": ("/_sim/faults", b"[{}]", -1102),
    "fault with two actions": (
        "/_sim/faults",
        b'[{"action": {"delay_ms": 1, "skew_ms": 1}}]',
        -1102,
    ),
    "fault with bad times": ("/_sim/faults", b'[{"times": 0, "action": {"delay_ms": 1}}]', -1102),
}


@pytest.mark.parametrize(("path", "body", "code"), ADMIN_GARBAGE.values(), ids=ADMIN_GARBAGE.keys())
async def test_admin_endpoints_reject_bad_bodies(
    http: aiohttp.ClientSession, venue_sim: RunningVenueSim, path: str, body: bytes, code: int
) -> None:
    status, reply, _ = await send(http, venue_sim, "POST", path, body=body)
    assert (status, reply["code"]) == (400, code)
    assert await venue_sim.faults() == []


async def test_admin_price_snaps_to_the_tick(
    http: aiohttp.ClientSession, venue_sim: RunningVenueSim
) -> None:
    status, reply, _ = await send(
        http, venue_sim, "POST", "/_sim/price", body=b'{"symbol": "btcusdt", "price": 50000.04}'
    )
    assert (status, reply) == (200, {"symbol": "BTCUSDT", "markPrice": "50000"})
