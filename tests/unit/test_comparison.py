"""Journal vs venue snapshots: what counts as a mismatch, a stray or a contradiction."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.support import orders
from tradewarden.bot.model.order_state import OrderState
from tradewarden.bot.model.orders import JournaledOrder, OrderIntent, OrderType, Side
from tradewarden.bot.model.venue import VenueOrder
from tradewarden.bot.reliability.comparison import VenueView, compare

D = Decimal
S = OrderState


def journaled(cid: str, state: OrderState, filled: str = "0") -> JournaledOrder:
    intent = OrderIntent("BTC/USDT:USDT", Side.BUY, OrderType.LIMIT, D("0.01"), D("49000"))
    return orders.journaled(intent, cid, state=state, filled=filled, exchange_order_id="1")


def listed(cid: str) -> VenueOrder:
    return VenueOrder(
        cid, "1", S.OPEN, D("0.01"), D(0), None,
        symbol="BTC/USDT:USDT", side=Side.BUY, order_type="limit", price=D("49000"),
        trigger_price=None, reduce_only=False,
    )  # fmt: skip


OPEN_A = journaled("tw-a", S.OPEN)
# (case, venue open orders, position, live journal orders, owned map, net, offset)
#   -> (mismatch count, unknown owned, contradictory)
TABLE: list[tuple[Any, ...]] = [
    ("agree", ["tw-a"], "0", [OPEN_A], {"tw-a": OPEN_A}, "0", "0", (0, (), False)),
    ("first pass has no offset", [], "0.5", [], {}, "0", None, (0, (), False)),
    ("unknown bot order", ["tw-z"], "0", [], {"tw-z": None}, "0", "0", (0, ("tw-z",), False)),
    (
        "open at venue, closed in journal",
        ["tw-c"],
        "0",
        [],
        {"tw-c": journaled("tw-c", S.CANCELED)},
        "0",
        "0",
        (1, (), False),
    ),
    ("journal open, venue list lacks it", [], "0", [OPEN_A], {}, "0", "0", (1, (), False)),
    ("fills explain the position", [], "0.013", [], {}, "0.01", "0.003", (0, (), False)),
    ("position the fills cannot explain", [], "0", [], {}, "0.01", "0", (1, (), True)),
]


@pytest.mark.parametrize("case", [t[1:] for t in TABLE], ids=[t[0] for t in TABLE])
def test_compare(case: tuple[Any, ...]) -> None:
    venue_ids, position, live, mine, net, offset, expected = case
    view = VenueView([listed(c) for c in venue_ids], [], D(position))
    result = compare(
        view, live, mine, net_filled=D(net), offset=None if offset is None else D(offset)
    )
    count, unknown, contradictory = expected
    assert (len(result.mismatches), result.unknown_owned, result.contradictory) == (
        count,
        unknown,
        contradictory,
    )


def test_an_order_closed_after_the_venue_was_read_is_no_mismatch() -> None:
    # The lists were read while the journal held tw-c open; a lookup since found
    # it filled. The venue was read a moment before the fill, not out of step.
    filled = journaled("tw-c", S.FILLED, "0.01")
    view = VenueView([listed("tw-c")], [], D("0.01"))
    mine = {"tw-c": filled}

    read_while_live = compare(
        view, [], mine, net_filled=D("0.01"), offset=D(0), live_when_read=frozenset({"tw-c"})
    )
    read_after_close = compare(view, [], mine, net_filled=D("0.01"), offset=D(0))

    assert read_while_live.mismatches == ()
    assert read_after_close.mismatches == ("tw-c: open at the venue, journal says FILLED",)


def test_an_order_the_reads_do_not_show_yet_is_no_mismatch() -> None:
    # Accepted moments ago; the venue's open list and its lookup both miss it within
    # the absence grace (Binance's reads lag its writes): not yet shown, not missing.
    view = VenueView([], [], D(0))
    lagging = compare(view, [OPEN_A], {}, net_filled=D(0), offset=D(0), unseen=frozenset({"tw-a"}))
    assert lagging.mismatches == ()
    missing = compare(view, [OPEN_A], {}, net_filled=D(0), offset=D(0))
    assert missing.mismatches == (
        "tw-a: OPEN in the journal, missing from the venue's open orders",
    )
