"""What the TradingHalt binding the bot demands of its posture. Pure.

Which halt binds the bot is decided in :mod:`tradewarden.api.halts`, shared
with the operator, which confirms the halt across the fleet.
"""

from __future__ import annotations

from tradewarden.api.halts import Halt
from tradewarden.api.tradingbot import EMERGENCY_MODE, EmergencyAction
from tradewarden.bot.posture import Restriction

SOURCE = "tradingHalt"


def halt_restriction(halt: Halt) -> Restriction:
    """The bot's posture demand for the binding halt (Flatten closes while halted)."""
    action = halt.spec.action
    return Restriction(
        SOURCE,
        EMERGENCY_MODE[action],
        f"TradingHalt {halt.name} {action.value}: {halt.spec.reason}",
        flatten=action is EmergencyAction.FLATTEN,
    )
