"""The pure engine: positions, PnL, margin, reduce-only, matching, stops, snapshots."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from tests.support.clock import FakeClock
from tradewarden.bot.venue_sim import errors
from tradewarden.bot.venue_sim.engine import Engine, OrderRef, OrderRequest
from tradewarden.bot.venue_sim.models import AlgoStatus, OrderStatus, OrderType, Side
from tradewarden.bot.venue_sim.settings import SimSettings

D = Decimal
BTC = "BTCUSDT"


def make_engine(**overrides: object) -> tuple[Engine, FakeClock]:
    clock = FakeClock()
    settings = SimSettings(price_tick_s=0, **overrides)
    return Engine(settings, clock), clock


def market(side: Side, qty: str, **kwargs: object) -> OrderRequest:
    return OrderRequest(symbol=BTC, side=side, type=OrderType.MARKET, quantity=D(qty), **kwargs)


def limit(side: Side, qty: str, price: str, **kwargs: object) -> OrderRequest:
    return OrderRequest(
        symbol=BTC, side=side, type=OrderType.LIMIT, quantity=D(qty), price=D(price), **kwargs
    )


def stop(side: Side, trigger: str, qty: str | None = None, **kwargs: object) -> OrderRequest:
    return OrderRequest(
        symbol=BTC,
        side=side,
        type=OrderType.STOP_MARKET,
        quantity=None if qty is None else D(qty),
        trigger_price=D(trigger),
        **kwargs,
    )


def position(engine: Engine) -> tuple[Decimal, Decimal]:
    rows = [p for p in engine.snapshot().positions if p.symbol == BTC]
    return (rows[0].amount, rows[0].entry_price) if rows else (D(0), D(0))


def wallet(engine: Engine) -> Decimal:
    return engine.snapshot().wallet_balance


def taker_fee(*notionals: str) -> Decimal:
    """What Binance's regular-tier taker rate (0.05 %) charges on these fills."""
    return sum((D(n) * D("0.0005") for n in notionals), D(0))


def test_adds_average_the_entry_price() -> None:
    engine, _ = make_engine()
    engine.place_order(market(Side.BUY, "0.01"))  # takes the best ask, one tick over the mark
    engine.set_mark(BTC, D("51000"))
    engine.place_order(market(Side.BUY, "0.03"))
    assert position(engine) == (D("0.04"), D("50750.1"))
    assert wallet(engine) == D("10000") - taker_fee("500.001", "1530.003")


def test_reduce_realizes_pnl_into_the_wallet_and_keeps_entry() -> None:
    engine, _ = make_engine()
    engine.place_order(market(Side.BUY, "0.02"))
    engine.set_mark(BTC, D("51000"))
    engine.place_order(market(Side.SELL, "0.01", reduce_only=True))
    assert position(engine) == (D("0.01"), D("50000.1"))
    # Bought at the ask (50000.1), sold at the bid (50999.9).
    assert engine.fills()[-1].realized_pnl == D("9.998")
    assert wallet(engine) == D("10009.998") - taker_fee("1000.002", "509.999")


def test_flip_realizes_the_closed_part_and_opens_the_rest_at_the_fill() -> None:
    engine, _ = make_engine()
    engine.place_order(market(Side.BUY, "0.01"))
    engine.set_mark(BTC, D("49000"))
    engine.place_order(market(Side.SELL, "0.03"))
    assert position(engine) == (D("-0.02"), D("48999.9"))
    assert wallet(engine) == D("9989.998") - taker_fee("500.001", "1469.997")


def test_unrealized_pnl_and_margin_follow_the_mark() -> None:
    engine, _ = make_engine()
    engine.place_order(market(Side.SELL, "0.05"))  # at the best bid, 49999.9
    engine.set_mark(BTC, D("49000"))
    totals = engine.snapshot().totals()
    assert totals.unrealized_pnl == D("49.995")
    assert totals.position_initial_margin == D("245")  # 0.05 * 49000 / 10
    expected = D("10000") - taker_fee("2499.995") + D("49.995") - D("245")
    assert totals.available_balance == expected


def test_market_orders_pay_the_spread_and_slippage() -> None:
    engine, _ = make_engine(slippage_bps=10.0)
    buy = engine.place_order(market(Side.BUY, "0.01"))
    sell = engine.place_order(market(Side.SELL, "0.01"))
    assert buy.avg_price == D("50050.1")
    assert sell.avg_price == D("49949.9")


