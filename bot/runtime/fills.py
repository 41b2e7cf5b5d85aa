"""The fill tracker: the orders the slippage guard has yet to judge, and what against.

Invariants:

- An order is tracked from its first send (:meth:`FillTracker.sent`, called
  through the router's ``OrderPathHooks``), with the mark of its symbol at that
  moment (``None`` before any mark), until the journal shows it terminal or no
  longer knows it; then it is dropped, and judged exactly once if it filled.
- A filled order is judged against :func:`expected_fill`: a market order against
  the mark it went out at, a stop against its trigger, a limit against its own
  price (``bounded``). One with nothing to judge against is dropped unjudged.
- Pure bookkeeping: no I/O, no clock; the marks and the journal are read through
  what the caller hands in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from tradewarden.bot.model.orders import JournaledOrder, Side
from tradewarden.bot.reliability.guards import ExpectedFill, expected_fill


@dataclass(frozen=True)
class SettledFill:
    """A settled order's average fill and the price it was expected to fill at."""

    symbol: str
    side: Side
    average: Decimal
    expected: ExpectedFill


class FillTracker:
    """Orders sent and not yet settled, each with the mark when it first went out."""

    def __init__(self, marks: Mapping[str, Decimal]) -> None:
        """``marks``: the latest mark per symbol, read at each send."""
        self._marks = marks
        self._sent_at_mark: dict[str, Decimal | None] = {}

    def sent(self, order: JournaledOrder) -> None:
        """``order`` goes out for the first time."""
        self._sent_at_mark[order.client_order_id] = self._marks.get(order.intent.symbol)

    def settled(self, find: Callable[[str], JournaledOrder | None]) -> list[SettledFill]:
        """The fills of the tracked orders that settled since the last call, to be judged.

        ``find`` looks an order up in the journal by its client order id.
        """
        fills = []
        for coid, mark in list(self._sent_at_mark.items()):
            order = find(coid)
            if order is not None and not order.state.is_terminal:
                continue
            del self._sent_at_mark[coid]
            if order is None or order.filled == 0 or order.average_price is None:
                continue
            expected = expected_fill(order.intent, mark)
            if expected is not None:
                intent = order.intent
                fills.append(SettledFill(intent.symbol, intent.side, order.average_price, expected))
        return fills
