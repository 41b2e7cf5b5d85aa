"""Lease fencing: at most one bot trades an account+symbol. Pure decision logic.

The bot holds a ``coordination.k8s.io/v1`` Lease. Expiry is judged on the
local clock only, never by comparing another machine's ``renewTime`` with ours
(clocks drift): a rival's lease counts as expired once its record has not
changed for a whole lease duration *as this bot observed it*. The holder stops
trusting its own lease one duration after the moment it *started* its last
successful renewal, which is never later than any rival can take over.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from tradewarden.api.tradingbot import API_VERSION, KIND

LEASE_DURATION_SECONDS = 15
LEASE_RENEW_SECONDS = 5.0


def lease_owner(name: str, uid: str) -> dict[str, Any]:
    """An owner reference from the Lease to its holder's TradingBot.

    Neither controller nor blockOwnerDeletion: the bot may set it without rights
    on its TradingBot's finalizers (OwnerReferencesPermissionEnforcement). Changing
    it (a take-over) needs delete on the Lease, which the bot's Role grants.
    """
    return {"apiVersion": API_VERSION, "kind": KIND, "name": name, "uid": uid}


def holder_identity(namespace: str, name: str) -> str:
    """Who holds the Lease: the TradingBot's ``NAMESPACE/NAME``."""
    return f"{namespace}/{name}"


def micro_time(now: float) -> str:
    """A Kubernetes MicroTime (RFC 3339 with microseconds, UTC)."""
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class LeaseRecord:
    """The parts of a Lease object the decision needs."""

    holder: str | None
    duration_seconds: float
    renew_time: str | None
    acquire_time: str | None
    transitions: int
    resource_version: str | None

    @classmethod
    def from_object(cls, lease: Mapping[str, Any]) -> LeaseRecord:
        """Read a Lease as the API server returns it (missing fields default safely)."""
        spec = lease.get("spec") or {}
        return cls(
            holder=spec.get("holderIdentity") or None,
            duration_seconds=float(spec.get("leaseDurationSeconds") or LEASE_DURATION_SECONDS),
            renew_time=spec.get("renewTime"),
            acquire_time=spec.get("acquireTime"),
            transitions=int(spec.get("leaseTransitions") or 0),
            resource_version=(lease.get("metadata") or {}).get("resourceVersion"),
        )

    @property
    def fingerprint(self) -> tuple[str | None, str | None, str | None]:
        """What changes whenever the holder renews (or anyone writes the Lease)."""
        return (self.holder, self.renew_time, self.resource_version)


@dataclass(frozen=True)
class RivalSighting:
    """When this bot first saw a rival's record in its current state (local clock)."""

    fingerprint: tuple[str | None, str | None, str | None]
    seen_at: float


class LeaseAction(StrEnum):
    """What the bot does with the Lease this round."""

    CREATE = "create"
    RENEW = "renew"
    TAKE_OVER = "takeOver"
    WAIT = "wait"


@dataclass(frozen=True)
class LeaseDecision:
    """The action, the sighting to carry into the next round, and why."""

    action: LeaseAction
    sighting: RivalSighting | None
    reason: str


def decide_lease(
    record: LeaseRecord | None, me: str, now: float, previous: RivalSighting | None
) -> LeaseDecision:
    """Decide from the current Lease (``None`` = absent) whether to create, renew, take or wait."""
    if record is None:
        return LeaseDecision(LeaseAction.CREATE, None, "no lease yet")
    if record.holder == me:
        return LeaseDecision(LeaseAction.RENEW, None, "held by this bot")
    if record.holder is None:
        return LeaseDecision(LeaseAction.TAKE_OVER, None, "lease released")
    if previous is None or previous.fingerprint != record.fingerprint:
        sighting = RivalSighting(record.fingerprint, now)
        return LeaseDecision(LeaseAction.WAIT, sighting, f"held by {record.holder}")
    silent = now - previous.seen_at
    if silent >= record.duration_seconds:
        return LeaseDecision(
            LeaseAction.TAKE_OVER,
            None,
            f"{record.holder} did not renew for {silent:.0f}s",
        )
    return LeaseDecision(LeaseAction.WAIT, previous, f"held by {record.holder}")


def lease_body(
    action: LeaseAction,
    record: LeaseRecord | None,
    *,
    name: str,
    namespace: str,
    holder: str,
    now: float,
    duration_seconds: int = LEASE_DURATION_SECONDS,
    owner: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The Lease to write for ``action`` (create, renew or take over).

    ``owner``, an owner reference to the holder's TradingBot, makes the garbage
    collector delete the Lease once that TradingBot is gone (even one a dying bot
    wrote after the deletion), so no Lease outlives its holder's resource.
    """
    if action is LeaseAction.WAIT:
        raise ValueError("waiting writes nothing")
    stamp = micro_time(now)
    acquire_time = stamp
    if action is LeaseAction.RENEW and record is not None and record.acquire_time is not None:
        acquire_time = record.acquire_time
    transitions = record.transitions if record else 0
    if action is LeaseAction.TAKE_OVER:
        transitions += 1
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if record is not None and record.resource_version is not None:
        # Optimistic concurrency: a rival's write in between makes ours fail with 409.
        metadata["resourceVersion"] = record.resource_version
    if owner is not None:
        metadata["ownerReferences"] = [dict(owner)]
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": metadata,
        "spec": {
            "holderIdentity": holder,
            "leaseDurationSeconds": duration_seconds,
            "acquireTime": acquire_time,
            "renewTime": stamp,
            "leaseTransitions": transitions,
        },
    }


@dataclass(frozen=True)
class Tenure:
    """This bot's own hold on the Lease, judged on its local clock."""

    name: str
    duration_seconds: float
    renewed_at: float | None = None

    def held(self, now: float) -> bool:
        """True while the last successful renewal is younger than the lease duration."""
        return self.renewed_at is not None and now < self.renewed_at + self.duration_seconds

    def refusal(self, now: float) -> str | None:
        """Why an order must not go out now, or ``None`` when the lease covers it."""
        if self.renewed_at is None:
            return f"lease: {self.name} not held by this bot"
        if not self.held(now):
            silent = now - self.renewed_at
            return f"lease: {self.name} expired locally (not renewed for {silent:.0f}s)"
        return None
