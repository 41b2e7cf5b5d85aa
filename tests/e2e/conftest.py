"""Run ``tradewarden bot`` as a real process against the venue simulator."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tradewarden.bot.runtime.command import tradewarden_command
from tradewarden.bot.venue_sim.server import RunningVenueSim, running_venue_sim
from tradewarden.bot.venue_sim.settings import SimSettings

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tradingbot-sim.yaml"
EVENT_TIMEOUT = 60.0


class BotProcess:
    """A bot subprocess whose event lines are collected as they arrive."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.events: list[dict[str, Any]] = []
        self._arrived = asyncio.Condition()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            async with self._arrived:
                self.events.append(record)
                self._arrived.notify_all()
        async with self._arrived:
            self._arrived.notify_all()

    async def wait_for(
        self, name: str, where: Callable[[dict[str, Any]], bool] = lambda e: True, count: int = 1
    ) -> dict[str, Any]:
        """The ``count``-th event called ``name`` matching ``where``."""

        def found() -> list[dict[str, Any]]:
            return [e for e in self.events if e.get("event") == name and where(e)]

        async def wait() -> dict[str, Any]:
            async with self._arrived:
                while len(found()) < count:
                    if self._reader.done():
                        raise AssertionError(f"bot exited before {count}x {name}: {self.names()}")
                    await self._arrived.wait()
                return found()[count - 1]

        return await asyncio.wait_for(wait(), EVENT_TIMEOUT)

    def names(self) -> list[str]:
        return [str(e.get("event")) for e in self.events]

    async def exit_code(self) -> int:
        code = await asyncio.wait_for(self.process.wait(), EVENT_TIMEOUT)
        await self._reader
        return code

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        self._reader.cancel()


@pytest.fixture
async def sim() -> AsyncIterator[RunningVenueSim]:
    async with running_venue_sim(
        SimSettings(seed=11, price_tick_s=0.05, volatility_bps=15.0)
    ) as running:
        yield running


def write_manifest(directory: Path, sim: RunningVenueSim, **execution: Any) -> Path:
    """The bundled example, pointed at ``sim``, with execution overrides."""
    document = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    document["spec"]["exchange"]["urlOverride"] = sim.base_url
    document["spec"]["exchange"]["requestTimeoutMs"] = 2000
    document["spec"]["execution"].update(execution)
    path = directory / "bot.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


@pytest.fixture
async def start_bot(sim: RunningVenueSim, tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    started: list[BotProcess] = []

    async def start(manifest: Path, *extra: str) -> BotProcess:
        process = await asyncio.create_subprocess_exec(
            *tradewarden_command(),
            "bot",
            "--config",
            str(manifest),
            "--state-dir",
            str(tmp_path / "state"),
            "--http-port",
            "0",
            *extra,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={
                **os.environ,
                "TRADEWARDEN_API_KEY": sim.settings.api_key,
                "TRADEWARDEN_API_SECRET": sim.settings.api_secret,
            },
        )
        bot = BotProcess(process)
        started.append(bot)
        return bot

    try:
        yield start
    finally:
        for bot in started:
            await bot.stop()


def journal_rows(state_dir: Path) -> list[dict[str, Any]]:
    """Every journaled intent, read straight from the SQLite file."""
    with sqlite3.connect(state_dir / "journal.sqlite") as db:
        db.row_factory = sqlite3.Row
        return [dict(row) for row in db.execute("SELECT * FROM intents ORDER BY sequence")]
