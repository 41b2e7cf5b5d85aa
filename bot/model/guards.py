"""The guards' names: restriction sources (``guard.<name>``), metric labels and /status keys."""

from __future__ import annotations

API_HEALTH = "apiHealth"
MARK_STALENESS = "markStaleness"
SLIPPAGE = "slippage"
BROKER_READS = "brokerReads"
DRIFT = "drift"
WEBSOCKET = "websocket"
KILL_SWITCH = "killSwitch"
# The control loop's dead man (restriction source control.deadMan): /status lists it last.
DEAD_MAN = "deadMan"
# The bot's own guards in the order /status lists them.
GUARD_NAMES = (API_HEALTH, MARK_STALENESS, SLIPPAGE, BROKER_READS, DRIFT, WEBSOCKET, KILL_SWITCH)
