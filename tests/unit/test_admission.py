"""Admission: posture first, then reduce-only safety, then risk limits."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.support.orders import journaled
from tradewarden.api.tradingbot import RiskSpec, TradingMode
from tradewarden.bot.execution.admission import Exposure, refusal, refusal_kind, working_orders
from tradewarden.bot.model.order_state import OrderState
from tradewarden.bot.model.orders import JournaledOrder, OrderIntent, OrderType, Purpose, Side
from tradewarden.bot.model.outcomes import RefusalKind

M = TradingMode
BUY, SELL = Side.BUY, Side.SELL
SYMBOL = "BTC/USDT:USDT"
MARK = Decimal("100")
RISK = RiskSpec(max_position=Decimal("1"), max_order_notional=Decimal("150"))


def intent(
    side: Side,
    quantity: str,
    *,
    reduce_only: bool = False,
    purpose: Purpose = Purpose.ENTRY,
    price: str | None = None,
) -> OrderIntent:
    order_type = OrderType.MARKET if price is None else OrderType.LIMIT
    return OrderIntent(
        SYMBOL,
        side,
        order_type,
        Decimal(quantity),
        None if price is None else Decimal(price),
        reduce_only=reduce_only,
        purpose=purpose,
    )


def entry(side: Side, quantity: str, price: str | None = None) -> OrderIntent:
    return intent(side, quantity, price=price)


def exit_(side: Side, quantity: str) -> OrderIntent:
    return intent(side, quantity, reduce_only=True, purpose=Purpose.EXIT)


def stop(side: Side, quantity: str) -> OrderIntent:
    return intent(side, quantity, reduce_only=True, purpose=Purpose.STOP)


def working(
    order: OrderIntent,
    filled: str = "0",
    state: OrderState = OrderState.OPEN,
    sequence: int = 1,
) -> JournaledOrder:
    return journaled(order, f"twabc-{sequence}", sequence=sequence, state=state, filled=filled)


def exposure(position: str, *orders: JournaledOrder) -> Exposure:
    return Exposure(Decimal(position), working_orders(orders))


def decide(order: OrderIntent, mode: TradingMode, exp: Exposure) -> str | None:
    return refusal(order, mode, exp, RISK, MARK)


# (case, intent, mode, exposure, allowed, words the refusal must contain)
TABLE = [
    # halted: only protective stops
    ("halted entry", entry(BUY, "0.1"), M.HALTED, exposure("0"), False, "halted"),
    ("halted exit", exit_(SELL, "0.5"), M.HALTED, exposure("1"), False, "halted"),
    ("halted stop", stop(SELL, "1"), M.HALTED, exposure("1"), True, ""),
    ("halted stop must still reduce", stop(BUY, "1"), M.HALTED, exposure("1"), False, "reduce"),
    # reduce-only posture: no new exposure, closing allowed
    ("reduce-only entry", entry(BUY, "0.1"), M.REDUCE_ONLY, exposure("0"), False, "reduce-only"),
    (
        "reduce-only adding to long",
        entry(BUY, "0.1"),
        M.REDUCE_ONLY,
        exposure("0.5"),
        False,
        "reduce-only",
    ),
    (
        "reduce-only plain order that happens to close",
        entry(SELL, "0.5"),
        M.REDUCE_ONLY,
        exposure("0.5"),
        False,
        "reduce-only",
    ),
    ("reduce-only exit long", exit_(SELL, "0.5"), M.REDUCE_ONLY, exposure("0.5"), True, ""),
    ("reduce-only exit short", exit_(BUY, "0.5"), M.REDUCE_ONLY, exposure("-0.5"), True, ""),
    ("reduce-only stop", stop(SELL, "0.5"), M.REDUCE_ONLY, exposure("0.5"), True, ""),
    # a reduce can never flip or exceed the position
    ("exit flat position", exit_(SELL, "0.1"), M.ACTIVE, exposure("0"), False, "would not reduce"),
    (
        "exit wrong side of long",
        exit_(BUY, "0.1"),
        M.ACTIVE,
        exposure("0.5"),
        False,
        "would not reduce",
    ),
    (
        "exit wrong side of short",
        exit_(SELL, "0.1"),
        M.ACTIVE,
        exposure("-0.5"),
        False,
        "would not reduce",
    ),
    ("exit exceeding long", exit_(SELL, "0.6"), M.ACTIVE, exposure("0.5"), False, "exceeds"),
    ("exit exceeding short", exit_(BUY, "0.6"), M.ACTIVE, exposure("-0.5"), False, "exceeds"),
    ("exit exactly closing", exit_(SELL, "0.5"), M.ACTIVE, exposure("0.5"), True, ""),
    (
        "exit plus working exits exceed",
        exit_(SELL, "0.3"),
        M.REDUCE_ONLY,
        exposure("0.5", working(exit_(SELL, "0.3"))),
        False,
        "exceeds",
    ),
    (
        "exit plus working exits fit",
        exit_(SELL, "0.2"),
        M.REDUCE_ONLY,
        exposure("0.5", working(exit_(SELL, "0.3"))),
        True,
        "",
    ),
    (
        "only the unfilled part of a working exit counts",
        exit_(SELL, "0.4"),
        M.ACTIVE,
        exposure(
            "0.5", working(exit_(SELL, "0.3"), filled="0.2", state=OrderState.PARTIALLY_FILLED)
        ),
        True,
        "",
    ),
    (
        "finished exits do not count",
        exit_(SELL, "0.5"),
        M.ACTIVE,
        exposure("0.5", working(exit_(SELL, "0.5"), filled="0.5", state=OrderState.FILLED)),
        True,
        "",
    ),
    (
        "working entries on the closing side do not block an exit",
        exit_(SELL, "0.5"),
        M.ACTIVE,
        exposure("0.5", working(entry(SELL, "0.5", price="110"))),
        True,
        "",
    ),
    (
        "stop larger than the position",
        stop(SELL, "0.6"),
        M.ACTIVE,
        exposure("0.5"),
        False,
        "exceeds",
    ),
    (
        "a working stop does not block closing the position",
        exit_(SELL, "0.5"),
        M.REDUCE_ONLY,
        exposure("0.5", working(stop(SELL, "0.5"))),
        True,
        "",
    ),
    (
        "a working stop does not make an oversized exit fit",
        exit_(SELL, "0.6"),
        M.REDUCE_ONLY,
        exposure("0.5", working(stop(SELL, "0.5"))),
        False,
        "exceeds",
    ),
    # maxOrderNotional (150 quote) at mark 100, or at the limit price
    ("notional at the limit", entry(BUY, "1.5"), M.ACTIVE, exposure("-1"), True, ""),
    (
        "notional above the limit",
        entry(BUY, "1.6"),
        M.ACTIVE,
        exposure("-1"),
        False,
        "maxOrderNotional",
    ),
    (
        "limit price drives notional",
        entry(BUY, "0.5", price="400"),
        M.ACTIVE,
        exposure("0"),
        False,
        "maxOrderNotional",
    ),
    ("cheap limit fits", entry(BUY, "1", price="50"), M.ACTIVE, exposure("0"), True, ""),
    # maxPosition (1 base), counting working orders on the same side
    ("position at max", entry(BUY, "0.4"), M.ACTIVE, exposure("0.6"), True, ""),
    ("position beyond max", entry(BUY, "0.5"), M.ACTIVE, exposure("0.6"), False, "maxPosition"),
    ("short beyond max", entry(SELL, "0.5"), M.ACTIVE, exposure("-0.6"), False, "maxPosition"),
    (
        "entry reducing a long may go short within max",
        entry(SELL, "1.5"),
        M.ACTIVE,
        exposure("0.6"),
        True,
        "",
    ),
    (
        "working buys count",
        entry(BUY, "0.3"),
        M.ACTIVE,
        exposure("0.6", working(entry(BUY, "0.2", price="99"))),
        False,
        "maxPosition",
    ),
    (
        "working buys count by their unfilled part",
        entry(BUY, "0.3"),
        M.ACTIVE,
        exposure(
            "0.6",
            working(entry(BUY, "0.2", price="99"), filled="0.1", state=OrderState.PARTIALLY_FILLED),
        ),
        True,
        "",
    ),
    (
        "working sells do not count against a buy",
        entry(BUY, "0.4"),
        M.ACTIVE,
        exposure("0.6", working(entry(SELL, "1", price="101"))),
        True,
        "",
    ),
    (
        "terminal orders are not working",
        entry(BUY, "0.4"),
        M.ACTIVE,
        exposure("0.6", working(entry(BUY, "0.4", price="99"), state=OrderState.CANCELED)),
        True,
        "",
    ),
]


@pytest.mark.parametrize(
    ("order", "mode", "exp", "allowed", "words"),
    [pytest.param(*row[1:], id=row[0]) for row in TABLE],
)
def test_refusal(
    order: OrderIntent, mode: TradingMode, exp: Exposure, allowed: bool, words: str
) -> None:
    reason = decide(order, mode, exp)

    if allowed:
        assert reason is None
    else:
        assert reason is not None
        assert words in reason
        # The metric label is the message's kind, one of a fixed set (no numbers).
        assert refusal_kind(reason) is not RefusalKind.OTHER


@pytest.mark.parametrize("purpose", [Purpose.STOP, Purpose.EXIT])
def test_stops_and_exits_cannot_be_built_without_reduce_only(purpose: Purpose) -> None:
    """Stops and exits pass the Halted gate, so they must never add exposure."""
    with pytest.raises(ValueError, match="must be reduce-only"):
        intent(SELL, "0.5", purpose=purpose)


@pytest.mark.parametrize("mode", list(M))
@pytest.mark.parametrize("position", ["-1", "-0.3", "0", "0.3", "1"])
@pytest.mark.parametrize("quantity", ["0.1", "0.3", "0.7", "1", "2"])
@pytest.mark.parametrize("side", [BUY, SELL])
@pytest.mark.parametrize("working_exit", ["0", "0.2"])
def test_an_admitted_reduce_never_flips_the_position(
    mode: TradingMode, position: str, quantity: str, side: Side, working_exit: str
) -> None:
    pos = Decimal(position)
    orders = []
    if working_exit != "0" and pos != 0:
        closing_side = SELL if pos > 0 else BUY
        orders.append(working(exit_(closing_side, working_exit)))
    exp = exposure(position, *orders)

    if decide(exit_(side, quantity), mode, exp) is None:
        worst = pos + side.sign * (exp.pending(side.sign, reduce_only=True) + Decimal(quantity))
        assert abs(worst) <= abs(pos)
        assert worst == 0 or (worst > 0) == (pos > 0)


# (case, intent, position, allowed, words) while halted by emergencyStop Flatten
FLATTEN_TABLE = [
    ("closing exit passes the halt", exit_(SELL, "0.5"), "0.5", True, ""),
    ("closing a short", exit_(BUY, "0.5"), "-0.5", True, ""),
    ("an exit still cannot flip", exit_(SELL, "0.6"), "0.5", False, "exceeds"),
    ("an exit on the wrong side", exit_(BUY, "0.5"), "0.5", False, "would not reduce"),
    ("entries stay blocked", entry(SELL, "0.5"), "0.5", False, "halted"),
    ("stops are still maintained", stop(SELL, "0.5"), "0.5", True, ""),
]


@pytest.mark.parametrize(
    ("order", "position", "allowed", "words"),
    [pytest.param(*row[1:], id=row[0]) for row in FLATTEN_TABLE],
)
def test_flatten_lets_closing_exits_through_a_halt(
    order: OrderIntent, position: str, allowed: bool, words: str
) -> None:
    reason = refusal(order, M.HALTED, exposure(position), RISK, MARK, flattening=True)
    if allowed:
        assert reason is None
    else:
        assert reason is not None
        assert words in reason
        # The metric label is the message's kind, one of a fixed set (no numbers).
        assert refusal_kind(reason) is not RefusalKind.OTHER


def test_without_flatten_a_halt_refuses_exits() -> None:
    assert refusal(exit_(SELL, "0.5"), M.HALTED, exposure("0.5"), RISK, MARK) is not None
