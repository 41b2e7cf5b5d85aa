"""Fill to protection: a fill at the venue until a protective stop covers the new position.

A real bot process (``tradewarden bot``, the example grid manifest, its 2 s reconcile
interval) trades on a venue simulator process of its own. Each round dips the mark
through the bot's resting buy and straight back (the grid has no reason to move), so the
venue opens a position of one order's quantity; the figure is the venue's own time from
that fill to the creation of a reduce-only stop for the whole position. Then the mark
spikes through the resting sell, the position closes, and the round waits until the bot
has cancelled the stop, so every measured stop is a new one. Both sides run the same
rounds: the user-data stream on (the default) and off (the periodic reconcile alone).
Run alone with ``python bench/fill_protection.py [FILLS]``.
"""

from __future__ import annotations

import asyncio
import copy
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from sim_process import API_KEY, API_SECRET, simulator_process

from tradewarden.bot.runtime.command import tradewarden_command
from tradewarden.bot.venue_sim.admin_client import SimAdmin

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "tradingbot-sim.yaml"
VENUE_SYMBOL = "BTCUSDT"
FILLS = 50
POLL_S = 0.02
QUIET_S = 0.5
MAX_MARKS = 10
RECONCILE_INTERVAL_S = 2.0  # the example manifest's
ROUND_TIMEOUT_S = 60.0


def _manifest(base_url: str, stream: bool) -> dict[str, Any]:
    document: dict[str, Any] = copy.deepcopy(yaml.safe_load(EXAMPLE.read_text(encoding="utf-8")))
    spec = document["spec"]
    spec["exchange"]["urlOverride"] = base_url
    # One level each side: a round is one buy fill and one sell fill.
    spec["strategy"]["params"]["levels"] = 1
    assert spec["execution"]["reconcileIntervalSeconds"] == RECONCILE_INTERVAL_S
    spec["execution"]["userDataStream"] = {"enabled": stream}
    return document


def _position(state: dict[str, Any]) -> Decimal:
    return sum(
        (Decimal(p["positionAmt"]) for p in state["positions"] if p["symbol"] == VENUE_SYMBOL),
        Decimal(0),
    )


def _open_stops(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        a
        for a in state["algoOrders"]
        if a["symbol"] == VENUE_SYMBOL and a["algoStatus"] == "NEW" and a["reduceOnly"]
    ]


def _resting(state: dict[str, Any], side: str) -> dict[str, Any] | None:
    for order in state["orders"]:
        if (
            order["symbol"] == VENUE_SYMBOL
            and order["side"] == side
            and order["status"] == "NEW"
            and not order["reduceOnly"]
        ):
            return order
    return None


async def _until(
    venue: SimAdmin, condition: Callable[[dict[str, Any]], Any], what: str
) -> tuple[Any, dict[str, Any]]:
    deadline = time.monotonic() + ROUND_TIMEOUT_S
    while True:
        state = await venue.state()
        found = condition(state)
        if found not in (None, False):
            return found, state
        if time.monotonic() > deadline:
            seen = {
                "position": str(_position(state)),
                "stops": [(a["side"], a["quantity"]) for a in _open_stops(state)],
                "resting": [
                    (o["side"], o["price"], o["status"])
                    for o in state["orders"]
                    if o["status"] in ("NEW", "PARTIALLY_FILLED")
                ],
                "mark": state["marks"][VENUE_SYMBOL],
            }
            raise TimeoutError(
                f"fill-protection bench: no {what} within {ROUND_TIMEOUT_S:.0f}s; venue: {seen}"
            )
        await asyncio.sleep(POLL_S)


async def _cross(venue: SimAdmin, order: dict[str, Any], mark: Decimal) -> int:
    """Hold the mark at ``order``'s price until it fills, then restore it.

    The venue fills a resting order in steps, one per mark at its price (half the
    order by default); the time returned (venue ms) is that of its last fill, when the
    whole new position exists.
    """
    for _ in range(MAX_MARKS):
        await venue.set_price(VENUE_SYMBOL, order["price"])
        state = await venue.state()
        mine = [o for o in state["orders"] if o["orderId"] == order["orderId"]]
        if mine and mine[0]["status"] == "FILLED":
            break
    else:
        raise RuntimeError("fill-protection bench: the crossed order did not fill")
    await venue.set_price(VENUE_SYMBOL, mark)
    return int(max(f["time"] for f in state["fills"] if f["orderId"] == order["orderId"]))


