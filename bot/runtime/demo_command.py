"""``tradewarden demo``: the venue simulator and one bot on the bundled example."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from tradewarden.bot.runtime.demo import run_demo

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tradingbot-sim.yaml"


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``tradewarden demo``."""
    parser.add_argument("--seconds", type=float, default=30.0, help="how long to trade")
    parser.add_argument("--config", type=Path, default=EXAMPLE, help="TradingBot manifest")


def run(args: argparse.Namespace) -> int:
    """Trade on the simulator for a while, then stop cleanly."""
    return asyncio.run(run_demo(args.config, args.seconds))
