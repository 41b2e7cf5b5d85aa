"""JSON event lines: one object per line with ``event`` and ``correlation_id``.

The correlation id is the client order id of the intent, so ``grep`` on one id
shows an order's whole lineage. Credentials never pass through here: callers
hand over order facts, never client objects or configs. Nor do signatures:
every URL in an event keeps its path and loses its query string.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from enum import StrEnum
from typing import Any, TextIO

from tradewarden.api.error_text import without_url_queries


class Event(StrEnum):
    """Event names other tools (alerts, runbooks, tests) rely on."""

    INTENT_CREATED = "INTENT_CREATED"
    ORDER_SUBMIT = "ORDER_SUBMIT"
    ORDER_RESPONSE = "ORDER_RESPONSE"
    ORDER_ERROR = "ORDER_ERROR"
    ORDER_RETRY = "ORDER_RETRY"
    ORDER_GIVEUP = "ORDER_GIVEUP"
    ORDER_STATE = "ORDER_STATE"
    ORDER_LOOKUP = "ORDER_LOOKUP"
    RECONCILE_MISMATCH = "RECONCILE_MISMATCH"
    RECOVERY_START = "RECOVERY_START"
    RECOVERY_WAIT = "RECOVERY_WAIT"
    RECOVERY_DONE = "RECOVERY_DONE"
    JOURNAL_LOST = "JOURNAL_LOST"
    MARKET_DATA_ERROR = "MARKET_DATA_ERROR"
    WS_CONNECTED = "WS_CONNECTED"
    WS_DISCONNECTED = "WS_DISCONNECTED"
    WS_RECONNECT = "WS_RECONNECT"
    WS_EXHAUSTED = "WS_EXHAUSTED"
    USER_STREAM_CONNECTED = "USER_STREAM_CONNECTED"
    USER_STREAM_DISCONNECTED = "USER_STREAM_DISCONNECTED"
    USER_STREAM_RECONNECT = "USER_STREAM_RECONNECT"
    USER_STREAM_EXHAUSTED = "USER_STREAM_EXHAUSTED"
    USER_STREAM_UPDATE = "USER_STREAM_UPDATE"
    PREFLIGHT_PASSED = "PREFLIGHT_PASSED"
    PREFLIGHT_FAILED = "PREFLIGHT_FAILED"
    INTENT_REFUSED = "INTENT_REFUSED"
    EXECUTION_QUEUE_FULL = "EXECUTION_QUEUE_FULL"
    MODE_CHANGE = "MODE_CHANGE"
    GUARD_TRIP = "GUARD_TRIP"
    GUARD_CLEAR = "GUARD_CLEAR"
    KILL_SWITCH = "KILL_SWITCH"
    STOP_REPAIR = "STOP_REPAIR"
    CONTROL_UPDATE = "CONTROL_UPDATE"
    CONTROL_INVALID = "CONTROL_INVALID"
    CONTROL_API_ERROR = "CONTROL_API_ERROR"
    CONTROL_DELETED = "CONTROL_DELETED"
    TRADING_HALT = "TRADING_HALT"
    HALT_FEED_LOST = "HALT_FEED_LOST"
    HALT_FEED_RESTORED = "HALT_FEED_RESTORED"
    LEASE_ACQUIRED = "LEASE_ACQUIRED"
    LEASE_HELD_BY_OTHER = "LEASE_HELD_BY_OTHER"
    LEASE_LOST = "LEASE_LOST"
    LEASE_ERROR = "LEASE_ERROR"
    DEAD_MAN_TRIP = "DEAD_MAN_TRIP"
    DEAD_MAN_CLEAR = "DEAD_MAN_CLEAR"
    WOULD_SUBMIT = "WOULD_SUBMIT"
    WOULD_CANCEL = "WOULD_CANCEL"
    BOT_START = "BOT_START"
    HTTP_LISTENING = "HTTP_LISTENING"
    BOT_STOPPING = "BOT_STOPPING"
    BOT_STOP_SETTLED = "BOT_STOP_SETTLED"
    BOT_STOP = "BOT_STOP"
    BOT_FATAL = "BOT_FATAL"


def _scrubbed(value: Any) -> Any:
    if isinstance(value, str):
        return without_url_queries(value)
    if isinstance(value, dict):
        return {key: _scrubbed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrubbed(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_scrubbed(item) for item in value)
    return value


# One encoder for every line: ``json.dumps`` with options builds a new one per call.
_ENCODER = json.JSONEncoder(default=str, separators=(",", ":"))


class EventLog:
    """Writes :class:`Event` records as JSON lines to ``sink`` and to listeners.

    Lines go straight to the stream, flushed one by one, so a reader sees an
    event as it happens and a killed process loses at most the line it was
    writing. With no sink the log only feeds its listeners (tests, /status).
    """

    def __init__(self, clock: Callable[[], float], sink: TextIO | None = None) -> None:
        self._clock = clock
        self._sink = sink
        self.listeners: list[Callable[[dict[str, Any]], None]] = []

    def emit(self, event: Event, correlation_id: str | None = None, **fields: Any) -> None:
        """Record one event; values JSON cannot encode are rendered with ``str``.

        URLs in string values (nested ones too) lose their query strings.
        """
        record: dict[str, Any] = {"ts": round(self._clock(), 6), "event": event.value}
        if correlation_id is not None:
            record["correlation_id"] = correlation_id
        for name, value in fields.items():
            record[name] = _scrubbed(value)
        if self._sink is not None:
            try:
                self._sink.write(_ENCODER.encode(record) + "\n")
                self._sink.flush()
            except (OSError, ValueError):
                # stdout is gone (closed pipe): the bot must keep trading safely
                # without it; the journal, not the log, is the record of truth.
                self._sink = None
        for listener in self.listeners:
            listener(record)
