"""Drift detection delay: reconcile intervals from the first contradictory snapshot to
reduce-only, driving the guard board with synthetic reports (pure, no venue)."""

from __future__ import annotations

from tradewarden.api.tradingbot import GuardsSpec, TradingMode
from tradewarden.bot.posture import decide_posture
from tradewarden.bot.reliability.guards import GuardBoard
from tradewarden.bot.reliability.report import ReconcileReport

SYMBOL = "BTC/USDT:USDT"
INTERVAL = 10.0
LIMIT = 20


def intervals_to_reduce_only() -> int:
    """Reconciles from the first contradictory snapshot until the symbol is reduce-only."""
    board = GuardBoard(GuardsSpec())
    for interval in range(1, LIMIT + 1):
        now = interval * INTERVAL
        board.reconcile(now, ReconcileReport(SYMBOL, now, contradictory=True))
        posture = decide_posture(False, None, tuple(board.demands(now).values()))
        if posture.mode_for(SYMBOL) is not TradingMode.ACTIVE:
            return interval
    return LIMIT + 1
