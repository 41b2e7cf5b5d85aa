"""Binance-shaped JSON replies rendered from the engine's records (numbers as decimal strings)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

from tradewarden.bot.venue_sim.markets import SymbolSpec
from tradewarden.bot.venue_sim.models import (
    LEVERAGE_BRACKETS,
    ZERO,
    AlgoOrder,
    BookLevel,
    Fill,
    FundingRate,
    Income,
    Order,
    OrderStatus,
    Position,
    Snapshot,
    TickerStats,
)

Json = dict[str, object]
ONBOARD_MS = 1569398400000
ORDER_TYPES = ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET"]
MONEY_QUANTUM = Decimal("1E-8")


def fmt(value: Decimal) -> str:
    """A decimal as Binance prints it: plain notation, no exponent, no negative zero."""
    if value == 0:
        return "0"
    return format(value.normalize(), "f")


def money(value: Decimal) -> str:
    """Balances and PnL, to Binance's eight decimals."""
    return fmt(value.quantize(MONEY_QUANTUM))


def exchange_info(
    specs: Iterable[SymbolSpec], limits: tuple[int, int, int], server_ms: int
) -> Json:
    """GET /fapi/v1/exchangeInfo; ``limits``: weight per minute, orders per 10 s and per minute."""
    weight_limit, orders_10s, orders_1m = limits
    return {
        "timezone": "UTC",
        "serverTime": server_ms,
        "futuresType": "U_MARGINED",
        "rateLimits": [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": weight_limit,
            },
            {
                "rateLimitType": "ORDERS",
                "interval": "SECOND",
                "intervalNum": 10,
                "limit": orders_10s,
            },
            {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": orders_1m},
        ],
        "exchangeFilters": [],
        "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
        "symbols": [_symbol_info(spec) for spec in specs],
    }


def _symbol_info(spec: SymbolSpec) -> Json:
    # Tick and step keep the digits Binance prints ("0.10"): clients read precision off them.
    tick, step = format(spec.tick_size, "f"), format(spec.step_size, "f")
    return {
        "symbol": spec.symbol,
        "pair": spec.pair,
        "contractType": spec.contract_type,
        "deliveryDate": spec.delivery_ms,
        "onboardDate": ONBOARD_MS,
        "status": "TRADING",
        "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000",
        "baseAsset": spec.base_asset,
        "quoteAsset": spec.quote_asset,
        "marginAsset": spec.quote_asset,
        "pricePrecision": spec.price_precision,
        "quantityPrecision": spec.quantity_precision,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "underlyingSubType": [],
        "triggerProtect": "0.0500",
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": format(spec.lowest_price, "f"),
                "maxPrice": fmt(spec.max_price),
                "tickSize": tick,
            },
            {
                "filterType": "LOT_SIZE",
                "stepSize": step,
                "minQty": step,
                "maxQty": fmt(spec.max_qty),
            },
            {
                "filterType": "MARKET_LOT_SIZE",
                "stepSize": step,
                "minQty": step,
                "maxQty": fmt(spec.market_max_qty),
            },
            {"filterType": "MAX_NUM_ORDERS", "limit": spec.max_num_orders},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": spec.max_num_algo_orders},
            {"filterType": "MIN_NOTIONAL", "notional": fmt(spec.min_notional)},
            {
                "filterType": "PERCENT_PRICE",
                "multiplierUp": format(spec.multiplier_up, "f"),
                "multiplierDown": format(spec.multiplier_down, "f"),
                "multiplierDecimal": "4",
            },
        ],
        "orderTypes": ORDER_TYPES,
        "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
    }


def order(o: Order) -> Json:
    """A regular order as /fapi/v1/order returns it."""
    return {
        "orderId": o.order_id,
        "symbol": o.symbol,
        "status": o.status.value,
        "clientOrderId": o.client_order_id,
        "price": fmt(o.price),
        "avgPrice": fmt(o.avg_price),
        "origQty": fmt(o.orig_qty),
        "executedQty": fmt(o.executed_qty),
        "cumQty": fmt(o.executed_qty),
        "cumQuote": fmt(o.cum_quote),
        "timeInForce": o.time_in_force,
        "type": o.type.value,
        "reduceOnly": o.reduce_only,
        "closePosition": o.close_position,
        "side": o.side.value,
        "positionSide": "BOTH",
        "stopPrice": fmt(o.stop_price),
        "workingType": "CONTRACT_PRICE",
        "priceProtect": False,
        "origType": (o.orig_type or o.type).value,
        "priceMatch": "NONE",
        "selfTradePreventionMode": "EXPIRE_MAKER",
        "goodTillDate": 0,
        "time": o.time_ms,
        "updateTime": o.update_time_ms,
    }


