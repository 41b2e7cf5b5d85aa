"""Symbol specifications: tick/step sizes and the filters Binance USD-M enforces with them.

The majors carry the filters Binance lists for them (tick, step, minimum
notional, quantity caps, PERCENT_PRICE multipliers); any other symbol gets a
spec derived from its starting price. A symbol ``<PAIR>_<YYMMDD>`` is a dated
(quarterly) contract of that pair, delivered at 08:00 UTC on that day.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

QUOTE_ASSETS = ("USDT", "USDC")
MIN_NOTIONAL = Decimal("100")
# Binance's sentinel delivery date for perpetuals (2100-12-25), which ccxt also recognises.
PERPETUAL_DELIVERY_MS = 4133404800000
PERPETUAL = "PERPETUAL"
DELIVERY_HOUR_UTC = 8


@dataclass(frozen=True)
class SymbolSpec:
    """One USD-M contract as the simulator lists it.

    ``tick_size`` and ``step_size`` keep the digits Binance prints ("0.10"):
    their decimals are the ``pricePrecision``/``quantityPrecision`` a request
    may use before Binance answers -1111.
    """

    symbol: str
    base_asset: str
    quote_asset: str
    tick_size: Decimal
    step_size: Decimal
    min_notional: Decimal = MIN_NOTIONAL
    min_price: Decimal | None = None  # default: one tick
    max_price: Decimal = Decimal("10000000")
    max_qty: Decimal = Decimal("100000")
    market_max_qty: Decimal = Decimal("100000")
    multiplier_up: Decimal = Decimal("1.0500")  # PERCENT_PRICE, against the mark
    multiplier_down: Decimal = Decimal("0.9500")
    max_num_orders: int = 200
    max_num_algo_orders: int = 10
    contract_type: str = PERPETUAL
    delivery_ms: int = PERPETUAL_DELIVERY_MS

    @property
    def pair(self) -> str:
        """The underlying pair (the symbol without a delivery date)."""
        return self.base_asset + self.quote_asset

    @property
    def min_qty(self) -> Decimal:
        """Smallest order quantity: one step."""
        return self.step_size

    @property
    def lowest_price(self) -> Decimal:
        """PRICE_FILTER's minPrice."""
        return self.min_price if self.min_price is not None else self.tick_size

    @classmethod
    def for_symbol(cls, symbol: str, price: Decimal) -> SymbolSpec:
        """The listed spec of ``symbol`` (a known major or derived from ``price``).

        A dated contract ``BTCUSDT_261225`` has its pair's steps and a minimum
        notional of 5, as Binance lists its quarterlies.
        """
        pair, _, date = symbol.partition("_")
        if not date:
            known = KNOWN_PERPETUALS.get(symbol)
            return known if known is not None else cls.for_price(symbol, price)
        try:
            day = datetime.strptime(date, "%y%m%d").replace(hour=DELIVERY_HOUR_UTC, tzinfo=UTC)
        except ValueError:
            raise ValueError(f"{symbol}: a dated contract is <PAIR>_<YYMMDD>") from None
        base = cls.for_symbol(pair, price)
        return dataclasses.replace(
            base,
            symbol=symbol,
            min_notional=Decimal("5"),
            contract_type="CURRENT_QUARTER",
            delivery_ms=int(day.timestamp() * 1000),
        )

    @classmethod
    def for_price(cls, symbol: str, price: Decimal) -> SymbolSpec:
        """Derive a Binance-like spec from the symbol name and its starting price.

        The tick keeps about six significant digits of price and one step is worth
        between 1 and 100 quote units, which is how Binance sizes its large caps
        (BTCUSDT at 50000: tick 0.1, step 0.001).
        """
        quote = next((q for q in QUOTE_ASSETS if symbol.endswith(q) and symbol != q), None)
        if quote is None:
            raise ValueError(f"{symbol}: symbols must end with one of {QUOTE_ASSETS}")
        if price <= 0:
            raise ValueError(f"{symbol}: the starting price must be positive")
        magnitude = price.adjusted()  # floor(log10(price))
        return cls(
            symbol=symbol,
            base_asset=symbol[: -len(quote)],
            quote_asset=quote,
            tick_size=Decimal(1).scaleb(magnitude - 5),
            step_size=Decimal(1).scaleb(1 - magnitude),
        )

    @property
    def is_perpetual(self) -> bool:
        """Whether the contract never delivers."""
        return self.contract_type == PERPETUAL

    def round_price(self, price: Decimal) -> Decimal:
        """Snap a price to the nearest tick (the venue's own marks, never a client's price)."""
        return (price / self.tick_size).to_integral_value(ROUND_HALF_UP) * self.tick_size

    def round_qty(self, qty: Decimal) -> Decimal:
        """Snap a quantity down to the step (the venue's own partial-fill chunks)."""
        return (qty / self.step_size).to_integral_value(ROUND_DOWN) * self.step_size

    @property
    def price_precision(self) -> int:
        """Decimals of the tick size as Binance prints it, exchangeInfo's pricePrecision."""
        return decimals(self.tick_size)

    @property
    def quantity_precision(self) -> int:
        """Decimals of the step size as Binance prints it, exchangeInfo's quantityPrecision."""
        return decimals(self.step_size)


