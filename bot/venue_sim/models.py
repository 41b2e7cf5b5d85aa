"""The simulator's account records: orders, algo orders, positions, fills, and snapshots."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Bracket:
    """One notional tier of GET /fapi/v1/leverageBracket.

    A position whose notional lies in ``[floor, cap)`` keeps ``notional * mmr - cum`` as
    maintenance margin and may use at most ``initial_leverage``.
    """

    number: int
    initial_leverage: int
    floor: Decimal
    cap: Decimal
    mmr: Decimal  # maintenance margin rate
    cum: Decimal  # maintenance amount

    def holds(self, notional: Decimal) -> bool:
        """Whether ``notional`` (unsigned) falls in this tier; the last tier has no top."""
        return self.floor <= notional and (notional < self.cap or self is LEVERAGE_BRACKETS[-1])


def _tiers(*rows: tuple[int, str, str]) -> tuple[Bracket, ...]:
    """Tiers from (initial leverage, cap, rate), each floored at the previous cap.

    The maintenance amount follows Binance's formula: ``cum_n = floor_n * (mmr_n -
    mmr_(n-1)) + cum_(n-1)``, which keeps the maintenance margin continuous across tiers.
    """
    tiers: list[Bracket] = []
    floor, rate, cum = ZERO, ZERO, ZERO
    for number, (leverage, cap, mmr) in enumerate(rows, start=1):
        cum += floor * (Decimal(mmr) - rate)
        tiers.append(Bracket(number, leverage, floor, Decimal(cap), Decimal(mmr), cum))
        floor, rate = Decimal(cap), Decimal(mmr)
    return tuple(tiers)


# Binance's BTCUSDT tiers (its liquidation-price FAQ: 264,000 USDT is in the 1 % tier,
# 500,000 USDT has a maintenance amount of 1,300), served for every symbol. Maintenance
# margin is reported, never enforced: the simulator does not liquidate.
LEVERAGE_BRACKETS = _tiers(
    (125, "50000", "0.004"),
    (100, "250000", "0.005"),
    (50, "3000000", "0.01"),
    (20, "20000000", "0.025"),
    (10, "40000000", "0.05"),
    (5, "100000000", "0.1"),
    (4, "120000000", "0.125"),
    (3, "200000000", "0.15"),
    (2, "300000000", "0.25"),
    (1, "500000000", "0.5"),
)


def bracket_for(notional: Decimal) -> Bracket:
    """The tier that holds ``abs(notional)``."""
    size = abs(notional)
    return next(b for b in LEVERAGE_BRACKETS if b.holds(size))


def maint_margin(notional: Decimal) -> Decimal:
    """Maintenance margin of a position of this notional: its tier's rate less its amount."""
    bracket = bracket_for(notional)
    return abs(notional) * bracket.mmr - bracket.cum


def max_notional(leverage: int) -> Decimal:
    """The largest position ``leverage`` allows: the cap of the last tier that permits it."""
    return max((b.cap for b in LEVERAGE_BRACKETS if b.initial_leverage >= leverage), default=ZERO)


class Side(StrEnum):
    """Order side."""

    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> Decimal:
        """+1 for buys, -1 for sells: the direction a fill moves the position."""
        return Decimal(1) if self is Side.BUY else Decimal(-1)


class OrderType(StrEnum):
    """Order types the simulator accepts (the trailing stop is not simulated)."""

    LIMIT = "LIMIT"
    MARKET = "MARKET"
    STOP = "STOP"
    STOP_MARKET = "STOP_MARKET"
    TAKE_PROFIT = "TAKE_PROFIT"
    TAKE_PROFIT_MARKET = "TAKE_PROFIT_MARKET"

    @property
    def is_conditional(self) -> bool:
        """Whether Binance routes this type to the algo service."""
        return self not in (OrderType.LIMIT, OrderType.MARKET)

    @property
    def is_take_profit(self) -> bool:
        """Take-profits trigger when the mark moves in the position's favour."""
        return self in (OrderType.TAKE_PROFIT, OrderType.TAKE_PROFIT_MARKET)

    @property
    def after_trigger(self) -> OrderType:
        """The plain order type a triggered conditional order becomes."""
        if self in (OrderType.STOP, OrderType.TAKE_PROFIT):
            return OrderType.LIMIT
        return OrderType.MARKET


class OrderStatus(StrEnum):
    """Lifecycle of a regular order."""

    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"