def order_reply(o: Order, acknowledge_only: bool) -> Json:
    """POST /fapi/v1/order's reply: the order as accepted (ACK) or after its matching (RESULT).

    Binance USD-M answers ACK before the matching engine has seen the order, so
    even a market order that fills at once is NEW and unfilled in that reply;
    only a later query shows the fill.
    """
    if not acknowledge_only:
        return order(o)
    accepted = dataclasses.replace(
        o,
        status=OrderStatus.NEW,
        executed_qty=ZERO,
        cum_quote=ZERO,
        update_time_ms=o.time_ms,
    )
    return order(accepted)


def algo_order(a: AlgoOrder) -> Json:
    """An algo order as /fapi/v1/algoOrder returns it."""
    return {
        "algoId": a.algo_id,
        "clientAlgoId": a.client_algo_id,
        "algoType": "CONDITIONAL",
        "orderType": a.order_type.value,
        "symbol": a.symbol,
        "side": a.side.value,
        "positionSide": "BOTH",
        "timeInForce": a.time_in_force,
        "quantity": fmt(a.quantity),
        "algoStatus": a.status.value,
        "triggerPrice": fmt(a.trigger_price),
        "price": fmt(a.price),
        "icebergQuantity": None,
        "selfTradePreventionMode": "EXPIRE_MAKER",
        "workingType": a.working_type,
        "priceMatch": "NONE",
        "closePosition": a.close_position,
        "priceProtect": False,
        "reduceOnly": a.reduce_only,
        "actualOrderId": "" if a.actual_order_id is None else str(a.actual_order_id),
        "createTime": a.create_time_ms,
        "updateTime": a.update_time_ms,
        "triggerTime": a.trigger_time_ms,
        "goodTillDate": 0,
    }


def algo_cancelled(a: AlgoOrder) -> Json:
    """DELETE /fapi/v1/algoOrder's short acknowledgement."""
    return {"algoId": a.algo_id, "clientAlgoId": a.client_algo_id, "code": "200", "msg": "success"}


def cancel_all_done() -> Json:
    """The acknowledgement of allOpenOrders and algoOpenOrders deletes."""
    return {"code": 200, "msg": "The operation of cancel all open order is done."}


def _open_notional(snapshot: Snapshot, symbol: str, side_sign: int) -> Decimal:
    return sum(
        (
            o.remaining * o.price
            for o in snapshot.open_orders
            if o.symbol == symbol and int(o.side.sign) == side_sign
        ),
        ZERO,
    )


def position_risk(snapshot: Snapshot, symbol: str | None) -> list[Json]:
    """GET /fapi/v3/positionRisk: like v3, only symbols with a position are listed."""
    return [
        _position_row(snapshot, p)
        for p in snapshot.positions
        if symbol is None or p.symbol == symbol
    ]


def _position_row(snapshot: Snapshot, p: Position) -> Json:
    margin = snapshot.position_initial_margin(p)
    pnl = snapshot.unrealized_pnl(p)
    notional = snapshot.notional(p)
    order_margin = sum(
        (snapshot.order_initial_margin(o) for o in snapshot.open_orders if o.symbol == p.symbol),
        ZERO,
    )
    # Cross margin (the default) shows no isolated wallet; v3 has no marginType field, so
    # clients such as ccxt tell the two apart by isolatedMargin.
    isolated = margin if p.symbol in snapshot.isolated else ZERO
    return {
        "symbol": p.symbol,
        "positionSide": "BOTH",
        "positionAmt": fmt(p.amount),
        "entryPrice": fmt(p.entry_price),
        "breakEvenPrice": fmt(p.entry_price),
        "markPrice": fmt(snapshot.marks[p.symbol]),
        "unRealizedProfit": money(pnl),
        "liquidationPrice": money(snapshot.liquidation_price(p)),
        "isolatedMargin": money(isolated + pnl) if isolated else "0",
        "notional": money(notional),
        "marginAsset": "USDT",
        "isolatedWallet": money(isolated),
        "initialMargin": money(margin + order_margin),
        "maintMargin": money(snapshot.maint_margin(p)),
        "positionInitialMargin": money(margin),
        "openOrderInitialMargin": money(order_margin),
        "adl": 0,
        "bidNotional": money(_open_notional(snapshot, p.symbol, 1)),
        "askNotional": money(_open_notional(snapshot, p.symbol, -1)),
        "updateTime": p.update_time_ms,
    }


