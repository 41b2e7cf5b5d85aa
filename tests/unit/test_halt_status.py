"""A TradingHalt's status from the bots the operator probed: matched, reached, confirmed, why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from tradewarden.api.halts import Halt, halt_from_object
from tradewarden.api.tradingbot import TradingMode
from tradewarden.api.tradinghalt import FLEET_CONFIRMED, HaltState, TradingHaltStatus
from tradewarden.operator.halt_status import BotView, decide_halt_status

NOW = datetime(2026, 12, 3, 20, 0, tzinfo=UTC)
HALTED, REDUCE, ACTIVE = TradingMode.HALTED, TradingMode.REDUCE_ONLY, TradingMode.ACTIVE


def halt(**spec: Any) -> Halt:
    body: dict[str, Any] = {
        "action": "Halt",
        "reason": "desk call",
        "selector": {"matchLabels": {"desk": "a"}},
    }
    body.update(spec)
    return halt_from_object({"metadata": {"name": "desk-a-stop"}, "spec": body})


def view(name: str, mode: TradingMode = HALTED, desk: str = "a", **seen: Any) -> BotView:
    fields: dict[str, Any] = {"reachable": True, "pod_exists": True, **seen}
    return BotView(namespace="ns", name=name, labels={"desk": desk}, mode=mode, **fields)


def decide(h: Halt, views: list[BotView], previous: TradingHaltStatus | None = None,
           now: datetime = NOW) -> TradingHaltStatus:  # fmt: skip
    return decide_halt_status(
        h, views, namespace_labels={}, previous=previous, generation=1, now=now
    )


def fleet_confirmed(status: TradingHaltStatus) -> tuple[str, str]:
    (condition,) = [c for c in status.conditions if c.type == FLEET_CONFIRMED]
    return condition.status, condition.reason


def test_counts_only_the_bots_it_selects_and_says_why_the_rest_wait() -> None:
    views = [
        view("done"),
        view("other-desk", mode=ACTIVE, desk="b"),
        view("still-active", mode=ACTIVE),
        view("resting", open_entries=2),
        view("silent", reachable=False),
        view("no-pod", reachable=False, pod_exists=False),
    ]
    status = decide(halt(), views)
    assert (status.matched, status.reached_mode, status.confirmed) == (5, 4, 1)
    assert {bot.name: bot.why for bot in status.outstanding} == {
        "still-active": "mode Active, Halted demanded",
        "resting": "2 open non-protective orders at the venue",
        "silent": "the bot's /status does not answer: its open orders are not known",
        "no-pod": "no bot pod: its open orders at the venue are not known",
    }
    assert fleet_confirmed(status) == ("False", "Outstanding")
    assert status.confirmed_at is None


def test_flatten_waits_for_a_flat_position() -> None:
    status = decide(halt(action="Flatten"), [view("long", position=Decimal("0.002"))])
    assert (status.reached_mode, status.confirmed) == (1, 0)
    assert status.outstanding[0].why == "position 0.002 not flat yet"
    assert decide(halt(action="Halt"), [view("long", position=Decimal("0.002"))]).confirmed == 1


def test_a_stricter_mode_reaches_reduce_only() -> None:
    status = decide(halt(action="ReduceOnly"), [view("halted"), view("reduced", mode=REDUCE)])
    assert (status.reached_mode, status.confirmed) == (2, 2)


def test_fleet_confirmed_keeps_its_time_and_loses_it_when_a_bot_comes_out() -> None:
    first = decide(halt(), [view("a1"), view("a2")])
    assert fleet_confirmed(first) == ("True", "AllConfirmed")
    assert first.confirmed_at == "2026-12-03T20:00:00Z"
    later = decide(halt(), [view("a1"), view("a2")], first, NOW + timedelta(seconds=30))
    assert later == first
    broken = decide(
        halt(), [view("a1"), view("a2", open_entries=1)], first, NOW + timedelta(minutes=1)
    )
    assert fleet_confirmed(broken) == ("False", "Outstanding") and broken.confirmed_at is None


def test_a_halt_that_matches_nothing_is_never_confirmed() -> None:
    status = decide(halt(), [view("b1", desk="b")])
    assert status.matched == 0
    assert fleet_confirmed(status) == ("False", "NoBotsMatched")


def test_released_and_expired_halts_stay_as_records() -> None:
    confirmed = decide(halt(), [view("a1")])
    released = decide(halt(release={"reason": "venue fixed"}), [view("a1")], confirmed)
    assert released.state is HaltState.RELEASED and released.matched == 0
    assert released.confirmed_at == confirmed.confirmed_at
    assert fleet_confirmed(released) == ("False", "Released")
    expiring = halt(expiresAt="2026-12-03T20:05:00Z")
    assert decide(expiring, [view("a1")], now=NOW + timedelta(minutes=5)).state is HaltState.EXPIRED
