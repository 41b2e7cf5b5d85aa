"""``make bench``: print one JSON line per figure (name, value, unit, target).

Run as ``python bench`` (a directory): then only ``bench/`` is on sys.path,
never the repository root, whose ``operator/`` would shadow the stdlib module.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import TextIO

import memory
import order_path
import sim_throughput
from sim_process import simulator_process


def report(name: str, value: float, unit: str, target: str | None) -> None:
    print(json.dumps({"name": name, "value": round(value, 4), "unit": unit, "target": target}))


async def main(sink: TextIO) -> None:
    async with simulator_process(seed=1) as base_url:
        timings = await order_path.measure(base_url, sink)
    report("order_path_raw_ccxt", timings["raw"] * 1e6, "us/order", None)
    report("order_path_bot", timings["bot"] * 1e6, "us/order", None)
    report("order_path_overhead_ratio", timings["bot"] / timings["raw"], "ratio", "<= 1.25")

    async with simulator_process(seed=2, price_tick=0.05) as base_url:
        bare = await memory.bare_client_rss(base_url)
        bot = await memory.bot_rss(base_url)
    report("bare_ccxt_client_rss", bare / 1024, "MiB", None)
    report("bot_rss", bot / 1024, "MiB", None)
    report("bot_memory_ratio", bot / bare, "ratio", "<= 1.3")

    async with simulator_process(seed=3) as base_url:
        rate = await sim_throughput.measure(base_url)
    report("venue_sim_create_order_throughput", rate, "req/s", "measured")


with open(os.devnull, "w") as devnull:
    asyncio.run(main(devnull))
