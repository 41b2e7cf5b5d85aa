"""Matching and account state of the simulated venue: pure logic, clock injected, no I/O."""

from __future__ import annotations

import dataclasses
import heapq
import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from tradewarden.bot.venue_sim import errors
from tradewarden.bot.venue_sim.history import SnapshotHistory
from tradewarden.bot.venue_sim.markets import SymbolSpec, significant_decimals
from tradewarden.bot.venue_sim.models import (
    ZERO,
    AlgoOrder,
    AlgoStatus,
    BookLevel,
    Fill,
    FundingRate,
    Income,
    IncomeType,
    Order,
    OrderStatus,
    OrderType,
    Position,
    Side,
    Snapshot,
    TickerStats,
)
from tradewarden.bot.venue_sim.settings import SimSettings

# Binance's order ids are large integers; starting high keeps them distinct from algo ids.
FIRST_ORDER_ID = 4_000_000_001
FIRST_ALGO_ID = 1_000_001
FIRST_TRAN_ID = 9_689_322_392
MAX_LEVERAGE = 125
# Entry prices are averages, so they get more decimals than the tick, like Binance's.
ENTRY_PRICE_QUANTUM = Decimal("1E-8")
# Commission and funding are booked to the wallet in Binance's eight decimals.
MONEY_QUANTUM = Decimal("1E-8")
# The book the other participants keep: one level per tick either side of the mark,
# each holding BOOK_LEVEL_NOTIONAL USDT times 1 to 4 (varying by level, reproducibly).
BOOK_LEVEL_NOTIONAL = Decimal(2000)
TIME_IN_FORCE = ("GTC", "IOC", "FOK", "GTX")


@dataclass(frozen=True)
class OrderRequest:
    """A validated new-order request (regular or conditional) in the venue's own units."""

    symbol: str
    side: Side
    type: OrderType
    quantity: Decimal | None
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    time_in_force: str = "GTC"
    reduce_only: bool = False
    close_position: bool = False
    client_order_id: str | None = None
    working_type: str = "CONTRACT_PRICE"
    position_side: str = "BOTH"


@dataclass(frozen=True)
class OrderRef:
    """Which order a query or cancel means: by venue id or by client id."""

    order_id: int | None = None
    client_order_id: str | None = None


