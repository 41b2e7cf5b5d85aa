"""Manifests the sandbox applies, and pointing the example bots at the running simulator.

The bots in ``examples/`` name the simulator at its default address
(``spec.exchange.urlOverride: http://127.0.0.1:18080``), so ``kubectl apply -f
examples/`` works against ``tradewarden sandbox`` as documented. When the
simulator listens elsewhere (``--venue-port 0``, or the demo, which always takes
a free port so it never collides with a running sandbox or test), the sandbox
rewrites that one URL in what it applies. A TradingBot pointing anywhere else is
left alone: it is not the sandbox's business to re-route a real venue.
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from tradewarden.operator.sandbox.resources import Obj

EXAMPLE_VENUE_PORT = 18080
EXAMPLE_VENUE_URL = f"http://127.0.0.1:{EXAMPLE_VENUE_PORT}"


def manifests(paths: list[Path]) -> list[Obj]:
    """Every YAML document in the given files and directories (sorted, non-empty)."""
    files: list[Path] = []
    for path in paths:
        files += sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    return [
        doc for file in files for doc in yaml.safe_load_all(file.read_text(encoding="utf-8")) if doc
    ]


def point_at_venue(obj: Obj, venue_url: str) -> Obj:
    """``obj`` with an example simulator URL replaced by ``venue_url`` (a copy; others as is)."""
    exchange = (obj.get("spec") or {}).get("exchange") or {}
    if obj.get("kind") != "TradingBot" or exchange.get("urlOverride") != EXAMPLE_VENUE_URL:
        return obj
    pointed = copy.deepcopy(obj)
    pointed["spec"]["exchange"]["urlOverride"] = venue_url
    return pointed