def decimals(value: Decimal) -> int:
    """Digits after the point as written (``Decimal("0.10")`` has two)."""
    exponent = value.as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def significant_decimals(value: Decimal) -> int:
    """Digits after the point that carry value (``Decimal("0.0100")`` has two)."""
    return decimals(value.normalize()) if value else 0


def _perpetual(symbol: str, tick: str, step: str, *limits: str) -> SymbolSpec:
    """A USDT perpetual; ``limits`` are MIN_NOTIONAL, LOT_SIZE and MARKET_LOT_SIZE maxQty."""
    min_notional, max_qty, market_max_qty = limits
    return SymbolSpec(
        symbol=symbol,
        base_asset=symbol.removesuffix("USDT"),
        quote_asset="USDT",
        tick_size=Decimal(tick),
        step_size=Decimal(step),
        min_notional=Decimal(min_notional),
        max_qty=Decimal(max_qty),
        market_max_qty=Decimal(market_max_qty),
    )


# The USD-M majors with the tick, step, MIN_NOTIONAL and LOT_SIZE caps Binance lists.
KNOWN_PERPETUALS: dict[str, SymbolSpec] = {
    spec.symbol: spec
    for spec in (
        _perpetual("BTCUSDT", "0.10", "0.001", "100", "1000", "120"),
        _perpetual("ETHUSDT", "0.01", "0.001", "20", "10000", "2000"),
        _perpetual("BNBUSDT", "0.010", "0.01", "5", "100000", "2000"),
        _perpetual("SOLUSDT", "0.0100", "1", "5", "1000000", "5000"),
        _perpetual("XRPUSDT", "0.0001", "0.1", "5", "10000000", "2000000"),
    )
}


QUARTER_MONTHS = (3, 6, 9, 12)
FRIDAY = 4


def quarterly_symbol(pair: str, now: datetime) -> str:
    """``<PAIR>_<YYMMDD>`` of the quarterly contract that delivers next after ``now``.

    Binance's quarterlies deliver on the last Friday of March, June, September
    and December at 08:00 UTC.
    """
    year, month = now.year, now.month
    while True:
        quarter_month = next((m for m in QUARTER_MONTHS if m >= month), None)
        if quarter_month is None:
            year, month = year + 1, 1
            continue
        first_of_next = datetime(year + quarter_month // 12, quarter_month % 12 + 1, 1, tzinfo=UTC)
        last_day = first_of_next - timedelta(days=1)
        delivery = last_day - timedelta(days=(last_day.weekday() - FRIDAY) % 7)
        delivery = delivery.replace(hour=DELIVERY_HOUR_UTC)
        if delivery > now:
            return f"{pair}_{delivery:%y%m%d}"
        month = quarter_month + 1
