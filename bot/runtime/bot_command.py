"""``tradewarden bot``: run one bot from a TradingBot manifest until SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from pathlib import Path

from tradewarden.api.kube_client import ApiConfigError
from tradewarden.api.manifest import ManifestError
from tradewarden.bot.control.companion import KubernetesControl
from tradewarden.bot.execution.journal import JournalError
from tradewarden.bot.manifest import load_bot_manifest
from tradewarden.bot.observability.events import Event, EventLog
from tradewarden.bot.runtime.bot import BotRuntime
from tradewarden.bot.runtime.http_server import serving
from tradewarden.bot.runtime.state_lock import StateDirBusy, locked_state_dir
from tradewarden.bot.venue.ccxt_client import exchange_for
from tradewarden.bot.venue.credentials import CredentialsError, load_credentials

EXIT_CONFIG = 2


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``tradewarden bot``."""
    parser.add_argument("--config", type=Path, required=True, help="TradingBot manifest (YAML)")
    parser.add_argument("--state-dir", type=Path, required=True, help="journal directory")
    parser.add_argument("--http-host", default="127.0.0.1", help="address of /status etc.")
    parser.add_argument("--http-port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument("--dry-run", action="store_true", help="log WOULD_SUBMIT, send nothing")
    parser.add_argument(
        "--control",
        choices=("none", "kubernetes"),
        default="none",
        help="kubernetes: obey the own TradingBot, hold the account Lease, dead-man",
    )


def run(args: argparse.Namespace) -> int:
    """Run the bot; exit 2 on a configuration or journal error or a state directory in use.

    The state directory is locked before anything with a side effect (the
    journal, the HTTP server, the venue): a second process on it exits at once.
    """
    try:
        manifest = load_bot_manifest(args.config)
        credentials = load_credentials()
        companions = (
            [KubernetesControl.from_environment(manifest)] if args.control == "kubernetes" else []
        )
    except (ManifestError, CredentialsError, ApiConfigError) as error:
        print(f"tradewarden bot: {error}", file=sys.stderr)
        return EXIT_CONFIG

    async def serve() -> int:
        exchange = exchange_for(manifest.spec.exchange, credentials)
        lane = exchange_for(manifest.spec.exchange, credentials)
        bot = BotRuntime(
            manifest,
            exchange,
            args.state_dir,
            dry_run=args.dry_run,
            events=EventLog(time.time, sys.stdout),
            companions=companions,
            lane=lane,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        try:
            # /status reads the journal: nothing is served before it opened,
            # and the server stops before it closes.
            bot.open_journal()
            async with contextlib.AsyncExitStack() as http:
                port = await http.enter_async_context(serving(bot, args.http_host, args.http_port))
                bot.events.emit(Event.HTTP_LISTENING, host=args.http_host, port=port)
                return await bot.run(stop, before_close=http.aclose)
        except JournalError as error:
            await exchange.close()
            await lane.close()
            print(f"tradewarden bot: {error}", file=sys.stderr)
            return EXIT_CONFIG

    try:
        with locked_state_dir(args.state_dir):
            return asyncio.run(serve())
    except StateDirBusy as error:
        print(f"tradewarden bot: {error}", file=sys.stderr)
        return EXIT_CONFIG
