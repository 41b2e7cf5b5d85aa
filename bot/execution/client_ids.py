"""Client order ids: stable across retries and restarts, safe for Binance.

An id is ``tw<bot>-<epoch>-<seq>``: ``<bot>`` is a short digest of the bot's
identity, ``<epoch>`` names the journal generation (random, drawn when a
journal is created, so a fresh journal after a lost one never repeats an old
id) and ``<seq>`` a journal-persisted sequence number in base 36. Journals
from before epochs keep ``tw<bot>-<seq>``. Binance accepts
``^[.A-Z:/a-z0-9_-]{1,36}$``: 13 + 9 + up to 7 sequence digits + a rotation
suffix of 3 stay within 36. The prefix lets the reconciler tell the bot's own
orders at the venue, of every generation, from everybody else's.
"""

from __future__ import annotations

import re
import secrets

from tradewarden.api.identity import bot_prefix

BINANCE_CLIENT_ID = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
MAX_ROTATIONS = 3
EPOCH_LENGTH = 8
# 40 random bits fit 8 base-36 digits (36**8 > 2**41).
_EPOCH_BITS = 40


def _base36(number: int) -> str:
    if number < 0:
        raise ValueError("sequence must be non-negative")
    text = ""
    while True:
        number, rest = divmod(number, 36)
        text = _DIGITS[rest] + text
        if number == 0:
            return text


def epoch_text(number: int) -> str:
    """A journal epoch as it appears in ids: ``number`` in base 36, 8 digits."""
    if number >= 36**EPOCH_LENGTH:
        raise ValueError(f"epoch {number} needs more than {EPOCH_LENGTH} digits")
    return _base36(number).rjust(EPOCH_LENGTH, "0")


def new_epoch() -> str:
    """A fresh journal generation: 40 random bits, so two generations practically never meet."""
    return epoch_text(secrets.randbits(_EPOCH_BITS))


def client_order_id(bot_identity: str, sequence: int, epoch: str = "") -> str:
    """The id of the intent with this sequence number in journal generation ``epoch``.

    An empty ``epoch`` is a journal from before epochs.
    """
    generation = f"{epoch}-" if epoch else ""
    return f"{bot_prefix(bot_identity)}{generation}{_base36(sequence)}"


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