class AlgoStatus(StrEnum):
    """Lifecycle of an algo (conditional) order."""

    NEW = "NEW"
    CANCELED = "CANCELED"
    TRIGGERED = "TRIGGERED"  # the resulting order rests on the book
    FINISHED = "FINISHED"  # the resulting order is done
    EXPIRED = "EXPIRED"  # triggered, but there was nothing left to reduce


@dataclass(slots=True)
class Order:
    """A regular (non-conditional) order."""

    order_id: int
    client_order_id: str
    symbol: str
    side: Side
    type: OrderType
    time_in_force: str
    price: Decimal  # zero for market orders
    orig_qty: Decimal
    reduce_only: bool
    close_position: bool
    time_ms: int
    update_time_ms: int
    stop_price: Decimal = ZERO
    orig_type: OrderType | None = None  # the algo type this order was triggered from
    status: OrderStatus = OrderStatus.NEW
    executed_qty: Decimal = ZERO
    cum_quote: Decimal = ZERO

    @property
    def is_open(self) -> bool:
        """NEW or PARTIALLY_FILLED."""
        return self.status in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)

    @property
    def remaining(self) -> Decimal:
        """Quantity still to fill."""
        return self.orig_qty - self.executed_qty

    @property
    def avg_price(self) -> Decimal:
        """Volume-weighted fill price, zero before the first fill."""
        return self.cum_quote / self.executed_qty if self.executed_qty else ZERO


@dataclass(slots=True)
class AlgoOrder:
    """A conditional order held by Binance's algo service until the mark crosses the trigger."""

    algo_id: int
    client_algo_id: str
    symbol: str
    side: Side
    order_type: OrderType
    trigger_price: Decimal
    price: Decimal  # limit price once triggered; zero for the *_MARKET types
    quantity: Decimal  # zero with closePosition
    reduce_only: bool
    close_position: bool
    working_type: str
    time_in_force: str
    create_time_ms: int
    update_time_ms: int
    status: AlgoStatus = AlgoStatus.NEW
    trigger_time_ms: int = 0
    actual_order_id: int | None = None

    @property
    def is_open(self) -> bool:
        """Still waiting for its trigger."""
        return self.status is AlgoStatus.NEW

    def is_triggered_by(self, mark: Decimal) -> bool:
        """Stops fire when the mark moves against the position, take-profits when it moves for it.

        A SELL stop protects a long, so it fires at or below the trigger; a SELL take-profit
        fires at or above it, and BUY orders mirror that.
        """
        fires_below = (self.side is Side.SELL) != self.order_type.is_take_profit
        return mark <= self.trigger_price if fires_below else mark >= self.trigger_price


@dataclass(slots=True)
class Position:
    """A one-way (BOTH) position; ``amount`` is signed, positive for long."""

    symbol: str
    amount: Decimal = ZERO
    entry_price: Decimal = ZERO
    update_time_ms: int = 0


@dataclass(frozen=True, slots=True)
class BookLevel:
    """One price level of the book (or one execution against it)."""

    price: Decimal
    qty: Decimal


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution against the simulated book."""

    trade_id: int
    order_id: int
    client_order_id: str
    symbol: str
    side: Side
    qty: Decimal
    price: Decimal
    realized_pnl: Decimal
    maker: bool
    time_ms: int
    commission: Decimal = ZERO  # USDT, charged to the wallet at the fill


class IncomeType(StrEnum):
    """The income (wallet movement) types the simulator books, named as Binance names them."""

    REALIZED_PNL = "REALIZED_PNL"
    COMMISSION = "COMMISSION"
    FUNDING_FEE = "FUNDING_FEE"


@dataclass(frozen=True, slots=True)
class Income:
    """One wallet movement, as GET /fapi/v1/income lists it; positive flows in."""

    tran_id: int
    symbol: str
    income_type: IncomeType
    amount: Decimal
    time_ms: int
    trade_id: int | None = None  # the fill that caused it; None for funding


@dataclass(frozen=True, slots=True)
class FundingRate:
    """One funding settlement of a symbol (GET /fapi/v1/fundingRate)."""

    symbol: str
    rate: Decimal
    time_ms: int
    mark: Decimal


@dataclass(frozen=True, slots=True)
class AccountTotals:
    """USDT account figures derived from a snapshot, as Binance's account endpoint reports them."""

    wallet_balance: Decimal
    unrealized_pnl: Decimal
    position_initial_margin: Decimal
    open_order_initial_margin: Decimal
    maint_margin: Decimal

    @property
    def margin_balance(self) -> Decimal:
        """Wallet plus unrealized PnL."""
        return self.wallet_balance + self.unrealized_pnl

    @property
    def initial_margin(self) -> Decimal:
        """Margin held by positions and open orders."""
        return self.position_initial_margin + self.open_order_initial_margin

    @property
    def available_balance(self) -> Decimal:
        """What new orders can still use as initial margin."""
        return self.margin_balance - self.initial_margin


