"""The Binance USD-M REST routes ccxt's binanceusdm uses: parse, call the engine, render."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from tradewarden.bot.venue_sim import errors, views
from tradewarden.bot.venue_sim.context import Call, VenueContext
from tradewarden.bot.venue_sim.engine import OrderRequest
from tradewarden.bot.venue_sim.models import OrderType, max_notional
from tradewarden.bot.venue_sim.params import Params

Reply = object  # anything json.dumps accepts
Handler = Callable[[VenueContext, Call], Reply]
DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)
DEFAULT_DEPTH = 500
DEFAULT_TRADES = 500
MAX_TRADES = 1000
MAX_BATCH = 10  # orders per batch cancel, as on Binance
MAX_BATCH_CREATE = 5  # orders per batch create
DEFAULT_KLINES = 500
MAX_KLINES = 1500
DEFAULT_HISTORY = 100  # income and funding-rate rows per request
MAX_HISTORY = 1000
INCOME_WINDOW_MS = 7 * 24 * 3600 * 1000  # income without startTime/endTime: the last 7 days
# Binance's income types; the simulator books the first three, the rest list nothing.
INCOME_TYPES = (
    "REALIZED_PNL", "FUNDING_FEE", "COMMISSION", "TRANSFER", "WELCOME_BONUS",
    "INSURANCE_CLEAR", "REFERRAL_KICKBACK", "COMMISSION_REBATE", "API_REBATE",
    "CONTEST_REWARD", "CROSS_COLLATERAL_TRANSFER", "OPTIONS_PREMIUM_FEE",
    "OPTIONS_SETTLE_PROFIT", "INTERNAL_TRANSFER", "AUTO_EXCHANGE", "DELIVERED_SETTELMENT",
    "COIN_SWAP_DEPOSIT", "COIN_SWAP_WITHDRAW", "POSITION_LIMIT_INCREASE_FEE",
    "STRATEGY_UMFUTURES_TRANSFER", "FEE_RETURN", "BFUSD_REWARD", "SPECIAL_FUNDING_FEE",
)  # fmt: skip
_MINUTE_MS = 60_000
OPEN_INTEREST_PERIODS = ("5m", "15m", "30m", "1h", "2h", "4h", "6h", "12h", "1d")
DEFAULT_OPEN_INTEREST = 30
MAX_OPEN_INTEREST = 500
KLINE_INTERVALS_MS = {
    "1m": _MINUTE_MS,
    "3m": 3 * _MINUTE_MS,
    "5m": 5 * _MINUTE_MS,
    "15m": 15 * _MINUTE_MS,
    "30m": 30 * _MINUTE_MS,
    "1h": 60 * _MINUTE_MS,
    "2h": 120 * _MINUTE_MS,
    "4h": 240 * _MINUTE_MS,
    "6h": 360 * _MINUTE_MS,
    "8h": 480 * _MINUTE_MS,
    "12h": 720 * _MINUTE_MS,
    "1d": 1440 * _MINUTE_MS,
    "3d": 3 * 1440 * _MINUTE_MS,
    "1w": 7 * 1440 * _MINUTE_MS,
}


def _flat(weight: int) -> Callable[[Params], int]:
    return lambda _params: weight


def _by_symbol(with_symbol: int, without: int) -> Callable[[Params], int]:
    return lambda params: with_symbol if params.optional("symbol") else without


def _depth_weight(params: Params) -> int:
    limit = params.optional("limit")
    if limit is None or not limit.isdigit():
        return 10
    value = int(limit)
    return 2 if value <= 50 else 5 if value <= 100 else 10 if value <= 500 else 20


@dataclass(frozen=True)
class Route:
    """A served endpoint: its handler, Binance's request weight, and whether it is signed."""

    handler: Handler
    weight: Callable[[Params], int]
    signed: bool
    # New orders the request places, counted against the ORDERS limits (None: not an order).
    orders: Callable[[Params], int] | None = None
    # USER_STREAM endpoints: the API key header is required, no signature.
    keyed: bool = False


# ---------------------------------------------------------------- market data


def exchange_info(ctx: VenueContext, call: Call) -> Reply:
    """GET /fapi/v1/exchangeInfo."""
    settings = ctx.settings
    limits = (settings.weight_limit_1m, settings.order_limit_10s, settings.order_limit_1m)
    return views.exchange_info(ctx.engine.specs.values(), limits, call.server_ms)


