"""Shared fixtures."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tradewarden.bot.venue_sim.server import RunningVenueSim, running_venue_sim
from tradewarden.bot.venue_sim.settings import SimSettings


@pytest.fixture
def sim_settings() -> SimSettings:
    """Simulator settings for ``venue_sim``; override this fixture to change them.

    The background price walk is off so tests drive matching with ``set_price``.
    """
    return SimSettings(price_tick_s=0)


@pytest.fixture
async def venue_sim(sim_settings: SimSettings) -> AsyncIterator[RunningVenueSim]:
    """A venue simulator on 127.0.0.1 and a free port, stopped after the test."""
    async with running_venue_sim(sim_settings) as sim:
        yield sim