@dataclass(frozen=True)
class Snapshot:
    """A copy of the account at one instant; stale reads and live reads render the same type."""

    time_ms: int
    wallet_balance: Decimal
    balance_update_ms: int
    marks: Mapping[str, Decimal]
    leverage: Mapping[str, int]
    positions: tuple[Position, ...] = field(default_factory=tuple)
    open_orders: tuple[Order, ...] = field(default_factory=tuple)
    open_algo_orders: tuple[AlgoOrder, ...] = field(default_factory=tuple)
    # Symbols in isolated margin; every other symbol is cross margin (Binance's default).
    isolated: frozenset[str] = frozenset()

    def unrealized_pnl(self, position: Position) -> Decimal:
        """PnL of the position at the snapshot's mark."""
        return position.amount * (self.marks[position.symbol] - position.entry_price)

    def notional(self, position: Position) -> Decimal:
        """Signed notional at the mark; its sign is the side ccxt reports."""
        return position.amount * self.marks[position.symbol]

    def position_initial_margin(self, position: Position) -> Decimal:
        """Isolated-style margin: |notional| / leverage."""
        return abs(self.notional(position)) / self.leverage[position.symbol]

    def order_initial_margin(self, order: Order) -> Decimal:
        """Margin an open order reserves; reduce-only orders reserve none."""
        if order.reduce_only or order.close_position:
            return ZERO
        return order.remaining * order.price / self.leverage[order.symbol]

    def maint_margin(self, position: Position) -> Decimal:
        """Maintenance margin at the mark, from the tier the position's notional is in."""
        return maint_margin(self.notional(position))

    def liquidation_price(self, position: Position) -> Decimal:
        """Binance's one-way liquidation price for USDⓈ-M.

        ``LP = (WB - TMM + UPNL + cum - side * size * entry) / (size * MMR - side * size)``.
        Cross margin: WB is the cross wallet (the wallet less isolated wallets), TMM
        and UPNL the maintenance margin and unrealized PnL of the other cross
        positions. Isolated margin: WB is the position's isolated wallet, TMM = UPNL
        = 0. MMR and cum are those of the tier the position's notional *at the
        liquidation price* falls in (Binance recomputes with that tier when it
        differs from the current one); the maintenance margin is continuous and
        monotonic across tiers, so exactly one tier's solution lies in its own tier.
        Zero when no positive price liquidates the position.
        """
        size = abs(position.amount)
        side = Decimal(1) if position.amount > 0 else Decimal(-1)
        isolated = [p for p in self.positions if p.symbol in self.isolated]
        cross_others = [
            p for p in self.positions if p not in isolated and p.symbol != position.symbol
        ]
        if position in isolated:
            wallet = self.position_initial_margin(position)
        else:
            cross_wallet = self.wallet_balance - sum(
                (self.position_initial_margin(p) for p in isolated), ZERO
            )
            wallet = sum(
                (self.unrealized_pnl(p) - self.maint_margin(p) for p in cross_others),
                cross_wallet,
            )
        for bracket in LEVERAGE_BRACKETS:
            price = (wallet + bracket.cum - side * size * position.entry_price) / (
                size * bracket.mmr - side * size
            )
            if price >= 0 and bracket.holds(size * price):
                return price
        return ZERO

    def totals(self) -> AccountTotals:
        """Aggregate the account the way the balance checks and the account endpoint see it."""
        return AccountTotals(
            wallet_balance=self.wallet_balance,
            unrealized_pnl=sum((self.unrealized_pnl(p) for p in self.positions), ZERO),
            position_initial_margin=sum(
                (self.position_initial_margin(p) for p in self.positions), ZERO
            ),
            open_order_initial_margin=sum(
                (self.order_initial_margin(o) for o in self.open_orders), ZERO
            ),
            maint_margin=sum((self.maint_margin(p) for p in self.positions), ZERO),
        )


@dataclass(slots=True)
class TickerStats:
    """Rolling figures for the 24hr ticker, kept since the venue started."""

    open_price: Decimal
    high: Decimal
    low: Decimal
    open_time_ms: int
    volume: Decimal = ZERO
    quote_volume: Decimal = ZERO
    count: int = 0
    first_trade_id: int = -1
    last_trade_id: int = -1
    last_qty: Decimal = ZERO