def _isolated_wallet(snapshot: Snapshot, p: Position) -> Decimal:
    return snapshot.position_initial_margin(p) if p.symbol in snapshot.isolated else ZERO


def account(snapshot: Snapshot) -> Json:
    """GET /fapi/v3/account."""
    t = snapshot.totals()
    usdt = {
        "asset": "USDT",
        "walletBalance": money(t.wallet_balance),
        "unrealizedProfit": money(t.unrealized_pnl),
        "marginBalance": money(t.margin_balance),
        "maintMargin": money(t.maint_margin),
        "initialMargin": money(t.initial_margin),
        "positionInitialMargin": money(t.position_initial_margin),
        "openOrderInitialMargin": money(t.open_order_initial_margin),
        "crossWalletBalance": money(t.wallet_balance),
        "crossUnPnl": money(t.unrealized_pnl),
        "availableBalance": money(t.available_balance),
        "maxWithdrawAmount": money(max(t.available_balance, ZERO)),
        # ccxt skips balance rows whose updateTime is 0.
        "updateTime": snapshot.balance_update_ms,
    }
    return {
        "totalInitialMargin": usdt["initialMargin"],
        "totalMaintMargin": usdt["maintMargin"],
        "totalWalletBalance": usdt["walletBalance"],
        "totalUnrealizedProfit": usdt["unrealizedProfit"],
        "totalMarginBalance": usdt["marginBalance"],
        "totalPositionInitialMargin": usdt["positionInitialMargin"],
        "totalOpenOrderInitialMargin": usdt["openOrderInitialMargin"],
        "totalCrossWalletBalance": usdt["crossWalletBalance"],
        "totalCrossUnPnl": usdt["crossUnPnl"],
        "availableBalance": usdt["availableBalance"],
        "maxWithdrawAmount": usdt["maxWithdrawAmount"],
        "assets": [usdt],
        "positions": [
            {
                "symbol": p.symbol,
                "positionSide": "BOTH",
                "positionAmt": fmt(p.amount),
                "unrealizedProfit": money(snapshot.unrealized_pnl(p)),
                "isolatedMargin": money(_isolated_wallet(snapshot, p)),
                "notional": money(snapshot.notional(p)),
                "isolatedWallet": money(_isolated_wallet(snapshot, p)),
                "initialMargin": money(snapshot.position_initial_margin(p)),
                "maintMargin": money(snapshot.maint_margin(p)),
                "updateTime": p.update_time_ms,
            }
            for p in snapshot.positions
        ],
    }


def ticker_24hr(symbol: str, mark: Decimal, stats: TickerStats, now_ms: int) -> Json:
    """GET /fapi/v1/ticker/24hr for one symbol; the mark doubles as the last price."""
    change = mark - stats.open_price
    weighted = stats.quote_volume / stats.volume if stats.volume else mark
    return {
        "symbol": symbol,
        "priceChange": fmt(change),
        "priceChangePercent": fmt((change / stats.open_price * 100).quantize(Decimal("0.001"))),
        "weightedAvgPrice": fmt(weighted.quantize(MONEY_QUANTUM)),
        "lastPrice": fmt(mark),
        "lastQty": fmt(stats.last_qty),
        "openPrice": fmt(stats.open_price),
        "highPrice": fmt(stats.high),
        "lowPrice": fmt(stats.low),
        "volume": fmt(stats.volume),
        "quoteVolume": money(stats.quote_volume),
        "openTime": stats.open_time_ms,
        "closeTime": now_ms,
        "firstId": stats.first_trade_id,
        "lastId": stats.last_trade_id,
        "count": stats.count,
    }


def premium_index(symbol: str, mark: Decimal, funding: tuple[Decimal, int], now_ms: int) -> Json:
    """GET /fapi/v1/premiumIndex for one symbol (index = mark); ``funding``: rate, next time."""
    rate, next_funding_ms = funding
    return {
        "symbol": symbol,
        "markPrice": fmt(mark),
        "indexPrice": fmt(mark),
        "estimatedSettlePrice": fmt(mark),
        "lastFundingRate": f"{rate:.8f}",
        "interestRate": "0.00010000",
        "nextFundingTime": next_funding_ms,
        "time": now_ms,
    }


def income(i: Income) -> Json:
    """One row of GET /fapi/v1/income."""
    return {
        "symbol": i.symbol,
        "incomeType": i.income_type.value,
        "income": f"{i.amount:.8f}",
        "asset": "USDT",
        "info": i.income_type.value,
        "time": i.time_ms,
        "tranId": i.tran_id,
        "tradeId": "" if i.trade_id is None else str(i.trade_id),
    }


