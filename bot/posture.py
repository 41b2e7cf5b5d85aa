"""The effective trading mode: the one place that decides what the bot may send.

The most restrictive of ``spec.paused``, ``spec.emergencyStop`` and every
restriction the guards or the operator impose wins. Pure logic.
"""

from __future__ import annotations

from dataclasses import dataclass

from tradewarden.api.tradingbot import EmergencyAction, EmergencyStop, TradingMode

_SEVERITY = {TradingMode.ACTIVE: 0, TradingMode.REDUCE_ONLY: 1, TradingMode.HALTED: 2}
_EMERGENCY_MODE = {
    EmergencyAction.REDUCE_ONLY: TradingMode.REDUCE_ONLY,
    EmergencyAction.HALT: TradingMode.HALTED,
    EmergencyAction.FLATTEN: TradingMode.HALTED,
}


@dataclass(frozen=True)
class Restriction:
    """One source's demand on the trading mode."""

    source: str
    mode: TradingMode
    reason: str


@dataclass(frozen=True)
class Posture:
    """The decided mode and every restriction that asked for it."""

    mode: TradingMode
    reasons: tuple[str, ...]

    @property
    def summary(self) -> str:
        """A one-line reason for logs and /status."""
        return "; ".join(self.reasons) if self.reasons else "all clear"


def decide_posture(
    paused: bool,
    emergency_stop: EmergencyStop | None,
    restrictions: tuple[Restriction, ...] = (),
) -> Posture:
    """Combine every demand into the effective mode (most restrictive wins)."""
    demands = list(restrictions)
    if paused:
        # A planned pause still lets the bot close exposure.
        demands.append(Restriction("spec.paused", TradingMode.REDUCE_ONLY, "paused by spec"))
    if emergency_stop is not None:
        demands.append(
            Restriction(
                "spec.emergencyStop",
                _EMERGENCY_MODE[emergency_stop.action],
                f"emergency stop {emergency_stop.action.value}: {emergency_stop.reason}",
            )
        )
    if not demands:
        return Posture(TradingMode.ACTIVE, ())
    mode = max((demand.mode for demand in demands), key=_SEVERITY.__getitem__)
    reasons = tuple(
        f"{demand.source}: {demand.reason}" for demand in demands if demand.mode is mode
    )
    return Posture(mode, reasons)
