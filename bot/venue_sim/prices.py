"""The seeded random walk that moves mark prices when nobody sets them."""

from __future__ import annotations

import random
from collections.abc import Mapping
from decimal import Decimal


class PriceWalk:
    """Gaussian steps in basis points; the same seed always yields the same path."""

    def __init__(self, seed: int, volatility_bps: float) -> None:
        self._rng = random.Random(seed)
        self._volatility_bps = volatility_bps

    def step(self, marks: Mapping[str, Decimal]) -> dict[str, Decimal]:
        """The next mark of every symbol, visiting symbols in sorted order for reproducibility."""
        moved: dict[str, Decimal] = {}
        for symbol in sorted(marks):
            bps = Decimal(repr(self._rng.gauss(0.0, self._volatility_bps)))
            moved[symbol] = marks[symbol] * (1 + bps / Decimal(10_000))
        return moved
