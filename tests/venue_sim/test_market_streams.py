"""The public market streams through unchanged ccxt.pro, checked against the simulator's REST.

ccxt.pro 4.5 connects book data and trades to ``/public/ws/<n>`` and the other market
streams to ``/market/ws/<n>``; each watch must deliver what the REST endpoints show.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from ccxt.test.exchange.base.test_trade import test_trade as check_trade

from tests.support.clock import FakeClock
from tests.support.sim import quiet, walking
from tradewarden.bot.venue.ccxt_client import build_stream_exchange
from tradewarden.bot.venue_sim import views
from tradewarden.bot.venue_sim.book_feed import as_side
from tradewarden.bot.venue_sim.context import VenueContext
from tradewarden.bot.venue_sim.server import RunningVenueSim
from tradewarden.bot.venue_sim.stream_names import Kind, Tier, parse
from tradewarden.bot.venue_sim.streams import Connection, answer

SYMBOL = "BTC/USDT:USDT"
WAIT_S = 10.0


@pytest.fixture
async def client(venue_sim: RunningVenueSim) -> AsyncIterator[Any]:
    """ccxt.pro binanceusdm with the simulator's keys: REST and streams on the simulator."""
    exchange = build_stream_exchange(
        "binanceusdm",
        api_key=venue_sim.settings.api_key,
        api_secret=venue_sim.settings.api_secret,
        url_override=venue_sim.base_url,
    )
    exchange.enableRateLimit = False
    await exchange.load_markets()
    yield exchange
    await exchange.close()


async def _subscribed(sim: RunningVenueSim, name: str) -> None:
    """Wait until some connection on the venue has subscribed ``name``."""
    async with asyncio.timeout(WAIT_S):
        while name not in (await sim.streams())["subscriptions"]:  # noqa: ASYNC110 - the venue
            await asyncio.sleep(0.02)


def _ws_url(sim: RunningVenueSim, path: str) -> str:
    return "ws" + sim.base_url.removeprefix("http") + path


async def test_watch_order_book_is_the_rest_book_and_follows_it(
    venue_sim: RunningVenueSim, client: Any
) -> None:
    book = await client.watch_order_book(SYMBOL)
    rest = await client.fetch_order_book(SYMBOL, 1000)
    assert book["nonce"] == rest["nonce"]
    assert (book["bids"], book["asks"]) == (rest["bids"], rest["asks"])
    assert len(book["bids"]) == len(book["asks"]) == 1000

    # A taker consumes the best asks, then the mark moves the whole book: each change
    # reaches the local book as diffs chained on the REST snapshot's lastUpdateId.
    async def changed(after: int) -> Any:
        async with asyncio.timeout(WAIT_S):
            while True:
                book = await client.watch_order_book(SYMBOL)
                if book["nonce"] > after:
                    return book

    for move in (
        client.create_order(SYMBOL, "market", "buy", 0.5),
        venue_sim.set_price("BTCUSDT", "50123.4"),
    ):
        before = book["nonce"]
        await move
        book = await changed(before)
        rest = await client.fetch_order_book(SYMBOL, 1000)
        assert book["nonce"] == rest["nonce"]
        assert (book["bids"], book["asks"]) == (rest["bids"], rest["asks"])
    assert rest["asks"][0][0] > 50123.4 > rest["bids"][0][0]


@pytest.mark.parametrize("name", ["trade", "aggTrade"])
async def test_watch_trades_delivers_the_executions_rest_lists(
    venue_sim: RunningVenueSim, client: Any, name: str
) -> None:
    def key(trade: dict[str, Any]) -> tuple[Any, ...]:
        return (trade["id"], trade["timestamp"], trade["price"], trade["amount"], trade["side"])

    seen: list[tuple[Any, ...]] = []
    for side in ("buy", "sell"):  # one execution each, each while the watch waits for it
        watching = asyncio.create_task(client.watch_trades(SYMBOL, params={"name": name}))
        await _subscribed(venue_sim, f"btcusdt@{name}")
        await client.create_order(SYMBOL, "market", side, 0.01)
        seen += [key(t) for t in await asyncio.wait_for(watching, WAIT_S)]
    rest = await client.fetch_trades(SYMBOL)
    assert seen == [key(t) for t in rest]
    assert [t[4] for t in seen] == ["buy", "sell"]