def server_time(_ctx: VenueContext, call: Call) -> Reply:
    """GET /fapi/v1/time (shifted by any skew fault)."""
    return {"serverTime": call.server_ms}


def _symbols(ctx: VenueContext, params: Params) -> list[str]:
    symbol = params.optional("symbol")
    if symbol is None:
        return list(ctx.engine.specs)
    return [ctx.engine.spec(symbol.upper()).symbol]


def ticker_24hr(ctx: VenueContext, call: Call) -> Reply:
    """GET /fapi/v1/ticker/24hr: one object with a symbol, a list without."""
    rows = [
        views.ticker_24hr(s, ctx.engine.mark(s), ctx.engine.ticker_stats(s), call.server_ms)
        for s in _symbols(ctx, call.params)
    ]
    return rows[0] if call.params.optional("symbol") else rows


def ticker_price(ctx: VenueContext, call: Call) -> Reply:
    """GET /fapi/v1/ticker/price and /fapi/v2/ticker/price (ccxt's fetch_last_prices): one
    object with a symbol, a list without; the mark doubles as the last price."""
    rows = [
        {"symbol": s, "price": views.fmt(ctx.engine.mark(s)), "time": call.server_ms}
        for s in _symbols(ctx, call.params)
    ]
    return rows[0] if call.params.optional("symbol") else rows


def premium_index(ctx: VenueContext, call: Call) -> Reply:
    """GET /fapi/v1/premiumIndex (ccxt's fetch_mark_price)."""
    funding = (ctx.settings.funding_rate, ctx.engine.next_funding_ms)
    rows = [
        views.premium_index(s, ctx.engine.mark(s), funding, call.server_ms)
        for s in _symbols(ctx, call.params)
    ]
    return rows[0] if call.params.optional("symbol") else rows


def depth(ctx: VenueContext, call: Call) -> Reply:
    """GET /fapi/v1/depth."""
    spec = ctx.engine.spec(call.params.symbol())
    limit = call.params.integer("limit") or DEFAULT_DEPTH
    if limit not in DEPTH_LIMITS:
        raise errors.invalid_param("limit")
    book = ctx.books.current(spec.symbol)
    return views.depth(book.bids[:limit], book.asks[:limit], book.update_id, call.server_ms)


# ----------------------------------------------------------------- account


def set_leverage(ctx: VenueContext, call: Call) -> Reply:
    """POST /fapi/v1/leverage."""
    symbol = ctx.engine.spec(call.params.symbol()).symbol
    leverage = call.params.integer("leverage")
    if leverage is None:
        raise errors.mandatory_missing("leverage")
    applied = ctx.engine.set_leverage(symbol, leverage)
    return {
        "leverage": applied,
        "maxNotionalValue": views.fmt(max_notional(applied)),
        "symbol": symbol,
    }


def set_margin_type(ctx: VenueContext, call: Call) -> Reply:
    """POST /fapi/v1/marginType (ccxt's set_margin_mode): ISOLATED or CROSSED."""
    symbol = ctx.engine.spec(call.params.symbol()).symbol
    margin_type = call.params.required("marginType").upper()
    if margin_type not in ("ISOLATED", "CROSSED"):
        raise errors.invalid_param("marginType")
    ctx.engine.set_margin_type(symbol, margin_type)
    return {"code": 200, "msg": "success"}


def symbol_config(ctx: VenueContext, call: Call) -> Reply:
    """GET /fapi/v1/symbolConfig (ccxt's fetch_margin_mode): margin type and leverage."""
    leverage = call.view(ctx).leverage
    return [
        {
            "symbol": s,
            "marginType": ctx.engine.margin_type(s),
            "isAutoAddMargin": "false",
            "leverage": leverage[s],
            "maxNotionalValue": views.fmt(max_notional(leverage[s])),
        }
        for s in _symbols(ctx, call.params)
    ]


def account_config(ctx: VenueContext, _call: Call) -> Reply:
    """GET /fapi/v1/accountConfig (ccxt's fetch_trading_fees): the regular fee tier 0, whose
    rates /fapi/v1/commissionRate gives, and the position mode."""
    return {
        "feeTier": 0,
        "canTrade": True,
        "canDeposit": True,
        "canWithdraw": True,
        "dualSidePosition": ctx.engine.hedge_mode,
        "updateTime": 0,
        "multiAssetsMargin": False,
        "tradeGroupId": -1,
    }