def funding_rate(f: FundingRate) -> Json:
    """One row of GET /fapi/v1/fundingRate."""
    return {
        "symbol": f.symbol,
        "fundingRate": f"{f.rate:.8f}",
        "fundingTime": f.time_ms,
        "markPrice": f"{f.mark:.8f}",
    }


def depth(
    bids: Sequence[BookLevel], asks: Sequence[BookLevel], update_id: int, now_ms: int
) -> Json:
    """GET /fapi/v1/depth: the book takers meet, best level first on each side.

    ``update_id`` numbers the book; the diff depth stream continues from it.
    """
    return {
        "lastUpdateId": update_id,
        "E": now_ms,
        "T": now_ms,
        "bids": [[fmt(level.price), fmt(level.qty)] for level in bids],
        "asks": [[fmt(level.price), fmt(level.qty)] for level in asks],
    }


def user_trade(f: Fill) -> Json:
    """One row of GET /fapi/v1/userTrades."""
    return {
        "buyer": f.side.value == "BUY",
        "commission": money(f.commission),
        "commissionAsset": "USDT",
        "id": f.trade_id,
        "maker": f.maker,
        "orderId": f.order_id,
        "price": fmt(f.price),
        "qty": fmt(f.qty),
        "quoteQty": money(f.qty * f.price),
        "realizedPnl": money(f.realized_pnl),
        "side": f.side.value,
        "positionSide": "BOTH",
        "symbol": f.symbol,
        "time": f.time_ms,
    }


def public_trade(f: Fill) -> Json:
    """One row of GET /fapi/v1/trades: an account fill or another participant's trade."""
    return {
        "id": f.trade_id,
        "price": fmt(f.price),
        "qty": fmt(f.qty),
        "quoteQty": money(f.qty * f.price),
        "time": f.time_ms,
        # A buy that took liquidity met a resting sell: the buyer was the taker.
        "isBuyerMaker": (f.side.value == "BUY") == f.maker,
    }


def agg_trade(f: Fill) -> Json:
    """One row of GET /fapi/v1/aggTrades (one fill per aggregate)."""
    row = public_trade(f)
    return {
        "a": f.trade_id,
        "p": row["price"],
        "q": row["qty"],
        "f": f.trade_id,
        "l": f.trade_id,
        "T": f.time_ms,
        "m": row["isBuyerMaker"],
    }


OPEN_INTEREST_DAYS_MS = 30 * 24 * 3600 * 1000  # Binance keeps open-interest statistics 30 days


