"""Posture + risk check cost per intent: decide_posture then refusal, as the bot admits."""

from __future__ import annotations

import statistics
import time
from decimal import Decimal

from tradewarden.api.tradingbot import RiskSpec, TradingMode
from tradewarden.bot.execution.admission import Exposure, refusal
from tradewarden.bot.model.orders import OrderIntent, OrderType, Purpose, Side
from tradewarden.bot.posture import Restriction, decide_posture

SYMBOL = "BTC/USDT:USDT"
RISK = RiskSpec(max_position=Decimal("0.02"), max_order_notional=Decimal("2000"))
MARK = Decimal("50000")
RESTRICTIONS = (
    Restriction("guard.markStaleness", TradingMode.REDUCE_ONLY, "mark 20s old", "ETH/USDT:USDT"),
    Restriction("control.lease", TradingMode.ACTIVE, "lease held"),
)
INTENTS = (
    OrderIntent(SYMBOL, Side.BUY, OrderType.LIMIT, Decimal("0.003"), Decimal("49900")),
    OrderIntent(
        SYMBOL,
        Side.SELL,
        OrderType.MARKET,
        Decimal("0.003"),
        reduce_only=True,
        purpose=Purpose.EXIT,
    ),
)
ROUNDS = 20_000


def measure() -> tuple[float, float]:
    """(p50, p99) seconds for one posture decision plus one admission check."""
    exposure = Exposure(Decimal("0.006"), ())
    samples = []
    clock = time.perf_counter
    for n in range(ROUNDS):
        intent = INTENTS[n % 2]
        started = clock()
        posture = decide_posture(False, None, RESTRICTIONS)
        refusal(intent, posture.mode_for(intent.symbol), exposure, RISK, MARK)
        samples.append(clock() - started)
    cuts = statistics.quantiles(samples, n=100)
    return statistics.median(samples), cuts[98]
