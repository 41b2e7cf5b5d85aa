"""The order lifecycle as an explicit state machine.

Every change of an order's state goes through :func:`check_transition`; an
illegal move is an error, never a silent overwrite. ``SUBMITTING`` is the
honest name for "may have reached the venue, outcome unknown": an intent is
journaled in it before its first byte leaves (an intent that is only
journaled and one that was sent are the same to a restart: both must be
looked up), a crash or timeout leaves it there, and only evidence from the
venue moves it on.
"""

from __future__ import annotations

from enum import StrEnum


class OrderState(StrEnum):
    """Where one intent is in its life."""

    SUBMITTING = "SUBMITTING"  # journaled, may be at the venue, outcome unknown
    OPEN = "OPEN"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    CANCELING = "CANCELING"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    ABANDONED = "ABANDONED"  # proven never to have reached the venue

    @property
    def is_terminal(self) -> bool:
        """True when no further transition is possible."""
        return self in TERMINAL_STATES


TERMINAL_STATES = frozenset(
    {
        OrderState.FILLED,
        OrderState.CANCELED,
        OrderState.REJECTED,
        OrderState.EXPIRED,
        OrderState.ABANDONED,
    }
)

_S = OrderState
_VENUE_OUTCOMES = {_S.OPEN, _S.PARTIALLY_FILLED, _S.FILLED, _S.CANCELED, _S.EXPIRED}

TRANSITIONS: dict[OrderState, frozenset[OrderState]] = {
    # A retry under the same id keeps SUBMITTING; "absent at the venue after
    # every lookup" is the only way to ABANDONED once sent.
    _S.SUBMITTING: frozenset(_VENUE_OUTCOMES | {_S.SUBMITTING, _S.REJECTED, _S.ABANDONED}),
    _S.OPEN: frozenset(_VENUE_OUTCOMES - {_S.OPEN} | {_S.CANCELING}),
    # Fills arrive piecemeal: PARTIALLY_FILLED may repeat with a larger fill.
    _S.PARTIALLY_FILLED: frozenset(_VENUE_OUTCOMES - {_S.OPEN} | {_S.CANCELING}),
    # A cancel can lose the race against a fill, or be refused while the
    # order stays open.
    _S.CANCELING: frozenset(_VENUE_OUTCOMES | {_S.CANCELING}),
}


class IllegalTransition(RuntimeError):
    """A state change the lifecycle does not allow."""

    def __init__(self, client_order_id: str, current: OrderState, target: OrderState) -> None:
        self.client_order_id = client_order_id
        self.current = current
        self.target = target
        super().__init__(f"{client_order_id}: illegal transition {current} -> {target}")


def check_transition(client_order_id: str, current: OrderState, target: OrderState) -> None:
    """Raise :class:`IllegalTransition` unless ``current -> target`` is allowed."""
    if target not in TRANSITIONS.get(current, frozenset()):
        raise IllegalTransition(client_order_id, current, target)