def get_position_mode(ctx: VenueContext, _call: Call) -> Reply:
    """GET /fapi/v1/positionSide/dual (ccxt's fetch_position_mode)."""
    return {"dualSidePosition": ctx.engine.hedge_mode}


def set_position_mode(ctx: VenueContext, call: Call) -> Reply:
    """POST /fapi/v1/positionSide/dual (ccxt's set_position_mode)."""
    if call.params.optional("dualSidePosition") is None:
        raise errors.mandatory_missing("dualSidePosition")
    ctx.engine.set_hedge_mode(call.params.boolean("dualSidePosition"))
    return {"code": 200, "msg": "success"}


def leverage_bracket(ctx: VenueContext, call: Call) -> Reply:
    """GET /fapi/v1/leverageBracket."""
    return views.leverage_bracket(_symbols(ctx, call.params))


def position_risk(ctx: VenueContext, call: Call) -> Reply:
    """GET /fapi/v3/positionRisk."""
    symbol = call.params.optional("symbol")
    if symbol is not None:
        symbol = ctx.engine.spec(symbol.upper()).symbol
    return views.position_risk(call.view(ctx), symbol)


def account(ctx: VenueContext, call: Call) -> Reply:
    """GET /fapi/v3/account (ccxt's fetch_balance)."""
    return views.account(call.view(ctx))


def user_trades(ctx: VenueContext, call: Call) -> Reply:
    """GET /fapi/v1/userTrades (ccxt's fetch_my_trades)."""
    params = call.params
    symbol = ctx.engine.spec(params.symbol()).symbol
    order_id = params.integer("orderId")
    start = params.integer("startTime")
    end = params.integer("endTime")
    from_id = params.integer("fromId")
    limit = min(params.integer("limit") or DEFAULT_TRADES, MAX_TRADES)
    fills = [
        f
        for f in ctx.engine.fills(symbol)
        if (order_id is None or f.order_id == order_id)
        and (start is None or f.time_ms >= start)
        and (end is None or f.time_ms <= end)
        and (from_id is None or f.trade_id >= from_id)
    ]
    # Binance returns the most recent trades unless asked to start somewhere.
    selected = fills[:limit] if start is not None or from_id is not None else fills[-limit:]
    return [views.user_trade(f) for f in selected]


# ------------------------------------------------------------------ orders


def _order_request(ctx: VenueContext, params: Params) -> OrderRequest:
    """A LIMIT or MARKET order as POST /fapi/v1/order (or one batch entry) describes it."""
    symbol = ctx.engine.spec(params.symbol()).symbol
    side = params.side()
    order_type = params.order_type()
    time_in_force = params.optional("timeInForce")
    if order_type is OrderType.LIMIT and time_in_force is None:
        raise errors.mandatory_missing("timeInForce")
    return OrderRequest(
        symbol=symbol,
        side=side,
        type=order_type,
        quantity=params.decimal("quantity"),
        price=params.decimal("price"),
        time_in_force=(time_in_force or "GTC").upper(),
        reduce_only=params.boolean("reduceOnly"),
        close_position=params.boolean("closePosition"),
        client_order_id=params.client_id("newClientOrderId"),
        position_side=params.position_side(),
    )


def _place(ctx: VenueContext, params: Params) -> Reply:
    """Place one order and answer it as its ``newOrderRespType`` asks (ACK by default)."""
    acknowledge_only = params.acknowledge_only()
    order = ctx.engine.place_order(_order_request(ctx, params))
    return views.order_reply(order, acknowledge_only)


def new_order(ctx: VenueContext, call: Call) -> Reply:
    """POST /fapi/v1/order: LIMIT and MARKET only; conditional types go to algoOrder."""
    return _place(ctx, call.params)


def _batch(params: Params) -> list[Params]:
    """The ``batchOrders`` JSON list as one Params per order (-4082 outside 1..5 orders)."""
    try:
        items = json.loads(params.required("batchOrders"))
    except ValueError:
        raise errors.invalid_param("batchOrders") from None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise errors.invalid_param("batchOrders")
    if not 0 < len(items) <= MAX_BATCH_CREATE:
        raise errors.invalid_batch_size()
    return [Params({k: _param_text(v) for k, v in item.items()}) for item in items]


def _param_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _batch_size(params: Params) -> int:
    try:
        return len(_batch(params))
    except errors.VenueError:
        return 0


