"""Bad input meets the real ``tradewarden bot`` and ``tradewarden preflight`` processes.

Every case exits 2 with one line naming the file or field, never a traceback, and
leaves what it was given as it was: no journal written over, no order sent.
"""

from __future__ import annotations

import asyncio
import os
import random
import sqlite3
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from tradewarden.bot.execution.journal import Journal
from tradewarden.bot.model.order_state import OrderState
from tradewarden.bot.model.orders import OrderIntent, OrderType, Side
from tradewarden.bot.runtime.bot import JOURNAL_FILE
from tradewarden.bot.runtime.command import tradewarden_command
from tradewarden.bot.venue_sim.server import RunningVenueSim

from .conftest import EVENT_TIMEOUT, journal_rows, write_manifest


@dataclass(frozen=True)
class Finished:
    code: int
    stdout: str
    stderr: str


async def run_cli(sim: RunningVenueSim, *args: str) -> Finished:
    """Run ``tradewarden ARGS`` to its end with the simulator's credentials."""
    process = await asyncio.create_subprocess_exec(
        *tradewarden_command(*args),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={
            **os.environ,
            "TRADEWARDEN_API_KEY": sim.settings.api_key,
            "TRADEWARDEN_API_SECRET": sim.settings.api_secret,
        },
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), EVENT_TIMEOUT)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return Finished(process.returncode, stdout.decode(), stderr.decode())


async def run_bot(sim: RunningVenueSim, manifest: Path, state_dir: Path) -> Finished:
    return await run_cli(
        sim, "bot", "--config", str(manifest), "--state-dir", str(state_dir), "--http-port", "0"
    )


def refused(finished: Finished, *named: str) -> None:
    """Exit 2, each of ``named`` in the message, no traceback, nothing served."""
    assert finished.code == 2, finished
    for text in named:
        assert text in finished.stderr, finished.stderr
    assert "Traceback" not in finished.stderr + finished.stdout
    assert "HTTP_LISTENING" not in finished.stdout


def edited(directory: Path, sim: RunningVenueSim, **changes: Any) -> Path:
    """The example manifest on ``sim`` with dotted-path changes (``spec.symbol=...``)."""
    path = write_manifest(directory, sim)
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    for dotted, value in changes.items():
        node = document
        *parents, last = dotted.split("__")
        for part in parents:
            node = node[part]
        node[last] = value
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


INSERT_INTENT = (
    "INSERT INTO intents (client_order_id, sequence, symbol, side, order_type, quantity, "
    "price, reduce_only, purpose, state, filled, attempts, created_at, updated_at, "
    "venue_client_id) VALUES (:coid, 1, 'BTC/USDT:USDT', 'buy', 'limit', :quantity, "
    "'50000', 0, 'entry', :state, :filled, 1, 0, 0, :coid)"
)
A_ROW = {"coid": "x-1", "quantity": "0.003", "state": "OPEN", "filled": "0"}


# ---- item 6: the live opt-in ------------------------------------------------------------------


@pytest.mark.parametrize("sandbox", [False, True])
async def test_a_live_url_override_needs_allow_live(
    sim: RunningVenueSim, tmp_path: Path, sandbox: bool
) -> None:
    manifest = edited(
        tmp_path,
        sim,
        spec__exchange__sandbox=sandbox,
        spec__exchange__urlOverride="https://fapi.binance.com",
    )
    for command in ("bot", "preflight"):
        args = ["--state-dir", str(tmp_path / "state")] if command == "bot" else []
        finished = await run_cli(sim, command, "--config", str(manifest), *args)
        refused(finished, str(manifest), "spec.exchange", "allowLive")
    assert not (tmp_path / "state").exists()


# ---- item 5: the symbol is immutable ----------------------------------------------------------


async def test_a_bot_refuses_a_symbol_other_than_its_journals(
    sim: RunningVenueSim, start_bot, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    bot = await start_bot(write_manifest(tmp_path, sim))
    await bot.wait_for("ORDER_RESPONSE")
    bot.process.terminate()
    assert await bot.exit_code() == 0
    await sim.pause_walk()  # the venue holds still: any change would be the second bot's
    venue_before = await sim.state()
    rows_before = journal_rows(state)

    moved = edited(tmp_path, sim, spec__symbol="ETH/USDT:USDT")
    refused(await run_bot(sim, moved, state), str(state / JOURNAL_FILE), "spec.symbol")
    assert await sim.state() == venue_before
    assert journal_rows(state) == rows_before


async def test_a_journal_without_a_recorded_symbol_is_bound_to_its_intents(
    sim: RunningVenueSim, tmp_path: Path
) -> None:
    """A journal written before the symbol was recorded: its intents name the symbol."""
    state = tmp_path / "state"
    Journal.open(state / JOURNAL_FILE, "dev/btc-grid-sim", time.time).close()
    with sqlite3.connect(state / JOURNAL_FILE) as db:
        db.execute(INSERT_INTENT, {**A_ROW, "state": "CANCELED"})
    moved = edited(tmp_path, sim, spec__symbol="ETH/USDT:USDT")
    refused(await run_bot(sim, moved, state), "spec.symbol", "'BTC/USDT:USDT'")


# ---- items 7 and 8: manifests the bot refuses, and preflight with it --------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"spec__strategy__type": "martingale"}, "spec.strategy.type"),
        ({"spec__strategy__params__spacingPct": "abc"}, "spec.strategy.params.spacingPct"),
        ({"spec__strategy__params__levels": "two"}, "spec.strategy.params.levels"),
        ({"spec__strategy__params__orderQuantity": "1e400"}, "spec.strategy.params.orderQuantity"),
        ({"spec__risk__maxPosition": "1e400"}, "spec.risk.maxPosition"),
    ],
    ids=["unknown-strategy", "spacing-abc", "levels-two", "quantity-1e400", "max-position-1e400"],
)
async def test_preflight_refuses_what_the_bot_refuses(
    sim: RunningVenueSim, tmp_path: Path, changes: dict[str, Any], field: str
) -> None:
    manifest = edited(tmp_path, sim, **changes)
    state = tmp_path / "state"
    refused(await run_cli(sim, "preflight", "--config", str(manifest)), str(manifest), field)
    refused(await run_bot(sim, manifest, state), str(manifest), field)
    assert not state.exists()
    assert (await sim.state())["orders"] == []


