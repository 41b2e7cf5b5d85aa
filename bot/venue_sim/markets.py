"""Symbol specifications: tick/step sizes, filters, and rounding onto them."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

QUOTE_ASSETS = ("USDT", "USDC")
MIN_NOTIONAL = Decimal("100")


@dataclass(frozen=True)
class SymbolSpec:
    """One USD-M perpetual as the simulator lists it."""

    symbol: str
    base_asset: str
    quote_asset: str
    tick_size: Decimal
    step_size: Decimal
    min_notional: Decimal = MIN_NOTIONAL

    @property
    def min_qty(self) -> Decimal:
        """Smallest order quantity: one step."""
        return self.step_size

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

    def round_price(self, price: Decimal) -> Decimal:
        """Snap a price to the nearest tick."""
        return (price / self.tick_size).to_integral_value(ROUND_HALF_UP) * self.tick_size

    def round_qty(self, qty: Decimal) -> Decimal:
        """Snap a quantity down to the step, as Binance truncates rather than rounds up."""
        return (qty / self.step_size).to_integral_value(ROUND_DOWN) * self.step_size

    @property
    def price_precision(self) -> int:
        """Decimals of the tick size, as exchangeInfo's pricePrecision."""
        return _decimals(self.tick_size)

    @property
    def quantity_precision(self) -> int:
        """Decimals of the step size, as exchangeInfo's quantityPrecision."""
        return _decimals(self.step_size)


def _decimals(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0