class Engine:
    """One USDT-margined account on a one-way-mode USD-M venue.

    Every mutation records a snapshot so stale reads can be served, and every mark
    change runs the matching: algo triggers first (protection comes before new
    exposure), then resting limit orders in time priority.
    """

    def __init__(self, settings: SimSettings, clock: Callable[[], float]) -> None:
        self._settings = settings
        self._clock = clock
        # Called after every mutation (the user-data stream reads what changed).
        self.listeners: list[Callable[[], None]] = []
        self.specs: dict[str, SymbolSpec] = {
            symbol: SymbolSpec.for_symbol(symbol, price)
            for symbol, price in settings.symbols.items()
        }
        now = self.now_ms()
        self._marks = {s: spec.round_price(settings.symbols[s]) for s, spec in self.specs.items()}
        self._stats = {
            s: TickerStats(open_price=m, high=m, low=m, open_time_ms=now)
            for s, m in self._marks.items()
        }
        # Every mark, with its time, for klines.
        self._ticks: dict[str, list[tuple[int, Decimal]]] = {
            s: [(now, m)] for s, m in self._marks.items()
        }
        self._leverage = dict.fromkeys(self.specs, settings.default_leverage)
        self._isolated: set[str] = set()  # every other symbol is cross margin, as on Binance
        self._positions = {s: Position(symbol=s, update_time_ms=now) for s in self.specs}
        self.hedge_mode = settings.hedge_mode
        self._wallet = settings.initial_balance
        self._balance_update_ms = now
        self._orders: dict[int, Order] = {}
        # Indexes over _orders so a long run does not slow every request down:
        # open orders by id, and the latest order of each (symbol, client order id).
        self._open_orders: dict[int, Order] = {}
        self._by_client_id: dict[tuple[str, str], Order] = {}
        self._algos: dict[int, AlgoOrder] = {}
        self._fills: list[Fill] = []
        # The other participants' trades (the random walk's prints), public only.
        self._prints: list[Fill] = []
        self._next_trade_id = 1
        self._income: list[Income] = []
        # What takers have consumed of each side of the book since the mark last moved.
        self._taken: dict[tuple[str, Side], Decimal] = {}
        self._funding: list[FundingRate] = []
        self._funding_interval_ms = int(settings.funding_interval_s * 1000)
        self._next_funding_ms = (now // self._funding_interval_ms + 1) * self._funding_interval_ms
        self._next_order_id = FIRST_ORDER_ID
        self._next_algo_id = FIRST_ALGO_ID
        self._next_tran_id = FIRST_TRAN_ID
        self._history = SnapshotHistory(self.snapshot())

    # ----------------------------------------------------------------- reads

    def now_ms(self) -> int:
        """The venue clock in epoch milliseconds."""
        return int(self._clock() * 1000)

    def spec(self, symbol: str) -> SymbolSpec:
        """The symbol's spec, or -1121 for a symbol the venue does not list."""
        try:
            return self.specs[symbol]
        except KeyError:
            raise errors.invalid_symbol() from None

    def mark(self, symbol: str) -> Decimal:
        """Current mark price."""
        return self._marks[self.spec(symbol).symbol]

    def marks(self) -> dict[str, Decimal]:
        """All current mark prices."""
        return dict(self._marks)

    def ticker_stats(self, symbol: str) -> TickerStats:
        """24hr ticker figures of the symbol."""
        return dataclasses.replace(self._stats[self.spec(symbol).symbol])

    def ticks(self, symbol: str) -> list[tuple[int, Decimal]]:
        """Every mark of the symbol as ``(time ms, price)``, oldest first."""
        return list(self._ticks[self.spec(symbol).symbol])

    def orders(self) -> list[Order]:
        """Every regular order ever accepted, oldest first."""
        return list(self._orders.values())

    def algo_orders(self) -> list[AlgoOrder]:
        """Every algo order ever accepted, oldest first."""
        return list(self._algos.values())

    def fills(self, symbol: str | None = None) -> list[Fill]:
        """Executions, oldest first, optionally for one symbol."""
        return [f for f in self._fills if symbol is None or f.symbol == symbol]

    def public_trades(self, symbol: str) -> list[Fill]:
        """The symbol's market tape, oldest first: the account's fills and the other
        participants' trades (:meth:`market_trade`), numbered by one trade id sequence."""
        return list(
            heapq.merge(
                self.fills(symbol),
                [p for p in self._prints if p.symbol == symbol],
                key=lambda f: f.trade_id,
            )
        )

    def book(self, symbol: str, levels: int) -> tuple[list[BookLevel], list[BookLevel]]:
        """The first ``levels`` bids and asks, best first, less what takers have consumed."""
        spec = self.spec(symbol)
        return (
            self._levels(spec, Side.SELL, levels),  # bids: what a sell takes
            self._levels(spec, Side.BUY, levels),  # asks: what a buy takes
        )

    def book_key(self, symbol: str) -> tuple[Decimal, Decimal, Decimal]:
        """What :meth:`book` is a function of: the mark and what takers consumed on each side.

        Equal keys mean equal books, so a reader can skip rebuilding an unchanged book.
        """
        spec = self.spec(symbol)
        return (
            self._marks[spec.symbol],
            self._taken.get((spec.symbol, Side.BUY), ZERO),
            self._taken.get((spec.symbol, Side.SELL), ZERO),
        )

    def income(self) -> list[Income]:
        """Every wallet movement (realized PnL, commission, funding), oldest first."""
        return list(self._income)

    def funding_rates(self, symbol: str | None = None) -> list[FundingRate]:
        """Funding settlements, oldest first, optionally for one symbol."""
        return [f for f in self._funding if symbol is None or f.symbol == symbol]

    @property
    def next_funding_ms(self) -> int:
        """When the next funding is settled (venue clock, epoch ms)."""
        return self._next_funding_ms

    def orders_for(self, symbol: str) -> list[Order]:
        """All regular orders of one symbol, oldest first."""
        self.spec(symbol)
        return [o for o in self._orders.values() if o.symbol == symbol]

    def algo_orders_for(self, symbol: str) -> list[AlgoOrder]:
        """All algo orders of one symbol, oldest first."""
        self.spec(symbol)
        return [a for a in self._algos.values() if a.symbol == symbol]

    def get_order(self, symbol: str, ref: OrderRef) -> Order:
        """Look an order up; -2013 when the venue does not know it."""
        order = self._find_order(symbol, ref)
        if order is None:
            raise errors.order_does_not_exist()
        return order

    def get_algo_order(self, symbol: str | None, ref: OrderRef) -> AlgoOrder:
        """Look an algo order up; -2013 when the venue does not know it."""
        algo = self._find_algo(symbol, ref)
        if algo is None:
            raise errors.order_does_not_exist()
        return algo

    def snapshot(self) -> Snapshot:
        """A copy of the account as it is now."""
        return Snapshot(
            time_ms=self.now_ms(),
            wallet_balance=self._wallet,
            balance_update_ms=self._balance_update_ms,
            marks=dict(self._marks),
            leverage=dict(self._leverage),
            positions=tuple(dataclasses.replace(p) for p in self._positions.values() if p.amount),
            open_orders=tuple(dataclasses.replace(o) for o in self._open_orders.values()),
            open_algo_orders=tuple(
                dataclasses.replace(a) for a in self._algos.values() if a.is_open
            ),
            isolated=frozenset(self._isolated),
        )

    def margin_type(self, symbol: str) -> str:
        """The symbol's margin type as Binance names it: CROSSED (the default) or ISOLATED."""
        return "ISOLATED" if self.spec(symbol).symbol in self._isolated else "CROSSED"

    def snapshot_as_of(self, time_ms: int) -> Snapshot:
        """The account as it was at ``time_ms`` (for stale-snapshot faults)."""
        return self._history.as_of(time_ms)

    # ------------------------------------------------------------- mutations

    def settle_funding(self) -> None:
        """Settle every funding time the venue clock has passed since the last settlement.

        Each position pays ``amount * mark * rate`` at the mark of settlement
        (a long pays when the rate is positive, a short receives), booked as a
        FUNDING_FEE income; every symbol gets a funding-rate history row. A
        settlement the venue slept through is settled at the mark it has now.
        """
        now = self.now_ms()
        if now < self._next_funding_ms:
            return
        rate = self._settings.funding_rate
        while self._next_funding_ms <= now:
            at = self._next_funding_ms
            for symbol, mark in self._marks.items():
                self._funding.append(FundingRate(symbol, rate, at, mark))
                amount = self._positions[symbol].amount
                if amount:
                    fee = -(amount * mark * rate).quantize(MONEY_QUANTUM)
                    self._book(symbol, IncomeType.FUNDING_FEE, fee, at)
            self._next_funding_ms += self._funding_interval_ms
        self._record()

    def set_hedge_mode(self, enabled: bool) -> None:
        """Switch the account's position mode, which Binance allows only when it is flat."""
        if enabled == self.hedge_mode:
            raise errors.position_side_unchanged()
        if self._open_orders or any(a.is_open for a in self._algos.values()):
            raise errors.position_side_locked_by_orders()
        if any(p.amount for p in self._positions.values()):
            raise errors.position_side_locked_by_position()
        self.hedge_mode = enabled

    def _check_position_side(self, request: OrderRequest) -> None:
        """One-way orders (BOTH) only in one-way mode: anything else is -4061.

        Hedge-mode (LONG/SHORT) positions are not simulated, so a hedge-mode
        account refuses every order, as Binance refuses a one-way order there.
        """
        if self.hedge_mode or request.position_side != "BOTH":
            raise errors.position_side_mismatch()

    def set_margin_type(self, symbol: str, margin_type: str) -> None:
        """Switch a symbol between CROSSED and ISOLATED, which Binance allows only when idle.

        -4046 when it already is that type, -4047 with open orders (stops included),
        -4048 with a position.
        """
        spec = self.spec(symbol)
        if margin_type == self.margin_type(spec.symbol):
            raise errors.margin_type_unchanged()
        open_orders = any(o.symbol == spec.symbol for o in self._open_orders.values())
        if open_orders or any(a.is_open for a in self.algo_orders_for(spec.symbol)):
            raise errors.margin_type_locked_by_orders()
        if self._positions[spec.symbol].amount:
            raise errors.margin_type_locked_by_position()
        if margin_type == "ISOLATED":
            self._isolated.add(spec.symbol)
        else:
            self._isolated.discard(spec.symbol)
        self._record()

    def set_leverage(self, symbol: str, leverage: int) -> int:
        """Change the symbol's leverage (margin is recomputed from it on every read)."""
        spec = self.spec(symbol)
        if not 1 <= leverage <= MAX_LEVERAGE:
            raise errors.invalid_leverage(leverage)
        self._leverage[spec.symbol] = leverage
        self._record()
        return leverage

    def market_trade(self, symbol: str, taker: Side, qty: Decimal) -> Fill:
        """Another participant takes ``qty`` at the mark on ``taker``'s side: a trade on the
        public tape and in the 24hr figures, none of the account's."""
        spec = self.spec(symbol)
        trade = Fill(
            trade_id=self._take_trade_id(),
            order_id=0,
            client_order_id="",
            symbol=spec.symbol,
            side=taker,
            qty=qty,
            price=self._marks[spec.symbol],
            realized_pnl=ZERO,
            maker=False,
            time_ms=self.now_ms(),
        )
        self._prints.append(trade)
        self._count_trade(trade)
        return trade

    def set_mark(self, symbol: str, price: Decimal) -> Decimal:
        """Move the mark price and run the matching; returns the mark snapped to the tick."""
        spec = self.spec(symbol)
        self.settle_funding()
        mark = spec.round_price(price)
        if mark <= 0:
            raise errors.filter_failure("PRICE_FILTER")
        self._marks[spec.symbol] = mark
        # The book refills around the new mark.
        self._taken.pop((spec.symbol, Side.BUY), None)
        self._taken.pop((spec.symbol, Side.SELL), None)
        self._ticks[spec.symbol].append((self.now_ms(), mark))
        stats = self._stats[spec.symbol]
        stats.high = max(stats.high, mark)
        stats.low = min(stats.low, mark)
        self._trigger_algo_orders(spec.symbol)
        self._match_resting_orders(spec.symbol)
        self._record()
        return mark

    def place_order(self, request: OrderRequest) -> Order:
        """Accept a LIMIT or MARKET order, filling what crosses right away."""
        if request.type.is_conditional:
            raise errors.invalid_order_type()
        spec = self.spec(request.symbol)
        self._check_position_side(request)
        client_id = request.client_order_id or f"sim_{self._next_order_id}"
        # Binance wants the id unique among *open* orders only: once the first
        # order is done, the same id places a new order.
        previous = self._by_client_id.get((spec.symbol, client_id))
        if previous is not None and previous.is_open:
            raise errors.duplicate_client_order_id()
        open_orders = sum(1 for o in self._open_orders.values() if o.symbol == spec.symbol)
        if open_orders >= spec.max_num_orders:
            raise errors.max_open_orders()
        order = self._new_order(spec, request, client_id)
        self._submit(order)
        self._record()
        return order

    def modify_order(
        self,
        symbol: str,
        ref: OrderRef,
        side: Side,
        quantity: Decimal | None,
        price: Decimal | None,
    ) -> Order:
        """Amend an open LIMIT order's quantity and price in place, as Binance's PUT order does.

        The new values pass the same filters as a new order (a refused amendment
        leaves the order as it was). A quantity at or below what has filled
        cancels the order; an amended post-only order that would take is
        cancelled; an amended order that now crosses takes the book.
        """
        spec = self.spec(symbol)
        order = self._find_order(symbol, ref)
        if order is None or not order.is_open:
            raise errors.order_does_not_exist()
        if order.type is not OrderType.LIMIT:
            raise errors.invalid_order_type()
        if side is not order.side:
            raise errors.invalid_param("side")
        qty = self._checked_qty(spec, quantity)
        new_price = self._checked_price(spec, price)
        self._check_percent_price(spec, new_price)
        if (qty, new_price) == (order.orig_qty, order.price):
            raise errors.no_need_to_modify()
        order.orig_qty, order.price = qty, new_price
        order.update_time_ms = self.now_ms()
        takes = self._takes(order)
        if qty <= order.executed_qty or (takes and order.time_in_force == "GTX"):
            self._close(order, OrderStatus.CANCELED)
        elif takes:
            self._take(order, order.remaining, order.price)
        self._record()
        return order

    def cancel_order(self, symbol: str, ref: OrderRef) -> Order:
        """Cancel an open order; -2011 when it is unknown or already done, as on Binance."""
        order = self._find_order(symbol, ref)
        if order is None or not order.is_open:
            raise errors.unknown_order()
        self._close(order, OrderStatus.CANCELED)
        self._record()
        return order

    def cancel_all_orders(self, symbol: str) -> list[Order]:
        """Cancel every open regular order of the symbol."""
        cancelled = [o for o in self._open_orders.values() if o.symbol == symbol]
        for order in cancelled:
            self._close(order, OrderStatus.CANCELED)
        self._record()
        return cancelled

    def place_algo_order(self, request: OrderRequest) -> AlgoOrder:
        """Accept a conditional order; it waits in the algo service for its trigger."""
        if not request.type.is_conditional:
            raise errors.invalid_order_type()
        spec = self.spec(request.symbol)
        self._check_position_side(request)
        client_id = request.client_order_id or f"sim_algo_{self._next_algo_id}"
        open_algos = [a for a in self.algo_orders_for(spec.symbol) if a.is_open]
        if any(a.client_algo_id == client_id for a in open_algos):
            raise errors.duplicate_client_order_id()
        if len(open_algos) >= spec.max_num_algo_orders:
            raise errors.max_algo_orders()
        trigger = self._checked_price(spec, request.trigger_price, "triggerPrice")
        if request.close_position and request.reduce_only:
            raise errors.param_not_required("reduceOnly")
        if request.close_position and request.quantity is not None:
            raise errors.param_not_required("quantity")
        quantity = ZERO if request.close_position else self._checked_qty(spec, request.quantity)
        price = ZERO
        if request.type.after_trigger is OrderType.LIMIT:
            price = self._checked_price(spec, request.price)
            self._check_percent_price(spec, price)
        if not (request.reduce_only or request.close_position):
            self._check_min_notional(spec, quantity * (price or trigger))
        now = self.now_ms()
        algo = AlgoOrder(
            algo_id=self._next_algo_id,
            client_algo_id=client_id,
            symbol=spec.symbol,
            side=request.side,
            order_type=request.type,
            trigger_price=trigger,
            price=price,
            quantity=quantity,
            reduce_only=request.reduce_only,
            close_position=request.close_position,
            working_type=request.working_type,
            time_in_force=request.time_in_force,
            create_time_ms=now,
            update_time_ms=now,
        )
        if algo.is_triggered_by(self._marks[spec.symbol]):
            raise errors.would_immediately_trigger()
        self._next_algo_id += 1
        self._algos[algo.algo_id] = algo
        self._record()
        return algo

    def cancel_algo_order(self, symbol: str | None, ref: OrderRef) -> AlgoOrder:
        """Cancel a waiting algo order; -2011 when it is unknown or no longer waiting."""
        algo = self._find_algo(symbol, ref)
        if algo is None or not algo.is_open:
            raise errors.unknown_order()
        algo.status = AlgoStatus.CANCELED
        algo.update_time_ms = self.now_ms()
        self._record()
        return algo

    def cancel_all_algo_orders(self, symbol: str) -> list[AlgoOrder]:
        """Cancel every waiting algo order of the symbol."""
        cancelled = [a for a in self.algo_orders_for(symbol) if a.is_open]
        now = self.now_ms()
        for algo in cancelled:
            algo.status = AlgoStatus.CANCELED
            algo.update_time_ms = now
        self._record()
        return cancelled

    # -------------------------------------------------------------- internals

    def _record(self) -> None:
        self._history.record(self.snapshot())
        for listener in self.listeners:
            listener()

    def _book(
        self,
        symbol: str,
        income_type: IncomeType,
        amount: Decimal,
        time_ms: int,
        trade_id: int | None = None,
    ) -> None:
        """Move the wallet by ``amount`` and list it as income."""
        self._wallet += amount
        self._balance_update_ms = time_ms
        self._income.append(
            Income(self._next_tran_id, symbol, income_type, amount, time_ms, trade_id)
        )
        self._next_tran_id += 1

    def _find_order(self, symbol: str, ref: OrderRef) -> Order | None:
        self.spec(symbol)
        if ref.order_id is not None:
            order = self._orders.get(ref.order_id)
            return order if order is not None and order.symbol == symbol else None
        return self._by_client_id.get((symbol, ref.client_order_id or ""))

    def _find_algo(self, symbol: str | None, ref: OrderRef) -> AlgoOrder | None:
        candidates: Iterable[AlgoOrder] = (
            self._algos.values() if symbol is None else self.algo_orders_for(symbol)
        )
        if ref.order_id is not None:
            return next((a for a in candidates if a.algo_id == ref.order_id), None)
        # A reused client id names its latest order.
        matches = [a for a in candidates if a.client_algo_id == ref.client_order_id]
        return matches[-1] if matches else None

    @staticmethod
    def _checked_qty(
        spec: SymbolSpec, quantity: Decimal | None, *, market: bool = False
    ) -> Decimal:
        """LOT_SIZE (MARKET_LOT_SIZE for market orders) as Binance checks it: never rounded."""
        if quantity is None:
            raise errors.mandatory_missing("quantity")
        if significant_decimals(quantity) > spec.quantity_precision:
            raise errors.precision_over_max()
        if quantity <= 0:
            raise errors.quantity_not_positive()
        if quantity % spec.step_size:
            raise errors.qty_not_on_step()
        if quantity > (spec.market_max_qty if market else spec.max_qty):
            raise errors.quantity_over_max()
        return quantity

    @staticmethod
    def _checked_price(spec: SymbolSpec, price: Decimal | None, name: str = "price") -> Decimal:
        """PRICE_FILTER as Binance checks it: reject, never round."""
        if price is None:
            raise errors.mandatory_missing(name)
        if significant_decimals(price) > spec.price_precision:
            raise errors.precision_over_max()
        if price % spec.tick_size:
            raise errors.price_not_on_tick()
        if price < spec.lowest_price:
            raise errors.price_under_min()
        if price > spec.max_price:
            raise errors.price_over_max()
        return price

    def _check_percent_price(self, spec: SymbolSpec, price: Decimal) -> None:
        """PERCENT_PRICE: a limit price within multiplierDown..multiplierUp of the mark."""
        mark = self._marks[spec.symbol]
        tick = spec.tick_size
        cap = (mark * spec.multiplier_up / tick).to_integral_value(ROUND_FLOOR) * tick
        floor = (mark * spec.multiplier_down / tick).to_integral_value(ROUND_CEILING) * tick
        if price > cap:
            raise errors.price_above_band(format(cap, "f"))
        if price < floor:
            raise errors.price_below_band(format(floor, "f"))

    @staticmethod
    def _check_min_notional(spec: SymbolSpec, notional: Decimal) -> None:
        if notional < spec.min_notional:
            raise errors.min_notional(format(spec.min_notional.normalize(), "f"))

    def _market_price(self, symbol: str, side: Side) -> Decimal:
        """The best price a taker on ``side`` meets: one tick off the (slipped) mark."""
        spec = self.specs[symbol]
        slip = Decimal(str(self._settings.slippage_bps)) / Decimal(10_000)
        return spec.round_price(self._marks[symbol] * (1 + side.sign * slip)) + (
            side.sign * spec.tick_size
        )

    def _level_qty(self, spec: SymbolSpec, level: int) -> Decimal:
        """What level ``level`` (1 = best) holds, sized at the mark so it is a round quantity."""
        notional = BOOK_LEVEL_NOTIONAL * (4 + (level * 7) % 13) / 4
        return max(spec.round_qty(notional / self._marks[spec.symbol]), spec.step_size)

    def _walk(self, spec: SymbolSpec, side: Side) -> Iterator[BookLevel]:
        """The levels a taker on ``side`` meets, best first, less what was already consumed."""
        top = self._market_price(spec.symbol, side)
        skip = self._taken.get((spec.symbol, side), ZERO)
        level = 0
        while True:
            price = top + side.sign * spec.tick_size * level
            level += 1
            if price <= 0:
                return
            qty = self._level_qty(spec, level)
            consumed = min(skip, qty)
            skip -= consumed
            if qty > consumed:
                yield BookLevel(price, qty - consumed)

    def _levels(self, spec: SymbolSpec, side: Side, count: int) -> list[BookLevel]:
        return list(itertools.islice(self._walk(spec, side), count))

    def _fills_for(
        self, spec: SymbolSpec, side: Side, qty: Decimal, limit: Decimal | None
    ) -> list[BookLevel]:
        """The executions taking ``qty`` on ``side`` would make, down the book to ``limit``."""
        fills: list[BookLevel] = []
        for level in self._walk(spec, side):
            if qty <= 0 or (limit is not None and (level.price - limit) * side.sign > 0):
                break
            take = min(qty, level.qty)
            fills.append(BookLevel(level.price, take))
            qty -= take
        return fills

    def _take(self, order: Order, qty: Decimal, limit: Decimal | None) -> None:
        """Fill up to ``qty`` of the order as a taker, level by level, one trade per level."""
        spec = self.specs[order.symbol]
        for level in self._fills_for(spec, order.side, qty, limit):
            key = (order.symbol, order.side)
            self._taken[key] = self._taken.get(key, ZERO) + level.qty
            self._fill(order, level.qty, level.price, False)
            if not order.is_open:
                return

    def _takes(self, order: Order) -> bool:
        """Whether a limit order's price reaches the best level left on the other side."""
        best = next(self._walk(self.specs[order.symbol], order.side), None)
        return best is not None and (best.price - order.price) * order.side.sign <= 0

    def _opening_qty(self, symbol: str, side: Side, qty: Decimal) -> Decimal:
        """The part of an order that opens or adds exposure rather than closing it."""
        amount = self._positions[symbol].amount
        if amount * side.sign >= 0:
            return qty
        return max(qty - abs(amount), ZERO)

    def _reducible_qty(self, symbol: str, side: Side) -> Decimal:
        """How much a reduce-only order on ``side`` may trade: the opposite position."""
        amount = self._positions[symbol].amount
        return abs(amount) if amount * side.sign < 0 else ZERO

    def _new_order(self, spec: SymbolSpec, request: OrderRequest, client_id: str) -> Order:
        """Validate a regular order against filters, reduce-only and margin rules."""
        if request.time_in_force not in TIME_IN_FORCE:
            raise errors.invalid_time_in_force()
        is_limit = request.type is OrderType.LIMIT
        qty = self._checked_qty(spec, request.quantity, market=not is_limit)
        price = self._checked_price(spec, request.price) if is_limit else ZERO
        if is_limit:
            self._check_percent_price(spec, price)
        reference = price if is_limit else self._market_price(spec.symbol, request.side)
        if request.reduce_only:
            if qty > self._reducible_qty(spec.symbol, request.side):
                raise errors.reduce_only_rejected()
        else:
            self._check_min_notional(spec, qty * reference)
            leverage = self._leverage[spec.symbol]
            opening = self._opening_qty(spec.symbol, request.side, qty)
            # The closing part of the order frees its share of the position's margin first.
            freed = (qty - opening) * self._marks[spec.symbol] / leverage
            available = self.snapshot().totals().available_balance + freed
            if opening * reference / leverage > available:
                raise errors.margin_insufficient()
        now = self.now_ms()
        order = Order(
            order_id=self._next_order_id,
            client_order_id=client_id,
            symbol=spec.symbol,
            side=request.side,
            type=request.type,
            time_in_force=request.time_in_force if is_limit else "GTC",
            price=price,
            orig_qty=qty,
            reduce_only=request.reduce_only,
            close_position=request.close_position,
            time_ms=now,
            update_time_ms=now,
        )
        self._next_order_id += 1
        self._orders[order.order_id] = order
        self._open_orders[order.order_id] = order
        self._by_client_id[(order.symbol, order.client_order_id)] = order
        return order

    def _crosses(self, order: Order) -> bool:
        mark = self._marks[order.symbol]
        return mark <= order.price if order.side is Side.BUY else mark >= order.price

    def _submit(self, order: Order) -> None:
        """Run a freshly accepted order against the book.

        A market order walks the book until it is filled (slippage grows with
        size); a limit order that reaches the other side takes the levels up to
        its price and rests with the rest (GTC), or drops it (IOC); FOK fills
        in full or not at all; post-only (GTX) expires rather than take.
        """
        spec = self.specs[order.symbol]
        if order.type is OrderType.MARKET:
            self._take(order, order.orig_qty, None)
            return
        if self._takes(order) and order.time_in_force == "GTX":
            self._close(order, OrderStatus.EXPIRED)  # post-only would have taken liquidity
            return
        available = self._fills_for(spec, order.side, order.orig_qty, order.price)
        if order.time_in_force == "FOK" and sum((f.qty for f in available), ZERO) < order.orig_qty:
            self._close(order, OrderStatus.EXPIRED)
            return
        self._take(order, order.orig_qty, order.price)
        if order.is_open and order.time_in_force in ("IOC", "FOK"):
            self._close(order, OrderStatus.EXPIRED)

    def _trigger_algo_orders(self, symbol: str) -> None:
        mark = self._marks[symbol]
        for algo in [a for a in self.algo_orders_for(symbol) if a.is_open]:
            if algo.is_triggered_by(mark):
                self._trigger(algo)

    def _trigger(self, algo: AlgoOrder) -> None:
        """Turn a triggered algo order into a regular order, as Binance's algo service does."""
        now = self.now_ms()
        algo.trigger_time_ms = now
        algo.update_time_ms = now
        reduces = algo.reduce_only or algo.close_position
        qty = algo.quantity
        if reduces:
            reducible = self._reducible_qty(algo.symbol, algo.side)
            qty = reducible if algo.close_position else min(qty, reducible)
        if qty <= 0:
            algo.status = AlgoStatus.EXPIRED
            return
        request = OrderRequest(
            symbol=algo.symbol,
            side=algo.side,
            type=algo.order_type.after_trigger,
            quantity=qty,
            price=algo.price or None,
            time_in_force=algo.time_in_force,
            reduce_only=reduces,
            close_position=algo.close_position,
        )
        try:
            order = self._new_order(self.specs[algo.symbol], request, algo.client_algo_id)
        except errors.VenueError:
            # Binance drops a triggered order it cannot place (margin, filters); the algo expires.
            algo.status = AlgoStatus.EXPIRED
            return
        order.orig_type = algo.order_type
        order.stop_price = algo.trigger_price
        algo.actual_order_id = order.order_id
        algo.status = AlgoStatus.TRIGGERED
        self._submit(order)
        if not order.is_open:
            algo.status = AlgoStatus.FINISHED

    def _match_resting_orders(self, symbol: str) -> None:
        resting = [
            o
            for o in self._open_orders.values()
            if o.symbol == symbol and o.type is OrderType.LIMIT
        ]
        for order in resting:
            if not self._crosses(order):
                continue
            qty = self._resting_fill_qty(order)
            if order.reduce_only:
                qty = min(qty, self._reducible_qty(symbol, order.side))
                if qty <= 0:
                    # Nothing left to reduce: Binance expires the reduce-only order.
                    self._close(order, OrderStatus.EXPIRED)
                    continue
            self._fill(order, qty, order.price, True)
        for algo in self.algo_orders_for(symbol):
            actual = algo.actual_order_id
            if algo.status is AlgoStatus.TRIGGERED and actual is not None:
                algo.status = (
                    AlgoStatus.TRIGGERED if self._orders[actual].is_open else AlgoStatus.FINISHED
                )

    def _resting_fill_qty(self, order: Order) -> Decimal:
        """Each mark at or through the price fills ``partial_fill_ratio`` of the order.

        The order shares its level with a queue, so a crossing price fills it in
        steps as it moves through (the share rounded up to the step: at ratio 0.5
        two steps fill any order); 0 fills it whole.
        """
        ratio = self._settings.partial_fill_ratio
        if ratio == 0:
            return order.remaining
        step = self.specs[order.symbol].step_size
        share = order.orig_qty * Decimal(str(ratio)) / step
        return min(share.to_integral_value(ROUND_CEILING) * step, order.remaining)

    def _close(self, order: Order, status: OrderStatus) -> None:
        order.status = status
        order.update_time_ms = self.now_ms()
        self._open_orders.pop(order.order_id, None)

    def _fill(self, order: Order, qty: Decimal, price: Decimal, maker: bool) -> None:
        """Execute ``qty`` of the order and move position, wallet and ticker with it."""
        now = self.now_ms()
        realized = self._apply_to_position(order.symbol, order.side, qty, price, now)
        order.executed_qty += qty
        order.cum_quote += qty * price
        order.status = OrderStatus.FILLED if order.remaining <= 0 else OrderStatus.PARTIALLY_FILLED
        order.update_time_ms = now
        if not order.is_open:
            self._open_orders.pop(order.order_id, None)
        nothing_left = not self._reducible_qty(order.symbol, order.side)
        if order.reduce_only and order.is_open and nothing_left:
            self._close(order, OrderStatus.EXPIRED)
        trade_id = self._take_trade_id()
        settings = self._settings
        rate = settings.maker_commission_rate if maker else settings.taker_commission_rate
        commission = (qty * price * rate).quantize(MONEY_QUANTUM)
        if realized:
            self._book(order.symbol, IncomeType.REALIZED_PNL, realized, now, trade_id)
        if commission:
            self._book(order.symbol, IncomeType.COMMISSION, -commission, now, trade_id)
        fill = Fill(
            trade_id=trade_id,
            order_id=order.order_id,
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=order.side,
            qty=qty,
            price=price,
            realized_pnl=realized,
            maker=maker,
            time_ms=now,
            commission=commission,
        )
        self._fills.append(fill)
        self._count_trade(fill)

    def _take_trade_id(self) -> int:
        trade_id = self._next_trade_id
        self._next_trade_id += 1
        return trade_id

    def _count_trade(self, trade: Fill) -> None:
        """Add a trade on the tape to the 24hr ticker's figures."""
        stats = self._stats[trade.symbol]
        stats.volume += trade.qty
        stats.quote_volume += trade.qty * trade.price
        stats.count += 1
        stats.last_qty = trade.qty
        stats.last_trade_id = trade.trade_id
        if stats.first_trade_id < 0:
            stats.first_trade_id = trade.trade_id

    def _apply_to_position(
        self, symbol: str, side: Side, qty: Decimal, price: Decimal, now: int
    ) -> Decimal:
        """Net a fill into the one-way position; returns the PnL it realizes (not yet booked)."""
        position = self._positions[symbol]
        signed = side.sign * qty
        amount = position.amount
        realized = ZERO
        if amount == 0 or amount * signed > 0:
            new_amount = amount + signed
            position.entry_price = (
                (abs(amount) * position.entry_price + qty * price) / abs(new_amount)
            ).quantize(ENTRY_PRICE_QUANTUM)
        else:
            closed = min(qty, abs(amount))
            direction = Decimal(1) if amount > 0 else Decimal(-1)
            realized = closed * (price - position.entry_price) * direction
            new_amount = amount + signed
            if new_amount == 0:
                position.entry_price = ZERO
            elif new_amount * amount < 0:
                position.entry_price = price  # flipped: the remainder opened at this fill
        position.amount = new_amount
        position.update_time_ms = now
        return realized
