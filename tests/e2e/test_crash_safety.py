"""SIGKILL the bot at seeded random points of the order path, restart it on the
same state dir, and check what a desk relies on: no duplicate orders at the
venue, every intent settled, nothing sent before recovery finished."""

from __future__ import annotations

import asyncio
import random
import signal
from pathlib import Path

import pytest

from tradewarden.bot.venue_sim.server import RunningVenueSim

from .conftest import BotProcess, journal_rows, write_manifest

KILL_POINTS = ("INTENT_CREATED", "ORDER_SUBMIT", "ORDER_RESPONSE", "ORDER_LOOKUP")
VENUE_TO_JOURNAL = {
    "NEW": "OPEN",
    "PARTIALLY_FILLED": "PARTIALLY_FILLED",
    "FILLED": "FILLED",
    "CANCELED": "CANCELED",
    "EXPIRED": "EXPIRED",
}
CRASHES_PER_SEED = 3
UNSETTLED = frozenset({"SUBMITTING", "CANCELING"})


async def reach_kill_point(bot: BotProcess, point: str, count: int) -> None:
    """Wait for the ``count``-th ``point`` event, or for the bot halting itself.

    A restarted bot may trip its kill switch (belief debt) and stop proposing;
    the kill then lands there, which is as valid a crash point as any.
    """
    waits = {
        asyncio.create_task(bot.wait_for(point, count=count)),
        asyncio.create_task(
            bot.wait_for("MODE_CHANGE", where=lambda event: event.get("mode") == "Halted")
        ),
    }
    done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    done.pop().result()


def sent_before_recovery(bot: BotProcess) -> bool:
    names = bot.names()
    done = names.index("RECOVERY_DONE") if "RECOVERY_DONE" in names else len(names)
    return "ORDER_SUBMIT" in names[:done]


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_killed_bot_restarts_without_duplicates(
    seed: int, sim: RunningVenueSim, start_bot, tmp_path: Path
) -> None:
    rng = random.Random(seed)
    manifest = write_manifest(tmp_path, sim, absentGraceSeconds=0.5)
    left_unsettled: set[str] = set()
    for _ in range(CRASHES_PER_SEED):
        if rng.random() < 0.5:
            # Slow order replies widen the window between send and answer.
            await sim.set_faults(
                [
                    {
                        "match": {"method": "POST", "path": "/fapi/v1/order"},
                        "after": 0,
                        "times": None,
                        "action": {"delay_ms": rng.choice([50, 200, 400])},
                    }
                ]
            )
        bot = await start_bot(manifest)
        await reach_kill_point(bot, rng.choice(KILL_POINTS), rng.randint(1, 5))
        bot.process.send_signal(signal.SIGKILL)
        await bot.exit_code()
        left_unsettled.update(
            row["state"] for row in journal_rows(tmp_path / "state") if row["state"] in UNSETTLED
        )
        await sim.clear_faults()
        assert not sent_before_recovery(bot)

    # The seed must have killed the bot inside an order's lifecycle, or the
    # restart proved nothing.
    assert left_unsettled, "no kill landed between journaling and a venue answer"

    # A frozen market cannot fill an order between the bot's last reconcile
    # and the venue snapshot below.
    await sim.pause_walk()
    final = await start_bot(manifest)
    await final.wait_for("RECOVERY_DONE")
    final.process.send_signal(signal.SIGTERM)
    assert await final.exit_code() == 0
    assert not sent_before_recovery(final)

    rows = {row["venue_client_id"]: row for row in journal_rows(tmp_path / "state")}
    venue_orders = (await sim.state())["orders"]
    venue_ids = [order["clientOrderId"] for order in venue_orders]
    assert len(venue_ids) == len(set(venue_ids)), "an order reached the venue twice"
    assert set(venue_ids) <= set(rows), "the venue holds an order the journal never issued"
    for order in venue_orders:
        assert rows[order["clientOrderId"]]["state"] == VENUE_TO_JOURNAL[order["status"]]
    assert [row for row in rows.values() if row["state"] in UNSETTLED] == []
    abandoned = {cid for cid, row in rows.items() if row["state"] == "ABANDONED"}
    assert not abandoned & set(venue_ids)
