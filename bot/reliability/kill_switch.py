"""The kill switch: halts on persistent divergence and does not recover by itself.

Once engaged it stays engaged until ``clean_to_recover`` clean reconciles in a
row have been seen, or a person resets it. Time alone never clears it. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class KillSwitch:
    """Engaged/disengaged, with the clean-evidence counter that can release it."""

    clean_to_recover: int
    engaged: bool = False
    reason: str = ""
    clean_reconciles: int = 0

    def engage(self, reason: str) -> bool:
        """Engage (or keep engaged) with ``reason``; True if this engaged it."""
        newly = not self.engaged
        if newly:
            self.reason = reason
        self.engaged = True
        self.clean_reconciles = 0
        return newly

    def observe(self, clean: bool) -> bool:
        """Count one reconcile; True if this clean one released the switch."""
        if not self.engaged:
            return False
        self.clean_reconciles = self.clean_reconciles + 1 if clean else 0
        if self.clean_reconciles < self.clean_to_recover:
            return False
        self._release()
        return True

    def reset(self) -> bool:
        """A person's explicit release; True if it was engaged."""
        was = self.engaged
        self._release()
        return was

    def _release(self) -> None:
        self.engaged = False
        self.reason = ""
        self.clean_reconciles = 0
