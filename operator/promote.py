"""``tradewarden promote-check``: may canary be promoted to prod?

The gate is a pure function over the TradingBot objects of one namespace (as
the API returns them). It is open only when every bot has been healthy for the
whole soak window: Running (or, for a planned ``spec.paused`` soak, Paused),
InSync, no abort, no emergency stop, no incomplete order lifecycles, and a
status the operator wrote for the current generation. The command reads the
live TradingBots and exits non-zero while the gate is closed, so a pipeline
can run it as its promotion step (helm/gitops/PROMOTION.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from tradewarden.api.crd import PLURAL, VERSION
from tradewarden.api.tradingbot import API_GROUP

EXIT_OPEN = 0
EXIT_CLOSED = 1
EXIT_ERROR = 2
DEFAULT_SOAK_MINUTES = 60


@dataclass(frozen=True)
class BotVerdict:
    """Why one bot does or does not let the promotion through."""

    name: str
    phase: str | None
    blockers: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when nothing blocks."""
        return not self.blockers


@dataclass(frozen=True)
class GateResult:
    """The gate over one namespace."""

    namespace: str
    soak_minutes: float
    bots: list[BotVerdict]
    blockers: list[str] = field(default_factory=list)

    @property
    def open(self) -> bool:
        """True when promotion may proceed."""
        return not self.blockers and all(bot.passed for bot in self.bots)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for ``--json``."""
        return {
            "namespace": self.namespace,
            "open": self.open,
            "soakMinutes": self.soak_minutes,
            "blockers": self.blockers,
            "bots": [{**asdict(bot), "passed": bot.passed} for bot in self.bots],
        }


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _condition(status: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    for condition in status.get("conditions") or []:
        if isinstance(condition, Mapping) and condition.get("type") == kind:
            return condition
    return None


def _stable_since(label: str, since: datetime | None, now: datetime, soak: timedelta) -> str | None:
    """A blocker when ``since`` is unknown or inside the soak window."""
    if since is None:
        return f"{label}: no transition time recorded"
    if now - since < soak:
        minutes = max(0.0, (now - since).total_seconds() / 60)
        return f"{label} only for {minutes:.0f} min (soak {soak.total_seconds() / 60:.0f} min)"
    return None


def judge_bot(bot: Mapping[str, Any], now: datetime, soak: timedelta) -> BotVerdict:
    """The verdict on one TradingBot object."""
    metadata = bot.get("metadata") or {}
    spec = bot.get("spec") or {}
    status = bot.get("status") or {}
    name = str(metadata.get("name", "?"))
    phase = status.get("phase")
    blockers: list[str] = []
    if not status:
        return BotVerdict(name, None, ["no status yet (operator has not reconciled it)"])
    if status.get("observedGeneration") != metadata.get("generation"):
        blockers.append(
            f"status is for generation {status.get('observedGeneration')}, "
            f"spec is generation {metadata.get('generation')}"
        )
    allowed = {"Running", "Paused"} if spec.get("paused") else {"Running"}
    if phase not in allowed:
        blockers.append(f"phase {phase}, want {' or '.join(sorted(allowed))}")
    if status.get("abort"):
        abort = status["abort"]
        blockers.append(f"aborted: {abort.get('reason')}: {abort.get('message', '')}".rstrip(": "))
    if spec.get("emergencyStop"):
        blockers.append(f"emergency stop set: {spec['emergencyStop'].get('reason', '')}")
    incomplete = (status.get("bot") or {}).get("incompleteLifecycles", 0)
    if incomplete:
        blockers.append(f"{incomplete} incomplete order lifecycle(s)")
    in_sync = _condition(status, "InSync")
    if in_sync is None or in_sync.get("status") != "True":
        reason = in_sync.get("reason", "missing") if in_sync else "missing"
        blockers.append(f"InSync is not True ({reason})")
    else:
        late = _stable_since("InSync", _parse_time(in_sync.get("lastTransitionTime")), now, soak)
        blockers.extend([late] if late else [])
    last_flip = status.get("lastFlip")
    if last_flip:
        late = _stable_since(f"phase {phase}", _parse_time(last_flip.get("time")), now, soak)
        blockers.extend([late] if late else [])
    return BotVerdict(name, phase, blockers)


def evaluate_gate(
    namespace: str, bots: Sequence[Mapping[str, Any]], now: datetime, soak: timedelta
) -> GateResult:
    """The promotion gate over every TradingBot of a namespace."""
    verdicts = [judge_bot(bot, now, soak) for bot in bots]
    blockers = [] if bots else [f"no TradingBots in namespace {namespace}"]
    return GateResult(namespace, soak.total_seconds() / 60, verdicts, blockers)


def render_text(result: GateResult) -> str:
    """Human-readable report, one line per bot and blocker."""
    lines = [f"promotion gate for {result.namespace}: {'OPEN' if result.open else 'CLOSED'}"]
    lines += [f"  {blocker}" for blocker in result.blockers]
    for bot in result.bots:
        lines.append(f"  {bot.name}: {'ok' if bot.passed else 'blocked'} (phase {bot.phase})")
        lines += [f"    - {blocker}" for blocker in bot.blockers]
    return "\n".join(lines)


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``tradewarden promote-check``."""
    parser.add_argument("--kubeconfig", default=None, help="kubeconfig (default: in-cluster/env)")
    parser.add_argument("--context", default=None, help="kubeconfig context")
    parser.add_argument("--namespace", "-n", required=True, help="namespace of the canary bots")
    parser.add_argument(
        "--soak-minutes",
        type=float,
        default=DEFAULT_SOAK_MINUTES,
        help=f"how long every bot must have been healthy (default {DEFAULT_SOAK_MINUTES})",
    )
    parser.add_argument("--json", action="store_true", help="print the verdict as JSON")


def _list_tradingbots(args: argparse.Namespace) -> list[dict[str, Any]]:
    # The kubernetes client is untyped; the list answer is the API's JSON as a dict.
    api_client = config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=args.kubeconfig, context=args.context
    )
    with api_client:
        answer = client.CustomObjectsApi(api_client).list_namespaced_custom_object(
            API_GROUP, VERSION, args.namespace, PLURAL
        )
    listing = cast(dict[str, Any], answer)
    items: list[dict[str, Any]] = listing.get("items", [])
    return items


def run(args: argparse.Namespace) -> int:
    """0 when the gate is open, 1 when closed, 2 when the API could not be read."""
    try:
        bots = _list_tradingbots(args)
    except (ApiException, ConfigException, OSError) as error:
        print(f"tradewarden promote-check: cannot list TradingBots: {error}", file=sys.stderr)
        return EXIT_ERROR
    result = evaluate_gate(
        args.namespace, bots, datetime.now(UTC), timedelta(minutes=args.soak_minutes)
    )
    print(json.dumps(result.as_dict(), indent=2) if args.json else render_text(result))
    return EXIT_OPEN if result.open else EXIT_CLOSED