async def test_a_manifest_that_is_not_utf8_is_refused(sim: RunningVenueSim, tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path, sim)
    manifest.write_bytes(manifest.read_bytes().replace(b"btc-grid-sim", b"btc-\xff\xfe-sim"))
    for finished in (
        await run_cli(sim, "preflight", "--config", str(manifest)),
        await run_bot(sim, manifest, tmp_path / "state"),
    ):
        refused(finished, str(manifest), "UTF-8")
    assert not (tmp_path / "state").exists()


# ---- item 7: a damaged journal, a state directory that is a file ------------------------------

BOT = "dev/btc-grid-sim"  # the example's identity: namespace/name


def a_journal(state: Path, orders: int = 300) -> Path:
    """A journal with a history (many pages), as a bot that traded for a while leaves it."""
    path = state / JOURNAL_FILE
    journal = Journal.open(path, BOT, time.time)
    for index in range(orders):
        order = journal.record_intent(
            OrderIntent(
                "BTC/USDT:USDT", Side.BUY, OrderType.LIMIT, Decimal("0.003"), Decimal(50000 + index)
            )
        )
        journal.transition(order.client_order_id, OrderState.OPEN, exchange_order_id=str(index))
        journal.transition(order.client_order_id, OrderState.CANCELED)
    journal.close()
    return path


def damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "half-truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "garbage-header":
        path.write_bytes(b"\x5a" * 100 + data[100:])
    elif how == "garbage-middle":
        middle = len(data) // 2
        path.write_bytes(data[:middle] + random.Random(7).randbytes(4096) + data[middle + 4096 :])
    elif how == "text-file":
        path.write_text("these are my notes, not a journal\n" * 50, encoding="utf-8")
    else:
        raise AssertionError(how)


def snapshot(state: Path) -> dict[str, bytes]:
    return {child.name: child.read_bytes() for child in sorted(state.iterdir()) if child.is_file()}


@pytest.mark.parametrize("how", ["half-truncated", "garbage-header", "garbage-middle", "text-file"])
async def test_a_damaged_journal_is_refused_and_left_as_it_is(
    sim: RunningVenueSim, tmp_path: Path, how: str
) -> None:
    state = tmp_path / "state"
    journal = a_journal(state)
    damage(journal, how)
    before = snapshot(state)
    finished = await run_bot(sim, write_manifest(tmp_path, sim), state)
    refused(finished, str(journal), "not a usable journal")
    after = snapshot(state)
    assert after.pop("lock", None) is not None  # the state-dir lock, written by the bot
    before.pop("lock", None)
    assert after == before
    assert (await sim.state())["orders"] == []


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("state", "BOGUS"),
        ("filled", "abc"),
        ("quantity", "NaN"),
        ("filled", "-0.001"),
        ("price", "Infinity"),
        ("side", "sideways"),
        ("created_at", "yesterday"),
    ],
)
async def test_a_journal_row_with_an_invalid_value_is_refused(
    sim: RunningVenueSim, tmp_path: Path, column: str, value: str
) -> None:
    state = tmp_path / "state"
    journal = a_journal(state, orders=3)
    with sqlite3.connect(journal) as db:
        coid = db.execute("SELECT client_order_id FROM intents WHERE sequence = 2").fetchone()[0]
        db.execute(f"UPDATE intents SET {column} = ? WHERE client_order_id = ?", (value, coid))
    db.close()
    before = snapshot(state)
    finished = await run_bot(sim, write_manifest(tmp_path, sim), state)
    refused(finished, str(journal), repr(coid), column)
    assert {k: v for k, v in snapshot(state).items() if k != "lock"} == {
        k: v for k, v in before.items() if k != "lock"
    }


async def test_a_state_dir_that_is_a_file_is_refused(sim: RunningVenueSim, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.write_text("not a directory\n", encoding="utf-8")
    finished = await run_bot(sim, write_manifest(tmp_path, sim), state)
    refused(finished, str(state))
    assert state.read_text(encoding="utf-8") == "not a directory\n"
