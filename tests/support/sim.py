"""Settings of the venue simulator the tests run, named by what the test needs of the market."""

from __future__ import annotations

from typing import Any

from tradewarden.bot.venue_sim.settings import SimSettings


def quiet(**overrides: Any) -> SimSettings:
    """Prices move only when the test calls ``set_price``: matching is the test's to drive."""
    return SimSettings(**{"price_tick_s": 0, **overrides})


def walking(**overrides: Any) -> SimSettings:
    """A seeded 50 ms random walk wide enough that a running grid bot's orders fill in seconds."""
    return SimSettings(**{"seed": 11, "price_tick_s": 0.05, "volatility_bps": 15.0, **overrides})
