"""Stray orders: the bot's own orders at the venue that its journal does not know.

An order carries the bot's client-id prefix, so a stray is either a leftover
of a lost journal, a second process trading under the same identity, or a
venue replaying something it should not. One sighting can be a race; the
same id seen in ``threshold`` reconciles in a row is confirmed and cancelled.
Pure logic: the reconciler feeds in what it saw and acts on the verdict.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True)
class StrayState:
    """What the tracker remembers between reconciles."""

    # Stray id -> reconciles in a row it has been seen in.
    streaks: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    # Stray-free reconciles since the last confirmation; None if nothing was ever confirmed.
    quiet_passes: int | None = None
    # When strays were last confirmed (the caller's clock); None if never.
    confirmed_at: float | None = None


@dataclass(frozen=True)
class StrayVerdict:
    """What one reconcile concluded about strays."""

    strays: tuple[str, ...]  # every stray seen this time
    confirmed: tuple[str, ...]  # seen often enough in a row: cancel them
    streak: int  # the longest current streak
    detected: bool  # drift is on: confirmed now, or not yet quiet long enough since


def owned(venue_client_ids: Iterable[str], prefix: str) -> tuple[str, ...]:
    """The ids among ``venue_client_ids`` that carry the bot's prefix, in order, once each."""
    return tuple(dict.fromkeys(cid for cid in venue_client_ids if cid.startswith(prefix)))


def track_strays(
    state: StrayState,
    seen: Iterable[str],
    threshold: int,
    *,
    now: float = 0.0,
    hold_seconds: float = 0.0,
) -> tuple[StrayState, StrayVerdict]:
    """Advance the streaks with this reconcile's strays and decide which to cancel.

    An id missing from ``seen`` loses its streak: "in a row" means exactly
    that. Drift stays detected after a confirmation until ``threshold``
    stray-free reconciles have passed *and* ``hold_seconds`` have gone by since
    it (``now`` on the same clock): reconciles also run after every order, so a
    busy bot can pass ``threshold`` of them before an observer polling every few
    seconds (the operator's probe) has looked once.
    """
    strays = tuple(dict.fromkeys(seen))
    streaks = {cid: state.streaks.get(cid, 0) + 1 for cid in strays}
    confirmed = tuple(cid for cid in strays if streaks[cid] >= threshold)
    if confirmed:
        quiet: int | None = 0
    elif state.quiet_passes is None:
        quiet = None
    else:
        quiet = state.quiet_passes if strays else state.quiet_passes + 1
    confirmed_at = now if confirmed else state.confirmed_at
    held = confirmed_at is not None and now - confirmed_at < hold_seconds
    detected = quiet is not None and (quiet < threshold or held)
    verdict = StrayVerdict(
        strays=strays,
        confirmed=confirmed,
        streak=max(streaks.values(), default=0),
        detected=detected,
    )
    return StrayState(MappingProxyType(streaks), quiet, confirmed_at), verdict
