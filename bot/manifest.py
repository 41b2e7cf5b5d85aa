"""A manifest as the bot takes it: the TradingBot schema, then the strategy's own params.

``tradewarden bot`` and ``tradewarden preflight`` both load through
:func:`load_bot_manifest`, so preflight passes exactly what the bot accepts.
"""

from __future__ import annotations

from pathlib import Path

from tradewarden.api.manifest import ManifestError, load_manifest
from tradewarden.api.tradingbot import TradingBot
from tradewarden.bot.strategy.registry import load_strategy


def load_bot_manifest(path: Path) -> TradingBot:
    """Read and validate ``path``; ManifestError names the file and each bad field."""
    manifest = load_manifest(path)
    try:
        load_strategy(manifest.spec.strategy)
    except ValueError as error:
        raise ManifestError(str(path), str(error).splitlines()) from error
    return manifest
