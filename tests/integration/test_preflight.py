"""Preflight against the simulator: in process, and as the ``tradewarden preflight`` command."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import write_manifest
from tradewarden.api.manifest import load_manifest
from tradewarden.bot.preflight.checks import PreflightReport
from tradewarden.bot.preflight.runner import run_preflight
from tradewarden.bot.runtime.command import tradewarden_command
from tradewarden.bot.venue.ccxt_client import build_exchange
from tradewarden.bot.venue_sim.server import RunningVenueSim

NAMES = ["apiReachable", "credentials", "account", "symbol", "marketData", "clockSkew", "leverage"]


async def _preflight(
    sim: RunningVenueSim, tmp_path: Path, secret: str, *, change_leverage: bool = True
) -> PreflightReport:
    manifest = load_manifest(write_manifest(tmp_path, sim))
    exchange = build_exchange(
        "binanceusdm", api_key=sim.settings.api_key, api_secret=secret, url_override=sim.base_url
    )
    try:
        return await run_preflight(exchange, manifest.spec, change_leverage=change_leverage)
    finally:
        await exchange.close()


def _by_name(report: PreflightReport) -> dict[str, Any]:
    return {check.name: check for check in report.checks}


async def test_a_good_configuration_passes(sim: RunningVenueSim, tmp_path: Path) -> None:
    report = await _preflight(sim, tmp_path, sim.settings.api_secret)
    assert [check.name for check in report.checks] == NAMES
    assert report.passed, report.failed
    assert (await sim.state())["leverage"]["BTCUSDT"] == 1


async def test_a_dry_run_preflight_leaves_the_leverage_alone(
    sim: RunningVenueSim, tmp_path: Path
) -> None:
    leverage_before = (await sim.state())["leverage"]["BTCUSDT"]
    report = await _preflight(sim, tmp_path, sim.settings.api_secret, change_leverage=False)
    assert report.passed, report.failed
    assert "dry run: leverage not set" in _by_name(report)["leverage"].detail
    state = await sim.state()
    assert "POST /fapi/v1/leverage" not in state["requests"]
    assert state["leverage"]["BTCUSDT"] == leverage_before != 1


async def test_bad_credentials_fail_with_a_remediation(
    sim: RunningVenueSim, tmp_path: Path
) -> None:
    report = await _preflight(sim, tmp_path, "not-the-secret")
    checks = _by_name(report)
    assert not report.passed
    assert not checks["credentials"].ok
    assert "-1022" in checks["credentials"].detail
    assert "apiKey/apiSecret" in checks["credentials"].remediation
    assert checks["apiReachable"].ok and checks["symbol"].ok


async def test_clock_skew_fails_the_skew_check(sim: RunningVenueSim, tmp_path: Path) -> None:
    await sim.set_faults([{"match": {"path": "/fapi/v1/time"}, "action": {"skew_ms": 30_000}}])
    report = await _preflight(sim, tmp_path, sim.settings.api_secret)
    checks = _by_name(report)
    assert not checks["clockSkew"].ok
    assert "NTP" in checks["clockSkew"].remediation
    assert checks["credentials"].ok and checks["account"].ok and checks["symbol"].ok


async def _cli(
    sim: RunningVenueSim, manifest: Path, secret: str, *flags: str
) -> tuple[int, str, str]:
    env = {
        **os.environ,
        "TRADEWARDEN_API_KEY": sim.settings.api_key,
        "TRADEWARDEN_API_SECRET": secret,
    }
    env.pop("TRADEWARDEN_CREDENTIALS_DIR", None)
    process = await asyncio.create_subprocess_exec(
        *tradewarden_command("preflight", "--config", str(manifest), *flags),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.mark.parametrize(
    ("case", "flags", "code", "passed"),
    [
        ("good", ("--json",), 0, True),
        ("bad", ("--json",), 1, False),
        ("bad", ("--json", "--warn-only"), 0, False),
    ],
)
async def test_the_command_exit_codes(
    sim: RunningVenueSim,
    tmp_path: Path,
    case: str,
    flags: tuple[str, ...],
    code: int,
    *,
    passed: bool,
) -> None:
    secret = sim.settings.api_secret if case == "good" else "wrong"
    returncode, out, err = await _cli(sim, write_manifest(tmp_path, sim), secret, *flags)
    assert returncode == code, err
    report = json.loads(out)
    assert report["passed"] is passed
    assert [c["name"] for c in report["checks"]] == NAMES
    assert ("WARNING" in err) is ("--warn-only" in flags)
    assert "wrong" not in out + err