def test_reduce_only_may_not_open_increase_or_flip() -> None:
    engine, _ = make_engine()
    with pytest.raises(errors.VenueError) as opened:
        engine.place_order(market(Side.SELL, "0.01", reduce_only=True))
    engine.place_order(market(Side.BUY, "0.01"))
    with pytest.raises(errors.VenueError) as increased:
        engine.place_order(market(Side.BUY, "0.01", reduce_only=True))
    with pytest.raises(errors.VenueError) as flipped:
        engine.place_order(market(Side.SELL, "0.02", reduce_only=True))
    assert {opened.value.code, increased.value.code, flipped.value.code} == {-2022}
    assert position(engine) == (D("0.01"), D("50000.1"))


def test_margin_check_counts_only_the_opening_part() -> None:
    engine, _ = make_engine(initial_balance=D("1000"))
    with pytest.raises(errors.VenueError) as rejected:
        engine.place_order(market(Side.BUY, "0.201"))  # 10050 notional needs 1005 margin
    assert rejected.value.code == -2019
    engine.place_order(market(Side.BUY, "0.19"))
    # Closing 0.19 and opening 0.02 needs only the 0.02 part's margin. The sell
    # walks three bid levels (0.11, 0.05, then 0.05 of 0.12): the short opens on the third.
    engine.place_order(market(Side.SELL, "0.21"))
    assert position(engine) == (D("-0.02"), D("49999.7"))


def test_open_limit_orders_reserve_margin() -> None:
    engine, _ = make_engine(initial_balance=D("1000"))
    engine.place_order(limit(Side.BUY, "0.18", "49000", client_order_id="a"))  # 882 reserved
    with pytest.raises(errors.VenueError) as rejected:
        engine.place_order(limit(Side.BUY, "0.05", "49000"))
    assert rejected.value.code == -2019


def test_min_notional_applies_unless_reduce_only() -> None:
    engine, _ = make_engine()
    with pytest.raises(errors.VenueError) as small:
        engine.place_order(market(Side.BUY, "0.001"))
    assert small.value.code == -4164
    engine.place_order(market(Side.BUY, "0.003"))
    engine.place_order(market(Side.SELL, "0.001", reduce_only=True))
    assert position(engine)[0] == D("0.002")


def rejection(engine: Engine, request: OrderRequest) -> tuple[int, str]:
    with pytest.raises(errors.VenueError) as rejected:
        if request.type.is_conditional:
            engine.place_algo_order(request)
        else:
            engine.place_order(request)
    return rejected.value.code, rejected.value.msg


PRECISION = "Precision is over the maximum defined for this asset."


@pytest.mark.parametrize(
    ("request_", "code", "msg"),
    [
        (limit(Side.BUY, "0.0109", "49000"), -1111, PRECISION),
        (limit(Side.BUY, "0.01", "49000.001"), -1111, PRECISION),
        (limit(Side.BUY, "0.01", "49000.05"), -4014, "Price not increased by tick size."),
        (market(Side.BUY, "0"), -4003, "Quantity less than or equal to zero."),
        (limit(Side.BUY, "1000.001", "49000"), -4005, "Quantity greater than max quantity."),
        (market(Side.BUY, "120.001"), -4005, "Quantity greater than max quantity."),
        (limit(Side.BUY, "0.01", "0"), -4013, "Price less than min price."),
        (limit(Side.BUY, "0.01", "52500.1"), -4016, "Limit price can't be higher than 52500.00."),
        (limit(Side.SELL, "0.01", "47499.9"), -4024, "Limit price can't be lower than 47500.00."),
        (stop(Side.SELL, "45000.05", "0.01"), -4014, "Price not increased by tick size."),
        (stop(Side.SELL, "45000", "0.0101"), -1111, PRECISION),
    ],
    ids=[
        "qty decimals",
        "price decimals",
        "price off tick",
        "zero qty",
        "qty over LOT_SIZE",
        "market qty over MARKET_LOT_SIZE",
        "price zero",
        "PERCENT_PRICE up",
        "PERCENT_PRICE down",
        "trigger off tick",
        "stop qty decimals",
    ],
)
def test_filters_are_enforced_never_rounded(request_: OrderRequest, code: int, msg: str) -> None:
    engine, _ = make_engine()
    engine.place_order(market(Side.BUY, "0.01"))  # a position for the reduce-side stops
    assert rejection(engine, request_) == (code, msg)


