"""Shared fixtures: the venue simulator.

``venue_sim`` (also ``sim``) is the one fixture that runs a simulator for a test.
A directory or test shapes it by overriding ``sim_settings`` (a conftest
fixture, or ``@pytest.mark.parametrize("sim_settings", [...])``) and, to steer
the venue's time, ``sim_clock``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable

import pytest

from tests.support.sim import quiet
from tradewarden.bot.venue_sim.server import RunningVenueSim, running_venue_sim
from tradewarden.bot.venue_sim.settings import SimSettings


@pytest.fixture
def sim_settings() -> SimSettings:
    """Simulator settings for ``venue_sim``; override this fixture to change them.

    The background price walk is off so tests drive matching with ``set_price``.
    """
    return quiet()


@pytest.fixture
def sim_clock() -> Callable[[], float]:
    """The venue's clock for ``venue_sim``: the wall clock unless overridden."""
    return time.time


@pytest.fixture
async def venue_sim(
    sim_settings: SimSettings, sim_clock: Callable[[], float]
) -> AsyncIterator[RunningVenueSim]:
    """A venue simulator on 127.0.0.1 and a free port, stopped after the test."""
    async with running_venue_sim(sim_settings, clock=sim_clock) as sim:
        yield sim


@pytest.fixture
def sim(venue_sim: RunningVenueSim) -> RunningVenueSim:
    """``venue_sim`` under the name the order-path, bot and chaos tests use."""
    return venue_sim
