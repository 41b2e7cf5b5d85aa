"""Client order ids: stable across retries and restarts, safe for Binance.

An id is ``tw<bot>-<seq>``: ``<bot>`` is a short digest of the bot's identity
and ``<seq>`` a journal-persisted sequence number in base 36. Binance accepts
``^[.A-Z:/a-z0-9_-]{1,36}$``; the prefix lets the reconciler tell the bot's own
orders at the venue from everybody else's.
"""

from __future__ import annotations

import hashlib
import re

BINANCE_CLIENT_ID = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
MAX_ROTATIONS = 3


def bot_prefix(bot_identity: str) -> str:
    """The id prefix shared by every order of one bot, e.g. ``tw3f9a1c2b-``."""
    digest = hashlib.sha256(bot_identity.encode("utf-8")).hexdigest()[:10]
    return f"tw{digest}-"


def _base36(number: int) -> str:
    if number < 0:
        raise ValueError("sequence must be non-negative")
    text = ""
    while True:
        number, rest = divmod(number, 36)
        text = _DIGITS[rest] + text
        if number == 0:
            return text


def client_order_id(bot_identity: str, sequence: int) -> str:
    """The id of the intent with this sequence number."""
    return f"{bot_prefix(bot_identity)}{_base36(sequence)}"


def rotated_client_order_id(base_id: str, rotation: int) -> str:
    """A bounded, length-safe variant of ``base_id`` after a proven-absent duplicate.

    Used only when the venue says the id is taken (-4116) yet no order with it
    can be found; the suffix keeps the lineage visible in logs.
    """
    if not 1 <= rotation <= MAX_ROTATIONS:
        raise ValueError(f"rotation must be 1..{MAX_ROTATIONS}")
    rotated = f"{base_id}.r{rotation}"
    if not BINANCE_CLIENT_ID.match(rotated):
        raise ValueError(f"rotated id {rotated!r} breaks the venue's id rules")
    return rotated
