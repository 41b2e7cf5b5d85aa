"""``kubectl tradewarden``: the runbooks' TradingBot commands, one verb each.

Installed as the console script ``kubectl-tradewarden``, so kubectl finds it as
a plugin. Every verb runs the real ``kubectl`` with exactly the patch or
annotation the runbooks document, under the field manager
``kubectl-tradewarden`` so the managed fields and the audit log show who did
it. ``--kubeconfig``, ``--context`` and ``-n/--namespace`` pass through.
"""

from __future__ import annotations

import argparse
import getpass
import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from tradewarden.api.tradingbot import EmergencyAction
from tradewarden.operator.toolchain import ToolchainError, require_tool

FIELD_MANAGER = "kubectl-tradewarden"
CLEAR_ABORT = "tradewarden.io/clear-abort"
CLEARED_BY = "tradewarden.io/cleared-by"


def _connection(args: argparse.Namespace) -> list[str]:
    flags = []
    if args.kubeconfig:
        flags.append(f"--kubeconfig={args.kubeconfig}")
    if args.context:
        flags.append(f"--context={args.context}")
    if args.namespace:
        flags.append(f"--namespace={args.namespace}")
    return flags


def _patch(name: str, patch: Mapping[str, Any]) -> list[str]:
    body = json.dumps(patch, separators=(",", ":"))
    return ["patch", "tradingbot", name, "--type=merge", "-p", body]


def build_command(args: argparse.Namespace) -> list[str]:
    """The kubectl arguments (without the kubectl path) for one plugin call."""
    verb: str = args.verb
    if verb == "pause":
        action = _patch(args.name, {"spec": {"paused": True}})
    elif verb == "resume":
        # Resume undoes both documented stops: the planned pause and a break-glass stop.
        action = _patch(args.name, {"spec": {"paused": False, "emergencyStop": None}})
    elif verb == "stop":
        stop = {"action": args.action, "reason": args.reason}
        action = _patch(args.name, {"spec": {"emergencyStop": stop}})
    elif verb == "retry":
        action = [
            "annotate",
            "tradingbot",
            args.name,
            "--overwrite",
            f"{CLEAR_ABORT}={args.reason}",
            f"{CLEARED_BY}={args.by}",
        ]
    else:
        return ["get", "tradingbot", args.name, "--output=json", *_connection(args)]
    return [*action, f"--field-manager={FIELD_MANAGER}", *_connection(args)]


def summarize(bot: Mapping[str, Any]) -> str:
    """A short status report of one TradingBot object, for ``status``."""
    metadata = bot.get("metadata") or {}
    spec = bot.get("spec") or {}
    status = bot.get("status") or {}
    lines = [
        f"{metadata.get('namespace', '?')}/{metadata.get('name', '?')}: "
        f"phase {status.get('phase', 'Pending')}, mode {status.get('tradingMode', '?')}",
        f"  paused: {bool(spec.get('paused'))}",
    ]
    stop = spec.get("emergencyStop")
    if stop:
        lines.append(f"  emergencyStop: {stop.get('action')} ({stop.get('reason')})")
    abort = status.get("abort")
    if abort:
        lines.append(
            f"  abort: {abort.get('reason')}: {abort.get('message')} at {abort.get('time')}"
        )
        lines.append(f"    clear: kubectl tradewarden retry {metadata.get('name')} --reason TEXT")
    flip = status.get("lastFlip")
    if flip:
        lines.append(f"  last flip: {flip.get('reason')} at {flip.get('time')}")
    for condition in status.get("conditions") or []:
        lines.append(
            f"  {condition.get('type')}={condition.get('status')} "
            f"{condition.get('reason', '')} {condition.get('message', '')}".rstrip()
        )
    summary = status.get("bot")
    if summary:
        lines.append(
            f"  position {summary.get('position')}, open orders {summary.get('openOrders')}, "
            f"confidence {summary.get('confidence')}, "
            f"incomplete lifecycles {summary.get('incompleteLifecycles')}"
        )
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    """The plugin's argument parser."""
    root = argparse.ArgumentParser(prog="kubectl tradewarden", description=__doc__)
    root.add_argument("--kubeconfig", default=None)
    root.add_argument("--context", default=None)
    root.add_argument("-n", "--namespace", default=None)
    # The same flags after the verb (`kubectl tradewarden stop BOT -n NS`, as the runbooks
    # write it); suppressed defaults keep a value given before the verb.
    connection = argparse.ArgumentParser(add_help=False)
    connection.add_argument("--kubeconfig", default=argparse.SUPPRESS)
    connection.add_argument("--context", default=argparse.SUPPRESS)
    connection.add_argument("-n", "--namespace", default=argparse.SUPPRESS)
    verbs = root.add_subparsers(dest="verb", required=True)
    for verb, summary in (
        ("pause", "planned pause: spec.paused=true (reduce-only orders still allowed)"),
        ("resume", "clear spec.paused and spec.emergencyStop"),
        ("status", "phase, mode, abort and conditions of a bot"),
    ):
        verbs.add_parser(verb, help=summary, parents=[connection]).add_argument("name")
    stop = verbs.add_parser("stop", help="emergency stop: spec.emergencyStop", parents=[connection])
    stop.add_argument("name")
    stop.add_argument("--action", required=True, choices=[a.value for a in EmergencyAction])
    stop.add_argument("--reason", required=True, help="who pulled it and why")
    retry = verbs.add_parser(
        "retry", help="clear an abort (tradewarden.io/clear-abort)", parents=[connection]
    )
    retry.add_argument("name")
    retry.add_argument("--reason", required=True, help="why it is safe to trade again")
    retry.add_argument("--by", default=getpass.getuser(), help="who clears it (default: $USER)")
    return root


def main(argv: Sequence[str] | None = None) -> int:
    """Run one verb; the exit code is kubectl's."""
    args = parser().parse_args(argv)
    for option in ("reason", "by"):
        if getattr(args, option, "x").strip() == "":
            print(f"kubectl tradewarden: --{option} must not be empty", file=sys.stderr)
            return 2
    try:
        kubectl = str(require_tool("kubectl"))
    except ToolchainError as error:
        print(f"kubectl tradewarden: {error}", file=sys.stderr)
        return 2
    command = [kubectl, *build_command(args)]
    if args.verb != "status":
        return subprocess.run(command, check=False).returncode
    done = subprocess.run(command, check=False, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        return done.returncode
    print(summarize(json.loads(done.stdout)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
