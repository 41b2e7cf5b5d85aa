"""RSS of a running, trading bot vs a bare process holding a built ccxt client."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path

import yaml
from sim_process import API_KEY, API_SECRET

from tradewarden.bot.runtime.command import tradewarden_command

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "tradingbot-sim.yaml"
TRADE_EVENTS = 20  # ORDER_RESPONSE lines (a few grid re-quotes) before RSS is read

BARE_CLIENT = """
import sys
from tradewarden.bot.venue.ccxt_client import build_exchange
import asyncio
async def main():
    client = build_exchange("binanceusdm", api_key="k", api_secret="s", url_override=sys.argv[1])
    await client.load_markets()
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    await client.close()
asyncio.run(main())
"""


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def bare_client_rss(base_url: str) -> int:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-P",  # keep the repository's operator/ folder off sys.path
        "-c",
        BARE_CLIENT,
        base_url,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None and process.stdin is not None
    await process.stdout.readline()
    rss = rss_kib(process.pid)
    process.stdin.close()
    await process.wait()
    return rss


async def bot_rss(base_url: str) -> int:
    with tempfile.TemporaryDirectory() as workdir:
        document = yaml.safe_load(EXAMPLE.read_text())
        document["spec"]["exchange"]["urlOverride"] = base_url
        manifest = Path(workdir) / "bot.yaml"
        manifest.write_text(yaml.safe_dump(document))
        process = await asyncio.create_subprocess_exec(
            *tradewarden_command(),
            "bot",
            "--config",
            str(manifest),
            "--state-dir",
            f"{workdir}/state",
            "--http-port",
            "0",
            stdout=asyncio.subprocess.PIPE,
            env={
                **os.environ,
                "TRADEWARDEN_API_KEY": API_KEY,
                "TRADEWARDEN_API_SECRET": API_SECRET,
            },
        )
        assert process.stdout is not None
        responses = 0
        try:
            while responses < TRADE_EVENTS:
                line = await asyncio.wait_for(process.stdout.readline(), 60)
                if not line:
                    raise RuntimeError("bot exited early")
                if json.loads(line).get("event") == "ORDER_RESPONSE":
                    responses += 1
            return rss_kib(process.pid)
        finally:
            process.terminate()
            await process.wait()
