"""The ``tradewarden`` command: one entry point, one subcommand per job.

Each subcommand lives in its own module, which provides ``configure(parser)``
and ``run(args) -> int``. Only the chosen subcommand's module is imported, so
``tradewarden bot`` does not pay for the operator's imports and vice versa.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Protocol, cast

# Modules the ``sandbox`` extra installs (pyproject.toml): the local cluster needs them,
# a bot or operator image has none of them.
SANDBOX_EXTRA_MODULES = frozenset({"kmock", "jsonschema", "cel"})

# name -> (module, one-line help). Add a subcommand by adding its module here.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "bot": ("tradewarden.bot.runtime.bot_command", "run one bot from a TradingBot manifest"),
    "venue-sim": ("tradewarden.bot.venue_sim.command", "serve the Binance USD-M venue simulator"),
    "demo": (
        "tradewarden.operator.sandbox.demo_command",
        "sandbox tour: bots on a local cluster, a drift flip, an emergency stop",
    ),
    "preflight": ("tradewarden.bot.preflight.command", "check venue, account and clock first"),
    "crds": ("tradewarden.api.crd_command", "print (or --write) the TradingBot CRD YAML"),
    "operator": ("tradewarden.operator.command", "run the kopf operator for TradingBots"),
    "promote-check": ("tradewarden.operator.promote", "gate canary -> prod on live TradingBots"),
    "sandbox": ("tradewarden.operator.sandbox.command", "all-local cluster for kubectl"),
    "chaos": ("tradewarden.bot.chaos.command", "run chaos scenarios and check invariants"),
}


class Subcommand(Protocol):
    """What a subcommand module provides."""

    def configure(self, parser: argparse.ArgumentParser) -> None:
        """Add the subcommand's arguments."""

    def run(self, args: argparse.Namespace) -> int:
        """Run it; the return value is the exit code."""


def _chosen(argv: Sequence[str]) -> str | None:
    return next((arg for arg in argv if not arg.startswith("-")), None)


def _import(name: str, module_name: str) -> Subcommand:
    """The subcommand's module; exit 2 naming the extra if it needs one that is missing."""
    try:
        return cast(Subcommand, importlib.import_module(module_name))
    except ModuleNotFoundError as missing:
        if missing.name not in SANDBOX_EXTRA_MODULES:
            raise
        print(
            f"tradewarden {name}: needs the sandbox extra (module {missing.name!r} is missing):"
            " pip install 'tradewarden[sandbox]'",
            file=sys.stderr,
        )
        raise SystemExit(2) from None


def build_parser(arguments: Sequence[str]) -> tuple[argparse.ArgumentParser, Subcommand | None]:
    """The parser for ``arguments``, with the chosen subcommand's options (and its module)."""
    chosen = _chosen(arguments)
    parser = argparse.ArgumentParser(
        prog="tradewarden", description="Run crypto trading bots on Kubernetes, safely."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    selected: Subcommand | None = None
    for name, (module_name, summary) in SUBCOMMANDS.items():
        sub = commands.add_parser(name, help=summary, description=summary)
        if name == chosen:
            selected = _import(name, module_name)
            selected.configure(sub)
    return parser, selected


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments and run the chosen subcommand; returns the exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser, selected = build_parser(arguments)
    args = parser.parse_args(arguments)
    assert selected is not None  # argparse exits on an unknown or missing subcommand
    return selected.run(args)


if __name__ == "__main__":
    sys.exit(main())