async def _settled(venue: SimAdmin, rng: random.Random) -> tuple[dict[str, Any], dict[str, Any]]:
    """A flat grid, both levels resting, the bot quiet; then a random share of an interval.

    Quiet: the venue heard no request for ``QUIET_S``, so the bot's own reconcile of
    its last order is over (a fill before it would be found by that reconcile, not by
    the stream or the timer). The random wait spreads the fill over the reconcile
    timer's phase, so the side without the stream is measured fairly.
    """
    requests: int | None = None
    quiet_since = time.monotonic()

    def ready(s: dict[str, Any]) -> dict[str, Any] | None:
        nonlocal requests, quiet_since
        total = sum(s["requests"].values())
        if total != requests:
            requests, quiet_since = total, time.monotonic()
        flat = _position(s) == 0 and not _open_stops(s) and _resting(s, "SELL")
        quiet = time.monotonic() - quiet_since >= QUIET_S
        return _resting(s, "BUY") if flat and quiet else None

    await _until(venue, ready, "flat grid, both levels resting, the bot quiet")
    await asyncio.sleep(rng.uniform(0, RECONCILE_INTERVAL_S))
    buy, state = await _until(
        venue,
        lambda s: _position(s) == 0 and not _open_stops(s) and _resting(s, "BUY"),
        "a resting buy",
    )
    return buy, state


async def _round(venue: SimAdmin, rng: random.Random) -> float:
    """One buy fill measured (seconds to its stop), then the position closed again."""
    buy, state = await _settled(venue, rng)
    mark = Decimal(state["marks"][VENUE_SYMBOL])
    filled_ms = await _cross(venue, buy, mark)

    def covering(s: dict[str, Any]) -> dict[str, Any] | None:
        position = _position(s)
        return next(
            (
                a
                for a in _open_stops(s)
                if a["side"] == "SELL" and Decimal(a["quantity"]) == position > 0
            ),
            None,
        )

    stop, _ = await _until(venue, covering, "covering stop")
    latency = (int(stop["createTime"]) - filled_ms) / 1000
    sell, state = await _until(venue, lambda s: _resting(s, "SELL"), "resting sell")
    await _cross(venue, sell, Decimal(state["marks"][VENUE_SYMBOL]))
    return latency


@asynccontextmanager
async def _bot_process(base_url: str, stream: bool) -> AsyncIterator[None]:
    with tempfile.TemporaryDirectory(prefix="tw-fill-bench-") as workdir:
        config = Path(workdir) / "bot.yaml"
        config.write_text(yaml.safe_dump(_manifest(base_url, stream)), encoding="utf-8")
        env = {**os.environ, "TRADEWARDEN_API_KEY": API_KEY, "TRADEWARDEN_API_SECRET": API_SECRET}
        process = await asyncio.create_subprocess_exec(
            *tradewarden_command(),
            "bot",
            "--config",
            str(config),
            "--state-dir",
            str(Path(workdir) / "state"),
            "--http-port",
            "0",
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            yield
        finally:
            process.terminate()
            await process.wait()


async def _side(stream: bool, fills: int, seed: int) -> list[float]:
    async with (
        simulator_process(seed=seed) as base_url,
        aiohttp.ClientSession() as session,
        _bot_process(base_url, stream),
    ):
        venue = SimAdmin(base_url, session)
        rng = random.Random(seed)
        await _round(venue, rng)  # warm-up: start-up and the first connections are not measured
        return [await _round(venue, rng) for _ in range(fills)]


def _p(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


async def measure(fills: int = FILLS) -> dict[str, float]:
    """p50 and p99 seconds from fill to covering stop, stream on and stream off."""
    on = await _side(True, fills, seed=21)
    off = await _side(False, fills, seed=21)
    return {
        "stream_p50_s": _p(on, 50),
        "stream_p99_s": _p(on, 99),
        "no_stream_p50_s": _p(off, 50),
        "no_stream_p99_s": _p(off, 99),
        "fills": float(fills),
    }


if __name__ == "__main__":
    figures = asyncio.run(measure(int(sys.argv[1]) if len(sys.argv) > 1 else FILLS))
    for name, value in figures.items():
        print(f"{name}: {value:.4f}")
