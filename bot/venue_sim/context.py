"""The per-app state the HTTP layer shares between requests."""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from tradewarden.bot.venue_sim.book_feed import BookFeed
from tradewarden.bot.venue_sim.engine import Engine
from tradewarden.bot.venue_sim.faults import FaultBook
from tradewarden.bot.venue_sim.models import Snapshot
from tradewarden.bot.venue_sim.params import Params
from tradewarden.bot.venue_sim.ratelimit import OrderLimiter, WeightLimiter
from tradewarden.bot.venue_sim.settings import SimSettings
from tradewarden.bot.venue_sim.userdata import UserData


@dataclass
class VenueContext:
    """Engine, limiter, fault plan and request counters of one running simulator."""

    settings: SimSettings
    clock: Callable[[], float]
    engine: Engine
    user_data: UserData
    limiter: WeightLimiter
    order_limiter: OrderLimiter
    # The numbered book that REST depth and the depth streams share.
    books: BookFeed
    faults: FaultBook = field(default_factory=FaultBook)
    requests: Counter[str] = field(default_factory=Counter)
    # Tests freeze the random walk when they compare the venue with a stopped bot.
    walk_paused: bool = False
    # Set on shutdown so held (accept-then-drop) and delayed requests let go at once.
    closing: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    def create(cls, settings: SimSettings, clock: Callable[[], float]) -> VenueContext:
        """A fresh venue with the settings' balance and marks."""
        engine = Engine(settings, clock)
        return cls(
            settings=settings,
            clock=clock,
            engine=engine,
            user_data=UserData(engine, clock, settings.listen_key_validity_s),
            limiter=WeightLimiter(
                settings.weight_limit_1m, settings.ban_after_429s, settings.ban_duration_s
            ),
            order_limiter=OrderLimiter(settings.order_limit_10s, settings.order_limit_1m),
            books=BookFeed(engine, engine.now_ms),
        )


@dataclass(frozen=True)
class Call:
    """One authenticated, parsed Binance request as a handler sees it."""

    params: Params
    server_ms: int  # the venue clock including any skew fault
    stale_ms: int | None  # serve positions/open orders as of this long ago
    # Orders accepted after this venue time are invisible to this read (read-lag fault).
    hidden_after_ms: int | None = None

    def view(self, ctx: VenueContext) -> Snapshot:
        """The account as this call should see it: live, or stale under a stale fault.

        Under a read-lag fault, orders accepted after ``hidden_after_ms`` are left out.
        """
        snapshot = (
            ctx.engine.snapshot()
            if self.stale_ms is None
            else ctx.engine.snapshot_as_of(ctx.engine.now_ms() - self.stale_ms)
        )
        if self.hidden_after_ms is None:
            return snapshot
        return dataclasses.replace(
            snapshot,
            open_orders=tuple(o for o in snapshot.open_orders if self.sees(o.time_ms)),
            open_algo_orders=tuple(
                a for a in snapshot.open_algo_orders if self.sees(a.create_time_ms)
            ),
        )

    def sees(self, accepted_ms: int) -> bool:
        """Whether an order accepted at ``accepted_ms`` is visible to this read."""
        return self.hidden_after_ms is None or accepted_ms <= self.hidden_after_ms


CONTEXT_KEY = web.AppKey("venue_context", VenueContext)
