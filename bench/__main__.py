"""``make bench``: print one JSON line per figure (name, value, unit, target).

Run as ``python bench`` (a directory): then only ``bench/`` is on sys.path,
never the repository root, whose ``operator/`` would shadow the stdlib module.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import TextIO

import drift_delay
import estop_latency
import fill_protection
import fleet
import fleet_halt
import memory
import order_path
import posture_cost
import sim_throughput
from sim_process import simulator_process


def report(name: str, value: float, unit: str, target: str | None) -> None:
    print(json.dumps({"name": name, "value": round(value, 4), "unit": unit, "target": target}))


async def main(sink: TextIO) -> None:
    async with simulator_process(seed=1) as base_url:
        timings = await order_path.measure(base_url, sink)
    report("order_path_raw_ccxt", timings["raw"] * 1e6, "us/order", None)
    report("order_path_bot", timings["bot"] * 1e6, "us/order", None)
    report("order_path_overhead_ratio", timings["ratio"], "ratio", "<= 1.25 (aim 1.15)")
    report("order_path_venue_calls", timings["calls_per_order"], "calls/order", None)

    async with simulator_process(seed=2, price_tick=0.05) as base_url:
        bare = await memory.bare_client_rss(base_url)
        bot = await memory.bot_rss(base_url)
    report("bare_ccxt_client_rss", bare / 1024, "MiB", None)
    report("bot_rss", bot / 1024, "MiB", None)
    report("bot_memory_ratio", bot / bare, "ratio", "<= 1.3")

    async with simulator_process(seed=3) as base_url:
        rate = await sim_throughput.measure(base_url)
    report("venue_sim_create_order_throughput", rate, "req/s", "measured")

    fills = await fill_protection.measure()
    report("fill_to_protection_stream_p50_ms", fills["stream_p50_s"] * 1e3, "ms", None)
    report("fill_to_protection_stream_p99_ms", fills["stream_p99_s"] * 1e3, "ms", "< 500")
    report("fill_to_protection_no_stream_p50_ms", fills["no_stream_p50_s"] * 1e3, "ms", None)
    report("fill_to_protection_no_stream_p99_ms", fills["no_stream_p99_s"] * 1e3, "ms", None)

    p50, p99 = posture_cost.measure()
    report("posture_risk_check_p50", p50 * 1e6, "us/intent", None)
    report("posture_risk_check_p99", p99 * 1e6, "us/intent", "< 50")
    report("drift_to_reduce_only", drift_delay.intervals_to_reduce_only(), "intervals", "<= 3")

    scale = await fleet.measure()
    report("fleet_operator_seconds", scale["operator_s"], "s", "< 10")
    report("fleet_contract_floor_seconds", scale["floor_s"], "s", None)
    report("fleet_vs_contract_floor_ratio", scale["operator_vs_floor"], "ratio", "<= 1.15")
    report("fleet_operator_rss_mb", scale["operator_rss_kib"] / 1024, "MiB", None)
    report("fleet_contract_floor_rss_mb", scale["floor_rss_kib"] / 1024, "MiB", None)

    stops = await estop_latency.measure()
    report("estop_p50_ms", stops["p50_s"] * 1e3, "ms", None)
    report("estop_p99_ms", stops["p99_s"] * 1e3, "ms", "<= 1000")
    report("kubectl_patch_floor_ms", stops["floor_s"] * 1e3, "ms", None)
    report("estop_p50_vs_floor", stops["p50_s"] / stops["floor_s"], "ratio", "<= 3")

    halts = await fleet_halt.latency()
    report("fleet_halt_p50_ms", halts["fleet_p50_s"] * 1e3, "ms", None)
    report("fleet_halt_p99_ms", halts["fleet_p99_s"] * 1e3, "ms", "< 2000")
    report("fleet_halt_single_estop_p50_ms", halts["single_p50_s"] * 1e3, "ms", None)
    report("fleet_halt_single_estop_p99_ms", halts["single_p99_s"] * 1e3, "ms", None)
    report("fleet_halt_1000_bots_status_s", await fleet_halt.scale(), "s", "< 10")


with open(os.devnull, "w") as devnull:
    asyncio.run(main(devnull))