@pytest.mark.parametrize("sim_settings", [walking()])
async def test_the_market_trades_when_the_price_walks(
    venue_sim: RunningVenueSim, client: Any
) -> None:
    """Other participants trade as the price walks: ccxt's own trade checks pass on what the
    trade stream delivers, and each trade is on the REST tape and in the 24hr volume."""
    trades = await asyncio.wait_for(client.watch_trades(SYMBOL), WAIT_S)
    rest = {t["id"]: t for t in await client.fetch_trades(SYMBOL, limit=1000)}
    for trade in trades:
        check_trade(client, {}, "watchTrades", trade, SYMBOL, client.milliseconds(), True)
        assert trade["id"] in rest
        assert (trade["price"], trade["amount"], trade["side"]) == (
            rest[trade["id"]]["price"],
            rest[trade["id"]]["amount"],
            rest[trade["id"]]["side"],
        )
    assert (await client.fetch_ticker(SYMBOL))["baseVolume"] > 0
    assert (await venue_sim.state())["fills"] == []  # none of them the account's


async def test_watch_ohlcv_is_the_rest_candle(venue_sim: RunningVenueSim, client: Any) -> None:
    candles = await client.watch_ohlcv(SYMBOL, "1m")
    rest = await client.fetch_ohlcv(SYMBOL, "1m", limit=1)
    assert candles[-1] == rest[-1]

    await client.create_order(SYMBOL, "market", "buy", 0.01)
    await venue_sim.set_price("BTCUSDT", "50500")
    async with asyncio.timeout(WAIT_S):
        while candles[-1][4] != 50500:
            candles = await client.watch_ohlcv(SYMBOL, "1m")
    rest = await client.fetch_ohlcv(SYMBOL, "1m", limit=2)
    if rest[-1][0] == candles[-1][0]:  # the same minute (not rolled over in between)
        assert candles[-1] == rest[-1]
        assert candles[-1][5] > 0  # the fill's volume
    assert candles[-1][2] >= 50500


async def test_watch_tickers_reads_the_mini_ticker_array(
    venue_sim: RunningVenueSim, client: Any
) -> None:
    def figures(ticker: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(ticker[k] for k in ("last", "open", "high", "low", "baseVolume"))

    tickers = await client.watch_tickers()  # !miniTicker@arr on /market/ws
    rest = await client.fetch_tickers()
    assert set(tickers) == set(rest)
    assert {s: figures(t) for s, t in tickers.items()} == {s: figures(t) for s, t in rest.items()}

    await venue_sim.set_price("ETHUSDT", "3100")
    async with asyncio.timeout(WAIT_S):
        while tickers.get("ETH/USDT:USDT", {}).get("last") != 3100:
            tickers = await client.watch_tickers()
    rest = await client.fetch_tickers(["ETH/USDT:USDT"])
    assert figures(tickers["ETH/USDT:USDT"]) == figures(rest["ETH/USDT:USDT"])

    one = await client.watch_tickers([SYMBOL])  # btcusdt@miniTicker
    assert figures(one[SYMBOL]) == figures((await client.fetch_tickers([SYMBOL]))[SYMBOL])


async def test_mark_price_stays_on_the_market_path(client: Any) -> None:
    mark = await client.watch_mark_price(SYMBOL)
    assert mark["markPrice"] == (await client.fetch_mark_price(SYMBOL))["markPrice"]


async def test_request_frames_are_answered_as_binance_does(venue_sim: RunningVenueSim) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(_ws_url(venue_sim, "/public/ws/0")) as socket,
    ):

        async def ask(frame: str) -> Any:
            await socket.send_str(frame)
            return await socket.receive_json(timeout=WAIT_S)

        sub = '{"method": "SUBSCRIBE", "params": ["btcusdt@depth", "btcusdt@aggTrade"], "id": 1}'
        assert await ask(sub) == {"result": None, "id": 1}
        assert await ask('{"method": "LIST_SUBSCRIPTIONS", "id": 2}') == {
            "result": ["btcusdt@depth", "btcusdt@aggTrade"],
            "id": 2,
        }
        assert await ask('{"method": "SUBSCRIBE", "params": ["btcusdt@nonsense"], "id": 3}') == {
            "error": {"code": 2, "msg": "Invalid request: invalid stream"},
            "id": 3,
        }
        unknown = await ask('{"method": "SUBSCRIBED", "params": [], "id": 4}')
        assert unknown["error"]["code"] == 2
        assert unknown["error"]["msg"] == (
            "Invalid request: unknown variant `SUBSCRIBED`, expected one of `SUBSCRIBE`, "
            "`UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY` "
            "at line 1 column 23"
        )
        assert (await ask('{"method": "SUBSCRIBE", "params": [], "id": "x"}'))["error"] == {
            "code": 2,
            "msg": "Invalid request: request ID must be an unsigned integer",
        }
        assert (await ask("{nope"))["error"]["code"] == 3
        assert await ask('{"method": "GET_PROPERTY", "params": ["combined"], "id": 5}') == {
            "result": False,
            "id": 5,
        }
        assert (await ask('{"method": "GET_PROPERTY", "params": ["colour"], "id": 6}')) == {
            "error": {"code": 0, "msg": "Unknown property"},
            "id": 6,
        }
        assert (await ask('{"method": "SET_PROPERTY", "params": ["combined", 1], "id": 7}')) == {
            "error": {"code": 1, "msg": "Invalid value type: expected Boolean"},
            "id": 7,
        }
        assert await ask('{"method": "UNSUBSCRIBE", "params": ["btcusdt@depth"], "id": 8}') == {
            "result": None,
            "id": 8,
        }


