"""The catalogue under CPU load: runs in parallel processes beside busy loops.

Chaos runs bot time ten times faster than the wall clock, so a loaded machine
stretches every request tenfold in bot time; that is where timing-sensitive
safety shows. ``tradewarden chaos --jobs N --busy-loops B`` keeps ``B`` busy
loops spinning and ``N`` scenario runs going at once, each run in its own
``tradewarden chaos --scenario`` process (its own event loop, as a bot has).

Invariants: every busy loop started is gone when the command ends, however it
ends (each also stops by itself once its parent is gone, so a ``kill -9`` of
the command leaves none spinning); a run that dies without a report counts as
failed; the load average is sampled while the runs go and reported with them.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tradewarden.bot.runtime.command import tradewarden_command

# Spins while its parent (the pid it is given) lives: an orphaned busy loop stops by itself,
# even one orphaned before it got to run (so the pid is not read at its start).
BUSY_LOOP = "import os, sys\nparent = int(sys.argv[1])\nwhile os.getppid() == parent:\n    pass\n"
LOAD_SAMPLE_SECONDS = 5.0


@contextmanager
def busy_loops(count: int) -> Iterator[None]:
    """``count`` processes that each keep a core busy while the block runs."""
    command = [sys.executable, "-c", BUSY_LOOP, str(os.getpid())]
    spinning = [subprocess.Popen(command) for _ in range(count)]
    try:
        yield
    finally:
        for process in spinning:
            process.kill()
        for process in spinning:
            process.wait()


@dataclass
class LoadReport:
    """What one loaded session of runs found."""

    runs: int = 0
    failed: list[str] = field(default_factory=list)
    load: list[float] = field(default_factory=list)  # 1-minute load averages sampled

    def summary(self) -> dict[str, Any]:
        """One JSON object for the end of the output."""
        load = sorted(self.load)
        return {
            "runs": self.runs,
            "failed": self.failed,
            "loadAverage1m": {
                "min": round(load[0], 2) if load else None,
                "median": round(statistics.median(load), 2) if load else None,
                "max": round(load[-1], 2) if load else None,
            },
        }


async def _one_run(scenario: str, seed: int, speed: float) -> tuple[bool, str]:
    """Run one scenario in its own process; ``(passed, report line)``."""
    process = await asyncio.create_subprocess_exec(
        *tradewarden_command(
            "chaos", "--scenario", scenario, "--seed", str(seed), "--speed", str(speed), "--json"
        ),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    line = out.decode().strip()
    if process.returncode in (0, 1) and line:
        return process.returncode == 0, line
    died = {
        "scenario": scenario,
        "seed": seed,
        "passed": False,
        "exitCode": process.returncode,
        "stderr": err.decode()[-2000:],
    }
    return False, json.dumps(died, separators=(",", ":"))


async def _sample_load(report: LoadReport) -> None:
    while True:
        report.load.append(os.getloadavg()[0])
        await asyncio.sleep(LOAD_SAMPLE_SECONDS)


async def run_loaded(
    pairs: Sequence[tuple[str, int]], *, jobs: int, busy: int, speed: float
) -> LoadReport:
    """Run every ``(scenario, seed)`` at most ``jobs`` at a time beside ``busy`` busy loops.

    Prints each run's JSON report as it ends, then the summary.
    """
    report = LoadReport()
    gate = asyncio.Semaphore(jobs)

    async def one(scenario: str, seed: int) -> None:
        async with gate:
            passed, line = await _one_run(scenario, seed, speed)
        report.runs += 1
        if not passed:
            report.failed.append(f"{scenario}:{seed}")
        print(line, flush=True)

    with busy_loops(busy):
        sampling = asyncio.create_task(_sample_load(report))
        try:
            await asyncio.gather(*(one(scenario, seed) for scenario, seed in pairs))
        finally:
            sampling.cancel()
            await asyncio.gather(sampling, return_exceptions=True)
    print(json.dumps({"summary": report.summary()}, separators=(",", ":")), flush=True)
    return report