def new_batch(ctx: VenueContext, call: Call) -> Reply:
    """POST /fapi/v1/batchOrders: up to five orders, each answered with the order or its error."""
    replies: list[Reply] = []
    for params in _batch(call.params):
        try:
            replies.append(_place(ctx, params))
        except errors.VenueError as error:
            replies.append(error.body())
    return replies


def modify_order(ctx: VenueContext, call: Call) -> Reply:
    """PUT /fapi/v1/order: amend an open LIMIT order's quantity and price."""
    params = call.params
    symbol = ctx.engine.spec(params.symbol()).symbol
    ref = params.order_ref("orderId", "origClientOrderId")
    side = params.side()
    quantity, price = params.decimal("quantity"), params.decimal("price")
    order = ctx.engine.modify_order(symbol, ref, side, quantity, price)
    return views.order(order)


def commission_rate(ctx: VenueContext, call: Call) -> Reply:
    """GET /fapi/v1/commissionRate (ccxt's fetch_trading_fee): Binance's regular-tier rates."""
    symbol = ctx.engine.spec(call.params.symbol()).symbol
    return {
        "symbol": symbol,
        "makerCommissionRate": views.fmt(ctx.settings.maker_commission_rate),
        "takerCommissionRate": views.fmt(ctx.settings.taker_commission_rate),
    }


def income(ctx: VenueContext, call: Call) -> Reply:
    """GET /fapi/v1/income (ccxt's fetch_funding_history, fetch_ledger): wallet movements.

    Without startTime and endTime only the last seven days are listed; ``page``
    and ``limit`` (default 100, at most 1000) page through the rest, oldest first.
    """
    params = call.params
    symbol = _optional_symbol(ctx, params)
    income_type = params.optional("incomeType")
    if income_type is not None and income_type not in INCOME_TYPES:
        raise errors.invalid_param("incomeType")
    start, end = params.integer("startTime"), params.integer("endTime")
    if start is None and end is None:
        start = call.server_ms - INCOME_WINDOW_MS
    limit = min(params.integer("limit") or DEFAULT_HISTORY, MAX_HISTORY)
    page = params.integer("page") or 1
    rows = [
        i
        for i in ctx.engine.income()
        if (symbol is None or i.symbol == symbol)
        and (income_type is None or i.income_type == income_type)
        and (start is None or i.time_ms >= start)
        and (end is None or i.time_ms <= end)
    ]
    return [views.income(i) for i in rows[(page - 1) * limit : page * limit]]


def funding_rate(ctx: VenueContext, call: Call) -> Reply:
    """GET /fapi/v1/fundingRate (ccxt's fetch_funding_rate_history), oldest first.

    Without startTime and endTime the latest ``limit`` settlements are sent;
    otherwise the first ``limit`` from startTime on.
    """
    params = call.params
    symbol = _optional_symbol(ctx, params)
    start, end = params.integer("startTime"), params.integer("endTime")
    limit = min(params.integer("limit") or DEFAULT_HISTORY, MAX_HISTORY)
    rows = [
        f
        for f in ctx.engine.funding_rates(symbol)
        if (start is None or f.time_ms >= start) and (end is None or f.time_ms <= end)
    ]
    selected = rows[-limit:] if start is None and end is None else rows[:limit]
    return [views.funding_rate(f) for f in selected]


def klines(ctx: VenueContext, call: Call) -> Reply:
    """GET /fapi/v1/klines (ccxt's fetch_ohlcv) built from the marks the venue has had."""
    params = call.params
    symbol = ctx.engine.spec(params.symbol()).symbol
    interval = params.required("interval")
    if interval not in KLINE_INTERVALS_MS:
        raise errors.invalid_interval()
    limit = params.integer("limit") or DEFAULT_KLINES
    if not 0 < limit <= MAX_KLINES:
        raise errors.invalid_param("limit")
    return views.klines(
        ctx.engine.ticks(symbol),
        ctx.engine.public_trades(symbol),
        KLINE_INTERVALS_MS[interval],
        (params.integer("startTime"), params.integer("endTime"), call.server_ms),
        limit,
    )


