"""The grid strategy and the strategy registry."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest

from tests.support.orders import journaled
from tradewarden.api.tradingbot import RiskSpec, TradingMode
from tradewarden.bot.model.order_state import OrderState
from tradewarden.bot.model.orders import (
    Cancel,
    JournaledOrder,
    OrderIntent,
    OrderType,
    Place,
    Proposal,
    Purpose,
    Side,
)
from tradewarden.bot.strategy.base import MarketView
from tradewarden.bot.strategy.grid import GridStrategy
from tradewarden.bot.strategy.registry import strategy_factory

SYMBOL = "BTC/USDT:USDT"
BUY, SELL = Side.BUY, Side.SELL
STEP, TICK = Decimal("0.001"), Decimal("0.1")


def grid(levels: int = 2, spacing: str = "1", quantity: str = "0.003") -> GridStrategy:
    return GridStrategy.from_params(
        {"levels": levels, "spacingPct": spacing, "orderQuantity": quantity}
    )


def resting(
    side: Side,
    price: str,
    quantity: str = "0.003",
    *,
    filled: str = "0",
    reduce_only: bool = False,
    sequence: int = 1,
) -> JournaledOrder:
    intent = OrderIntent(
        SYMBOL,
        side,
        OrderType.LIMIT,
        Decimal(quantity),
        Decimal(price),
        reduce_only=reduce_only,
        purpose=Purpose.EXIT if reduce_only else Purpose.ENTRY,
    )
    return journaled(
        intent,
        f"twabc-{sequence}",
        sequence=sequence,
        state=OrderState.OPEN if filled == "0" else OrderState.PARTIALLY_FILLED,
        filled=filled,
        exchange_order_id=str(sequence),
    )


def view(
    mark: str = "100",
    position: str = "0",
    working: tuple[JournaledOrder, ...] = (),
    mode: TradingMode = TradingMode.ACTIVE,
    max_position: str = "1",
) -> MarketView:
    return MarketView(
        symbol=SYMBOL,
        mark=Decimal(mark),
        position=Decimal(position),
        working=working,
        mode=mode,
        quantity_step=STEP,
        price_tick=TICK,
        risk=RiskSpec(max_position=Decimal(max_position), max_order_notional=Decimal("10000")),
    )


def places(proposals: list[Proposal]) -> list[tuple[Side, Decimal, Decimal]]:
    return sorted(
        (p.intent.side, p.intent.price or Decimal(0), p.intent.quantity)
        for p in proposals
        if isinstance(p, Place)
    )


def cancels(proposals: list[Proposal]) -> set[str]:
    return {p.client_order_id for p in proposals if isinstance(p, Cancel)}


def q(text: str) -> Decimal:
    return Decimal(text)


def test_proposes_levels_below_and_above_at_the_spacing() -> None:
    proposals = grid(levels=3, spacing="1").propose(view(mark="100"))

    assert places(proposals) == sorted(
        [
            (BUY, q("99"), q("0.003")),
            (BUY, q("98"), q("0.003")),
            (BUY, q("97"), q("0.003")),
            (SELL, q("101"), q("0.003")),
            (SELL, q("102"), q("0.003")),
            (SELL, q("103"), q("0.003")),
        ]
    )
    for proposal in proposals:
        assert isinstance(proposal, Place)
        assert proposal.intent.order_type is OrderType.LIMIT
        assert proposal.intent.symbol == SYMBOL
        assert not proposal.intent.reduce_only


def test_prices_and_quantities_are_rounded_to_tick_and_step() -> None:
    proposals = grid(levels=2, spacing="0.3", quantity="0.0037").propose(view(mark="100.07"))

    placed = places(proposals)
    assert len(placed) == 4
    for side, price, quantity in placed:
        assert price % TICK == 0
        assert quantity == q("0.003")
        if side is BUY:
            assert price < q("100.07")
        else:
            assert price > q("100.07")
    buys = sorted(p for s, p, _ in placed if s is BUY)
    sells = sorted(p for s, p, _ in placed if s is SELL)
    # within one tick of mark * (1 -/+ spacing * level)
    for level, price in zip((2, 1), buys, strict=True):
        assert abs(price - q("100.07") * (1 - q("0.003") * level)) < TICK
    for level, price in zip((1, 2), sells, strict=True):
        assert abs(price - q("100.07") * (1 + q("0.003") * level)) < TICK


def test_quantity_below_the_step_proposes_nothing_new() -> None:
    assert places(grid(quantity="0.0004").propose(view())) == []


@pytest.mark.parametrize("mode", [TradingMode.REDUCE_ONLY, TradingMode.HALTED])
def test_no_proposals_unless_active(mode: TradingMode) -> None:
    far_away = resting(BUY, "50")
    assert grid().propose(view(mode=mode, working=(far_away,))) == []


def test_cancels_orders_outside_the_band_and_keeps_those_inside() -> None:
    # levels 2 at 1 % -> band is mark +-3 %: [97, 103]
    inside_buy = resting(BUY, "99", sequence=1)
    edge_sell = resting(SELL, "103", sequence=2)
    below = resting(BUY, "96.9", sequence=3)
    above = resting(SELL, "110", sequence=4)
    protective = resting(SELL, "120", reduce_only=True, sequence=5)

    proposals = grid().propose(view(working=(inside_buy, edge_sell, below, above, protective)))

    assert cancels(proposals) == {below.client_order_id, above.client_order_id}
    # occupied levels are not placed twice
    assert (BUY, q("99"), q("0.003")) not in places(proposals)
    assert (BUY, q("98"), q("0.003")) in places(proposals)


def test_fills_only_empty_levels() -> None:
    working = (resting(BUY, "99", sequence=1), resting(SELL, "102", sequence=2))

    proposals = grid().propose(view(working=working))

    assert places(proposals) == sorted([(BUY, q("98"), q("0.003")), (SELL, q("101"), q("0.003"))])
    assert cancels(proposals) == set()


# (position, working orders, max position, expected buy prices, expected sell prices)
ROOM = [
    pytest.param("0", (), "0.01", [q("98"), q("99")], [q("101"), q("102")], id="room for all"),
    pytest.param("0", (), "0.005", [q("99")], [q("101")], id="room for one per side"),
    pytest.param("0.006", (), "0.01", [q("99")], [q("101"), q("102")], id="long leaves one buy"),
    pytest.param("-0.008", (), "0.01", [q("98"), q("99")], [], id="short leaves no sell"),
    pytest.param("0", (), "0.002", [], [], id="no room at all"),
    pytest.param(
        "0.005",
        (resting(BUY, "99", sequence=1),),
        "0.01",
        [],
        [q("101"), q("102")],
        id="working buy uses the room",
    ),
    pytest.param(
        "0.005",
        (resting(BUY, "99", "0.003", filled="0.002", sequence=1),),
        "0.01",
        [q("98")],
        [q("101"), q("102")],
        id="only the unfilled part of a working buy counts",
    ),
]


@pytest.mark.parametrize(("position", "working", "max_position", "buys", "sells"), ROOM)
def test_respects_max_position_room(
    position: str,
    working: tuple[JournaledOrder, ...],
    max_position: str,
    buys: list[Decimal],
    sells: list[Decimal],
) -> None:
    proposals = grid().propose(view(position=position, working=working, max_position=max_position))

    placed = places(proposals)
    assert sorted(p for s, p, _ in placed if s is BUY) == buys
    assert sorted(p for s, p, _ in placed if s is SELL) == sells
    # whatever is proposed, the worst case stays within maxPosition
    for side in (BUY, SELL):
        new = sum((qty for s, _, qty in placed if s is side), Decimal(0))
        pending = sum((o.remaining for o in working if o.intent.side is side), Decimal(0))
        assert abs(Decimal(position) + side.sign * (new + pending)) <= Decimal(max_position)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"levels": 0, "orderQuantity": "0.001"}, "spec.strategy.params.levels"),
        ({"levels": 21, "orderQuantity": "0.001"}, "spec.strategy.params.levels"),
        ({"levels": "many", "orderQuantity": "0.001"}, "spec.strategy.params.levels"),
        ({"spacingPct": "0", "orderQuantity": "0.001"}, "spec.strategy.params.spacingPct"),
        ({"spacingPct": "-1", "orderQuantity": "0.001"}, "spec.strategy.params.spacingPct"),
        ({"spacingPct": "25", "orderQuantity": "0.001"}, "spec.strategy.params.spacingPct"),
        ({}, "spec.strategy.params.orderQuantity"),
        ({"orderQuantity": "-0.001"}, "spec.strategy.params.orderQuantity"),
        ({"orderQuantity": "0.001", "level": 2}, "spec.strategy.params.level"),
    ],
)
def test_bad_params_raise_value_error_naming_the_field(params: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"{field}:")):
        GridStrategy.from_params(params)


def test_the_example_params_build_a_grid() -> None:
    strategy = strategy_factory("grid")(
        {"levels": 2, "spacingPct": "0.2", "orderQuantity": "0.003"}
    )
    assert len(places(strategy.propose(view(mark="60000", max_position="0.02")))) == 4


def test_unknown_strategy_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"spec\.strategy\.type") as caught:
        strategy_factory("martingale")

    assert "martingale" in str(caught.value)
    assert "grid" in str(caught.value)
