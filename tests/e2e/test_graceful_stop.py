"""A stopping bot leaves the venue safe: no entry order rests, the position keeps its stop.

Every spec change rolls the StatefulSet, so SIGTERM is an everyday path. The proof is
the simulator's ground truth after the process has exited, and again after the price
has walked through where the grid's entries were resting.
"""

from __future__ import annotations

import signal
from decimal import Decimal
from pathlib import Path
from typing import Any

from tradewarden.bot.venue_sim.server import RunningVenueSim

from .conftest import write_manifest

SYMBOL = "BTCUSDT"
WORKING = {"NEW", "PARTIALLY_FILLED"}


def resting_entries(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [o for o in state["orders"] if o["status"] in WORKING and not o["reduceOnly"]]


def position(state: dict[str, Any]) -> Decimal:
    return sum(
        (Decimal(p["positionAmt"]) for p in state["positions"] if p["symbol"] == SYMBOL),
        Decimal(0),
    )


def stop_cover(state: dict[str, Any], size: Decimal) -> Decimal:
    """How much of a position of ``size`` the waiting stops on its closing side close."""
    closing = "SELL" if size > 0 else "BUY"
    stops = [a for a in state["algoOrders"] if a["algoStatus"] == "NEW" and a["side"] == closing]
    if any(a["closePosition"] for a in stops):
        return abs(size)
    return sum((Decimal(a["quantity"]) for a in stops if a["reduceOnly"]), Decimal(0))


async def test_sigterm_cancels_resting_entries_and_leaves_the_position_covered(
    sim: RunningVenueSim, start_bot, tmp_path: Path
) -> None:
    await sim.pause_walk()  # the price moves only when the test moves it
    bot = await start_bot(write_manifest(tmp_path, sim))
    await bot.wait_for("ORDER_RESPONSE", count=4)  # the grid rests: two buys, two sells
    buys = sorted(
        (o for o in resting_entries(await sim.state()) if o["side"] == "BUY"),
        key=lambda o: Decimal(o["price"]),
    )
    # Fill the nearer buy only: a long position, which the bot protects with a stop.
    await sim.set_price(SYMBOL, (Decimal(buys[-1]["price"]) + Decimal(buys[0]["price"])) / 2)
    await bot.wait_for("STOP_REPAIR", lambda e: e.get("outcome") == "placed")
    assert resting_entries(await sim.state())  # the grid still has entries working

    bot.process.send_signal(signal.SIGTERM)
    assert await bot.exit_code() == 0

    state = await sim.state()
    assert resting_entries(state) == []
    held = position(state)
    assert held > 0
    assert stop_cover(state, held) >= held
    # Where the grid's buys rested, nothing fills any more: the stop still covers all.
    await sim.set_price(SYMBOL, Decimal(buys[0]["price"]) * Decimal("0.995"))
    state = await sim.state()
    assert position(state) == held
    assert stop_cover(state, held) >= held

    # And the bot said so: what it cancelled, and that it left the position covered.
    stopping = next(e for e in bot.events if e["event"] == "BOT_STOPPING")
    assert stopping["entries"], stopping
    settled = next(e for e in bot.events if e["event"] == "BOT_STOP_SETTLED")
    assert settled["entries_left"] == [] and settled["protected"] is True, settled
