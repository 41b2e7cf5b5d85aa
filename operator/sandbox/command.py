"""``tradewarden sandbox``: an all-local stand-in for a cluster.

Starts the sandbox (see :mod:`stack`: API server with the TradingBot CRD,
venue simulator, local pod runner and, unless ``--no-operator``, the real
operator); writes ``DIR/kubeconfig``; applies ``--apply`` manifests (example
bots re-pointed at the simulator, see :mod:`manifests`); prints the API and
venue URLs and where pod logs go; stops everything on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from pathlib import Path

from tradewarden.bot.venue_sim.settings import SimSettings
from tradewarden.operator.sandbox.manifests import EXAMPLE_VENUE_PORT, manifests, point_at_venue
from tradewarden.operator.sandbox.pod_status import KUBELET_BACKOFF_BASE_S
from tradewarden.operator.sandbox.pods import RunnerSettings
from tradewarden.operator.sandbox.stack import CRD_PATH, SandboxOptions, running_sandbox


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the sandbox's arguments."""
    parser.add_argument("--dir", type=Path, default=Path(".sandbox"), help="state directory")
    parser.add_argument(
        "--apply",
        type=Path,
        nargs="*",
        default=[],
        help="manifest files or directories to apply after start",
    )
    parser.add_argument("--crd", type=Path, default=CRD_PATH, help="the TradingBot CRD file")
    parser.add_argument("--no-operator", action="store_true", help="do not start the operator")
    parser.add_argument(
        "--venue-port",
        type=int,
        default=EXAMPLE_VENUE_PORT,
        help=(
            f"venue simulator port (default {EXAMPLE_VENUE_PORT}, the example bots' urlOverride; "
            "0 = any free port, --apply then re-points the example bots at it)"
        ),
    )
    parser.add_argument(
        "--restart-backoff",
        type=float,
        default=KUBELET_BACKOFF_BASE_S,
        help="seconds before restarting a crashed pod (doubles per crash, up to 5 min)",
    )


async def _serve(args: argparse.Namespace) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    options = SandboxOptions(
        directory=args.dir,
        crd_path=args.crd,
        venue=SimSettings(port=args.venue_port),
        runner=RunnerSettings(restart_backoff_s=args.restart_backoff),
        operator=not args.no_operator,
    )
    to_apply = manifests(args.apply)
    async with running_sandbox(options) as sandbox:
        for obj in to_apply:
            sandbox.api.create(point_at_venue(obj, sandbox.venue.base_url))
        print(f"API server: {sandbox.api.url}", flush=True)
        print(f"kubeconfig: {sandbox.kubeconfig}", flush=True)
        print(f"venue simulator: {sandbox.venue.base_url}", flush=True)
        print(f"pod logs: {sandbox.runner.pods_dir}/NAMESPACE/POD/logs/CONTAINER.log", flush=True)
        await stop.wait()
    return 0


def run(args: argparse.Namespace) -> int:
    """Run the sandbox until interrupted."""
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(_serve(args))
    return 0
