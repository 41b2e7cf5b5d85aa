"""lost_journal(): an empty journal beside the bot's orders at the venue is a lost one."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tradewarden.bot.execution.lost_journal import RUNBOOK, lost_journal
from tradewarden.bot.model.venue import PastOrder

PREFIX = "twabc123def0-"
JOURNAL = Path("/state/journal.sqlite")


def verdict(*history: PastOrder, position: str = "0") -> str | None:
    return lost_journal(JOURNAL, PREFIX, history, Decimal(position), "BTC/USDT:USDT")


def test_a_new_bot_with_nothing_at_the_venue_may_trade() -> None:
    assert verdict() is None


def test_other_peoples_orders_and_a_position_alone_are_no_proof() -> None:
    foreign = (PastOrder("web_123", "open", False), PastOrder("twzzz-1", "closed", True))
    assert verdict(*foreign, position="0.5") is None


def test_the_bots_orders_stops_and_fills_say_the_journal_was_lost() -> None:
    reason = verdict(
        PastOrder(f"{PREFIX}1", "closed", False),
        PastOrder(f"{PREFIX}2", "open", False),
        PastOrder(f"{PREFIX}3", "open", True),
        PastOrder(f"{PREFIX}4", "canceled", False),
        PastOrder("web_1", "open", False),
        position="-0.003",
    )
    assert reason is not None
    assert str(JOURNAL) in reason
    assert "1 open orders, 1 open stops, 1 filled orders, 1 other past orders" in reason
    assert "position -0.003" in reason
    assert RUNBOOK in reason


def test_one_past_order_of_an_earlier_generation_is_enough() -> None:
    assert verdict(PastOrder(f"{PREFIX}0000abcd-7", "closed", False)) is not None