def open_interest_hist(ctx: VenueContext, call: Call) -> Reply:
    """GET /futures/data/openInterestHist (ccxt's fetch_open_interest_history)."""
    params = call.params
    symbol = ctx.engine.spec(params.symbol()).symbol
    period = params.required("period")
    if period not in OPEN_INTEREST_PERIODS:
        raise errors.invalid_param("period")
    limit = params.integer("limit") or DEFAULT_OPEN_INTEREST
    if not 0 < limit <= MAX_OPEN_INTEREST:
        raise errors.invalid_param("limit")
    return views.open_interest_hist(
        symbol,
        ctx.engine.ticks(symbol),
        ctx.engine.fills(symbol),
        KLINE_INTERVALS_MS[period],
        window=(params.integer("startTime"), params.integer("endTime"), call.server_ms),
        limit=limit,
    )


def public_trades(ctx: VenueContext, call: Call) -> Reply:
    """GET /fapi/v1/trades (ccxt's fetch_trades): the latest trades on the symbol's tape."""
    symbol = ctx.engine.spec(call.params.symbol()).symbol
    limit = min(call.params.integer("limit") or DEFAULT_TRADES, MAX_TRADES)
    return [views.public_trade(f) for f in ctx.engine.public_trades(symbol)[-limit:]]


def agg_trades(ctx: VenueContext, call: Call) -> Reply:
    """GET /fapi/v1/aggTrades (ccxt's fetch_trades): each execution as its own aggregate."""
    symbol = ctx.engine.spec(call.params.symbol()).symbol
    limit = min(call.params.integer("limit") or DEFAULT_TRADES, MAX_TRADES)
    return [views.agg_trade(f) for f in ctx.engine.public_trades(symbol)[-limit:]]


def _klines_weight(params: Params) -> int:
    limit = params.optional("limit")
    value = int(limit) if limit is not None and limit.isdigit() else DEFAULT_KLINES
    return 1 if value < 100 else 2 if value < 500 else 5 if value <= 1000 else 10


def get_order(ctx: VenueContext, call: Call) -> Reply:
    """GET /fapi/v1/order by orderId or origClientOrderId."""
    symbol = ctx.engine.spec(call.params.symbol()).symbol
    ref = call.params.order_ref("orderId", "origClientOrderId")
    order = ctx.engine.get_order(symbol, ref)
    if not call.sees(order.time_ms):
        # Lagging reads show the latest order under this id they already know, if any.
        known = [
            o
            for o in ctx.engine.orders_for(symbol)
            if call.sees(o.time_ms) and ref.client_order_id == o.client_order_id
        ]
        if not known or ref.order_id is not None:
            raise errors.order_does_not_exist()
        order = known[-1]
    return views.order(order)


def cancel_order(ctx: VenueContext, call: Call) -> Reply:
    """DELETE /fapi/v1/order by orderId or origClientOrderId."""
    symbol = ctx.engine.spec(call.params.symbol()).symbol
    ref = call.params.order_ref("orderId", "origClientOrderId")
    return views.order(ctx.engine.cancel_order(symbol, ref))


def cancel_batch(ctx: VenueContext, call: Call) -> Reply:
    """DELETE /fapi/v1/batchOrders: one reply per order, a cancelled order or its error."""
    symbol = ctx.engine.spec(call.params.symbol()).symbol
    replies: list[Reply] = []
    for ref in call.params.order_refs("orderIdList", "origClientOrderIdList", MAX_BATCH):
        try:
            replies.append(views.order(ctx.engine.cancel_order(symbol, ref)))
        except errors.VenueError as error:
            replies.append({"code": error.code, "msg": error.msg})
    return replies


def open_orders(ctx: VenueContext, call: Call) -> Reply:
    """GET /fapi/v1/openOrders (regular orders only, never algo orders)."""
    symbols = _symbols(ctx, call.params)
    return [views.order(o) for o in call.view(ctx).open_orders if o.symbol in symbols]


def all_orders(ctx: VenueContext, call: Call) -> Reply:
    """GET /fapi/v1/allOrders."""
    symbol = ctx.engine.spec(call.params.symbol()).symbol
    limit = min(call.params.integer("limit") or DEFAULT_TRADES, MAX_TRADES)
    visible = [o for o in ctx.engine.orders_for(symbol) if call.sees(o.time_ms)]
    return [views.order(o) for o in visible[-limit:]]


def cancel_all_orders(ctx: VenueContext, call: Call) -> Reply:
    """DELETE /fapi/v1/allOpenOrders."""
    ctx.engine.cancel_all_orders(ctx.engine.spec(call.params.symbol()).symbol)
    return views.cancel_all_done()


# -------------------------------------------------------------- algo orders