async def test_a_stream_named_in_the_path_is_subscribed_at_connect(
    venue_sim: RunningVenueSim,
) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(_ws_url(venue_sim, "/market/ws/btcusdt@markPrice@1s")) as socket,
    ):
        event = await socket.receive_json(timeout=WAIT_S)
        assert (event["e"], event["s"]) == ("markPriceUpdate", "BTCUSDT")


async def test_the_stream_plan_refuses_and_drops_every_path(venue_sim: RunningVenueSim) -> None:
    async with aiohttp.ClientSession() as session:
        socket = await session.ws_connect(_ws_url(venue_sim, "/public/ws/0"))
        hub = await venue_sim.disrupt_streams(drop=True, refuse_count=2)
        assert hub["dropped"] == 1
        closing = await socket.receive(timeout=WAIT_S)
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        await socket.close()
        for path in ("/public/ws/0", "/market/ws/0"):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(_ws_url(venue_sim, path))
            assert refused.value.status == 503
        async with session.ws_connect(_ws_url(venue_sim, "/market/ws/0")):
            pass


# ----------------------------------------------------------- pure parts


def test_stream_names_map_to_binance_tiers() -> None:
    cases = {
        "btcusdt@depth": (Kind.DEPTH, Tier.PUBLIC, 250),
        "btcusdt@depth@100ms": (Kind.DEPTH, Tier.PUBLIC, 100),
        "btcusdt@depth20@500ms": (Kind.PARTIAL_DEPTH, Tier.PUBLIC, 500),
        "btcusdt@bookTicker": (Kind.BOOK_TICKER, Tier.PUBLIC, 0),
        "btcusdt@trade": (Kind.TRADE, Tier.PUBLIC, 0),
        "btcusdt@aggTrade": (Kind.AGG_TRADE, Tier.MARKET, 0),
        "btcusdt@kline_1m": (Kind.KLINE, Tier.MARKET, 250),
        "btcusdt@markPrice@1s": (Kind.MARK_PRICE, Tier.MARKET, 1000),
        "!markPrice@arr": (Kind.MARK_PRICE, Tier.MARKET, 3000),
        "!miniTicker@arr": (Kind.MINI_TICKER, Tier.MARKET, 0),
        "btcusdt@miniTicker": (Kind.MINI_TICKER, Tier.MARKET, 0),
    }
    for name, expected in cases.items():
        stream = parse(name)
        assert stream is not None, name
        assert (stream.kind, stream.tier, stream.speed_ms) == expected, name
    for bad in ("btcusdt@depth7", "btcusdt@depth@300ms", "btcusdt@kline_7m", "BTCUSDT@trade", ""):
        assert parse(bad) is None, bad


