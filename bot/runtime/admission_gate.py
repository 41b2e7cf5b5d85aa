"""The admission gate: every order's last check before it is journaled and sent.

Invariants:

- A veto (e.g. the control loop's Lease fencing) refuses first, whatever else holds;
  the vetoes are asked in the order they were added, and the first reason wins.
- An order on a symbol with no mark yet is refused (``no-mark``).
- Otherwise :func:`refusal` decides, from the posture's mode for the order's symbol
  (Flatten lets closing exits through a halt), the risk limits, and the position
  with every order still working in the journal.
- No I/O and no clock: it reads the marks, positions, posture and journal it is
  handed, at the moment it is asked. Worker and reconciler ask it alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Protocol

from tradewarden.api.tradingbot import RiskSpec
from tradewarden.bot.execution.admission import Exposure, refusal, working_orders
from tradewarden.bot.model.orders import JournaledOrder, OrderIntent
from tradewarden.bot.model.outcomes import RefusalKind
from tradewarden.bot.posture import Posture

Veto = Callable[[OrderIntent], str | None]


class PostureSource(Protocol):
    """Whatever holds the bot's current posture (the posture controller)."""

    @property
    def posture(self) -> Posture:
        """The posture in force now."""


class AdmissionGate:
    """Says why an intent may not be sent now, or ``None``; called like a function."""

    def __init__(
        self,
        *,
        vetoes: list[Veto],
        working: Callable[[], Iterable[JournaledOrder]],
        posture: PostureSource,
        marks: Mapping[str, Decimal],
        positions: Mapping[str, Decimal],
        risk: RiskSpec,
    ) -> None:
        """``working`` lists the orders working now (the journal's non-terminal ones)."""
        self.vetoes = vetoes
        self._working = working
        self._posture = posture
        self._marks = marks
        self._positions = positions
        self._risk = risk

    def __call__(self, intent: OrderIntent) -> str | None:
        """Why ``intent`` may not be sent now, or ``None`` if it may."""
        for veto in self.vetoes:
            if (reason := veto(intent)) is not None:
                return reason
        mark = self._marks.get(intent.symbol)
        if mark is None:
            return f"{RefusalKind.NO_MARK}: no mark price yet"
        exposure = Exposure(
            self._positions.get(intent.symbol, Decimal(0)),
            working_orders(self._working()),
        )
        posture = self._posture.posture
        return refusal(
            intent,
            posture.mode_for(intent.symbol),
            exposure,
            self._risk,
            mark,
            flattening=posture.flatten,
        )
