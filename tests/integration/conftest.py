"""Fixtures for the order path against the real venue simulator through ccxt."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.clock import FakeClock
from tests.support.sim import quiet
from tradewarden.bot.execution.journal import Journal
from tradewarden.bot.execution.router import OrderRouter, RouterContext
from tradewarden.bot.observability.events import EventLog
from tradewarden.bot.observability.metrics import BotMetrics
from tradewarden.bot.retry import RetryPolicy
from tradewarden.bot.venue.adapter import VenueAdapter
from tradewarden.bot.venue.ccxt_client import build_exchange
from tradewarden.bot.venue_sim.server import RunningVenueSim
from tradewarden.bot.venue_sim.settings import SimSettings

SYMBOL = "BTC/USDT:USDT"


@dataclass
class OrderPath:
    """A router wired to the simulator, with its journal and captured events."""

    sim: RunningVenueSim
    venue: VenueAdapter
    router: OrderRouter
    journal: Journal
    metrics: BotMetrics
    time: FakeClock
    events: list[dict[str, Any]]
    context: RouterContext

    def events_for(self, coid: str) -> list[str]:
        return [e["event"] for e in self.events if e.get("correlation_id") == coid]


@pytest.fixture
def fake_time() -> FakeClock:
    """The order path's clock: it moves only when the router sleeps or the test moves it."""
    return FakeClock(1_000_000.0)


@pytest.fixture
def sim_settings() -> SimSettings:
    """The order path's venue: prices the test sets, seeded."""
    return quiet(seed=3)


@pytest.fixture
def journal(tmp_path: Path, fake_time: FakeClock) -> Iterator[Journal]:
    journal = Journal.open(tmp_path / "journal.sqlite", "test/bot", fake_time)
    yield journal
    journal.close()


def sim_client(sim: RunningVenueSim, timeout_ms: int = 1500) -> Any:
    """A binanceusdm client with the simulator's own keys, every call routed to ``sim``."""
    return build_exchange(
        "binanceusdm",
        api_key=sim.settings.api_key,
        api_secret=sim.settings.api_secret,
        url_override=sim.base_url,
        timeout_ms=timeout_ms,
    )


@pytest.fixture
async def order_path(
    sim: RunningVenueSim, journal: Journal, fake_time: FakeClock
) -> AsyncIterator[OrderPath]:
    exchange = sim_client(sim)
    venue = VenueAdapter(exchange)
    await venue.load_markets()
    events = EventLog(fake_time)
    captured: list[dict[str, Any]] = []
    events.listeners.append(captured.append)
    metrics = BotMetrics()
    context = RouterContext(
        journal=journal,
        policy=RetryPolicy(max_retries=4, base_delay=0.25, max_delay=2.0, max_elapsed=20.0),
        events=events,
        metrics=metrics,
        clock=fake_time,
        sleep=fake_time.sleep,
        rng=random.Random(1),
    )
    try:
        yield OrderPath(
            sim, venue, OrderRouter(venue, context), journal, metrics, fake_time, captured, context
        )
    finally:
        await venue.close()
