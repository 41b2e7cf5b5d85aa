"""The bundled example TradingBot, as the tests that run a bot start from it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tradewarden.bot.venue_sim.server import RunningVenueSim

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tradingbot-sim.yaml"


def example_manifest() -> dict[str, Any]:
    """``examples/tradingbot-sim.yaml`` as a fresh dict, safe to change."""
    document: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    return document


def sim_manifest(
    venue: RunningVenueSim, *, name: str | None = None, namespace: str | None = None
) -> dict[str, Any]:
    """The example trading at ``venue``, with a 2 s request timeout.

    ``name`` and ``namespace``, when given, replace the example's; change the
    rest in the returned dict.
    """
    document = example_manifest()
    metadata = document["metadata"]
    if name is not None:
        metadata["name"] = name
    if namespace is not None:
        metadata["namespace"] = namespace
    exchange = document["spec"]["exchange"]
    exchange["urlOverride"] = venue.base_url
    exchange["requestTimeoutMs"] = 2000
    return document