def test_a_quantity_on_the_step_is_taken_as_sent() -> None:
    engine, _ = make_engine()
    # Trailing zeros carry no precision; BTCUSDT's tick prints as 0.10.
    order = engine.place_order(limit(Side.BUY, "0.0100", "49000.10"))
    assert (order.orig_qty, order.price) == (D("0.01"), D("49000.1"))


def test_min_notional_is_the_symbols_own() -> None:
    engine, _ = make_engine()
    eth = OrderRequest(symbol="ETHUSDT", side=Side.BUY, type=OrderType.MARKET, quantity=D("0.006"))
    assert rejection(engine, eth) == (
        -4164,
        "Order's notional must be no smaller than 20 (unless you choose reduce only).",
    )
    engine.place_order(dataclasses.replace(eth, quantity=D("0.007")))


def test_max_num_orders_and_max_num_algo_orders() -> None:
    engine, _ = make_engine(initial_balance=D("100000"))
    engine.place_order(market(Side.BUY, "0.1"))
    for _ in range(200):
        engine.place_order(limit(Side.BUY, "0.003", "49000"))
    assert rejection(engine, limit(Side.BUY, "0.003", "49000")) == (
        -2025,
        "Reach max open order limit.",
    )
    for _ in range(10):
        engine.place_algo_order(stop(Side.SELL, "45000", "0.01", reduce_only=True))
    assert rejection(engine, stop(Side.SELL, "45000", "0.01", reduce_only=True)) == (
        -4045,
        "Reach max stop order limit.",
    )


def test_a_client_order_id_is_unique_only_among_open_orders() -> None:
    engine, _ = make_engine()
    first = engine.place_order(limit(Side.BUY, "0.01", "49000", client_order_id="dup"))
    with pytest.raises(errors.VenueError) as dup:
        engine.place_order(market(Side.BUY, "0.01", client_order_id="dup"))
    assert dup.value.code == -4116
    # Another symbol has its own ids.
    engine.place_order(
        OrderRequest(
            symbol="ETHUSDT",
            side=Side.BUY,
            type=OrderType.MARKET,
            quantity=D("0.1"),
            client_order_id="dup",
        )
    )
    # Once the first order is done, Binance accepts the same id as a new order.
    engine.cancel_order(BTC, OrderRef(client_order_id="dup"))
    second = engine.place_order(market(Side.BUY, "0.01", client_order_id="dup"))
    assert second.order_id != first.order_id
    third = engine.place_order(market(Side.BUY, "0.01", client_order_id="dup"))
    assert position(engine)[0] == D("0.02")
    # A lookup by the reused id finds the latest order.
    assert engine.get_order(BTC, OrderRef(client_order_id="dup")).order_id == third.order_id


def test_a_client_algo_id_is_unique_only_among_waiting_algo_orders() -> None:
    engine, _ = make_engine()
    engine.place_order(market(Side.BUY, "0.01"))
    first = engine.place_algo_order(stop(Side.SELL, "45000", "0.01", client_order_id="s1"))
    with pytest.raises(errors.VenueError) as dup:
        engine.place_algo_order(stop(Side.SELL, "44000", "0.01", client_order_id="s1"))
    assert dup.value.code == -4116
    engine.cancel_algo_order(BTC, OrderRef(client_order_id="s1"))
    second = engine.place_algo_order(stop(Side.SELL, "44000", "0.01", client_order_id="s1"))
    assert second.algo_id != first.algo_id
    assert engine.get_algo_order(BTC, OrderRef(client_order_id="s1")).algo_id == second.algo_id


def test_resting_limit_fills_at_its_price_when_the_mark_crosses() -> None:
    engine, _ = make_engine()
    order = engine.place_order(limit(Side.BUY, "0.01", "49000"))
    engine.set_mark(BTC, D("49500"))
    assert order.status is OrderStatus.NEW
    engine.set_mark(BTC, D("48900"))
    assert (order.status, order.avg_price) == (OrderStatus.PARTIALLY_FILLED, D("49000"))
    engine.set_mark(BTC, D("48800"))
    assert (order.status, order.avg_price) == (OrderStatus.FILLED, D("49000"))
    assert position(engine) == (D("0.01"), D("49000"))


