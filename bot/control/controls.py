"""What the bot takes from its own TradingBot: pause, emergency stop, abort, labels. Pure parsing.

Only the fields the bot acts on are parsed (with the api models), not the whole
object: a field this bot's version does not know yet (a newer CRD rolled out
before the bot image) or something another writer keeps in ``status`` must not
make the bot deaf to an emergency stop. A malformed value in one of *these*
fields is reported, and the caller keeps the last good controls.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter, ValidationError

from tradewarden.api.tradingbot import AbortRecord, DeadManGuard, EmergencyStop

_PAUSED = TypeAdapter(bool)
_LABELS = TypeAdapter(dict[str, str])


@dataclass(frozen=True)
class Controls:
    """The live controls of one bot."""

    paused: bool
    emergency_stop: EmergencyStop | None
    abort: AbortRecord | None
    dead_man: DeadManGuard
    # The TradingBot's labels: what a TradingHalt's selector matches.
    labels: Mapping[str, str]


class ControlsError(ValueError):
    """The resource carries a control field the bot cannot read."""


def controls_from_object(resource: Mapping[str, Any]) -> Controls:
    """Read the controls from a TradingBot object as the API server returns it."""
    spec = resource.get("spec")
    if not isinstance(spec, Mapping):
        raise ControlsError("spec: missing or not an object")
    status = resource.get("status") or {}
    metadata = resource.get("metadata") or {}
    if not isinstance(status, Mapping):
        raise ControlsError("status: not an object")
    guards = spec.get("guards") or {}
    dead_man = guards.get("deadMan") if isinstance(guards, Mapping) else None
    stop, abort = spec.get("emergencyStop"), status.get("abort")
    try:
        return Controls(
            paused=_PAUSED.validate_python(spec.get("paused", False), strict=True),
            emergency_stop=None if stop is None else EmergencyStop.model_validate(stop),
            abort=None if abort is None else AbortRecord.model_validate(abort),
            dead_man=DeadManGuard.model_validate(dead_man or {}),
            labels=_LABELS.validate_python(metadata.get("labels") or {}, strict=True),
        )
    except ValidationError as error:
        raise ControlsError(_describe(error)) from error


def _describe(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in issue['loc']) or 'value'}: {issue['msg']}"
        for issue in error.errors()
    )


@dataclass(frozen=True)
class WatchOutcome:
    """What one watch event means for the control loop."""

    controls: Controls | None = None
    resource_version: str | None = None
    problem: str | None = None
    relist: bool = False
    deleted: bool = False


def interpret_event(event: Mapping[str, Any], name: str) -> WatchOutcome:
    """Turn one watch event into controls to apply, a resume point, or a reason to relist."""
    kind = event.get("type")
    resource = event.get("object")
    if not isinstance(resource, Mapping):
        return WatchOutcome(problem=f"{kind} event without an object")
    if kind == "ERROR":
        # 410 Gone (resourceVersion too old) and any other server-side watch error:
        # start over from a fresh list.
        return WatchOutcome(relist=True, problem=str(resource.get("message") or resource))
    metadata = resource.get("metadata")
    if not isinstance(metadata, Mapping):
        return WatchOutcome(problem=f"{kind} event without metadata")
    version = metadata.get("resourceVersion")
    if kind == "BOOKMARK":
        return WatchOutcome(resource_version=version)
    if metadata.get("name") != name:
        # Field selectors are a server courtesy; never act on another bot's object.
        return WatchOutcome(resource_version=version)
    if kind == "DELETED":
        return WatchOutcome(resource_version=version, deleted=True)
    if kind not in ("ADDED", "MODIFIED"):
        return WatchOutcome(resource_version=version, problem=f"unknown event type {kind!r}")
    try:
        return WatchOutcome(controls=controls_from_object(resource), resource_version=version)
    except ControlsError as error:
        return WatchOutcome(resource_version=version, problem=str(error))
