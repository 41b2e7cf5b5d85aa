"""``tradewarden chaos`` as a process."""

from __future__ import annotations

import asyncio
import json

from tradewarden.bot.chaos.catalogue import CATALOGUE
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
