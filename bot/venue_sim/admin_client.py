"""A client for the simulator's unsigned ``/_sim`` endpoints (the server side is :mod:`.admin`).

It needs only the simulator's base URL and an aiohttp session, so it serves a
simulator in this process (:class:`~.server.RunningVenueSim` is one) and one
running as a process of its own (the benchmarks start ``tradewarden venue-sim``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import aiohttp


@dataclass(frozen=True)
class SimAdmin:
    """Reads and steers the simulator at ``base_url``; any reply but 200 raises ``RuntimeError``.

    The session is the caller's: it stays open after the calls and is closed by its owner.
    """

    base_url: str
    _session: aiohttp.ClientSession

    async def _call(self, method: str, path: str, payload: object = None) -> Any:
        async with self._session.request(method, self.base_url + path, json=payload) as reply:
            body = await reply.json(content_type=None)
            if reply.status != 200:
                raise RuntimeError(f"{method} {path} -> {reply.status}: {body}")
            return body

    async def state(self) -> dict[str, Any]:
        """The /_sim/state ground truth."""
        state: dict[str, Any] = await self._call("GET", "/_sim/state")
        return state

    async def set_price(self, symbol: str, price: Decimal | str | int) -> None:
        """Set the mark price, which runs the matching (limit crosses, stop triggers)."""
        await self._call("POST", "/_sim/price", {"symbol": symbol, "price": str(price)})

    async def pause_walk(self, paused: bool = True) -> None:
        """Stop (or restart) the random walk; marks then move only by :meth:`set_price`."""
        await self._call("POST", "/_sim/walk", {"paused": paused})

    async def set_faults(self, faults: list[Mapping[str, Any]]) -> None:
        """Replace the fault plan."""
        await self._call("POST", "/_sim/faults", list(faults))

    async def faults(self) -> list[dict[str, Any]]:
        """The fault plan with remaining counts."""
        plan: list[dict[str, Any]] = await self._call("GET", "/_sim/faults")
        return plan

    async def clear_faults(self) -> None:
        """Remove every fault."""
        await self._call("DELETE", "/_sim/faults")

    async def disrupt_streams(
        self, *, drop: bool = True, refuse_seconds: float = 0.0, refuse_count: int = 0
    ) -> dict[str, Any]:
        """Close every market stream and refuse new ones for a while (venue clock) or N tries."""
        payload = {"drop": drop, "refuseSeconds": refuse_seconds, "refuseCount": refuse_count}
        hub: dict[str, Any] = await self._call("POST", "/_sim/streams", payload)
        return hub

    async def streams(self) -> dict[str, Any]:
        """GET /_sim/streams: open market stream connections and what they subscribed."""
        hub: dict[str, Any] = await self._call("GET", "/_sim/streams")
        return hub

    async def disrupt_user_data(
        self,
        *,
        drop: bool = True,
        expire_key: bool = False,
        refuse_seconds: float = 0.0,
        refuse_count: int = 0,
        validity_seconds: float | None = None,
    ) -> dict[str, Any]:
        """Drop the user-data sockets, lapse the listenKey now, refuse reconnects, or
        change how long a listenKey lives (venue clock)."""
        payload: dict[str, Any] = {
            "drop": drop,
            "expireKey": expire_key,
            "refuseSeconds": refuse_seconds,
            "refuseCount": refuse_count,
        }
        if validity_seconds is not None:
            payload["validitySeconds"] = validity_seconds
        state: dict[str, Any] = await self._call("POST", "/_sim/userdata", payload)
        return state

    async def user_data(self) -> dict[str, Any]:
        """The user-data side: sockets, events pushed, the listenKey's state."""
        state: dict[str, Any] = await self._call("GET", "/_sim/userdata")
        return state
