"""Which TradingHalts bind a bot, and which of them wins. Pure: the clock is an argument.

Shared by the bot (which obeys the winner by itself) and the operator (which
confirms it), so both read a halt the same way:

- a halt is *in force* until it is released (``spec.release``) or its
  ``spec.expiresAt`` is reached (at that instant it no longer applies);
- it *selects* a bot when every given scope holds: the bot's namespace is in
  ``spec.namespaces`` (when listed), the namespace's labels match
  ``spec.namespaceSelector`` and the bot's labels match ``spec.selector``
  (Kubernetes label-selector semantics); ``allBots`` selects every bot;
- the *binding* halt is the most restrictive one in force that selects the bot:
  Flatten > Halt > ReduceOnly, ties to the oldest (then the name), so every
  reader picks the same one.

A kill switch fails closed: when the namespace's labels are unknown (the bot
could not read its namespace yet), a namespaceSelector is taken to match.
A halt the bot cannot parse is reported by name and not applied; the CRD
refuses such halts, so this only happens with a halt written for a newer CRD.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from tradewarden.api.tradingbot import EmergencyAction
from tradewarden.api.tradinghalt import LabelSelector, SelectorOperator, TradingHaltSpec

SEVERITY = {EmergencyAction.REDUCE_ONLY: 1, EmergencyAction.HALT: 2, EmergencyAction.FLATTEN: 3}


@dataclass(frozen=True)
class Halt:
    """One TradingHalt as read from the API server."""

    name: str
    created: str  # metadata.creationTimestamp (RFC 3339 sorts as text)
    spec: TradingHaltSpec


class HaltError(ValueError):
    """A TradingHalt object the bot cannot read."""


def halt_from_object(resource: Mapping[str, Any]) -> Halt:
    """Read a TradingHalt object as the API server returns it."""
    metadata = resource.get("metadata") or {}
    name = str(metadata.get("name") or "?")
    try:
        spec = TradingHaltSpec.model_validate(resource.get("spec"))
    except ValidationError as error:
        raise HaltError(f"TradingHalt {name}: {error.errors()[0]['msg']}") from error
    return Halt(name=name, created=str(metadata.get("creationTimestamp") or ""), spec=spec)


def in_force(spec: TradingHaltSpec, now: datetime) -> bool:
    """Not released, and not expired at ``now`` (timezone-aware)."""
    if spec.release is not None:
        return False
    return spec.expires_at is None or now < spec.expires_at


def selector_matches(selector: LabelSelector, labels: Mapping[str, str]) -> bool:
    """Kubernetes label-selector semantics (NotIn and DoesNotExist hold for a missing key)."""
    if any(labels.get(key) != value for key, value in selector.match_labels.items()):
        return False
    for requirement in selector.match_expressions:
        present = requirement.key in labels
        value = labels.get(requirement.key)
        operator = requirement.operator
        if operator is SelectorOperator.IN:
            holds = present and value in requirement.values
        elif operator is SelectorOperator.NOT_IN:
            holds = not present or value not in requirement.values
        elif operator is SelectorOperator.EXISTS:
            holds = present
        else:
            holds = not present
        if not holds:
            return False
    return True


def selects(
    spec: TradingHaltSpec,
    namespace: str,
    namespace_labels: Mapping[str, str] | None,
    bot_labels: Mapping[str, str],
) -> bool:
    """Whether the halt's scope covers the bot (``namespace_labels`` None: unknown)."""
    if spec.namespaces and namespace not in spec.namespaces:
        return False
    by_namespace = spec.namespace_selector
    if (
        by_namespace is not None
        and namespace_labels is not None
        and not selector_matches(by_namespace, namespace_labels)
    ):
        return False
    return spec.selector is None or selector_matches(spec.selector, bot_labels)


def binding_halt(
    halts: Iterable[Halt],
    namespace: str,
    namespace_labels: Mapping[str, str] | None,
    bot_labels: Mapping[str, str],
    now: datetime,
) -> Halt | None:
    """The most restrictive halt in force that selects the bot, or ``None``."""
    matching = [
        halt
        for halt in halts
        if in_force(halt.spec, now) and selects(halt.spec, namespace, namespace_labels, bot_labels)
    ]
    if not matching:
        return None
    return min(matching, key=lambda h: (-SEVERITY[h.spec.action], h.created, h.name))


def strictest(*actions: EmergencyAction | None) -> EmergencyAction | None:
    """The most restrictive of the actions given (a halt's and the bot's own emergency stop)."""
    present = [action for action in actions if action is not None]
    return max(present, key=SEVERITY.__getitem__) if present else None
