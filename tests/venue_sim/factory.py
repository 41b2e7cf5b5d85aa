"""Builds real ccxt clients against a running simulator and closes them afterwards."""

from __future__ import annotations

from typing import Any

from tradewarden.bot.venue.ccxt_client import build_exchange
from tradewarden.bot.venue_sim.server import RunningVenueSim


class ExchangeFactory:
    """``await factory(**overrides)`` gives a binanceusdm client with its markets loaded."""

    def __init__(self, sim: RunningVenueSim) -> None:
        self._sim = sim
        self._clients: list[Any] = []

    async def __call__(self, **overrides: Any) -> Any:
        options: dict[str, Any] = {
            "api_key": self._sim.settings.api_key,
            "api_secret": self._sim.settings.api_secret,
            "url_override": self._sim.base_url,
            "timeout_ms": 2000,
        }
        options.update(overrides)
        client = build_exchange("binanceusdm", **options)
        # The simulator enforces request weights itself; ccxt's pacing would only slow tests.
        client.enableRateLimit = False
        self._clients.append(client)
        await client.load_markets()
        return client

    async def close_all(self) -> None:
        """Close every client this factory built."""
        for client in self._clients:
            await client.close()
