"""``kubectl tradewarden``: the runbooks' TradingBot and TradingHalt commands, one verb each.

Installed as the console script ``kubectl-tradewarden``, so kubectl finds it as
a plugin. Every verb runs the real ``kubectl`` with exactly the patch,
annotation or object the runbooks document, under the field manager
``kubectl-tradewarden`` so the managed fields and the audit log show who did
it. ``--kubeconfig``, ``--context`` and ``-n/--namespace`` pass through.

``halt`` creates a TradingHalt (the desk's red button) for the bots of one
namespace (``-n``) or of every namespace (``-A``), narrowed by ``-l`` (kubectl's
label-selector syntax), and records who pulled it; ``release`` releases one
and records who did, as ``retry`` records who cleared an abort.
"""

from __future__ import annotations

import argparse
import getpass
import json
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from tradewarden.api.tradingbot import (
    CLEAR_ABORT_ANNOTATION,
    CLEARED_BY_ANNOTATION,
    EmergencyAction,
)
from tradewarden.api.tradinghalt import CREATED_BY_ANNOTATION, RELEASED_BY_ANNOTATION
from tradewarden.operator.toolchain import ToolchainError, require_tool

FIELD_MANAGER = "kubectl-tradewarden"


class UsageError(ValueError):
    """A flag the plugin cannot turn into a request; the message names it."""


_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_REQUIREMENT = re.compile(
    r"^\s*(?P<not>!)?\s*(?P<key>[A-Za-z0-9_./-]+)"
    r"(?:\s*(?P<op>==|=|!=)\s*(?P<value>[A-Za-z0-9_.-]*)"
    r"|\s+(?P<set>in|notin)\s*\((?P<values>[^)]*)\))?\s*$"
)


def parse_duration(text: str) -> timedelta:
    """``90s``, ``30m``, ``2h``, ``1h30m``: as ``kubectl``'s durations, whole units."""
    match = _DURATION.match(text)
    if not text or match is None or not any(match.groups()):
        raise UsageError(f"--for: {text!r} is not a duration such as 30m, 2h or 1h30m")
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    duration = timedelta(hours=hours, minutes=minutes, seconds=seconds)
    if duration <= timedelta(0):
        raise UsageError("--for: must be longer than zero")
    return duration


def split_requirements(text: str) -> list[str]:
    """A label selector's requirements: split at the commas outside ``in (...)``, stripped.

    Empty ones stay (``"a=b,"`` gives ``["a=b", ""]``) for the caller to refuse or skip.
    """
    parts, depth, current = [], 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [part.strip() for part in (*parts, current)]


def parse_selector(text: str) -> dict[str, Any]:
    """kubectl's ``-l`` syntax (``k=v``, ``k!=v``, ``k in (a,b)``, ``k notin (a)``, ``k``,
    ``!k``) as a TradingHalt label selector."""
    labels: dict[str, str] = {}
    expressions: list[dict[str, Any]] = []
    for requirement in split_requirements(text):
        match = _REQUIREMENT.match(requirement)
        if match is None or (match["not"] and (match["op"] or match["set"])):
            raise UsageError(f"-l: cannot read {requirement!r} in {text!r}")
        key, op, value = match["key"], match["op"], match["value"]
        if match["not"]:
            expressions.append({"key": key, "operator": "DoesNotExist"})
        elif op in ("=", "=="):
            labels[key] = value
        elif op == "!=":
            expressions.append({"key": key, "operator": "NotIn", "values": [value]})
        elif match["set"]:
            values = [v.strip() for v in match["values"].split(",") if v.strip()]
            if not values:
                raise UsageError(f"-l: {key} {match['set']} () needs at least one value")
            operator = "In" if match["set"] == "in" else "NotIn"
            expressions.append({"key": key, "operator": operator, "values": values})
        else:
            expressions.append({"key": key, "operator": "Exists"})
    selector: dict[str, Any] = {}
    if labels:
        selector["matchLabels"] = labels
    if expressions:
        selector["matchExpressions"] = expressions
    return selector


