"""The ``tradewarden`` command: one entry point, one subcommand per job."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from tradewarden.api.manifest import ManifestError, load_manifest
from tradewarden.bot.execution.journal import JournalError
from tradewarden.bot.observability.events import Event, EventLog
from tradewarden.bot.runtime.bot import BotRuntime
from tradewarden.bot.runtime.demo import run_demo
from tradewarden.bot.runtime.http_server import serving
from tradewarden.bot.venue.ccxt_client import build_exchange
from tradewarden.bot.venue.credentials import CredentialsError, load_credentials
from tradewarden.bot.venue_sim.server import serve_forever
from tradewarden.bot.venue_sim.settings import SimSettings

EXIT_CONFIG = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tradewarden", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    bot = commands.add_parser("bot", help="run one bot from a TradingBot manifest")
    bot.add_argument("--config", type=Path, required=True, help="TradingBot manifest (YAML)")
    bot.add_argument("--state-dir", type=Path, required=True, help="journal directory")
    bot.add_argument("--http-host", default="127.0.0.1", help="address of /status etc.")
    bot.add_argument("--http-port", type=int, default=8080, help="0 picks a free port")
    bot.add_argument("--dry-run", action="store_true", help="log WOULD_SUBMIT, send nothing")

    sim = commands.add_parser("venue-sim", help="serve the Binance USD-M venue simulator")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=18080)
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument("--api-key", default="sim-key")
    sim.add_argument("--api-secret", default="sim-secret")
    sim.add_argument("--price-tick", type=float, default=0.5, help="seconds per price step")
    sim.add_argument("--volatility-bps", type=float, default=5.0, help="price step size")
    sim.add_argument("--weight-limit", type=int, default=2400, help="request weight per minute")

    demo = commands.add_parser("demo", help="simulator + one bot on the bundled example")
    demo.add_argument("--seconds", type=float, default=30.0, help="how long to trade")
    demo.add_argument(
        "--config",
        type=Path,
        default=Path(__file__).resolve().parent.parent / "examples" / "tradingbot-sim.yaml",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments and run the chosen subcommand; returns the exit code."""
    args = _parser().parse_args(argv)
    if args.command == "bot":
        return _run_bot(args)
    if args.command == "venue-sim":
        return _run_venue_sim(args)
    return asyncio.run(run_demo(args.config, args.seconds))


def _run_bot(args: argparse.Namespace) -> int:
    try:
        manifest = load_manifest(args.config)
        credentials = load_credentials()
    except (ManifestError, CredentialsError) as error:
        print(f"tradewarden bot: {error}", file=sys.stderr)
        return EXIT_CONFIG

    async def run() -> int:
        exchange_spec = manifest.spec.exchange
        exchange = build_exchange(
            exchange_spec.id,
            api_key=credentials.api_key if credentials else None,
            api_secret=credentials.api_secret if credentials else None,
            url_override=exchange_spec.url_override,
            # The simulator URL replaces every endpoint, testnet ones included.
            sandbox=exchange_spec.sandbox and exchange_spec.url_override is None,
            timeout_ms=exchange_spec.request_timeout_ms,
        )
        try:
            bot = BotRuntime(
                manifest,
                exchange,
                args.state_dir,
                dry_run=args.dry_run,
                events=EventLog(time.time, sys.stdout),
            )
        except ValueError as error:
            await exchange.close()
            print(f"tradewarden bot: {error}", file=sys.stderr)
            return EXIT_CONFIG
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        async with serving(bot, args.http_host, args.http_port) as port:
            bot.events.emit(Event.HTTP_LISTENING, host=args.http_host, port=port)
            try:
                return await bot.run(stop)
            except JournalError as error:
                print(f"tradewarden bot: {error}", file=sys.stderr)
                return EXIT_CONFIG

    return asyncio.run(run())


def _run_venue_sim(args: argparse.Namespace) -> int:
    # The "listening on URL" line is how people and scripts learn the address.
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    settings = SimSettings(
        host=args.host,
        port=args.port,
        seed=args.seed,
        api_key=args.api_key,
        api_secret=args.api_secret,
        price_tick_s=args.price_tick,
        volatility_bps=args.volatility_bps,
        weight_limit_1m=args.weight_limit,
    )

    async def run() -> None:
        task = asyncio.ensure_future(serve_forever(settings))
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