def test_marketable_limit_takes_the_book_and_post_only_expires() -> None:
    engine, _ = make_engine()
    taker = engine.place_order(limit(Side.BUY, "0.01", "50500"))
    assert (taker.status, taker.avg_price) == (OrderStatus.FILLED, D("50000.1"))
    post_only = engine.place_order(limit(Side.SELL, "0.01", "49000", time_in_force="GTX"))
    assert post_only.status is OrderStatus.EXPIRED
    ioc = engine.place_order(limit(Side.BUY, "0.01", "49000", time_in_force="IOC"))
    assert ioc.status is OrderStatus.EXPIRED


def test_partial_fills_take_the_ratio_per_cross() -> None:
    engine, _ = make_engine(partial_fill_ratio=0.5)
    order = engine.place_order(limit(Side.SELL, "0.03", "51000"))
    engine.set_mark(BTC, D("51000"))
    assert (order.status, order.executed_qty) == (OrderStatus.PARTIALLY_FILLED, D("0.015"))
    engine.set_mark(BTC, D("51100"))
    assert (order.status, order.executed_qty) == (OrderStatus.FILLED, D("0.03"))
    assert len(engine.fills()) == 2


def test_cancel_and_lookups_by_either_id() -> None:
    engine, _ = make_engine()
    order = engine.place_order(limit(Side.BUY, "0.01", "49000", client_order_id="c1"))
    assert engine.get_order(BTC, OrderRef(client_order_id="c1")) is order
    engine.cancel_order(BTC, OrderRef(order_id=order.order_id))
    assert order.status is OrderStatus.CANCELED
    with pytest.raises(errors.VenueError) as again:
        engine.cancel_order(BTC, OrderRef(client_order_id="c1"))
    with pytest.raises(errors.VenueError) as unknown:
        engine.get_order(BTC, OrderRef(order_id=1))
    assert (again.value.code, unknown.value.code) == (-2011, -2013)


def test_stop_with_close_position_flattens_on_trigger() -> None:
    engine, _ = make_engine()
    engine.place_order(market(Side.BUY, "0.02"))
    algo = engine.place_algo_order(stop(Side.SELL, "49000", close_position=True))
    engine.set_mark(BTC, D("49500"))
    assert algo.status is AlgoStatus.NEW
    engine.set_mark(BTC, D("48800"))
    assert algo.status is AlgoStatus.FINISHED
    assert position(engine) == (D(0), D(0))
    # Bought at 50000.1, the stop sold at the bid under the new mark, 48799.9.
    assert wallet(engine) == D("10000") - D("24.004") - taker_fee("1000.002", "975.998")
    triggered = engine.get_order(BTC, OrderRef(order_id=algo.actual_order_id))
    assert (triggered.reduce_only, triggered.orig_type) == (True, OrderType.STOP_MARKET)


def test_reduce_only_stop_expires_when_there_is_nothing_to_reduce() -> None:
    engine, _ = make_engine()
    algo = engine.place_algo_order(stop(Side.SELL, "49000", "0.01", reduce_only=True))
    engine.set_mark(BTC, D("48000"))
    assert algo.status is AlgoStatus.EXPIRED
    assert engine.orders() == []


def test_stop_that_would_trigger_immediately_is_rejected() -> None:
    engine, _ = make_engine()
    with pytest.raises(errors.VenueError) as rejected:
        engine.place_algo_order(stop(Side.SELL, "50100", close_position=True))
    assert rejected.value.code == -2021


def test_take_profit_triggers_in_the_favourable_direction() -> None:
    engine, _ = make_engine()
    engine.place_order(market(Side.BUY, "0.01"))
    request = OrderRequest(
        symbol=BTC,
        side=Side.SELL,
        type=OrderType.TAKE_PROFIT_MARKET,
        quantity=D("0.01"),
        trigger_price=D("52000"),
        reduce_only=True,
    )
    algo = engine.place_algo_order(request)
    engine.set_mark(BTC, D("49000"))
    assert algo.status is AlgoStatus.NEW
    engine.set_mark(BTC, D("52000"))
    assert algo.status is AlgoStatus.FINISHED
    assert wallet(engine) == D("10019.998") - taker_fee("500.001", "519.999")


