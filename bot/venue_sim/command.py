"""``tradewarden venue-sim``: serve the simulator until SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

from tradewarden.bot.venue.credentials import CredentialsError, credentials_from_directory
from tradewarden.bot.venue_sim.server import serve_forever
from tradewarden.bot.venue_sim.settings import SimSettings

_DEFAULTS = SimSettings()


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``tradewarden venue-sim``."""
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18080)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--api-key", default="sim-key")
    parser.add_argument("--api-secret", default="sim-secret")
    parser.add_argument(
        "--credentials-dir",
        type=Path,
        help="read the key pair from the files apiKey and apiSecret here (a mounted Secret); "
        "replaces --api-key/--api-secret",
    )
    parser.add_argument("--price-tick", type=float, default=0.5, help="seconds per price step")
    parser.add_argument("--volatility-bps", type=float, default=5.0, help="price step size")
    parser.add_argument("--weight-limit", type=int, default=2400, help="request weight per minute")
    parser.add_argument(
        "--order-limit-10s",
        type=_positive,
        default=_DEFAULTS.order_limit_10s,
        help="new orders per 10 s (Binance's ORDERS limit); beyond it 429 -1015",
    )
    parser.add_argument(
        "--order-limit-1m",
        type=_positive,
        default=_DEFAULTS.order_limit_1m,
        help="new orders per minute",
    )


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, not {text!r}")
    return value


def run(args: argparse.Namespace) -> int:
    """Serve until signalled; the "listening on URL" log line tells the address."""
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    api_key, api_secret = args.api_key, args.api_secret
    if args.credentials_dir is not None:
        try:
            credentials = credentials_from_directory(args.credentials_dir)
        except CredentialsError as error:
            print(f"venue-sim: --credentials-dir: {error}", file=sys.stderr)
            return 2
        api_key, api_secret = credentials.api_key, credentials.api_secret
    settings = SimSettings(
        host=args.host,
        port=args.port,
        seed=args.seed,
        api_key=api_key,
        api_secret=api_secret,
        price_tick_s=args.price_tick,
        volatility_bps=args.volatility_bps,
        weight_limit_1m=args.weight_limit,
        order_limit_10s=args.order_limit_10s,
        order_limit_1m=args.order_limit_1m,
    )

    async def serve() -> None:
        task = asyncio.ensure_future(serve_forever(settings))
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(serve())
    return 0
