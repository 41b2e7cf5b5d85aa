"""The fill tracker: tracked from the first send, judged once when settled, against what."""

from __future__ import annotations

from decimal import Decimal

from tests.support.orders import journaled
from tradewarden.bot.model.order_state import OrderState
from tradewarden.bot.model.orders import JournaledOrder, OrderIntent, OrderType, Purpose, Side
from tradewarden.bot.reliability.guards import ExpectedFill
from tradewarden.bot.runtime.fills import FillTracker, SettledFill

BTC = "BTC/USDT:USDT"
MARKET = OrderIntent(BTC, Side.BUY, OrderType.MARKET, Decimal(1))
LIMIT = OrderIntent(BTC, Side.BUY, OrderType.LIMIT, Decimal(1), Decimal(99))
STOP = OrderIntent(
    BTC, Side.SELL, OrderType.STOP_MARKET, Decimal(1), Decimal(95), True, Purpose.STOP
)


class Book:
    """The journal as the tracker reads it: orders by client order id."""

    def __init__(self) -> None:
        self.orders: dict[str, JournaledOrder] = {}

    def find(self, coid: str) -> JournaledOrder | None:
        return self.orders.get(coid)


def filled(intent: OrderIntent, coid: str, average: str) -> JournaledOrder:
    return journaled(intent, coid, state=OrderState.FILLED, filled="1", average_price=average)


def test_a_market_order_is_judged_once_against_the_mark_it_went_out_at() -> None:
    marks = {BTC: Decimal(100)}
    tracker, book = FillTracker(marks), Book()
    book.orders["a"] = journaled(MARKET, "a")
    tracker.sent(book.orders["a"])
    marks[BTC] = Decimal(105)  # the mark moves after the send

    assert tracker.settled(book.find) == []  # still working
    book.orders["a"] = filled(MARKET, "a", "101")
    assert tracker.settled(book.find) == [
        SettledFill(BTC, Side.BUY, Decimal(101), ExpectedFill(Decimal(100)))
    ]
    assert tracker.settled(book.find) == []


def test_stops_and_limits_are_judged_against_their_own_price() -> None:
    tracker, book = FillTracker({BTC: Decimal(100)}), Book()
    for coid, intent in (("s", STOP), ("l", LIMIT)):
        tracker.sent(journaled(intent, coid))
        book.orders[coid] = filled(intent, coid, "94")

    assert tracker.settled(book.find) == [
        SettledFill(BTC, Side.SELL, Decimal(94), ExpectedFill(Decimal(95))),
        SettledFill(BTC, Side.BUY, Decimal(94), ExpectedFill(Decimal(99), bounded=True)),
    ]


def test_what_has_nothing_to_judge_is_dropped_unjudged() -> None:
    tracker, book = FillTracker({}), Book()
    tracker.sent(journaled(MARKET, "no-mark"))  # sent before any mark
    book.orders["no-mark"] = filled(MARKET, "no-mark", "101")
    tracker.sent(journaled(LIMIT, "cancelled"))
    book.orders["cancelled"] = journaled(LIMIT, "cancelled", state=OrderState.CANCELED)
    tracker.sent(journaled(LIMIT, "forgotten"))  # the journal no longer knows it

    assert tracker.settled(book.find) == []
    book.orders["cancelled"] = filled(LIMIT, "cancelled", "99")
    assert tracker.settled(book.find) == []  # dropped for good once settled
