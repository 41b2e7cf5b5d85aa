"""Find a strategy by name: built-ins first, then the ``tradewarden.strategies`` entry points."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import cast

from tradewarden.bot.strategy.base import StrategyFactory
from tradewarden.bot.strategy.grid import GridStrategy

ENTRY_POINT_GROUP = "tradewarden.strategies"
BUILT_INS: dict[str, StrategyFactory] = {"grid": GridStrategy.from_params}


def strategy_factory(name: str) -> StrategyFactory:
    """The factory registered under ``name``; ValueError lists what exists."""
    if name in BUILT_INS:
        return BUILT_INS[name]
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name == name:
            return cast(StrategyFactory, entry.load())
    known = sorted({*BUILT_INS, *(e.name for e in entry_points(group=ENTRY_POINT_GROUP))})
    raise ValueError(f"spec.strategy.type: unknown strategy {name!r}; known: {', '.join(known)}")