def new_algo_order(ctx: VenueContext, call: Call) -> Reply:
    """POST /fapi/v1/algoOrder: conditional (stop / take-profit) orders."""
    params = call.params
    symbol = ctx.engine.spec(params.symbol()).symbol
    if params.required("algoType").upper() != "CONDITIONAL":
        raise errors.invalid_param("algoType")
    side = params.side()
    order_type = params.order_type()
    trigger = params.decimal("triggerPrice")
    if trigger is None:
        raise errors.mandatory_missing("triggerPrice")
    request = OrderRequest(
        symbol=symbol,
        side=side,
        type=order_type,
        quantity=params.decimal("quantity"),
        price=params.decimal("price"),
        trigger_price=trigger,
        time_in_force=(params.optional("timeInForce") or "GTC").upper(),
        reduce_only=params.boolean("reduceOnly"),
        close_position=params.boolean("closePosition"),
        client_order_id=params.client_id("clientAlgoId"),
        working_type=(params.optional("workingType") or "CONTRACT_PRICE").upper(),
        position_side=params.position_side(),
    )
    return views.algo_order(ctx.engine.place_algo_order(request))


def _optional_symbol(ctx: VenueContext, params: Params) -> str | None:
    symbol = params.optional("symbol")
    return None if symbol is None else ctx.engine.spec(symbol.upper()).symbol


def get_algo_order(ctx: VenueContext, call: Call) -> Reply:
    """GET /fapi/v1/algoOrder by algoId or clientAlgoId."""
    symbol = _optional_symbol(ctx, call.params)
    ref = call.params.order_ref("algoId", "clientAlgoId")
    algo = ctx.engine.get_algo_order(symbol, ref)
    if not call.sees(algo.create_time_ms):
        raise errors.order_does_not_exist()
    return views.algo_order(algo)


def cancel_algo_order(ctx: VenueContext, call: Call) -> Reply:
    """DELETE /fapi/v1/algoOrder by algoId or clientAlgoId."""
    symbol = _optional_symbol(ctx, call.params)
    ref = call.params.order_ref("algoId", "clientAlgoId")
    return views.algo_cancelled(ctx.engine.cancel_algo_order(symbol, ref))


def open_algo_orders(ctx: VenueContext, call: Call) -> Reply:
    """GET /fapi/v1/openAlgoOrders (ccxt's fetch_open_orders with trigger=True)."""
    symbols = _symbols(ctx, call.params)
    return [views.algo_order(a) for a in call.view(ctx).open_algo_orders if a.symbol in symbols]


def all_algo_orders(ctx: VenueContext, call: Call) -> Reply:
    """GET /fapi/v1/allAlgoOrders."""
    symbol = ctx.engine.spec(call.params.symbol()).symbol
    limit = min(call.params.integer("limit") or DEFAULT_TRADES, MAX_TRADES)
    visible = [a for a in ctx.engine.algo_orders_for(symbol) if call.sees(a.create_time_ms)]
    return [views.algo_order(a) for a in visible[-limit:]]


def cancel_all_algo_orders(ctx: VenueContext, call: Call) -> Reply:
    """DELETE /fapi/v1/algoOpenOrders (ccxt's cancel_all_orders with trigger=True)."""
    ctx.engine.cancel_all_algo_orders(ctx.engine.spec(call.params.symbol()).symbol)
    return views.cancel_all_done()


# ------------------------------------------------------------ user data stream


def start_user_stream(ctx: VenueContext, _call: Call) -> Reply:
    """POST /fapi/v1/listenKey: the account's active listenKey (extended) or a new one."""
    return ctx.user_data.create()


def keepalive_user_stream(ctx: VenueContext, _call: Call) -> Reply:
    """PUT /fapi/v1/listenKey: extend the active key; -1125 once it lapsed."""
    return ctx.user_data.keepalive()