def test_stale_snapshots_show_the_past() -> None:
    engine, clock = make_engine()
    clock.now += 10
    engine.place_order(limit(Side.BUY, "0.01", "49000"))
    now_ms = engine.now_ms()
    assert len(engine.snapshot_as_of(now_ms).open_orders) == 1
    assert engine.snapshot_as_of(now_ms - 5_000).open_orders == ()


def test_leverage_bounds() -> None:
    engine, _ = make_engine()
    assert engine.set_leverage(BTC, 20) == 20
    with pytest.raises(errors.VenueError) as bad:
        engine.set_leverage(BTC, 126)
    assert bad.value.code == -4028


def test_unknown_symbol() -> None:
    engine, _ = make_engine()
    with pytest.raises(errors.VenueError) as bad:
        engine.set_mark("NOPEUSDT", D(1))
    assert bad.value.code == -1121


def test_a_taker_walks_the_book_so_slippage_grows_with_size() -> None:
    engine, _ = make_engine(initial_balance=D("100000"))
    small = engine.place_order(market(Side.BUY, "0.01"))
    large = engine.place_order(market(Side.BUY, "1"))
    assert small.avg_price == D("50000.1")
    assert large.avg_price > D("50000.5")  # ten levels deep and more
    assert len([f for f in engine.fills() if f.order_id == large.order_id]) > 5
    # What the takers consumed is gone from the book until the mark moves.
    bids, asks = engine.book(BTC, 5)
    assert asks[0].price > D("50000.9")
    assert bids[0].price == D("49999.9")
    again = engine.place_order(market(Side.BUY, "0.01"))
    assert again.avg_price == asks[0].price
    engine.set_mark(BTC, D("50000"))
    assert engine.book(BTC, 1)[1][0].price == D("50000.1")


def test_limit_time_in_force_against_the_book() -> None:
    engine, _ = make_engine(initial_balance=D("100000"))
    # The best two asks hold 0.11 (50000.1) and 0.05 (50000.2).
    fok = engine.place_order(limit(Side.BUY, "0.2", "50000.2", time_in_force="FOK"))
    assert (fok.status, fok.executed_qty) == (OrderStatus.EXPIRED, D(0))
    ioc = engine.place_order(limit(Side.BUY, "0.2", "50000.2", time_in_force="IOC"))
    assert (ioc.status, ioc.executed_qty) == (OrderStatus.EXPIRED, D("0.16"))
    gtc = engine.place_order(limit(Side.BUY, "0.2", "50000.3"))
    assert (gtc.status, gtc.executed_qty) == (OrderStatus.PARTIALLY_FILLED, D("0.12"))
    assert engine.book(BTC, 1)[1][0].price == D("50000.4")
    # The levels taken are gone: a post-only bid at 50000.3 no longer takes, so it rests.
    post_only = engine.place_order(limit(Side.BUY, "0.01", "50000.3", time_in_force="GTX"))
    assert post_only.status is OrderStatus.NEW


def test_a_resting_order_fills_in_steps_as_the_price_moves_through_by_default() -> None:
    engine, _ = make_engine()
    order = engine.place_order(limit(Side.BUY, "0.02", "49000"))
    engine.set_mark(BTC, D("48990"))  # the queue at the level takes the other half
    assert (order.status, order.executed_qty) == (OrderStatus.PARTIALLY_FILLED, D("0.01"))
    assert engine.fills()[-1].maker
    engine.set_mark(BTC, D("48980"))
    assert (order.status, order.avg_price) == (OrderStatus.FILLED, D("49000"))


def test_another_participants_trade_is_on_the_tape_not_in_the_account() -> None:
    engine, _ = make_engine()
    engine.place_order(market(Side.BUY, "0.01"))
    printed = engine.market_trade(BTC, Side.SELL, D("0.02"))
    engine.place_order(market(Side.SELL, "0.01"))
    tape = engine.public_trades(BTC)
    assert [t.trade_id for t in tape] == [1, 2, 3]
    assert tape[1] == printed
    assert (printed.price, printed.side, printed.maker) == (engine.mark(BTC), Side.SELL, False)
    assert [f.trade_id for f in engine.fills(BTC)] == [1, 3]
    stats = engine.ticker_stats(BTC)
    assert (stats.count, stats.volume, stats.last_trade_id) == (3, D("0.04"), 3)
    assert position(engine)[0] == 0
