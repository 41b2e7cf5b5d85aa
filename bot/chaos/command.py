"""``tradewarden chaos``: list the scenario catalogue, or run scenarios and check invariants.

Each run prints ``{"scenario", "seed", "invariants": {name: bool}, "passed"}`` (plus the
first violation of each failed invariant under ``details``); the exit code is 1 when
any invariant failed, 2 on a usage error. With ``--jobs`` or ``--busy-loops`` the runs go
in parallel processes beside busy loops (:mod:`tradewarden.bot.chaos.load`), and a summary
line with the load average follows them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from tradewarden.bot.chaos.catalogue import CATALOGUE, scenario_named
from tradewarden.bot.chaos.load import run_loaded
from tradewarden.bot.chaos.runner import DEFAULT_SPEED, ScenarioResult, run_scenario
from tradewarden.bot.chaos.scenario import Scenario

EXIT_FAILED = 1
EXIT_USAGE = 2


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``tradewarden chaos``."""
    chosen = parser.add_mutually_exclusive_group(required=True)
    chosen.add_argument("--list", action="store_true", help="list the scenario catalogue")
    chosen.add_argument("--scenario", metavar="NAME", help="run one scenario")
    chosen.add_argument("--all", action="store_true", help="run every scenario")
    parser.add_argument("--seed", type=int, default=1, help="seed of a single run")
    parser.add_argument(
        "--seeds", default=None, help="comma-separated seeds (with --all or --scenario)"
    )
    parser.add_argument("--speed", type=float, default=DEFAULT_SPEED, help="bot seconds per second")
    parser.add_argument("--json", action="store_true", help="JSON output")
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="runs at once, each in its own process (JSON lines, then a summary)",
    )
    parser.add_argument(
        "--busy-loops",
        type=int,
        default=0,
        help="processes that keep a core busy while the runs go (the catalogue under load)",
    )


def _seeds(args: argparse.Namespace) -> list[int]:
    if args.seeds is None:
        return [args.seed]
    return [int(part) for part in args.seeds.split(",") if part.strip()]


def _print_list(as_json: bool) -> None:
    if as_json:
        print(json.dumps([scenario.describe() for scenario in CATALOGUE], indent=2))
        return
    for scenario in CATALOGUE:
        print(f"{scenario.name:40} {scenario.covers}")


def _print_result(result: ScenarioResult, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result.to_json(), separators=(",", ":")), flush=True)
        return
    verdict = "PASS" if result.passed else "FAIL"
    print(f"{verdict} {result.scenario} seed={result.seed}", flush=True)
    for name, outcome in result.verdicts.items():
        if not outcome.ok:
            print(f"  {name}: {outcome.detail}", flush=True)


async def _run_all(
    scenarios: list[Scenario], seeds: list[int], speed: float, as_json: bool
) -> bool:
    passed = True
    for scenario in scenarios:
        for seed in seeds:
            result = await run_scenario(scenario, seed, speed=speed)
            _print_result(result, as_json)
            passed = passed and result.passed
    return passed


def run(args: argparse.Namespace) -> int:
    """List or run; exit 1 when an invariant failed."""
    if args.list:
        _print_list(args.json)
        return 0
    try:
        scenarios = list(CATALOGUE) if args.all else [scenario_named(args.scenario)]
        seeds = _seeds(args)
    except KeyError:
        print(f"tradewarden chaos: no scenario named {args.scenario!r}", file=sys.stderr)
        return EXIT_USAGE
    except ValueError:
        print(f"tradewarden chaos: --seeds must be integers: {args.seeds!r}", file=sys.stderr)
        return EXIT_USAGE
    if args.jobs < 1 or args.busy_loops < 0:
        print(
            "tradewarden chaos: --jobs must be at least 1 and --busy-loops at least 0",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if args.jobs > 1 or args.busy_loops:
        pairs = [(scenario.name, seed) for scenario in scenarios for seed in seeds]
        report = asyncio.run(
            run_loaded(pairs, jobs=args.jobs, busy=args.busy_loops, speed=args.speed)
        )
        return EXIT_FAILED if report.failed else 0
    passed = asyncio.run(_run_all(scenarios, seeds, args.speed, args.json))
    return 0 if passed else EXIT_FAILED
