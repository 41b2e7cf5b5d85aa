"""Names derived from a TradingBot that the bot, the operator and the sandbox all compute. Pure.

Each is a contract between processes: the operator grants the bot's Role the
Lease the bot takes (:func:`lease_name`), the bot journals under its identity
(:func:`bot_identity`) and starts every client order id with the prefix
derived from it (:func:`bot_prefix`), by which the reconciler, the sandbox and
the chaos harness tell the bot's orders at the venue from everybody else's.
Changing one of them renames what a running fleet already holds.
"""

from __future__ import annotations

import hashlib
import re

from tradewarden.api.tradingbot import TradingBot

# Kubernetes object names (a Lease's) are at most 63 characters.
_NAME_LIMIT = 63


def bot_identity(manifest: TradingBot) -> str:
    """Stable identity of a bot: it seeds client order ids and owns the journal."""
    meta = manifest.metadata
    return f"{meta.namespace}/{meta.name}" + (f"/{meta.uid}" if meta.uid else "")


def bot_prefix(identity: str) -> str:
    """The client-order-id prefix shared by every order of one bot, e.g. ``tw3f9a1c2b-``."""
    digest = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:10]
    return f"tw{digest}-"


def lease_name(account: str, symbol: str) -> str:
    """The contract's Lease name: ``tw-<account>-<symbol slug>``, at most 63 characters."""
    slug = re.sub(r"[^a-z0-9]", "-", symbol.lower())
    return f"tw-{account.lower()}-{slug}"[:_NAME_LIMIT]
