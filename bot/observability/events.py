"""JSON event lines: one object per line with ``event`` and ``correlation_id``.

The correlation id is the client order id of the intent, so ``grep`` on one id
shows an order's whole lineage. Credentials never pass through here: callers
hand over order facts, never client objects or configs.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from enum import StrEnum
from typing import Any, TextIO


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
    MARKET_DATA_ERROR = "MARKET_DATA_ERROR"
    INTENT_REFUSED = "INTENT_REFUSED"
    EXECUTION_QUEUE_FULL = "EXECUTION_QUEUE_FULL"
    MODE_CHANGE = "MODE_CHANGE"
    WOULD_SUBMIT = "WOULD_SUBMIT"
    BOT_START = "BOT_START"
    HTTP_LISTENING = "HTTP_LISTENING"
    BOT_STOP = "BOT_STOP"
    BOT_FATAL = "BOT_FATAL"


LOGGER_NAME = "tradewarden.events"


class EventLog:
    """Writes :class:`Event` records through the ``tradewarden.events`` logger."""

    def __init__(self, clock: Callable[[], float], logger: logging.Logger | None = None) -> None:
        self._clock = clock
        self._logger = logger or logging.getLogger(LOGGER_NAME)
        self.listeners: list[Callable[[dict[str, Any]], None]] = []

    def emit(self, event: Event, correlation_id: str | None = None, **fields: Any) -> None:
        """Log one event; values are rendered with ``str`` when JSON cannot."""
        record: dict[str, Any] = {"ts": round(self._clock(), 6), "event": event.value}
        if correlation_id is not None:
            record["correlation_id"] = correlation_id
        record.update(fields)
        level = logging.ERROR if event in _LOUD else logging.INFO
        self._logger.log(level, json.dumps(record, default=str, separators=(",", ":")))
        for listener in self.listeners:
            listener(record)


_LOUD = frozenset({Event.ORDER_GIVEUP, Event.BOT_FATAL, Event.EXECUTION_QUEUE_FULL})


def configure_event_output(stream: TextIO = sys.stdout) -> None:
    """Send event lines, bare, to ``stream`` (the container's stdout)."""
    logger = logging.getLogger(LOGGER_NAME)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False
