"""Configuration of the venue simulator."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from tradewarden.bot.venue_sim.markets import quarterly_symbol

# Binance rejects a recvWindow above this with -1130, so the default may not exceed it either.
MAX_RECV_WINDOW_MS = 60_000


def _default_symbols() -> Mapping[str, Decimal]:
    """Five USDT perpetuals and the current BTCUSDT quarterly, as Binance lists them."""
    return {
        "BTCUSDT": Decimal("50000"),
        "ETHUSDT": Decimal("3000"),
        "BNBUSDT": Decimal("600"),
        "SOLUSDT": Decimal("150"),
        "XRPUSDT": Decimal("0.6"),
        quarterly_symbol("BTCUSDT", datetime.now(UTC)): Decimal("50000"),
    }


@dataclass(frozen=True)
class SimSettings:
    """Everything that shapes one simulator instance; immutable once the venue runs."""

    host: str = "127.0.0.1"
    port: int = 0  # 0 = pick a free port
    seed: int = 0
    api_key: str = "sim-key"
    api_secret: str = "sim-secret"
    symbols: Mapping[str, Decimal] = field(default_factory=_default_symbols)
    initial_balance: Decimal = Decimal("10000")  # USDT
    price_tick_s: float = 0.5  # seeded random walk step interval; 0 disables the price process
    volatility_bps: float = 5.0  # standard deviation of one random-walk step
    slippage_bps: float = 0.0  # the book sits this far off the mark (takers pay it)
    # Each mark at or through a resting limit order's price fills this share of the order,
    # so a crossing price fills it in steps as it moves through; 0 = all at the first cross.
    partial_fill_ratio: float = 0.5
    weight_limit_1m: int = 2400  # request weight per minute; beyond it 429 -1003
    order_limit_10s: int = 300  # new orders per 10 s (Binance's ORDERS limit); beyond it -1015
    order_limit_1m: int = 1200  # new orders per minute
    recv_window_ms: int = 5000  # used when a signed request carries no recvWindow
    default_leverage: int = 10
    # Binance's regular-tier USD-M fees, charged on every fill (GET /fapi/v1/commissionRate).
    maker_commission_rate: Decimal = Decimal("0.0002")
    taker_commission_rate: Decimal = Decimal("0.0005")
    # Funding is settled every interval on the venue clock (Binance: 00:00, 08:00 and 16:00 UTC)
    # at this rate: positions pay notional * rate, longs to shorts when it is positive.
    funding_interval_s: float = 8 * 3600.0
    funding_rate: Decimal = Decimal("0.0001")
    # The account's position mode: Binance's dualSidePosition (hedge mode). The simulator
    # keeps one-way (BOTH) positions only; in hedge mode it refuses orders as Binance
    # refuses a one-way order there (-4061).
    hedge_mode: bool = False
    ban_after_429s: int = 5  # 429 replies within one minute before the 418 ban starts
    ban_duration_s: float = 120.0
    # A user-data listenKey lapses this long after its creation or last keepalive
    # (Binance: 60 minutes); tests shorten it.
    listen_key_validity_s: float = 3600.0

    def __post_init__(self) -> None:
        if not self.symbols:
            raise ValueError("at least one symbol is required")
        if not 0 < self.recv_window_ms <= MAX_RECV_WINDOW_MS:
            raise ValueError(f"recv_window_ms must be in (0, {MAX_RECV_WINDOW_MS}]")
        if not 0.0 <= self.partial_fill_ratio < 1.0:
            raise ValueError("partial_fill_ratio must be in [0, 1)")
        if self.price_tick_s < 0 or self.volatility_bps < 0 or self.slippage_bps < 0:
            raise ValueError("price_tick_s, volatility_bps and slippage_bps must not be negative")
        if min(self.weight_limit_1m, self.ban_after_429s, self.order_limit_10s) <= 0:
            raise ValueError("weight_limit_1m, order_limit_10s and ban_after_429s must be positive")
        if self.order_limit_1m <= 0:
            raise ValueError("order_limit_1m must be positive")
        if self.listen_key_validity_s <= 0:
            raise ValueError("listen_key_validity_s must be positive")
        if min(self.maker_commission_rate, self.taker_commission_rate) < 0:
            raise ValueError("commission rates must not be negative")
        if self.funding_interval_s <= 0:
            raise ValueError("funding_interval_s must be positive")
        if not 1 <= self.default_leverage <= 125:
            raise ValueError("default_leverage must be in [1, 125]")