def test_a_stream_of_the_other_tier_or_an_unlisted_symbol_is_accepted_and_silent() -> None:
    ctx = VenueContext.create(quiet(), time.time)
    conn = Connection(ctx, Tier.MARKET)
    frame = json.dumps(
        {"method": "SUBSCRIBE", "params": ["btcusdt@depth", "foousdt@aggTrade"], "id": 1}
    )
    assert answer(conn, frame) == {"result": None, "id": 1}
    assert conn.poll(0.0) == []
    assert answer(conn, '{"method": "LIST_SUBSCRIPTIONS", "id": 2}')["result"] == [
        "btcusdt@depth",
        "foousdt@aggTrade",
    ]
    answer(conn, '{"method": "SUBSCRIBE", "params": ["btcusdt@markPrice"], "id": 3}')
    answer(conn, '{"method": "SET_PROPERTY", "params": ["combined", true], "id": 4}')
    (frame_out,) = conn.poll(0.0)
    assert frame_out["stream"] == "btcusdt@markPrice"
    assert Decimal(frame_out["data"]["p"]) == ctx.engine.mark("BTCUSDT")


def _apply(book: dict[str, str], changes: list[list[str]]) -> None:
    for price, qty in changes:
        if Decimal(qty) == 0:
            book.pop(price, None)
        else:
            book[price] = qty


def test_depth_diffs_rebuild_any_snapshot_taken_between_them() -> None:
    """A level that changes and changes back between two events still reaches a client that
    synced on the snapshot taken in between."""
    clock = FakeClock()
    ctx = VenueContext.create(quiet(), clock)
    conn = Connection(ctx, Tier.PUBLIC)
    answer(conn, '{"method": "SUBSCRIBE", "params": ["btcusdt@depth@100ms"], "id": 1}')
    assert conn.poll(0.0) == []  # no change yet
    ctx.engine.set_mark("BTCUSDT", Decimal("50010"))
    snapshot = ctx.books.current("BTCUSDT")  # what GET /fapi/v1/depth shows now
    ctx.engine.set_mark("BTCUSDT", Decimal("50000"))
    ctx.engine.set_mark("BTCUSDT", Decimal("50020"))
    (event,) = conn.poll(1.0)
    assert event["U"] <= snapshot.update_id <= event["u"]
    bids, asks = as_side(snapshot.bids), as_side(snapshot.asks)
    _apply(bids, event["b"])
    _apply(asks, event["a"])
    now = ctx.books.current("BTCUSDT")
    assert now.update_id == event["u"]
    assert (bids, asks) == (as_side(now.bids), as_side(now.asks))

    ctx.engine.set_mark("BTCUSDT", Decimal("50030"))
    (following,) = conn.poll(2.0)
    assert following["pu"] == event["u"]
    assert following["U"] == event["u"] + 1


def test_partial_depth_and_book_ticker_show_the_rest_book() -> None:
    ctx = VenueContext.create(quiet(), FakeClock())
    conn = Connection(ctx, Tier.PUBLIC)
    frame = '{"method": "SUBSCRIBE", "params": ["btcusdt@depth5", "btcusdt@bookTicker"], "id": 1}'
    answer(conn, frame)
    depth, ticker = conn.poll(0.0)
    book = ctx.books.current("BTCUSDT")
    assert depth["u"] == ticker["u"] == book.update_id
    assert depth["b"] == [[views.fmt(level.price), views.fmt(level.qty)] for level in book.bids[:5]]
    assert depth["a"] == [[views.fmt(level.price), views.fmt(level.qty)] for level in book.asks[:5]]
    assert (ticker["b"], ticker["a"]) == (depth["b"][0][0], depth["a"][0][0])
    assert conn.poll(0.05) == []  # depth5 waits out its 250 ms; the top is unchanged


def test_a_kline_closes_once_when_the_next_interval_opens() -> None:
    clock = FakeClock(1_700_000_000.0)  # 20 s into a minute
    ctx = VenueContext.create(quiet(), clock)
    conn = Connection(ctx, Tier.MARKET)
    answer(conn, '{"method": "SUBSCRIBE", "params": ["btcusdt@kline_1m"], "id": 1}')
    (opened,) = conn.poll(0.0)
    assert (opened["k"]["t"], opened["k"]["x"]) == (1_700_000_000_000 - 20_000, False)
    clock.advance(30)
    ctx.engine.set_mark("BTCUSDT", Decimal("50100"))
    (moved,) = conn.poll(1.0)
    assert (moved["k"]["c"], moved["k"]["h"], moved["k"]["x"]) == ("50100", "50100", False)
    clock.advance(60)
    closed, following = conn.poll(2.0)
    assert (closed["k"]["t"], closed["k"]["x"], closed["k"]["c"]) == (
        opened["k"]["t"],
        True,
        "50100",
    )
    assert (following["k"]["t"], following["k"]["x"]) == (closed["k"]["T"] + 1, False)
    assert conn.poll(3.0) == []