def halt_document(args: argparse.Namespace, now: datetime) -> dict[str, Any]:
    """The TradingHalt ``halt`` creates: scope, action, reason, expiry and who pulled it."""
    if bool(args.all_namespaces) == bool(args.namespace):
        raise UsageError("give exactly one of -A (every namespace) or -n NAMESPACE")
    spec: dict[str, Any] = {"action": args.action, "reason": args.reason}
    if args.namespace:
        spec["namespaces"] = [args.namespace]
    if args.selector:
        spec["selector"] = parse_selector(args.selector)
    if "namespaces" not in spec and "selector" not in spec:
        spec["allBots"] = True
    if args.duration:
        spec["expiresAt"] = (now + parse_duration(args.duration)).strftime("%Y-%m-%dT%H:%M:%SZ")
    name = args.halt_name or f"halt-{now.strftime('%Y%m%d-%H%M%S')}"
    return {
        "apiVersion": "tradewarden.io/v1alpha1",
        "kind": "TradingHalt",
        "metadata": {"name": name, "annotations": {CREATED_BY_ANNOTATION: args.by}},
        "spec": spec,
    }


def _connection(args: argparse.Namespace, *, namespaced: bool = True) -> list[str]:
    flags = []
    if args.kubeconfig:
        flags.append(f"--kubeconfig={args.kubeconfig}")
    if args.context:
        flags.append(f"--context={args.context}")
    if args.namespace and namespaced:
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
    elif verb == "halt":
        # Cluster-scoped: -n chose the bots, it is no flag for the request.
        create = ["create", "-f", "-", "--output=name", f"--field-manager={FIELD_MANAGER}"]
        return [*create, *_connection(args, namespaced=False)]
    elif verb == "release":
        patch = {
            "metadata": {"annotations": {RELEASED_BY_ANNOTATION: args.by}},
            "spec": {"release": {"reason": args.reason}},
        }
        body = json.dumps(patch, separators=(",", ":"))
        release = ["patch", "tradinghalt", args.name, "--type=merge", "-p", body]
        return [*release, f"--field-manager={FIELD_MANAGER}", *_connection(args, namespaced=False)]
    elif verb == "retry":
        action = [
            "annotate",
            "tradingbot",
            args.name,
            "--overwrite",
            f"{CLEAR_ABORT_ANNOTATION}={args.reason}",
            f"{CLEARED_BY_ANNOTATION}={args.by}",
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
    halt = verbs.add_parser(
        "halt", help="the desk's red button: create a TradingHalt", parents=[connection]
    )
    halt.add_argument("-A", "--all-namespaces", action="store_true", help="bots of every namespace")
    halt.add_argument("-l", "--selector", default=None, help="only bots with these labels")
    halt.add_argument("--action", required=True, choices=[a.value for a in EmergencyAction])
    halt.add_argument("--reason", required=True, help="why the halt is pulled")
    halt.add_argument("--for", dest="duration", default=None, help="expire after, e.g. 30m, 2h")
    halt.add_argument("--name", dest="halt_name", default=None, help="default: halt-DATE-TIME")
    halt.add_argument("--by", default=getpass.getuser(), help="who pulls it (default: $USER)")
    release = verbs.add_parser(
        "release", help="release a TradingHalt (it stays as a record)", parents=[connection]
    )
    release.add_argument("name")
    release.add_argument("--reason", required=True, help="why it is safe to trade again")
    release.add_argument("--by", default=getpass.getuser(), help="who releases it (default: $USER)")
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
    stdin = None
    if args.verb == "halt":
        try:
            stdin = json.dumps(halt_document(args, datetime.now(UTC)))
        except UsageError as error:
            print(f"kubectl tradewarden halt: {error}", file=sys.stderr)
            return 2
    command = [kubectl, *build_command(args)]
    if args.verb != "status":
        return subprocess.run(command, check=False, input=stdin, text=True).returncode
    done = subprocess.run(command, check=False, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        return done.returncode
    print(summarize(json.loads(done.stdout)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
