"""The effective trading mode: the one place that decides what the bot may send.

The most restrictive of ``spec.paused``, ``spec.emergencyStop`` and every
restriction the guards, a TradingHalt or the operator impose wins; a Flatten
(the bot's own or a halt's) beats a plain Halt. A restriction may be
scoped to one symbol (a per-symbol pause): it then binds that symbol only.
Pure logic.
"""

from __future__ import annotations

from dataclasses import dataclass

from tradewarden.api.tradingbot import (
    EMERGENCY_MODE,
    MODE_SEVERITY,
    EmergencyAction,
    EmergencyStop,
    TradingMode,
)


@dataclass(frozen=True)
class Restriction:
    """One source's demand on the trading mode."""

    source: str
    mode: TradingMode
    reason: str
    symbol: str | None = None  # None: binds every symbol
    # Flatten (a TradingHalt's): reduce-only closing orders may still go out while halted.
    flatten: bool = False


@dataclass(frozen=True)
class SymbolPosture:
    """A mode stricter than the global one, for one symbol."""

    mode: TradingMode
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Posture:
    """The decided mode and every restriction that asked for it."""

    mode: TradingMode
    reasons: tuple[str, ...]
    # Symbols held by symbol-scoped restrictions to ``mode`` or stricter. One no
    # stricter than ``mode`` changes no order, but its reason is still shown:
    # it is what binds the symbol once the global restriction lifts.
    symbols: tuple[tuple[str, SymbolPosture], ...] = ()
    # Flatten (emergencyStop or a TradingHalt): reduce-only closing orders may still go
    # out while halted.
    flatten: bool = False

    @property
    def summary(self) -> str:
        """A one-line reason for logs and /status."""
        reasons = [*self.reasons]
        reasons += [
            f"{reason} [{symbol}]" for symbol, held in self.symbols for reason in held.reasons
        ]
        return "; ".join(reasons) if reasons else "all clear"

    def mode_for(self, symbol: str) -> TradingMode:
        """The effective mode for orders on ``symbol``."""
        for held_symbol, held in self.symbols:
            if held_symbol == symbol:
                return held.mode
        return self.mode


def decide_posture(
    paused: bool,
    emergency_stop: EmergencyStop | None,
    restrictions: tuple[Restriction, ...] = (),
) -> Posture:
    """Combine every demand into the effective mode (most restrictive wins)."""
    demands = [demand for demand in restrictions if demand.symbol is None]
    if paused:
        # A planned pause still lets the bot close exposure.
        demands.append(Restriction("spec.paused", TradingMode.REDUCE_ONLY, "paused by spec"))
    if emergency_stop is not None:
        demands.append(
            Restriction(
                "spec.emergencyStop",
                EMERGENCY_MODE[emergency_stop.action],
                f"emergency stop {emergency_stop.action.value}: {emergency_stop.reason}",
            )
        )
    mode, reasons = _strictest(demands)
    by_symbol: dict[str, list[Restriction]] = {}
    for demand in restrictions:
        if demand.symbol is not None:
            by_symbol.setdefault(demand.symbol, []).append(demand)
    symbols = []
    for symbol in sorted(by_symbol):
        held, why = _strictest(by_symbol[symbol])
        if held is not TradingMode.ACTIVE and MODE_SEVERITY[held] >= MODE_SEVERITY[mode]:
            symbols.append((symbol, SymbolPosture(held, why)))
    flatten = (
        emergency_stop is not None and emergency_stop.action is EmergencyAction.FLATTEN
    ) or any(demand.flatten for demand in demands)
    return Posture(mode, reasons, tuple(symbols), flatten)


def _strictest(demands: list[Restriction]) -> tuple[TradingMode, tuple[str, ...]]:
    if not demands:
        return TradingMode.ACTIVE, ()
    mode = max((demand.mode for demand in demands), key=MODE_SEVERITY.__getitem__)
    reasons = tuple(
        f"{demand.source}: {demand.reason}" for demand in demands if demand.mode is mode
    )
    return mode, reasons
