"""The venue's private user-data stream: it wakes the reconcile, it never decides anything.

A fill, a cancel or expiry the bot did not ask for, or a stop that fired, reaches the bot
here (ccxt.pro ``watch_orders``) seconds before the periodic reconcile would find it.
The stream only *wakes* the reconcile (``on_change``); what the venue holds is still read
over REST, so the journal and the protective stop follow the venue's answers, never the
stream's payloads. What the stream cannot see is covered the same way:

- every time its socket opens again (a reconnect, a fresh listenKey) the bot
  reconciles once, since whatever happened while it was down was never pushed (the
  first opening follows the bot's recovery, which has just reconciled);
- a dropped socket or a listenKey the venue no longer knows (ccxt's keepalive meets
  -1125 and fails the watch) is a failure, retried on the market feed's policy
  (``spec.guards.websocket``): backoff with jitter, the budget restored after a
  stable period, and ``on_exhausted`` (the WebSocket guard) once it is spent;
- a socket that stays open but silent loses nothing the periodic reconcile would not
  find at its next interval. ccxt (4.5.x, Python) sends one listenKey keepalive after
  it takes a key and schedules no further one (its reschedule looks for subscriptions
  with ``safe_dict`` on Client objects, which never finds one), renewing the key only
  when a watch starts; so an idle watch is restarted every ``renew_seconds``, which
  renews (or replaces) the key before Binance's 60 minutes run out. A restart may
  miss an update that lands while it re-subscribes, so each one wakes a reconcile.

Invariant: this module reads no order or position into the bot; it calls ``on_change``
and lets the reconcile look.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tradewarden.api.tradingbot import TradingBotSpec
from tradewarden.bot.market.reconnect import ReconnectPolicy
from tradewarden.bot.market.stream_failures import StreamEvents, StreamFailures, forget_dial_backoff
from tradewarden.bot.observability.events import Event, EventLog
from tradewarden.bot.observability.metrics import BotMetrics
from tradewarden.bot.venue.ccxt_client import user_stream_for

# ccxt's unified statuses of an order the bot does not learn of from its own reply.
_ENDED = frozenset({"closed", "canceled", "cancelled", "expired", "rejected"})


def wake_reason(order: Mapping[str, Any]) -> str | None:
    """Why a streamed order update should wake the reconcile, or None.

    A fill (any filled quantity), or an order that ended, wakes it; an order merely
    accepted (open, nothing filled: the bot's own placement, a stop waiting for its
    trigger) or amended does not, the order path reconciles after those anyway.
    """
    status = order.get("status")
    filled = order.get("filled")
    if isinstance(filled, int | float) and filled > 0:
        return "fill"
    if status in _ENDED:
        return f"order {status}"
    return None


@dataclass(frozen=True)
class UserStreamHooks:
    """Where the stream's news goes: wake a reconcile, or trip the WebSocket guard."""

    on_change: Callable[[str], object]
    on_exhausted: Callable[[], None]


class UserStream:
    """Watches the account's order updates for one symbol; ``run()`` until cancelled."""

    def __init__(
        self,
        symbol: str,
        *,
        stream: Any,
        hooks: UserStreamHooks,
        policy: ReconnectPolicy,
        events: EventLog,
        metrics: BotMetrics,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
        renew_seconds: float,
    ) -> None:
        self.symbol = symbol
        self._renew_seconds = renew_seconds
        self._stream = stream
        self._hooks = hooks
        self.policy = policy
        self._failures = StreamFailures(
            symbol,
            policy,
            StreamEvents(
                Event.USER_STREAM_DISCONNECTED,
                Event.USER_STREAM_EXHAUSTED,
                Event.USER_STREAM_RECONNECT,
            ),
            events,
            metrics.user_stream_reconnects,
            hooks.on_exhausted,
            clock,
        )
        self._events = events
        self._metrics = metrics
        self._clock = clock
        self._sleep = sleep
        self.live = False
        self._opened_before = False
        self.wakes = 0
        # ccxt calls on_connected for every socket it opens (its documented user hook):
        # the private socket's opening is when a gap may have ended.
        hooked = stream.on_connected

        def connected(client: Any, message: Any = None) -> None:
            hooked(client, message)
            if "listenKey=" in str(getattr(client, "url", "")):
                self._opened()

        stream.on_connected = connected

    async def close(self, grace_seconds: float) -> None:
        """Close the stream's client, giving its close handshakes ``grace_seconds`` at most.

        Called after the task stopped: a cancelled task waiting on a close handshake
        would outlive the shutdown grace.
        """
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stream.close(), grace_seconds)

    async def run(self) -> None:
        """Watch, and after a failure back off and watch again, until cancelled."""
        while True:
            try:
                await self._consume()
            except Exception as error:
                await self._recover(error)

    async def _consume(self) -> None:
        """Wake the reconcile for each update that needs it (this only returns by raising)."""
        while True:
            try:
                orders: Sequence[Mapping[str, Any]] = await asyncio.wait_for(
                    self._stream.watch_orders(self.symbol), self._renew_seconds
                )
            except TimeoutError:
                # Idle: the next watch lets ccxt renew (or replace) the listenKey.
                self._wake("listenKey renewal", None)
                continue
            self.policy.settle(self._clock())
            for order in orders:
                reason = wake_reason(order)
                if reason is not None:
                    self._wake(reason, order)
                    break

    def _opened(self) -> None:
        """The private socket is open: count it connected, and after an outage cover its gap.

        The first opening follows the bot's recovery, which has just reconciled.
        """
        self.live = True
        self.policy.connected(self._clock())
        self._events.emit(Event.USER_STREAM_CONNECTED, symbol=self.symbol)
        if self._opened_before:
            self._wake("stream reconnected", None)
        self._opened_before = True

    def _wake(self, reason: str, order: Mapping[str, Any] | None) -> None:
        self.wakes += 1
        self._metrics.user_stream_wakes.inc()
        fields: dict[str, Any] = {"symbol": self.symbol, "reason": reason}
        if order is not None:
            fields["correlation_id"] = order.get("clientOrderId")
            fields["status"] = order.get("status")
        self._events.emit(Event.USER_STREAM_UPDATE, **fields)
        self._hooks.on_change(reason)

    async def _recover(self, error: Exception) -> None:
        """Note the failure and wait out the policy's backoff; the next watch reconnects."""
        delay = self._failures.failed(error, was_live=self.live)
        self.live = False
        await self._sleep(delay)
        forget_dial_backoff(self._stream)


def open_user_stream(
    spec: TradingBotSpec,
    exchange: Any,
    hooks: UserStreamHooks,
    *,
    events: EventLog,
    metrics: BotMetrics,
    clocks: tuple[Callable[[], float], Callable[[float], Awaitable[None]], random.Random],
) -> UserStream | None:
    """The user stream ``spec.execution.userDataStream`` asks for, on ``exchange``'s account.

    None when it is off, or the venue (in ccxt.pro) has no order stream, or the REST
    client carries no credentials. It reconnects on the market feed's policy.
    """
    settings = spec.execution.user_data_stream
    if not settings.enabled:
        return None
    client = user_stream_for(
        spec.exchange, exchange.apiKey, exchange.secret, settings.keepalive_seconds
    )
    if client is None:
        return None
    clock, sleep, rng = clocks
    return UserStream(
        spec.symbol,
        stream=client,
        hooks=hooks,
        policy=ReconnectPolicy(spec.guards.websocket, rng),
        events=events,
        metrics=metrics,
        clock=clock,
        sleep=sleep,
        renew_seconds=settings.keepalive_seconds,
    )
