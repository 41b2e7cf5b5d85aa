"""The bot's ``/status`` document, built from its state. Pure rendering."""

from __future__ import annotations

from typing import Any

from tradewarden.bot.runtime.bot import BotRuntime, bot_identity


def render_status(bot: BotRuntime) -> dict[str, Any]:
    """What ``/status`` shows: mode and why, positions, orders, journal health."""
    journal = bot.journal
    working = journal.non_terminal() if journal else []
    incomplete = journal.incomplete(bot.spec.execution.incomplete_after_seconds) if journal else []
    return {
        "bot": bot_identity(bot.manifest),
        "symbol": bot.spec.symbol,
        "dryRun": bot.dry_run,
        "ready": bot.ready,
        "recovered": bot.recovered,
        "tradingMode": bot.posture.mode.value,
        "modeReasons": list(bot.posture.reasons),
        "marks": {symbol: str(mark) for symbol, mark in bot.market.marks.items()},
        "positions": {symbol: str(size) for symbol, size in bot.positions.items()},
        "openOrders": [
            {
                "clientOrderId": order.client_order_id,
                "side": order.intent.side.value,
                "type": order.intent.order_type.value,
                "price": None if order.intent.price is None else str(order.intent.price),
                "quantity": str(order.intent.quantity),
                "filled": str(order.filled),
                "state": order.state.value,
            }
            for order in working
        ],
        "journal": journal.counts_by_state() if journal else {},
        "incompleteLifecycles": [order.client_order_id for order in incomplete],
        "executionQueue": bot.worker.pending() if bot.worker else 0,
        "lastErrors": list(bot.last_errors),
    }
