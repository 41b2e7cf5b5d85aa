"""A short history of account snapshots, so faults can serve stale views."""

from __future__ import annotations

from collections import deque

from tradewarden.bot.venue_sim.models import Snapshot

# At the default 0.5 s price tick this covers several minutes, far more than any
# staleness a test or demo asks for; older reads fall back to the oldest snapshot.
DEFAULT_DEPTH = 2048


class SnapshotHistory:
    """Snapshots in time order; ``as_of`` answers "what did the account look like then"."""

    def __init__(self, first: Snapshot, depth: int = DEFAULT_DEPTH) -> None:
        self._snapshots: deque[Snapshot] = deque([first], maxlen=depth)

    def record(self, snapshot: Snapshot) -> None:
        """Append the newest snapshot, dropping the oldest when full."""
        self._snapshots.append(snapshot)

    def as_of(self, time_ms: int) -> Snapshot:
        """The newest snapshot taken at or before ``time_ms`` (the oldest one if none is)."""
        for snapshot in reversed(self._snapshots):
            if snapshot.time_ms <= time_ms:
                return snapshot
        return self._snapshots[0]
