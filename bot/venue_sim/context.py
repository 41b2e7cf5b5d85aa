"""The per-app state the HTTP layer shares between requests."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from tradewarden.bot.venue_sim.engine import Engine
from tradewarden.bot.venue_sim.faults import FaultBook
from tradewarden.bot.venue_sim.models import Snapshot
from tradewarden.bot.venue_sim.params import Params
from tradewarden.bot.venue_sim.ratelimit import WeightLimiter
from tradewarden.bot.venue_sim.settings import SimSettings


@dataclass
class VenueContext:
    """Engine, limiter, fault plan and request counters of one running simulator."""

    settings: SimSettings
    clock: Callable[[], float]
    engine: Engine
    limiter: WeightLimiter
    faults: FaultBook = field(default_factory=FaultBook)
    requests: Counter[str] = field(default_factory=Counter)
    # Tests freeze the random walk when they compare the venue with a stopped bot.
    walk_paused: bool = False
    # Set on shutdown so held (accept-then-drop) and delayed requests let go at once.
    closing: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    def create(cls, settings: SimSettings, clock: Callable[[], float]) -> VenueContext:
        """A fresh venue with the settings' balance and marks."""
        return cls(
            settings=settings,
            clock=clock,
            engine=Engine(settings, clock),
            limiter=WeightLimiter(
                settings.weight_limit_1m, settings.ban_after_429s, settings.ban_duration_s
            ),
        )


@dataclass(frozen=True)
class Call:
    """One authenticated, parsed Binance request as a handler sees it."""

    params: Params
    server_ms: int  # the venue clock including any skew fault
    stale_ms: int | None  # serve positions/open orders as of this long ago

    def view(self, ctx: VenueContext) -> Snapshot:
        """The account as this call should see it: live, or stale under a stale fault."""
        if self.stale_ms is None:
            return ctx.engine.snapshot()
        return ctx.engine.snapshot_as_of(ctx.engine.now_ms() - self.stale_ms)


CONTEXT_KEY = web.AppKey("venue_context", VenueContext)
