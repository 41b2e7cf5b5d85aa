"""``tradewarden preflight``: check a TradingBot's venue, account and clock before trading.

Exit 0 when every check passes, 1 when one fails (0 with ``--warn-only``, which says so
loudly on stderr), 2 on a configuration error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from tradewarden.api.manifest import ManifestError
from tradewarden.api.tradingbot import TradingBot
from tradewarden.bot.manifest import load_bot_manifest
from tradewarden.bot.preflight.checks import PreflightReport
from tradewarden.bot.preflight.runner import run_preflight
from tradewarden.bot.venue.ccxt_client import exchange_for
from tradewarden.bot.venue.credentials import Credentials, CredentialsError, load_credentials

EXIT_PASSED = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``tradewarden preflight``."""
    parser.add_argument("--config", type=Path, required=True, help="TradingBot manifest (YAML)")
    parser.add_argument(
        "--warn-only", action="store_true", help="report failures but exit 0 (logged loudly)"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


async def _preflight(
    manifest: TradingBot, credentials: Credentials | None, warn_only: bool
) -> PreflightReport:
    exchange = exchange_for(manifest.spec.exchange, credentials)
    try:
        return await run_preflight(exchange, manifest.spec, warn_only=warn_only)
    finally:
        await exchange.close()


def _print_text(report: PreflightReport) -> None:
    for check in report.checks:
        mark = "ok  " if check.ok else "FAIL"
        print(f"{mark} {check.name}: {check.detail}")
        if not check.ok:
            print(f"     -> {check.remediation}")
    print("preflight passed" if report.passed else "preflight FAILED")


def run(args: argparse.Namespace) -> int:
    """Run every check once and print the report."""
    try:
        manifest = load_bot_manifest(args.config)
        credentials = load_credentials()
    except (ManifestError, CredentialsError) as error:
        print(f"tradewarden preflight: {error}", file=sys.stderr)
        return EXIT_CONFIG
    report = asyncio.run(_preflight(manifest, credentials, args.warn_only))
    if args.json:
        print(json.dumps(report.to_status().model_dump(mode="json", by_alias=True), indent=2))
    else:
        _print_text(report)
    if report.passed:
        return EXIT_PASSED
    if args.warn_only:
        failed = ", ".join(check.name for check in report.failed)
        print(
            f"WARNING: tradewarden preflight FAILED ({failed}) but --warn-only is set; "
            "exiting 0. Do not trade on this configuration unattended.",
            file=sys.stderr,
        )
        return EXIT_PASSED
    return EXIT_FAILED
