"""The mark-price feed: a ccxt.pro stream first, REST polling whenever the stream is down.

A thin async shell around :class:`ReconnectPolicy`. The stream runs on its own ccxt.pro
client, so market data never queues behind orders. While the stream is down (and for a
venue without streams, always) the feed polls the REST mark every ``poll_seconds`` so
marks stay fresh. When the policy's budget is spent ``on_exhausted`` fires once; the feed
keeps retrying at the capped delay, and a stream stable for the reset period earns a
fresh budget.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from tradewarden.api.error_text import error_text
from tradewarden.bot.market.reconnect import ReconnectPolicy
from tradewarden.bot.market.stream_failures import StreamEvents, StreamFailures, forget_dial_backoff
from tradewarden.bot.observability.events import Event, EventLog
from tradewarden.bot.observability.metrics import BotMetrics


class BadTicker(Exception):
    """A streamed ticker without a usable price."""


def mark_of(ticker: Any) -> Decimal:
    """The mark (else last) price of a ccxt ticker."""
    if isinstance(ticker, Mapping):
        for key in ("markPrice", "last", "close"):
            raw = ticker.get(key)
            if raw is None:
                continue
            try:
                price = Decimal(str(raw))
            except InvalidOperation:
                break
            if price.is_finite() and price > 0:
                return price
    raise BadTicker(f"ticker without a usable price: {ticker!r:.200}")


@dataclass
class MarketState:
    """Latest mark price per symbol, and when it was written (bot clock, seconds)."""

    marks: dict[str, Decimal] = field(default_factory=dict)
    updated_at: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class FeedHooks:
    """Where the feed's results go."""

    on_mark: Callable[[str, Decimal], None]
    on_exhausted: Callable[[], None]


class MarketFeed:
    """Keeps one symbol's mark price current; ``run()`` until cancelled."""

    def __init__(
        self,
        symbol: str,
        *,
        stream: Any | None,
        rest: Callable[[str], Awaitable[Decimal]],
        hooks: FeedHooks,
        policy: ReconnectPolicy,
        events: EventLog,
        metrics: BotMetrics,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
        poll_seconds: float = 1.0,
        read_timeout_seconds: float = 10.0,
    ) -> None:
        self.symbol = symbol
        self._stream = stream
        self._rest = rest
        self._hooks = hooks
        self.policy = policy
        self._failures = StreamFailures(
            symbol,
            policy,
            StreamEvents(Event.WS_DISCONNECTED, Event.WS_EXHAUSTED, Event.WS_RECONNECT),
            events,
            metrics.ws_reconnects,
            hooks.on_exhausted,
            clock,
        )
        self._events = events
        self._clock = clock
        self._sleep = sleep
        self._poll_seconds = poll_seconds
        self._read_timeout = read_timeout_seconds
        self.live = False

    async def run(self) -> None:
        """Stream (or, without a stream client, poll) until cancelled."""
        if self._stream is None:
            while True:
                await self._poll_once()
                await self._sleep(self._poll_seconds)
        while True:
            try:
                await self._consume(self._stream)
            except Exception as error:
                await self._recover(error)

    async def _consume(self, stream: Any) -> None:
        """Apply streamed marks until the stream fails (this only returns by raising)."""
        while True:
            ticker = await asyncio.wait_for(self._watch(stream), self._read_timeout)
            mark, now = mark_of(ticker), self._clock()
            if not self.live:
                self.live = True
                self.policy.connected(now)
                self._events.emit(Event.WS_CONNECTED, symbol=self.symbol)
            else:
                self.policy.settle(now)
            self._hooks.on_mark(self.symbol, mark)

    async def _watch(self, stream: Any) -> Any:
        if stream.has.get("watchMarkPrice"):
            return await stream.watch_mark_price(self.symbol)
        return await stream.watch_ticker(self.symbol)

    async def _recover(self, error: Exception) -> None:
        """Note the failure, poll REST through the backoff, then let the stream try again."""
        delay = self._failures.failed(error, was_live=self.live)
        self.live = False
        await self._poll_for(delay)
        forget_dial_backoff(self._stream)

    async def _poll_for(self, seconds: float) -> None:
        """Poll the REST mark every ``poll_seconds`` for ``seconds`` (at least once)."""
        deadline = self._clock() + seconds
        while True:
            await self._poll_once()
            remaining = deadline - self._clock()
            if remaining <= 0:
                return
            await self._sleep(min(self._poll_seconds, remaining))

    async def _poll_once(self) -> None:
        try:
            mark = await self._rest(self.symbol)
        except Exception as error:
            self._events.emit(Event.MARKET_DATA_ERROR, error=error_text(error))
        else:
            self._hooks.on_mark(self.symbol, mark)
