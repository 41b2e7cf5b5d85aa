"""Each Binance error the simulator sends surfaces in ccxt 4.5 as the class its table says.

The expected classes are read from ccxt's binance ``exceptions`` table and its
``handle_errors``: 418/429 raise DDoSProtection before the code is looked at, the
common table maps -1000/-1001 to OperationFailed, and the futures (``linear``)
table, which ``build_exchange`` enables for the local URL, maps -4116/-2019/-4164/-2022.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import ccxt
import pytest

from tests.venue_sim.factory import ExchangeFactory
from tests.venue_sim.symbols import BTC
from tradewarden.bot.venue_sim.server import RunningVenueSim

Provoke = Callable[[ExchangeFactory, RunningVenueSim], Awaitable[Any]]


@dataclass(frozen=True)
class Case:
    code: int
    expected: type[Exception]
    provoke: Provoke


async def skewed_clock(make: ExchangeFactory, sim: RunningVenueSim) -> Any:
    exchange = await make()
    await sim.set_faults([{"action": {"skew_ms": 30_000}}])
    return await exchange.fetch_balance()


async def wrong_secret(make: ExchangeFactory, _sim: RunningVenueSim) -> Any:
    return await (await make(api_secret="not-the-secret")).fetch_balance()


async def wrong_key(make: ExchangeFactory, _sim: RunningVenueSim) -> Any:
    return await (await make(api_key="not-the-key")).fetch_balance()


async def cancel_unknown(make: ExchangeFactory, _sim: RunningVenueSim) -> Any:
    return await (await make()).cancel_order("123", BTC)


async def fetch_unknown(make: ExchangeFactory, _sim: RunningVenueSim) -> Any:
    return await (await make()).fetch_order("123", BTC)


async def duplicate_client_id(make: ExchangeFactory, _sim: RunningVenueSim) -> Any:
    exchange = await make()
    await exchange.create_order(BTC, "limit", "buy", 0.01, 48000, {"clientOrderId": "dup"})
    return await exchange.create_order(BTC, "limit", "buy", 0.01, 48000, {"clientOrderId": "dup"})


async def too_large(make: ExchangeFactory, _sim: RunningVenueSim) -> Any:
    return await (await make()).create_order(BTC, "market", "buy", 5)


async def too_small(make: ExchangeFactory, _sim: RunningVenueSim) -> Any:
    return await (await make()).create_order(BTC, "market", "buy", 0.001)


async def reduce_only_opening(make: ExchangeFactory, _sim: RunningVenueSim) -> Any:
    return await (await make()).create_order(
        BTC, "market", "sell", 0.01, None, {"reduceOnly": True}
    )


async def stop_already_crossed(make: ExchangeFactory, _sim: RunningVenueSim) -> Any:
    params = {"triggerPrice": 51000, "closePosition": True}
    return await (await make()).create_order(BTC, "market", "sell", None, None, params)


def fault_error(status: int, code: int) -> Provoke:
    async def provoke(make: ExchangeFactory, sim: RunningVenueSim) -> Any:
        exchange = await make()
        error = {"status": status, "code": code, "msg": "Service unavailable."}
        await sim.set_faults([{"action": {"error": error}}])
        return await exchange.fetch_positions()

    return provoke


async def missing_param(make: ExchangeFactory, _sim: RunningVenueSim) -> Any:
    return await (await make()).fapiPrivateGetOrder({"symbol": "BTCUSDT"})


async def bad_number(make: ExchangeFactory, _sim: RunningVenueSim) -> Any:
    request = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "1,5"}
    return await (await make()).fapiPrivatePostOrder(request)


async def invalid_symbol(make: ExchangeFactory, _sim: RunningVenueSim) -> Any:
    return await (await make()).fapiPublicGetDepth({"symbol": "NOPEUSDT"})


async def bad_leverage(make: ExchangeFactory, _sim: RunningVenueSim) -> Any:
    return await (await make()).fapiPrivatePostLeverage({"symbol": "BTCUSDT", "leverage": 300})


CASES = {
    "-1021 recvWindow": Case(-1021, ccxt.InvalidNonce, skewed_clock),
    "-1022 signature": Case(-1022, ccxt.AuthenticationError, wrong_secret),
    "-2015 api key": Case(-2015, ccxt.AuthenticationError, wrong_key),
    "-2011 cancel unknown": Case(-2011, ccxt.OrderNotFound, cancel_unknown),
    "-2013 fetch unknown": Case(-2013, ccxt.OrderNotFound, fetch_unknown),
    "-4116 duplicate id": Case(-4116, ccxt.InvalidOrder, duplicate_client_id),
    "-2019 margin": Case(-2019, ccxt.InsufficientFunds, too_large),
    "-4164 min notional": Case(-4164, ccxt.InvalidOrder, too_small),
    "-2022 reduce only": Case(-2022, ccxt.InvalidOrder, reduce_only_opening),
    "-2021 immediate trigger": Case(-2021, ccxt.OrderImmediatelyFillable, stop_already_crossed),
    "-1001 503": Case(-1001, ccxt.OperationFailed, fault_error(503, -1001)),
    "-1000 503": Case(-1000, ccxt.OperationFailed, fault_error(503, -1000)),
    "-1003 429": Case(-1003, ccxt.DDoSProtection, fault_error(429, -1003)),
    "-1003 418": Case(-1003, ccxt.DDoSProtection, fault_error(418, -1003)),
    "-1102 missing param": Case(-1102, ccxt.BadRequest, missing_param),
    "-1100 bad number": Case(-1100, ccxt.BadRequest, bad_number),
    "-1121 invalid symbol": Case(-1121, ccxt.BadSymbol, invalid_symbol),
    "-4028 leverage": Case(-4028, ccxt.BadRequest, bad_leverage),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_error_surfaces_as_the_ccxt_class(
    case: Case, exchange_factory: ExchangeFactory, venue_sim: RunningVenueSim
) -> None:
    with pytest.raises(ccxt.BaseError) as raised:
        await case.provoke(exchange_factory, venue_sim)
    assert type(raised.value) is case.expected
    assert f'"code": {case.code}' in str(raised.value)  # sent by the venue, not raised by ccxt


async def test_2015_stays_an_authentication_error_after_a_successful_call(
    exchange_factory: ExchangeFactory,
) -> None:
    """ccxt reads -2015 as a temporary ban (DDoSProtection) only after a spot ``private`` call
    succeeded; futures calls never set that flag, so a revoked key stays AuthenticationError."""
    exchange = await exchange_factory()
    await exchange.fetch_balance()
    exchange.apiKey = "revoked"
    with pytest.raises(ccxt.BaseError) as raised:
        await exchange.fetch_balance()
    assert type(raised.value) is ccxt.AuthenticationError