def open_interest_hist(
    symbol: str,
    ticks: Sequence[tuple[int, Decimal]],
    fills: Sequence[Fill],
    period_ms: int,
    *,
    window: tuple[int | None, int | None, int],
    limit: int,
) -> list[Json]:
    """GET /futures/data/openInterestHist: the open interest sampled at the end of each period
    since the venue's first mark and within Binance's 30 days, oldest first (no row for a
    period still running).

    The account is the only holder of positions (its counterparty is the simulated book), so
    the open interest is the size of its net position then, valued at the mark then.
    ``window`` is ``(startTime, endTime, now)``; without a start the latest ``limit`` rows.
    """
    start, end, now = window
    earliest = max(ticks[0][0], now - OPEN_INTEREST_DAYS_MS, start or 0)
    first = -(-earliest // period_ms) * period_ms  # the first sample at or after it
    last = min(end if end is not None else now, now) // period_ms * period_ms
    samples = list(range(first, last + 1, period_ms))
    samples = samples[:limit] if start is not None else samples[-limit:]
    rows: list[Json] = []
    for at in samples:
        size = abs(
            sum(
                (f.qty if f.side.value == "BUY" else -f.qty for f in fills if f.time_ms <= at), ZERO
            )
        )
        mark = [p for t, p in ticks if t <= at][-1]
        rows.append(
            {
                "symbol": symbol,
                "sumOpenInterest": f"{size:.8f}",
                "sumOpenInterestValue": f"{size * mark:.8f}",
                "timestamp": str(at),
            }
        )
    return rows


def klines(
    ticks: Sequence[tuple[int, Decimal]],
    fills: Sequence[Fill],
    interval_ms: int,
    window: tuple[int | None, int | None, int],
    limit: int,
) -> list[list[object]]:
    """GET /fapi/v1/klines from the mark's history: one candle per interval since the first mark.

    ``window`` is ``(startTime, endTime, now)``; without a start the latest
    ``limit`` candles are sent, as Binance does. An interval without a new mark
    repeats the last close; volume and count come from the fills in it.
    """
    start, end, now = window
    first = ticks[0][0] // interval_ms * interval_ms
    last = (end if end is not None else now) // interval_ms * interval_ms
    opens = list(range(max(first, start or first), last + 1, interval_ms))
    opens = opens[:limit] if start is not None else opens[-limit:]
    rows: list[list[object]] = []
    index, close = 0, ticks[0][1]
    for open_ms in opens:
        while index < len(ticks) and ticks[index][0] < open_ms:
            close = ticks[index][1]
            index += 1
        prices = [close] + [p for t, p in ticks[index:] if t < open_ms + interval_ms]
        traded = [f for f in fills if open_ms <= f.time_ms < open_ms + interval_ms]
        taker_buys = [f for f in traded if f.side.value == "BUY" and not f.maker]
        rows.append(
            [
                open_ms,
                fmt(prices[0]),
                fmt(max(prices)),
                fmt(min(prices)),
                fmt(prices[-1]),
                fmt(sum((f.qty for f in traded), ZERO)),
                open_ms + interval_ms - 1,
                money(sum((f.qty * f.price for f in traded), ZERO)),
                len(traded),
                fmt(sum((f.qty for f in taker_buys), ZERO)),
                money(sum((f.qty * f.price for f in taker_buys), ZERO)),
                "0",
            ]
        )
    return rows


def leverage_bracket(symbols: Iterable[str]) -> list[Json]:
    """GET /fapi/v1/leverageBracket: every symbol's notional tiers.

    ``notionalCoef`` is left out: Binance shows it only for an account whose brackets
    were adjusted from the symbol's default.
    """
    brackets: list[Json] = [
        {
            "bracket": b.number,
            "initialLeverage": b.initial_leverage,
            "notionalCap": int(b.cap),
            "notionalFloor": int(b.floor),
            "maintMarginRatio": float(b.mmr),
            "cum": float(b.cum),
        }
        for b in LEVERAGE_BRACKETS
    ]
    return [{"symbol": symbol, "brackets": brackets} for symbol in symbols]


def sim_state(
    orders: Iterable[Order],
    algo_orders: Iterable[AlgoOrder],
    snapshot: Snapshot,
    fills: Iterable[Fill],
    requests: Mapping[str, int],
) -> Json:
    """GET /_sim/state: the ground truth the tests and demos compare against."""
    totals = snapshot.totals()
    return {
        "orders": [
            {
                "orderId": o.order_id,
                "clientOrderId": o.client_order_id,
                "symbol": o.symbol,
                "side": o.side.value,
                "type": o.type.value,
                "status": o.status.value,
                "origQty": fmt(o.orig_qty),
                "executedQty": fmt(o.executed_qty),
                "price": fmt(o.price),
                "avgPrice": fmt(o.avg_price),
                "reduceOnly": o.reduce_only,
                "updateTime": o.update_time_ms,
            }
            for o in orders
        ],
        "algoOrders": [
            {
                "algoId": a.algo_id,
                "clientAlgoId": a.client_algo_id,
                "symbol": a.symbol,
                "side": a.side.value,
                "orderType": a.order_type.value,
                "triggerPrice": fmt(a.trigger_price),
                "quantity": fmt(a.quantity),
                "closePosition": a.close_position,
                "reduceOnly": a.reduce_only,
                "algoStatus": a.status.value,
                "actualOrderId": a.actual_order_id,
                "createTime": a.create_time_ms,
                "updateTime": a.update_time_ms,
            }
            for a in algo_orders
        ],
        "positions": [
            {
                "symbol": p.symbol,
                "positionAmt": fmt(p.amount),
                "entryPrice": fmt(p.entry_price),
                "markPrice": fmt(snapshot.marks[p.symbol]),
                "unrealizedProfit": money(snapshot.unrealized_pnl(p)),
            }
            for p in snapshot.positions
        ],
        "balances": {
            "USDT": {
                "walletBalance": money(totals.wallet_balance),
                "availableBalance": money(totals.available_balance),
            }
        },
        "fills": [
            {
                "orderId": f.order_id,
                "clientOrderId": f.client_order_id,
                "symbol": f.symbol,
                "side": f.side.value,
                "qty": fmt(f.qty),
                "price": fmt(f.price),
                "realizedPnl": money(f.realized_pnl),
                "commission": money(f.commission),
                "maker": f.maker,
                "time": f.time_ms,
            }
            for f in fills
        ],
        "requests": dict(requests),
        "marks": {symbol: fmt(mark) for symbol, mark in snapshot.marks.items()},
        "leverage": dict(snapshot.leverage),
    }
