"""The mark-price feed against the simulator's streams through unchanged ccxt.pro."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest

from tests.integration.conftest import SYMBOL
from tests.support.clock import FakeClock
from tradewarden.api.tradingbot import WebSocketGuard
from tradewarden.bot.market.feed import FeedHooks, MarketFeed
from tradewarden.bot.market.reconnect import ReconnectPolicy
from tradewarden.bot.observability.events import Event, EventLog
from tradewarden.bot.observability.metrics import BotMetrics
from tradewarden.bot.venue.adapter import VenueAdapter
from tradewarden.bot.venue.ccxt_client import build_stream_exchange
from tradewarden.bot.venue_sim.server import RunningVenueSim

REST_PATH = "GET /fapi/v1/ticker/24hr"
WAIT_S = 20.0


class YieldingTime(FakeClock):
    """A fake clock whose sleep also lets other tasks run (the feed polls in a loop)."""

    async def sleep(self, seconds: float) -> None:
        await super().sleep(seconds)
        await asyncio.sleep(0)


@dataclass
class Harness:
    """A running feed, what it delivered and when (fake clock), and its events."""

    feed: MarketFeed
    time: YieldingTime
    metrics: BotMetrics
    marks: list[tuple[float, Decimal, bool]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    exhausted: asyncio.Event = field(default_factory=asyncio.Event)
    exhaustions: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def record_event(self, record: dict[str, Any]) -> None:
        self.events.append(record)
        self.changed.set()

    def named(self, event: Event) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == event]

    async def until(self, condition: Any) -> None:
        async with asyncio.timeout(WAIT_S):
            while True:
                self.changed.clear()
                if condition():
                    return
                await self.changed.wait()


async def _requests(sim: RunningVenueSim, key: str) -> int:
    return int((await sim.state())["requests"].get(key, 0))


def _expected_delays(seed: int, count: int) -> list[float]:
    policy = ReconnectPolicy(WebSocketGuard(), random.Random(seed))
    return [round(policy.failed(0.0).delay, 3) for _ in range(count)]


SEED = 7


@pytest.fixture
async def harness(sim: RunningVenueSim, request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    poll_seconds = getattr(request, "param", 1.0)
    stream = build_stream_exchange(
        "binanceusdm", api_key=None, api_secret=None, url_override=sim.base_url
    )
    fake = YieldingTime(1_000_000.0)
    events = EventLog(fake)
    metrics = BotMetrics()
    holder: list[Harness] = []

    def on_mark(symbol: str, mark: Decimal) -> None:
        assert symbol == SYMBOL
        h = holder[0]
        h.marks.append((fake(), mark, h.feed.live))
        h.changed.set()

    def on_exhausted() -> None:
        holder[0].exhaustions += 1
        holder[0].exhausted.set()

    feed = MarketFeed(
        SYMBOL,
        stream=stream,
        rest=VenueAdapter(stream).fetch_mark_price,
        hooks=FeedHooks(on_mark=on_mark, on_exhausted=on_exhausted),
        policy=ReconnectPolicy(WebSocketGuard(), random.Random(SEED)),
        events=events,
        metrics=metrics,
        clock=fake,
        sleep=fake.sleep,
        poll_seconds=poll_seconds,
    )
    h = Harness(feed, fake, metrics)
    holder.append(h)
    events.listeners.append(h.record_event)
    task = asyncio.create_task(feed.run())
    try:
        yield h
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await stream.close()


async def test_marks_arrive_over_the_stream(sim: RunningVenueSim, harness: Harness) -> None:
    await harness.until(lambda: harness.feed.live)
    await sim.set_price("BTCUSDT", "51234.5")
    await harness.until(lambda: harness.marks[-1][1] == Decimal("51234.5"))
    await sim.set_price("BTCUSDT", "50999")
    await harness.until(lambda: harness.marks[-1][1] == Decimal("50999"))

    assert all(live for _, _, live in harness.marks)
    assert [e["event"] for e in harness.events] == [Event.WS_CONNECTED]
    # every mark came over the stream: the REST ticker was never asked
    assert await _requests(sim, REST_PATH) == 0


async def test_a_dropped_stream_reconnects_with_backoff_and_rest_keeps_marks_fresh(
    sim: RunningVenueSim, harness: Harness
) -> None:
    await harness.until(lambda: harness.feed.live)
    await sim.set_price("BTCUSDT", "52000")
    # the next two connection attempts are refused, the third one gets through
    hub = await sim.disrupt_streams(refuse_count=2)
    assert hub["dropped"] == 1
    await harness.until(lambda: len(harness.named(Event.WS_CONNECTED)) == 2)

    reconnects = harness.named(Event.WS_RECONNECT)
    assert [e["attempt"] for e in reconnects] == [1, 2, 3]
    assert [e["delay"] for e in reconnects] == _expected_delays(SEED, 3)
    assert len(harness.named(Event.WS_DISCONNECTED)) == 1
    assert harness.named(Event.WS_EXHAUSTED) == []
    assert harness.metrics.ws_reconnects._value.get() == 3

    # while the stream was down the REST mark was polled at least once a second (fake clock)
    down_from = harness.named(Event.WS_DISCONNECTED)[0]["ts"]
    up_again = harness.named(Event.WS_CONNECTED)[1]["ts"]
    outage = [(t, mark) for t, mark, live in harness.marks if not live]
    assert outage, "no mark while the stream was down"
    times = [down_from, *(t for t, _ in outage), up_again]
    assert max(b - a for a, b in itertools.pairwise(times)) <= 1.0
    assert {mark for _, mark in outage} == {Decimal("52000")}
    assert await _requests(sim, REST_PATH) >= len(outage)
    assert (await sim.disrupt_streams(drop=False))["refused"] == 2


@pytest.mark.parametrize("harness", [10.0], indirect=True)
async def test_refused_reconnects_exhaust_the_budget_and_fire_the_callback(
    sim: RunningVenueSim, harness: Harness
) -> None:
    await harness.until(lambda: harness.feed.live)
    await sim.disrupt_streams(refuse_seconds=3600)
    async with asyncio.timeout(WAIT_S):
        await harness.exhausted.wait()

    exhausted = harness.named(Event.WS_EXHAUSTED)
    assert len(exhausted) == 1 and exhausted[0]["attempts"] == 10
    assert harness.exhaustions == 1
    hub = await sim.disrupt_streams(drop=False, refuse_seconds=3600)
    assert hub["refused"] == 10
    # the backoff ran on the injected clock: 2+4+8+16+32 then the 60 s cap, jittered
    assert sum(harness.time.slept) == pytest.approx(sum(_expected_delays(SEED, 10)), abs=0.01)
    # and REST kept the mark coming the whole time
    assert any(not live for _, _, live in harness.marks)
