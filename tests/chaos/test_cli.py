"""``tradewarden chaos`` as a process."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from tests.support.waiting import eventually
from tradewarden.bot.chaos.catalogue import CATALOGUE
from tradewarden.bot.chaos.load import BUSY_LOOP
from tradewarden.bot.runtime.command import tradewarden_command


async def _run(*args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *tradewarden_command(),
        "chaos",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 90)
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_list_json_names_every_scenario_and_its_row() -> None:
    code, out = await _run("--list", "--json")
    listed = json.loads(out)
    assert code == 0
    assert [s["name"] for s in listed] == [s.name for s in CATALOGUE]
    assert all(s["covers"] and s["expect"] is not None for s in listed)


async def test_one_scenario_prints_its_invariants_and_exit_code() -> None:
    code, out = await _run("--scenario", "baseline", "--seed", "3", "--json")
    report = json.loads(out)
    assert (report["scenario"], report["seed"]) == ("baseline", 3)
    assert {"noDuplicateExposure", "protectedPositions", "killSwitchHolds"} <= set(
        report["invariants"]
    )
    assert report["passed"] is all(report["invariants"].values())
    assert code == (0 if report["passed"] else 1)


async def test_unknown_scenario_is_a_usage_error() -> None:
    code, _ = await _run("--scenario", "no-such-thing", "--json")
    assert code == 2


def _busy_loops_running() -> list[int]:
    """Pids of chaos busy loops alive on this machine."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if BUSY_LOOP.encode() in cmdline:
            pids.append(int(entry.name))
    return pids


async def test_runs_in_parallel_beside_busy_loops_and_leaves_none_spinning() -> None:
    code, out = await _run(
        "--scenario", "baseline", "--seeds", "1,2", "--jobs", "2", "--busy-loops", "1", "--json"
    )
    *runs, last = [json.loads(line) for line in out.splitlines()]
    assert sorted(run["seed"] for run in runs) == [1, 2]
    summary = last["summary"]
    assert summary["runs"] == 2
    assert summary["failed"] == [run["seed"] for run in runs if not run["passed"]] == []
    assert summary["loadAverage1m"]["max"] >= summary["loadAverage1m"]["min"] > 0
    assert code == 0
    assert _busy_loops_running() == []


async def test_busy_loops_stop_when_the_command_is_killed() -> None:
    process = await asyncio.create_subprocess_exec(
        *tradewarden_command(
            "chaos", "--scenario", "baseline", "--seeds", "1,2,3", "--busy-loops", "1", "--json"
        ),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await eventually(lambda: bool(_busy_loops_running()), "a busy loop")
    finally:
        process.kill()
        await process.wait()
    # Orphaned, the loop sees its parent gone and stops by itself.
    await eventually(lambda: not _busy_loops_running(), "the orphaned busy loop to stop")


async def test_jobs_below_one_is_a_usage_error_naming_it() -> None:
    process = await asyncio.create_subprocess_exec(
        *tradewarden_command("chaos", "--all", "--jobs", "0"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 2
    assert "--jobs" in err.decode()
