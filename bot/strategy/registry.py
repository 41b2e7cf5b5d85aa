"""Find a strategy by name: built-ins first, then the ``tradewarden.strategies`` entry points."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import cast

from tradewarden.api.tradingbot import StrategySpec
from tradewarden.bot.strategy.base import Strategy, StrategyFactory
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


def load_strategy(spec: StrategySpec) -> Strategy:
    """The strategy ``spec`` names, built from (and so validating) its params.

    The one check the bot and ``tradewarden preflight`` both run: ValueError,
    one line per bad field, for an unknown strategy or params it refuses.
    """
    factory = strategy_factory(spec.type)
    try:
        return factory(spec.params)
    except ValueError:
        raise
    except Exception as error:  # a plug-in's own failure, whatever its type
        raise ValueError(
            f"spec.strategy.params: strategy {spec.type!r} refused its params: {error}"
        ) from error
