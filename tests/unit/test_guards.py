"""Guard transitions of the degradation matrix, on a fake clock (``now`` passed in)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import ccxt
import pytest

from tradewarden.api.tradingbot import GuardsSpec, TradingMode
from tradewarden.bot.model.orders import OrderIntent, OrderType, Purpose, Side
from tradewarden.bot.reliability.api_health import (
    CIRCUIT_OPEN_AFTER,
    MIN_SAMPLES,
    Circuit,
    order_counts,
    request_failed,
    used_weight,
)
from tradewarden.bot.reliability.guards import (
    ExpectedFill,
    GuardBoard,
    Trip,
    expected_fill,
    slippage_bps,
)
from tradewarden.bot.reliability.report import ReconcileReport

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
T0 = 1_000.0
REDUCE, HALT = TradingMode.REDUCE_ONLY, TradingMode.HALTED


def board() -> GuardBoard:
    return GuardBoard(GuardsSpec())


def tripped(guards: GuardBoard, now: float) -> set[tuple[str, str | None, TradingMode]]:
    return {(t.name, t.symbol, t.mode) for t in guards.active(now)}


def requests(guards: GuardBoard, now: float, outcomes: str, weight: int | None = None) -> None:
    """Feed one request per character: "." ok, "x" failed."""
    for offset, outcome in enumerate(outcomes):
        guards.api_request(now + offset * 0.01, outcome == "x", weight)


# -- API health ---------------------------------------------------------------

Feed = Callable[[GuardBoard], None]
API_TABLE: list[tuple[str, Feed, bool]] = [
    ("healthy traffic", lambda g: requests(g, T0, "." * 20), False),
    ("too few requests to judge a rate", lambda g: requests(g, T0, ".x." * 2), False),
    ("error rate at threshold", lambda g: requests(g, T0, "....x" * 4), True),
    ("error rate below threshold", lambda g: requests(g, T0, ".........x" * 2), False),
    ("rate-limit usage at 90 %", lambda g: requests(g, T0, "..", weight=2160), True),
    ("rate-limit usage below 90 %", lambda g: requests(g, T0, "..", weight=2100), False),
    (
        "circuit opens on consecutive failures",
        lambda g: requests(g, T0, "x" * CIRCUIT_OPEN_AFTER),
        True,
    ),
    (
        "old errors leave the window",
        lambda g: (requests(g, T0 - 1000, "x" * 4 + "." * 10), requests(g, T0, "." * 12)),
        False,
    ),
]


@pytest.mark.parametrize(("feed", "trips"), [pytest.param(*r[1:], id=r[0]) for r in API_TABLE])
def test_api_health(feed: Feed, trips: bool) -> None:
    guards = board()
    feed(guards)
    assert (("apiHealth", None, REDUCE) in tripped(guards, T0 + 1)) is trips


def test_api_health_pause_runs_from_the_reading_not_from_when_it_is_read() -> None:
    guards = board()
    requests(guards, T0, "..", weight=2300)
    [trip] = guards.active(T0 + 30)
    # Looking again 30 s later (the reading still applies) does not move the end.
    assert trip.until == pytest.approx(T0 + 0.01 + 300)
    assert "rate-limit usage" in trip.reason
    assert guards.active(T0 + 299) != []
    assert guards.active(T0 + 301) == []


def test_requests_that_go_through_while_the_circuit_is_open_do_not_extend_the_pause() -> None:
    """Issue 12 item 9: a 300 s pause held the bot for 9.5 minutes after the venue was healthy."""
    guards = board()
    requests(guards, T0, "x" * CIRCUIT_OPEN_AFTER)
    last_failure = T0 + (CIRCUIT_OPEN_AFTER - 1) * 0.01
    # The venue is healthy again: reconcile reads go through every 5 s, the
    # posture is looked at every second, all through the pause.
    second = 1
    while T0 + second < last_failure + 300:
        if second % 5 == 0:
            guards.api_request(T0 + second, failed=False)
        assert ("apiHealth", None, REDUCE) in tripped(guards, T0 + second)
        second += 1
    # The pause is over: half-open, held until the probe answers, not a moment longer.
    assert guards.api.circuit(last_failure + 300) is Circuit.HALF_OPEN
    assert ("apiHealth", None, REDUCE) in tripped(guards, last_failure + 300.5)
    guards.api_request(last_failure + 301, failed=False)
    assert guards.api.circuit(last_failure + 301) is Circuit.CLOSED
    assert tripped(guards, last_failure + 301) == set()


def test_failures_while_the_circuit_is_open_extend_the_pause_from_the_last_one() -> None:
    guards = board()
    requests(guards, T0, "x" * CIRCUIT_OPEN_AFTER)
    guards.api_request(T0 + 100, failed=True)  # the venue is still down
    [trip] = guards.active(T0 + 200)
    assert trip.until == pytest.approx(T0 + 400)
    assert guards.api.circuit(T0 + 399) is Circuit.OPEN
    assert guards.api.circuit(T0 + 400) is Circuit.HALF_OPEN


def test_an_error_rate_pause_runs_from_the_last_failed_request() -> None:
    guards = board()
    requests(guards, T0, "....x" * 4)  # last failure at T0 + 0.19
    for second in range(1, 300):
        guards.api_request(T0 + second, failed=False)
        assert ("apiHealth", None, REDUCE) in tripped(guards, T0 + second)
    assert tripped(guards, T0 + 300.2) == set()


def test_circuit_half_opens_and_a_good_probe_closes_it() -> None:
    guards = board()
    requests(guards, T0, "x" * CIRCUIT_OPEN_AFTER)
    assert guards.api.circuit(T0 + 1) is Circuit.OPEN
    assert guards.api.circuit(T0 + 301) is Circuit.HALF_OPEN
    guards.api_request(T0 + 302, failed=False)
    assert guards.api.circuit(T0 + 302) is Circuit.CLOSED


def test_a_failed_probe_opens_the_circuit_again() -> None:
    guards = board()
    requests(guards, T0, "x" * CIRCUIT_OPEN_AFTER)
    guards.api_request(T0 + 301, failed=True)
    assert guards.api.circuit(T0 + 302) is Circuit.OPEN
    [trip] = guards.active(T0 + 302)
    assert trip.until == pytest.approx(T0 + 601)


@pytest.mark.parametrize(
    ("error", "failed"),
    [
        (None, False),
        (ccxt.RateLimitExceeded('binanceusdm {"code":-1003,"msg":"Too much weight"}'), True),
        (ccxt.DDoSProtection("418 banned"), True),
        (ccxt.InvalidNonce('{"code":-1021,"msg":"Timestamp outside recvWindow"}'), True),
        (ccxt.RequestTimeout("timed out"), True),
        (ccxt.ExchangeNotAvailable("503"), True),
        (ccxt.OrderNotFound('{"code":-2013,"msg":"Order does not exist."}'), False),
        (ccxt.InvalidOrder('{"code":-2022,"msg":"ReduceOnly Order is rejected."}'), False),
    ],
)
def test_which_outcomes_count_against_api_health(error: BaseException | None, failed: bool) -> None:
    assert request_failed(error) is failed


@pytest.mark.parametrize(
    ("headers", "weight"),
    [
        ({"X-MBX-USED-WEIGHT-1M": "42"}, 42),
        ({"x-mbx-used-weight-1m": "7"}, 7),
        ({"Content-Type": "application/json"}, None),
        (None, None),
        ({"x-mbx-used-weight-1m": "lots"}, None),
    ],
)
def test_used_weight_header(headers: dict[str, str] | None, weight: int | None) -> None:
    assert used_weight(headers) == weight


def test_order_count_headers() -> None:
    headers = {"X-MBX-ORDER-COUNT-10S": "12", "x-mbx-order-count-1m": "40", "X-Other": "1"}
    assert order_counts(headers) == {"x-mbx-order-count-10s": 12, "x-mbx-order-count-1m": 40}
    assert order_counts({"x-mbx-order-count-10s": "many"}) == {}
    assert order_counts(None) == {}


@pytest.mark.parametrize(
    ("orders", "trips"),
    [
        ({"x-mbx-order-count-10s": 270, "x-mbx-order-count-1m": 270}, True),  # 90 % of 300
        ({"x-mbx-order-count-10s": 100, "x-mbx-order-count-1m": 1080}, True),  # 90 % of 1200
        ({"x-mbx-order-count-10s": 260, "x-mbx-order-count-1m": 1000}, False),
    ],
)
def test_order_rate_usage_trips_api_health(orders: dict[str, int], trips: bool) -> None:
    guards = board()
    guards.api_request(T0, False, 10, orders)
    assert (("apiHealth", None, REDUCE) in tripped(guards, T0 + 1)) is trips


def test_an_order_count_reading_lasts_as_long_as_its_window() -> None:
    guards = board()
    guards.api.order_limits = {"x-mbx-order-count-10s": 20, "x-mbx-order-count-1m": 100}
    guards.api_request(T0, False, None, {"x-mbx-order-count-10s": 19})
    assert guards.api.usage(T0 + 9) == pytest.approx(0.95)
    assert guards.api.usage(T0 + 10) == 0.0  # the 10 s window it counted is over


def test_too_few_samples_do_not_make_a_rate() -> None:
    guards = board()
    requests(guards, T0, "x" * (MIN_SAMPLES - 1))
    assert guards.api.error_rate(T0 + 1) == 0.0


# -- mark staleness, slippage, broker reads, websocket --------------------------


def test_a_stale_mark_pauses_only_its_symbol() -> None:
    guards = board()
    guards.marks(T0, {BTC: T0 - 20, ETH: T0 - 1})
    assert tripped(guards, T0) == {("markStaleness", BTC, REDUCE)}
    [trip] = guards.active(T0)
    assert trip.restriction().symbol == BTC
    assert guards.active(T0 + 119) != []
    assert guards.active(T0 + 121) == []


def test_a_fresh_mark_does_not_trip() -> None:
    guards = board()
    guards.marks(T0, {BTC: T0 - 14})
    assert guards.active(T0) == []


# (case, fills as bps of adverse slippage; "L" marks a limit fill, bounded by its price; trips)
SLIPPAGE_TABLE = [
    ("three bad fills in a row", (80, 60, 51), True),
    ("two bad fills", (80, 60), False),
    ("a good fill resets the count", (80, 60, 10, 80), False),
    ("favourable slippage is fine", (-200, -200, -200), False),
    ("exactly at the limit is fine", (50, 50, 50), False),
    ("limits filled through their price fail", ("L200", "L200", "L200"), True),
    ("a limit filled at its price says nothing", (80, 60, "L0", 80), True),
    ("a limit at its price does not fail either", ("L0", "L0", "L0"), False),
]


@pytest.mark.parametrize(
    ("fills", "trips"), [pytest.param(*r[1:], id=r[0]) for r in SLIPPAGE_TABLE]
)
def test_slippage(fills: tuple[int | str, ...], trips: bool) -> None:
    guards = board()
    price = Decimal(10_000)
    for fill in fills:
        bounded = isinstance(fill, str)
        bps = Decimal(str(fill).removeprefix("L"))
        guards.fill(T0, BTC, Side.BUY, price + bps, ExpectedFill(price, bounded=bounded))
    assert (("slippage", BTC, REDUCE) in tripped(guards, T0)) is trips
    if trips:
        assert guards.active(T0 + 61) == []


@pytest.mark.parametrize(
    ("side", "average", "bps"),
    [(Side.BUY, "10050", 50.0), (Side.SELL, "9950", 50.0), (Side.SELL, "10050", -50.0)],
)
def test_slippage_is_adverse_to_the_side(side: Side, average: str, bps: float) -> None:
    assert slippage_bps(side, Decimal(average), Decimal(10_000)) == pytest.approx(bps)


MARK = Decimal(50_000)


@pytest.mark.parametrize(
    ("intent", "mark", "expected"),
    [
        pytest.param(
            OrderIntent(
                BTC, Side.SELL, OrderType.MARKET, Decimal(1), reduce_only=True, purpose=Purpose.EXIT
            ),
            MARK,
            ExpectedFill(MARK),
            id="market order: the mark when it was sent",
        ),
        pytest.param(
            OrderIntent(BTC, Side.BUY, OrderType.MARKET, Decimal(1)),
            None,
            None,
            id="market order sent before any mark: nothing to judge",
        ),
        pytest.param(
            OrderIntent(
                BTC,
                Side.SELL,
                OrderType.STOP_MARKET,
                Decimal(1),
                Decimal(49_000),
                reduce_only=True,
                purpose=Purpose.STOP,
            ),
            MARK,
            ExpectedFill(Decimal(49_000)),
            id="stop: its trigger",
        ),
        pytest.param(
            OrderIntent(BTC, Side.BUY, OrderType.LIMIT, Decimal(1), Decimal(49_900)),
            MARK,
            ExpectedFill(Decimal(49_900), bounded=True),
            id="limit: its own price, which bounds an honest fill",
        ),
    ],
)
def test_what_a_fill_is_judged_against(
    intent: OrderIntent, mark: Decimal | None, expected: ExpectedFill | None
) -> None:
    assert expected_fill(intent, mark) == expected


@pytest.mark.parametrize(
    ("reads", "trips"),
    [("xxx", True), ("xx", False), ("xx.x", False), ("x.xxx", True)],
)
def test_broker_reads(reads: str, trips: bool) -> None:
    guards = board()
    for read in reads:
        guards.broker_read(T0, ok=read == ".")
    assert (("brokerReads", None, REDUCE) in tripped(guards, T0)) is trips
    assert guards.active(T0 + 121) == []


def test_websocket_exhausted_pauses_everything() -> None:
    guards = board()
    guards.websocket_exhausted(T0)
    assert tripped(guards, T0 + 299) == {("websocket", None, REDUCE)}
    assert guards.active(T0 + 301) == []


def test_a_repeated_trip_extends_the_pause_and_keeps_its_reason() -> None:
    guards = board()
    guards.websocket_exhausted(T0)
    first = guards.active(T0)[0]
    guards.websocket_exhausted(T0 + 100)
    [trip] = guards.active(T0 + 350)
    assert trip.reason == first.reason
    assert trip.until == T0 + 400


# -- reconcile: drift, belief, kill switch ----------------------------------------


def clean(at: float = T0) -> ReconcileReport:
    return ReconcileReport(BTC, at, snapshot_age_seconds=0.2)


def test_confirmed_strays_trip_drift_until_a_clean_reconcile() -> None:
    guards = board()
    guards.reconcile(T0, ReconcileReport(BTC, T0, strays=("x",), strays_confirmed=("x",)))
    assert ("drift", None, REDUCE) in tripped(guards, T0 + 3600)
    guards.reconcile(T0 + 10, clean())
    assert ("drift", None, REDUCE) not in tripped(guards, T0 + 10)


def test_drift_trip_holds_while_the_reconciler_still_detects_drift() -> None:
    guards = board()
    confirmed = ReconcileReport(
        BTC, T0, strays=("x",), strays_confirmed=("x",), drift_detected=True
    )
    guards.reconcile(T0, confirmed)
    quiet_but_held = ReconcileReport(BTC, T0 + 1, snapshot_age_seconds=0.2, drift_detected=True)
    guards.reconcile(T0 + 1, quiet_but_held)
    assert ("drift", None, REDUCE) in tripped(guards, T0 + 1)
    guards.reconcile(T0 + 10, clean(T0 + 10))
    assert ("drift", None, REDUCE) not in tripped(guards, T0 + 10)


def test_each_failed_pass_in_reports_is_one_failed_broker_read() -> None:
    guards = board()  # maxConsecutiveFailures: 3
    for n in range(2):
        guards.reconcile(T0 + n, ReconcileReport(BTC, T0 + n, read_failed=True))
    assert ("brokerReads", None, REDUCE) not in tripped(guards, T0 + 2)
    guards.reconcile(T0 + 2, ReconcileReport(BTC, T0 + 2, read_failed=True))
    [trip] = [t for t in guards.active(T0 + 2) if t.name == "brokerReads"]
    assert trip.reason == "3 broker reads failed in a row"


def test_belief_debt_goes_reduce_only_then_kill_switch() -> None:
    guards = board()
    modes = []
    for n in range(5):
        guards.reconcile(T0 + n, ReconcileReport(BTC, T0 + n, contradictory=True))
        modes.append(tripped(guards, T0 + n))
    assert modes[0] == set()
    assert ("drift", BTC, REDUCE) in modes[1]
    assert ("killSwitch", None, HALT) in modes[4]
    assert guards.kill_switch.engaged
    assert guards.confidence() == 0.0


def engaged_board() -> GuardBoard:
    guards = board()
    for n in range(5):
        guards.reconcile(T0 + n, ReconcileReport(BTC, T0 + n, contradictory=True))
    assert guards.kill_switch.engaged
    return guards


def test_time_alone_never_releases_the_kill_switch() -> None:
    guards = engaged_board()
    assert ("killSwitch", None, HALT) in tripped(guards, T0 + 86_400 * 30)


def test_clean_reconciles_release_the_kill_switch() -> None:
    guards = engaged_board()
    needed = GuardsSpec().kill_switch.clean_reconciles_to_recover
    for n in range(needed - 1):
        guards.reconcile(T0 + 10 + n, clean(T0 + 10 + n))
        assert guards.kill_switch.engaged
    guards.reconcile(T0 + 100, clean(T0 + 100))
    assert not guards.kill_switch.engaged
    assert guards.active(T0 + 100) == []
    assert guards.confidence() == 1.0


def test_delayed_snapshots_are_not_clean_evidence() -> None:
    guards = engaged_board()
    for n in range(10):
        guards.reconcile(T0 + 10 + n, ReconcileReport(BTC, T0, snapshot_age_seconds=60))
    assert guards.kill_switch.engaged


def test_a_person_resets_the_kill_switch() -> None:
    guards = engaged_board()
    assert guards.reset_kill_switch() is True
    assert guards.active(T0 + 10) == []
    assert guards.reset_kill_switch() is False


def test_demands_are_keyed_per_source_and_symbol() -> None:
    guards = board()
    guards.marks(T0, {BTC: T0 - 20, ETH: T0 - 20})
    guards.websocket_exhausted(T0)
    demands = guards.demands(T0)
    assert set(demands) == {
        "guard.markStaleness[BTC/USDT:USDT]",
        "guard.markStaleness[ETH/USDT:USDT]",
        "guard.websocket",
    }
    assert demands["guard.websocket"].symbol is None


def test_trip_restriction_names_the_guard_source() -> None:
    trip = Trip("apiHealth", REDUCE, "error rate 0.3 >= 0.2", T0)
    assert trip.restriction().source == "guard.apiHealth"
