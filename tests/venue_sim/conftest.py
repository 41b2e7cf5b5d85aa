"""Fixtures for the simulator conformance tests: real ccxt clients pointed at ``venue_sim``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.venue_sim.factory import ExchangeFactory
from tradewarden.bot.venue_sim.server import RunningVenueSim


@pytest.fixture
async def exchange_factory(venue_sim: RunningVenueSim) -> AsyncIterator[ExchangeFactory]:
    """Build binanceusdm clients against the simulator; all are closed after the test."""
    factory = ExchangeFactory(venue_sim)
    yield factory
    await factory.close_all()


@pytest.fixture
async def exchange(exchange_factory: ExchangeFactory) -> Any:
    """A binanceusdm client with the simulator's credentials and markets loaded."""
    return await exchange_factory()
