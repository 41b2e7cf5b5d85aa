"""``tradewarden demo`` (``make demo``): the sandbox tour, see :mod:`demo`.

Needs no cluster, no exchange account and no kubectl on the PATH: it uses the
kubectl the toolchain installed into the virtualenv when there is none.
State (kubeconfig, rendered manifests, operator and pod logs) goes to a fresh
temporary directory that is removed after a successful run and kept, with its
path printed, after a failure; ``--dir`` keeps it in a place of your choosing.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from tradewarden.operator.sandbox.demo import DemoError, DemoOptions, Tour
from tradewarden.operator.toolchain import ToolchainError, require_tool

INTERRUPTED = 130  # what a shell reports for a Ctrl-C'd command


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``tradewarden demo``."""
    parser.add_argument(
        "--trade-seconds",
        type=float,
        default=15.0,
        help="how long the bots trade before the drift and the emergency stop",
    )
    parser.add_argument(
        "--wait-seconds",
        type=float,
        default=90.0,
        help="longest wait for each expected flip before the demo fails",
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="state directory to use and keep (must be new or empty); default: a temporary one",
    )


async def _tour(options: DemoOptions) -> int:
    interrupted = asyncio.Event()
    loop = asyncio.get_running_loop()

    def interrupt() -> None:
        if not interrupted.is_set():
            print("\nstopping everything ...", flush=True)
        interrupted.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, interrupt)
    try:
        completed = await Tour(options, sys.stdout).run(interrupted)
    except DemoError as exc:
        print(f"\ndemo failed: {exc}", flush=True)
        return 1
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    if not completed:
        print("interrupted: everything was stopped.", flush=True)
        return INTERRUPTED
    return 0


def run(args: argparse.Namespace) -> int:
    """Run the tour; 0 when every step reached the state it expects."""
    try:
        kubectl = require_tool("kubectl")
    except ToolchainError as exc:
        print(exc, file=sys.stderr)
        return 1
    if args.dir is not None and args.dir.exists() and any(args.dir.iterdir()):
        print(f"{args.dir} is not empty: pass a new directory", file=sys.stderr)
        return 1
    directory = args.dir or Path(tempfile.mkdtemp(prefix="tradewarden-demo-"))
    options = DemoOptions(
        directory=directory.resolve(),
        kubectl=kubectl,
        trade_seconds=args.trade_seconds,
        wait_seconds=args.wait_seconds,
    )
    code = 1
    try:
        code = asyncio.run(_tour(options))
    finally:
        if code == 0 and args.dir is None:
            shutil.rmtree(directory, ignore_errors=True)
        elif code != 0:
            print(f"state and logs kept in {directory}", flush=True)
    return code
