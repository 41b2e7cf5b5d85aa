"""Pure helpers: rate limiter, fault book, signing, price walk, symbol specs."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from tradewarden.bot.venue_sim import errors, signing
from tradewarden.bot.venue_sim.faults import FaultBook, FaultSpec
from tradewarden.bot.venue_sim.markets import SymbolSpec
from tradewarden.bot.venue_sim.prices import PriceWalk
from tradewarden.bot.venue_sim.ratelimit import WeightLimiter


def test_weight_limit_gives_429_then_418_ban_that_expires() -> None:
    limiter = WeightLimiter(limit=10, ban_after_429s=2, ban_duration_s=120)
    start = 600.0  # the start of a window
    assert limiter.charge(10, start) == 10
    statuses = []
    for _ in range(3):
        with pytest.raises(errors.VenueError) as rejected:
            limiter.charge(1, start + 1)
        statuses.append((rejected.value.status, rejected.value.code))
    assert statuses == [(429, -1003), (429, -1003), (418, -1003)]
    assert rejected.value.headers["Retry-After"] == "120"
    with pytest.raises(errors.VenueError) as banned:
        limiter.charge(1, start + 100)  # a new window does not lift a ban
    assert banned.value.status == 418
    assert limiter.charge(1, start + 122) == 1


def test_429_retry_after_points_at_the_next_window() -> None:
    limiter = WeightLimiter(limit=1, ban_after_429s=5, ban_duration_s=120)
    limiter.charge(1, 615.0)
    with pytest.raises(errors.VenueError) as rejected:
        limiter.charge(1, 615.0)
    assert rejected.value.headers["Retry-After"] == "45"
    assert limiter.used(615.0) == 2
    assert limiter.used(660.0) == 0


def spec(**fields: object) -> FaultSpec:
    return FaultSpec.model_validate(fields)


def test_fault_book_honours_after_times_and_match() -> None:
    book = FaultBook()
    book.replace(
        [
            spec(match={"method": "POST", "path": "/p"}, after=1, times=2, action={"delay_ms": 5}),
            spec(action={"skew_ms": 7}),
        ]
    )
    delays = [book.take("POST", "/p").delay_ms for _ in range(4)]
    assert delays == [0, 5, 5, 0]
    assert book.take("GET", "/p").skew_ms == 7
    described = book.describe()
    assert (described[0]["remaining"], described[1]["remaining"]) == (0, None)


@pytest.mark.parametrize(
    "action",
    [{}, {"delay_ms": 1, "stale_ms": 1}, {"accept_then_drop": False}, {"bogus": 1}],
)
def test_a_fault_action_needs_exactly_one_known_effect(action: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        spec(action=action)


def test_signature_covers_query_and_body() -> None:
    body = "symbol=BTCUSDT&timestamp=1"
    signed = f"{body}&signature={signing.sign(body, 'secret')}"
    signing.check_signature("", signed, "secret")
    with pytest.raises(errors.VenueError) as bad:
        signing.check_signature("", signed.replace("BTC", "ETH"), "secret")
    assert bad.value.code == -1022


@pytest.mark.parametrize(
    ("timestamp", "code"),
    [("100000", None), ("94999", -1021), ("101001", -1021), ("", -1102), ("1e5", -1100)],
)
def test_timestamp_window(timestamp: str, code: int | None) -> None:
    params = {"timestamp": timestamp, "recvWindow": "5000"}
    if code is None:
        signing.check_timestamp(params, 100_000, 5000)
        return
    with pytest.raises(errors.VenueError) as rejected:
        signing.check_timestamp(params, 100_000, 5000)
    assert rejected.value.code == code


def test_price_walk_is_reproducible_per_seed() -> None:
    marks = {"BTCUSDT": Decimal("50000"), "ETHUSDT": Decimal("3000")}
    first, again, other = PriceWalk(7, 5.0), PriceWalk(7, 5.0), PriceWalk(8, 5.0)
    assert first.step(marks) == again.step(marks)
    assert first.step(marks) != other.step(marks)


def test_symbol_spec_rejects_unknown_quotes() -> None:
    with pytest.raises(ValueError, match="must end with"):
        SymbolSpec.for_price("BTCEUR", Decimal(1))
