"""The intent journal: durable before send, ids never repeat, lifecycle enforced."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from tests.support.clock import FakeClock
from tradewarden.api.identity import bot_prefix
from tradewarden.bot.execution.journal import Journal, JournalError
from tradewarden.bot.model.order_state import IllegalTransition, OrderState
from tradewarden.bot.model.orders import OrderIntent, OrderType, Purpose, Side

S = OrderState
BOT = "default/btc-grid-sim/uid-1"


def limit(side: Side = Side.BUY, quantity: str = "0.003", price: str = "30000") -> OrderIntent:
    return OrderIntent("BTC/USDT:USDT", side, OrderType.LIMIT, Decimal(quantity), Decimal(price))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_000.0)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "journal.sqlite"


@pytest.fixture
def journal(path: Path, clock: FakeClock) -> Iterator[Journal]:
    j = Journal.open(path, BOT, clock)
    yield j
    j.close()


def test_record_intent_persists_submitting_with_increasing_ids(
    journal: Journal, path: Path, clock: FakeClock
) -> None:
    first = journal.record_intent(limit())
    clock.advance(1)
    second = journal.record_intent(limit(Side.SELL, "0.004", "31000"))

    # journaled as the first attempt: from this commit on it may exist at the venue
    assert (first.state, second.state) == (S.SUBMITTING, S.SUBMITTING)
    assert second.sequence > first.sequence
    assert first.client_order_id != second.client_order_id
    assert first.client_order_id.startswith(bot_prefix(BOT))
    assert first.venue_client_id == first.client_order_id
    assert first.filled == 0
    assert first.attempts == 1
    assert first.created_at == 1_000.0
    assert second.created_at == 1_001.0
    # what comes back is what was asked for
    assert second.intent == limit(Side.SELL, "0.004", "31000")

    # committed already: a second reader (a restarted bot) sees it before any send
    other = Journal.open(path, BOT, clock)
    try:
        seen = other.get(first.client_order_id)
        assert seen.state is S.SUBMITTING
        assert seen.intent == first.intent
    finally:
        other.close()


def test_intent_fields_round_trip(journal: Journal) -> None:
    intent = OrderIntent(
        "ETH/USDT:USDT",
        Side.SELL,
        OrderType.MARKET,
        Decimal("1.25"),
        reduce_only=True,
        purpose=Purpose.EXIT,
    )

    stored = journal.get(journal.record_intent(intent).client_order_id)

    assert stored.intent == intent


def test_sequence_survives_close_and_reopen(path: Path, clock: FakeClock) -> None:
    journal = Journal.open(path, BOT, clock)
    before = [journal.record_intent(limit()) for _ in range(3)]
    journal.close()

    reopened = Journal.open(path, BOT, clock)
    try:
        after = [reopened.record_intent(limit()) for _ in range(3)]
        ids = [order.client_order_id for order in before + after]
        assert len(set(ids)) == 6
        assert min(o.sequence for o in after) > max(o.sequence for o in before)
        # the old rows are still there
        assert [o.client_order_id for o in reopened.non_terminal()] == ids
    finally:
        reopened.close()


def test_reopening_for_another_bot_is_refused(path: Path, clock: FakeClock) -> None:
    Journal.open(path, BOT, clock).close()

    with pytest.raises(JournalError, match="state directory per bot"):
        Journal.open(path, "default/other-bot/uid-2", clock)


def test_illegal_transition_raises_and_changes_nothing(journal: Journal, clock: FakeClock) -> None:
    order = journal.record_intent(limit())
    clock.advance(5)

    with pytest.raises(IllegalTransition):
        journal.transition(order.client_order_id, S.CANCELING)

    assert journal.get(order.client_order_id) == order
    assert journal.history(order.client_order_id) == []


def test_terminal_order_refuses_a_different_state(journal: Journal) -> None:
    coid = journal.record_intent(limit()).client_order_id
    journal.transition(coid, S.SUBMITTING)
    journal.transition(coid, S.FILLED, filled=Decimal("0.003"), exchange_order_id="42")
    before = journal.get(coid)

    with pytest.raises(IllegalTransition):
        journal.transition(coid, S.OPEN)

    assert journal.get(coid) == before


@pytest.mark.parametrize("target", [S.PARTIALLY_FILLED, S.FILLED, S.CANCELED])
def test_filled_can_never_shrink(journal: Journal, target: OrderState) -> None:
    coid = journal.record_intent(limit()).client_order_id
    journal.transition(coid, S.SUBMITTING)
    journal.transition(coid, S.PARTIALLY_FILLED, filled=Decimal("0.002"))
    before = journal.get(coid)

    with pytest.raises(JournalError, match="shrink"):
        journal.transition(coid, target, filled=Decimal("0.001"))

    assert journal.get(coid) == before


def test_fills_grow_piecemeal(journal: Journal) -> None:
    coid = journal.record_intent(limit()).client_order_id
    journal.transition(coid, S.OPEN, exchange_order_id="42")
    journal.transition(coid, S.PARTIALLY_FILLED, filled=Decimal("0.001"))
    journal.transition(
        coid, S.PARTIALLY_FILLED, filled=Decimal("0.002"), average_price=Decimal("29999.5")
    )
    done = journal.transition(coid, S.FILLED, filled=Decimal("0.003"))

    assert done.state is S.FILLED
    assert done.filled == Decimal("0.003")
    assert done.remaining == 0
    assert done.exchange_order_id == "42"  # kept when a later update does not carry it
    assert done.average_price == Decimal("29999.5")
    assert journal.history(coid) == [
        ("SUBMITTING", "OPEN"),
        ("OPEN", "PARTIALLY_FILLED"),
        ("PARTIALLY_FILLED", "PARTIALLY_FILLED"),
        ("PARTIALLY_FILLED", "FILLED"),
    ]


@pytest.mark.parametrize(
    ("path_to_state", "filled"),
    [
        ([S.SUBMITTING], None),
        ([S.SUBMITTING, S.OPEN], None),
        ([S.SUBMITTING, S.PARTIALLY_FILLED], Decimal("0.001")),
        ([S.SUBMITTING, S.FILLED], Decimal("0.003")),
        ([S.SUBMITTING, S.OPEN, S.CANCELING], None),
    ],
)
def test_reapplying_the_same_state_is_a_no_op(
    journal: Journal, clock: FakeClock, path_to_state: list[OrderState], filled: Decimal | None
) -> None:
    coid = journal.record_intent(limit()).client_order_id
    for state in path_to_state:
        journal.transition(coid, state, filled=filled if state is path_to_state[-1] else None)
    before = journal.get(coid)
    history = journal.history(coid)
    clock.advance(10)

    again = journal.transition(coid, path_to_state[-1], filled=filled)

    assert again == before
    assert journal.get(coid) == before
    assert journal.history(coid) == history


def test_rotate_venue_id_changes_only_the_venue_id(journal: Journal, clock: FakeClock) -> None:
    coid = journal.record_intent(limit()).client_order_id
    bystander = journal.record_intent(limit(Side.SELL)).client_order_id
    before = journal.get(coid)
    clock.advance(3)

    rotated = journal.rotate_venue_id(coid, f"{coid}.r1", "-4116 but absent at the venue")

    assert rotated.venue_client_id == f"{coid}.r1"
    assert rotated.client_order_id == coid
    assert (rotated.sequence, rotated.intent, rotated.state, rotated.filled) == (
        before.sequence,
        before.intent,
        before.state,
        before.filled,
    )
    assert journal.get(coid) == rotated
    assert journal.get(bystander).venue_client_id == bystander
    # the rotation is audited without inventing a state change
    assert journal.history(coid)[-1] == ("SUBMITTING", "SUBMITTING")


def test_find_of_a_foreign_order_is_none(journal: Journal) -> None:
    journal.record_intent(limit())
    assert journal.find("web_abc123") is None


def _advance_to(journal: Journal, coid: str, states: list[OrderState]) -> None:
    for state in states:
        filled = Decimal("0.003") if state is S.FILLED else None
        journal.transition(coid, state, filled=filled)


def test_non_terminal_incomplete_and_counts(journal: Journal, clock: FakeClock) -> None:
    lives = {
        "submitting": [],
        "open": [S.SUBMITTING, S.OPEN],
        "canceling": [S.SUBMITTING, S.OPEN, S.CANCELING],
        "filled": [S.SUBMITTING, S.FILLED],
        "abandoned": [S.ABANDONED],
    }
    old = {}
    for name, states in lives.items():
        old[name] = journal.record_intent(limit()).client_order_id
        _advance_to(journal, old[name], states)
    clock.advance(50)
    young = journal.record_intent(limit()).client_order_id
    clock.advance(20)  # old ones are 70 s old, the young one 20 s

    non_terminal = [o.client_order_id for o in journal.non_terminal()]
    assert non_terminal == [
        old["submitting"],
        old["open"],
        old["canceling"],
        young,
    ]

    incomplete = {o.client_order_id for o in journal.incomplete(older_than_seconds=60)}
    # resting orders have a known state; lifecycles stuck without an outcome are incomplete
    assert incomplete == {old["submitting"], old["canceling"]}
    assert {o.client_order_id for o in journal.incomplete(older_than_seconds=10)} == {
        old["submitting"],
        old["canceling"],
        young,
    }
    assert journal.incomplete(older_than_seconds=100) == []

    assert journal.counts_by_state() == {
        "SUBMITTING": 2,
        "OPEN": 1,
        "CANCELING": 1,
        "FILLED": 1,
        "ABANDONED": 1,
    }


def test_orders_lists_every_order_ever_recorded_as_a_reopened_journal_reads_it(
    path: Path, clock: FakeClock
) -> None:
    journal = Journal.open(path, BOT, clock)
    filled = journal.record_intent(limit()).client_order_id
    journal.transition(filled, S.FILLED, filled=Decimal("0.003"), exchange_order_id="7")
    clock.advance(1)
    resting = journal.record_intent(limit(Side.SELL, "0.004", "31000")).client_order_id
    journal.transition(resting, S.OPEN)
    journal.note_error(resting, "timeout")

    orders = journal.orders()
    # Terminal orders too (the live set holds only the resting one), oldest first.
    assert [o.client_order_id for o in orders] == [filled, resting]
    assert [o.client_order_id for o in journal.non_terminal()] == [resting]
    assert orders == [journal.get(filled), journal.get(resting)]
    journal.close()

    reopened = Journal.open(path, BOT, clock)
    try:
        assert reopened.orders() == orders
    finally:
        reopened.close()


def test_attempts_are_counted_and_the_last_error_kept(
    journal: Journal, path: Path, clock: FakeClock
) -> None:
    coid = journal.record_intent(limit()).client_order_id

    journal.note_error(coid, "RequestTimeout: timed out")
    journal.transition(coid, S.SUBMITTING, attempted=True)

    assert journal.get(coid).attempts == 2
    reopened = Journal.open(path, BOT, clock)
    order = reopened.get(coid)
    reopened.close()
    assert order.attempts == 2
    assert order.last_error == "RequestTimeout: timed out"
    assert order.state is S.SUBMITTING


def test_journal_file_is_in_wal_mode(journal: Journal, path: Path) -> None:
    journal.record_intent(limit())
    connection = sqlite3.connect(path)
    try:
        (mode,) = connection.execute("PRAGMA journal_mode").fetchone()
    finally:
        connection.close()
    assert mode == "wal"


def test_a_new_journal_after_a_lost_one_never_repeats_its_ids(
    tmp_path: Path, clock: FakeClock
) -> None:
    """Truncating or deleting journal.sqlite starts a new generation with ids of its own."""
    path = tmp_path / "journal.sqlite"
    old = Journal.open(path, BOT, clock)
    old_ids = {old.record_intent(limit()).client_order_id for _ in range(50)}
    old.close()
    path.write_bytes(b"")  # lost: truncated to 0 bytes
    new = Journal.open(path, BOT, clock)
    new_ids = {new.record_intent(limit()).client_order_id for _ in range(50)}
    assert old_ids.isdisjoint(new_ids)
    assert all(coid.startswith(bot_prefix(BOT)) for coid in old_ids | new_ids)
    assert new.epoch and new.epoch != old.epoch
    new.close()


def test_a_journal_keeps_its_epoch_across_restarts(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "journal.sqlite"
    first = Journal.open(path, BOT, clock, epoch=lambda: "0000abcd")
    assert first.record_intent(limit()).client_order_id == f"{bot_prefix(BOT)}0000abcd-1"
    first.close()
    again = Journal.open(path, BOT, clock, epoch=lambda: pytest.fail("drew a second epoch"))
    assert again.epoch == "0000abcd"
    assert again.record_intent(limit()).client_order_id == f"{bot_prefix(BOT)}0000abcd-2"
    again.close()


def test_a_journal_from_before_epochs_keeps_its_ids(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "journal.sqlite"
    legacy = Journal.open(path, BOT, clock)
    legacy.record_intent(limit())
    legacy.close()
    with sqlite3.connect(path) as db:  # as a journal written before epochs looks
        db.execute("DELETE FROM meta WHERE key = 'epoch'")
        db.execute("UPDATE intents SET client_order_id = ?, venue_client_id = ?", ("x", "x"))
    reopened = Journal.open(path, BOT, clock, epoch=lambda: pytest.fail("drew an epoch"))
    assert reopened.epoch == ""
    assert reopened.record_intent(limit()).client_order_id == f"{bot_prefix(BOT)}2"
    reopened.close()
