"""``tradewarden demo``: the venue simulator and one bot, trading, then a clean stop.

The bot runs as a separate process through the same ``tradewarden bot``
command a pod runs, against the simulator on a free local port; the demo only
watches (the bot's ``/status``, the simulator's ground truth) and prints.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import tempfile
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from tradewarden.bot.runtime.command import tradewarden_command
from tradewarden.bot.venue_sim.server import RunningVenueSim, running_venue_sim
from tradewarden.bot.venue_sim.settings import SimSettings

STATUS_EVERY_SECONDS = 2.0
SHUTDOWN_GRACE_SECONDS = 15.0


async def run_demo(manifest_path: Path, seconds: float) -> int:
    """Trade for ``seconds`` on the simulator; 0 when the bot stopped cleanly."""
    settings = SimSettings(seed=7, price_tick_s=0.25, volatility_bps=8.0)
    async with running_venue_sim(settings) as sim:
        print(f"venue simulator on {sim.base_url} (seed {settings.seed})")
        with tempfile.TemporaryDirectory(prefix="tradewarden-demo-") as workdir:
            manifest = _point_at(manifest_path, sim.base_url, Path(workdir))
            bot = await asyncio.create_subprocess_exec(
                *tradewarden_command(
                    "bot",
                    "--config",
                    str(manifest),
                    "--state-dir",
                    str(Path(workdir) / "state"),
                    "--http-port",
                    "0",
                ),
                stdout=asyncio.subprocess.PIPE,
                env={
                    **os.environ,
                    "TRADEWARDEN_API_KEY": settings.api_key,
                    "TRADEWARDEN_API_SECRET": settings.api_secret,
                },
            )
            try:
                return await _watch(bot, sim, seconds)
            finally:
                if bot.returncode is None:
                    bot.kill()
                    await bot.wait()


def _point_at(manifest_path: Path, base_url: str, workdir: Path) -> Path:
    document = yaml.safe_load(manifest_path.read_text(encoding="utf-8"))
    document["spec"]["exchange"]["urlOverride"] = base_url
    target = workdir / "tradingbot.yaml"
    target.write_text(yaml.safe_dump(document), encoding="utf-8")
    return target


async def _watch(bot: asyncio.subprocess.Process, sim: RunningVenueSim, seconds: float) -> int:
    assert bot.stdout is not None
    port = await _listening_port(bot.stdout)
    events = asyncio.create_task(_count_events(bot.stdout))
    print(f"bot pid {bot.pid}, /status on http://127.0.0.1:{port}/status")
    print(f"{'t':>5}  {'mark':>10}  {'position':>9}  {'open':>4}  {'fills':>5}  mode")
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with aiohttp.ClientSession() as http:
        while (elapsed := loop.time() - started) < seconds and bot.returncode is None:
            try:
                async with http.get(f"http://127.0.0.1:{port}/status") as reply:
                    status = await reply.json()
            except aiohttp.ClientError:
                status = {}
            truth = await sim.state()
            mark = truth["marks"].get("BTCUSDT", "?")
            position = status.get("positions", {}).get("BTC/USDT:USDT", "-")
            print(
                f"{elapsed:5.0f}  {mark:>10}  {position:>9}  "
                f"{len(status.get('openOrders', [])):>4}  {len(truth['fills']):>5}  "
                f"{status.get('tradingMode', 'starting')}",
                flush=True,
            )
            await asyncio.sleep(STATUS_EVERY_SECONDS)
    if bot.returncode is None:
        bot.send_signal(signal.SIGTERM)
    code = await asyncio.wait_for(bot.wait(), SHUTDOWN_GRACE_SECONDS)
    counts = await events
    truth = await sim.state()
    print(
        f"bot exited with {code}; orders at the venue: {len(truth['orders'])}, "
        f"fills: {len(truth['fills'])}; events: {json.dumps(counts, sort_keys=True)}"
    )
    return code


async def _listening_port(stdout: asyncio.StreamReader) -> int:
    while line := await stdout.readline():
        record = _event(line)
        if record.get("event") == "HTTP_LISTENING":
            return int(record["port"])
    raise RuntimeError("the bot exited before serving /status")


async def _count_events(stdout: asyncio.StreamReader) -> dict[str, int]:
    counts: dict[str, int] = {}
    while line := await stdout.readline():
        name = _event(line).get("event")
        if isinstance(name, str):
            counts[name] = counts.get(name, 0) + 1
    return counts


def _event(line: bytes) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except ValueError:
        return {}
    return record if isinstance(record, dict) else {}