def close_user_stream(ctx: VenueContext, _call: Call) -> Reply:
    """DELETE /fapi/v1/listenKey: close the stream; its sockets hear listenKeyExpired."""
    return ctx.user_data.close()


ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/fapi/v1/exchangeInfo"): Route(exchange_info, _flat(1), signed=False),
    ("GET", "/fapi/v1/time"): Route(server_time, _flat(1), signed=False),
    ("GET", "/fapi/v1/ticker/24hr"): Route(ticker_24hr, _by_symbol(1, 40), signed=False),
    ("GET", "/fapi/v1/ticker/price"): Route(ticker_price, _by_symbol(1, 2), signed=False),
    ("GET", "/fapi/v2/ticker/price"): Route(ticker_price, _by_symbol(1, 2), signed=False),
    ("GET", "/fapi/v1/premiumIndex"): Route(premium_index, _by_symbol(1, 10), signed=False),
    ("GET", "/fapi/v1/depth"): Route(depth, _depth_weight, signed=False),
    ("POST", "/fapi/v1/leverage"): Route(set_leverage, _flat(1), signed=True),
    ("GET", "/fapi/v1/leverageBracket"): Route(leverage_bracket, _flat(1), signed=True),
    ("POST", "/fapi/v1/marginType"): Route(set_margin_type, _flat(1), signed=True),
    ("GET", "/fapi/v1/symbolConfig"): Route(symbol_config, _flat(5), signed=True),
    ("GET", "/fapi/v1/accountConfig"): Route(account_config, _flat(5), signed=True),
    ("GET", "/fapi/v1/positionSide/dual"): Route(get_position_mode, _flat(30), signed=True),
    ("POST", "/fapi/v1/positionSide/dual"): Route(set_position_mode, _flat(1), signed=True),
    ("GET", "/fapi/v3/positionRisk"): Route(position_risk, _flat(5), signed=True),
    ("GET", "/fapi/v3/account"): Route(account, _flat(5), signed=True),
    ("GET", "/fapi/v1/userTrades"): Route(user_trades, _flat(5), signed=True),
    ("POST", "/fapi/v1/order"): Route(new_order, _flat(1), signed=True, orders=_flat(1)),
    ("PUT", "/fapi/v1/order"): Route(modify_order, _flat(1), signed=True, orders=_flat(1)),
    ("POST", "/fapi/v1/batchOrders"): Route(new_batch, _flat(5), signed=True, orders=_batch_size),
    ("GET", "/fapi/v1/commissionRate"): Route(commission_rate, _flat(20), signed=True),
    ("GET", "/fapi/v1/income"): Route(income, _flat(30), signed=True),
    ("GET", "/fapi/v1/fundingRate"): Route(funding_rate, _flat(1), signed=False),
    ("GET", "/fapi/v1/klines"): Route(klines, _klines_weight, signed=False),
    ("GET", "/fapi/v1/trades"): Route(public_trades, _flat(5), signed=False),
    ("GET", "/futures/data/openInterestHist"): Route(open_interest_hist, _flat(0), signed=False),
    ("GET", "/fapi/v1/aggTrades"): Route(agg_trades, _flat(20), signed=False),
    ("GET", "/fapi/v1/order"): Route(get_order, _flat(1), signed=True),
    ("DELETE", "/fapi/v1/order"): Route(cancel_order, _flat(1), signed=True),
    ("DELETE", "/fapi/v1/batchOrders"): Route(cancel_batch, _flat(1), signed=True),
    ("GET", "/fapi/v1/openOrders"): Route(open_orders, _by_symbol(1, 40), signed=True),
    ("GET", "/fapi/v1/allOrders"): Route(all_orders, _flat(5), signed=True),
    ("DELETE", "/fapi/v1/allOpenOrders"): Route(cancel_all_orders, _flat(1), signed=True),
    ("POST", "/fapi/v1/algoOrder"): Route(new_algo_order, _flat(1), signed=True, orders=_flat(1)),
    ("GET", "/fapi/v1/algoOrder"): Route(get_algo_order, _flat(1), signed=True),
    ("DELETE", "/fapi/v1/algoOrder"): Route(cancel_algo_order, _flat(1), signed=True),
    ("GET", "/fapi/v1/openAlgoOrders"): Route(open_algo_orders, _by_symbol(1, 40), signed=True),
    ("GET", "/fapi/v1/allAlgoOrders"): Route(all_algo_orders, _flat(5), signed=True),
    ("DELETE", "/fapi/v1/algoOpenOrders"): Route(cancel_all_algo_orders, _flat(1), signed=True),
    ("POST", "/fapi/v1/listenKey"): Route(start_user_stream, _flat(1), signed=False, keyed=True),
    ("PUT", "/fapi/v1/listenKey"): Route(keepalive_user_stream, _flat(1), signed=False, keyed=True),
    ("DELETE", "/fapi/v1/listenKey"): Route(close_user_stream, _flat(1), signed=False, keyed=True),
}
