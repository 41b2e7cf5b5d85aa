"""A stream's failure, told the same way for every stream the bot watches.

One outage is announced once when it begins (``disconnected``, only if the
stream was live), the budget's exhaustion once when it runs out (then the
stream's ``on_exhausted`` hook trips the WebSocket guard), and every attempt
with its delay (``reconnect``, and the stream's reconnect counter). The delay
comes from the stream's :class:`ReconnectPolicy` on the injected clock; the
caller waits it out its own way (the market feed polls REST meanwhile).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter

from tradewarden.api.error_text import error_text
from tradewarden.bot.market.reconnect import ReconnectPolicy
from tradewarden.bot.observability.events import Event, EventLog


@dataclass(frozen=True)
class StreamEvents:
    """The events one kind of stream announces its failures with."""

    disconnected: Event
    exhausted: Event
    reconnect: Event


@dataclass(frozen=True)
class StreamFailures:
    """Turns a stream's failure into its announcements and the delay before the next try."""

    symbol: str
    policy: ReconnectPolicy
    names: StreamEvents
    events: EventLog
    reconnects: Counter
    on_exhausted: Callable[[], None]
    clock: Callable[[], float]

    def failed(self, error: Exception, *, was_live: bool) -> float:
        """Announce the failure; the seconds to wait before the stream tries again."""
        reason = error_text(error)
        if was_live:
            self.events.emit(self.names.disconnected, symbol=self.symbol, error=reason)
        backoff = self.policy.failed(self.clock())
        if backoff.exhausted_now:
            self.events.emit(
                self.names.exhausted,
                symbol=self.symbol,
                attempts=backoff.attempt - 1,
                error=reason,
            )
            self.on_exhausted()
        self.events.emit(
            self.names.reconnect,
            symbol=self.symbol,
            attempt=backoff.attempt,
            delay=round(backoff.delay, 3),
            error=reason,
        )
        self.reconnects.inc()
        return backoff.delay


def forget_dial_backoff(stream: Any) -> None:
    """Clear ccxt's own wall-clock dial backoff per URL.

    The policy already paced the attempt; waiting twice would stretch the schedule
    past the one the WebSocket guard judges.
    """
    dial_backoff = getattr(stream, "ws_dial_backoff", None)
    if isinstance(dial_backoff, dict):
        dial_backoff.clear()
