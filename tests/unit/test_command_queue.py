"""The execution worker's queue: urgent commands first, no repeats, a bound on the rest."""

from __future__ import annotations

from decimal import Decimal

from tradewarden.bot.model.orders import Cancel, OrderIntent, OrderType, Place, Side
from tradewarden.bot.runtime.worker import CancelAttempts, CommandQueue, ReconcileAll

BUY = Place(OrderIntent("BTC/USDT:USDT", Side.BUY, OrderType.LIMIT, Decimal(1), Decimal(100)))


def drain(queue: CommandQueue) -> list[object]:
    taken = []
    while (command := queue.take()) is not None:
        taken.append(command)
    return taken


def test_urgent_commands_jump_the_queue() -> None:
    queue = CommandQueue(limit=8)
    queue.put(ReconcileAll())
    queue.put(BUY)
    queue.put(Cancel("a", "halted"), urgent=True)
    assert drain(queue) == [Cancel("a", "halted"), ReconcileAll(), BUY]


def test_a_repeat_of_a_waiting_or_running_command_is_not_queued() -> None:
    queue = CommandQueue(limit=8)
    assert queue.put(ReconcileAll()) and queue.put(ReconcileAll())
    # Two cancels of one order repeat each other whatever their reasons.
    queue.put(Cancel("a", "left the grid band"))
    queue.put(Cancel("a", "reduce-only"), urgent=True)
    queue.running.append(BUY)
    queue.put(BUY)
    assert drain(queue) == [ReconcileAll(), Cancel("a", "left the grid band")]


def test_the_bound_refuses_normal_commands_but_never_urgent_ones() -> None:
    queue = CommandQueue(limit=1)
    assert queue.put(ReconcileAll())
    assert not queue.put(BUY)
    assert queue.put(Cancel("a", "halted"), urgent=True)
    assert len(queue) == 2


def test_a_reconcile_in_a_retry_takes_only_urgent_commands() -> None:
    queue = CommandQueue(limit=8)
    queue.put(BUY)
    assert queue.take(urgent_only=True) is None
    queue.put(Cancel("a", "halted"), urgent=True)
    assert queue.take(urgent_only=True) == Cancel("a", "halted")


def test_orders_pending_counts_places_and_cancels_waiting_or_running() -> None:
    queue = CommandQueue(limit=8)
    queue.put(ReconcileAll())
    assert not queue.orders_pending()
    queue.running.append(Cancel("a", "halted"))
    assert queue.orders_pending()


def test_cancels_that_keep_leaving_an_order_working_run_out_then_cool_down() -> None:
    attempts = CancelAttempts(limit=3, cooldown=10.0)
    assert attempts.record("a", settled=False, now=0.0) is None
    assert attempts.record("a", settled=False, now=1.0) is None
    assert not attempts.exhausted("a", 1.5)
    assert attempts.record("a", settled=False, now=2.0) == 3
    assert attempts.exhausted("a", 11.9)
    assert not attempts.exhausted("b", 5.0)
    # After the cool-down another bounded round may start.
    assert not attempts.exhausted("a", 12.0)
    assert attempts.record("a", settled=False, now=12.0) is None


def test_a_cancel_that_settles_the_order_clears_its_count() -> None:
    attempts = CancelAttempts(limit=2, cooldown=10.0)
    assert attempts.record("a", settled=False, now=0.0) is None
    assert attempts.record("a", settled=True, now=1.0) is None
    assert attempts.record("a", settled=False, now=2.0) is None
    assert not attempts.exhausted("a", 2.0)


def test_urgent_cancels_are_taken_together_and_other_commands_keep_their_order() -> None:
    queue = CommandQueue(limit=8)
    close = Place(OrderIntent("BTC/USDT:USDT", Side.SELL, OrderType.MARKET, Decimal(1)))
    queue.put(BUY)
    queue.put(Cancel("a", "halted"), urgent=True)
    queue.put(close, urgent=True)
    queue.put(Cancel("b", "halted"), urgent=True)

    assert queue.urgent.is_set()
    assert queue.take_urgent_cancels() == [Cancel("a", "halted"), Cancel("b", "halted")]
    assert queue.take_urgent_cancels() == []
    assert queue.urgent.is_set()  # the flatten close still waits
    assert drain(queue) == [close, BUY]
    assert not queue.urgent.is_set()
    queue.put(Cancel("c", "halted"), urgent=True)
    queue.clear()
    assert not queue.urgent.is_set()
