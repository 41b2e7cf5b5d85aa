"""What one reconcile pass found: the reconciler writes it, the belief controller and
the guards read it. Plain data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class ReconcileReport:
    """The outcome of comparing the journal with the venue for one symbol."""

    symbol: str
    at: float
    # Journal vs venue disagreements that were found (and adopted), one line each.
    mismatches: tuple[str, ...] = ()
    # Bot-owned venue client ids (by prefix) that the journal does not know.
    strays: tuple[str, ...] = ()
    # Strays seen in enough reconciles in a row to act on: cancelled, and the drift guard trips.
    strays_confirmed: tuple[str, ...] = ()
    # Drift is still on after a confirmation (see track_strays): the drift guard holds.
    drift_detected: bool = False
    # Open orders and positions snapshots that cannot both be true
    # (e.g. a fill adopted from orders with no matching position change).
    contradictory: bool = False
    # How old the venue's snapshot was when read (None when unknown).
    snapshot_age_seconds: float | None = None
    position: Decimal = Decimal(0)
    # A position exists without a protective stop of the right size.
    unprotected: bool = False
    # The venue could not be read at all this pass.
    read_failed: bool = False

    @property
    def clean(self) -> bool:
        """Journal and venue agree and the snapshot could be trusted."""
        return not (self.mismatches or self.strays or self.contradictory or self.read_failed)
