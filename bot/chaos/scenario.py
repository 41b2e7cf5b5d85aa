"""What a chaos scenario is: a fault schedule, bot settings, a duration and expectations.

Scenarios are plain data so the catalogue reads as a table and ``chaos --list``
can print it. Times are bot seconds after the bot became ready; the seed
jitters them, seeds the simulator's price walk and the bot's randomness.
Where a fault must meet a particular step of the bot's work, it is tied to
that step rather than to a time: faults on the first creates go in ``setup``
with call counts, and :class:`OnceProtected` waits for a stop to stand.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from tradewarden.api.tradingbot import EmergencyStop, TradingMode
from tradewarden.bot.chaos.proxy import ProxyFault
from tradewarden.bot.venue_sim.faults import FaultSpec


@dataclass(frozen=True)
class WireFaults:
    """Replace the simulator's ``/_sim/faults`` plan (on-the-wire faults)."""

    faults: tuple[FaultSpec, ...]

    def describe(self) -> str:
        """One line for listings."""
        return "wire: " + "; ".join(
            f.model_dump_json(exclude_none=True, exclude_defaults=True) for f in self.faults
        )


@dataclass(frozen=True)
class ClearWireFaults:
    """Remove every on-the-wire fault."""

    def describe(self) -> str:
        """One line for listings."""
        return "wire: clear"


@dataclass(frozen=True)
class ProxyFaults:
    """Replace the in-process plan of the ccxt proxy."""

    faults: tuple[ProxyFault, ...]

    def describe(self) -> str:
        """One line for listings."""
        return "proxy: " + ("; ".join(f.describe() for f in self.faults) or "clear")


@dataclass(frozen=True)
class DropStreams:
    """Close every market stream and refuse new ones for ``refuse_seconds`` (bot seconds)."""

    refuse_seconds: float = 0.0

    def describe(self) -> str:
        """One line for listings."""
        return f"streams: drop, refuse for {self.refuse_seconds}s"


@dataclass(frozen=True)
class UserDataFault:
    """Disturb the private user-data stream: drop its sockets, lapse its listenKey now.

    A lapsed key leaves the socket open and silent, as Binance's does after
    ``listenKeyExpired``: nothing more is pushed on it until the bot takes a new key.
    """

    drop: bool = False
    expire_key: bool = False

    def describe(self) -> str:
        """One line for listings."""
        what = [label for label, on in (("drop", self.drop), ("lapse key", self.expire_key)) if on]
        return "user data: " + (", ".join(what) or "nothing")


@dataclass(frozen=True)
class MovePrice:
    """Move the simulator's mark by ``pct`` percent (runs the venue's matching)."""

    pct: float

    def describe(self) -> str:
        """One line for listings."""
        return f"mark {self.pct:+}%"


@dataclass(frozen=True)
class PriceWalk:
    """Stop or restart the simulator's random walk: only :class:`MovePrice` moves the mark then.

    Each mark at or through a resting order's price fills another share of it
    (``partial_fill_ratio``), so a paused walk keeps a dip's partial fill partial.
    Market streams push on mark changes: keep a pause shorter than the staleness limit.
    """

    paused: bool

    def describe(self) -> str:
        """One line for listings."""
        return "price walk " + ("paused" if self.paused else "resumed")


@dataclass(frozen=True)
class Controls:
    """Apply ``spec.paused`` / ``spec.emergencyStop`` as the live resource would."""

    paused: bool = False
    emergency_stop: EmergencyStop | None = None

    def describe(self) -> str:
        """One line for listings."""
        stop = self.emergency_stop.action.value if self.emergency_stop else None
        return f"controls paused={self.paused} emergencyStop={stop}"


@dataclass(frozen=True)
class RogueOrder:
    """Someone else trades the account: a market order, or a resting limit.

    ``bot_owned`` gives it the bot's client-id prefix, so it looks like an order
    the bot lost track of (a stray); otherwise it is plainly foreign exposure.
    """

    side: Literal["buy", "sell"]
    quantity: str
    limit_offset_pct: float | None = None  # None = market order
    bot_owned: bool = False
    reduce_only: bool = False

    def describe(self) -> str:
        """One line for listings."""
        kind = "market" if self.limit_offset_pct is None else f"limit {self.limit_offset_pct:+}%"
        owner = "bot-prefixed " if self.bot_owned else ""
        return f"rogue {owner}{self.side} {self.quantity} {kind}"


@dataclass(frozen=True)
class RogueCancelStops:
    """Someone cancels every stop (algo) order on the symbol."""

    def describe(self) -> str:
        """One line for listings."""
        return "rogue: cancel all stops"


@dataclass(frozen=True)
class SpendWeight:
    """Another client on the bot's IP spends the venue's shared request-weight budget.

    It stops once the venue reports ``share`` of its budget used, so it never
    itself runs into the limit.
    """

    share: float

    def describe(self) -> str:
        """One line for listings."""
        return f"rogue: spend request weight to {self.share:.0%} of the budget"


@dataclass(frozen=True)
class OrderStorm:
    """Another client of the bot's account places orders until the venue answers -1015.

    Binance counts ORDERS per account: once the storm has spent the window's
    budget, the bot's own creates are refused too. The storm's orders rest far
    under the mark of ``symbol`` (not the bot's), where nothing fills them.
    """

    symbol: str = "ETH/USDT:USDT"

    def describe(self) -> str:
        """One line for listings."""
        return f"rogue: place {self.symbol} orders until the venue answers -1015"


@dataclass(frozen=True)
class OnceProtected:
    """Apply ``action`` once a position's protective stop stands at the venue.

    Ties the step to the bot's progress instead of to a time, so the story
    (e.g. a gap through the stop) does not depend on how fast the bot is.
    """

    action: MovePrice | RogueCancelStops

    def describe(self) -> str:
        """One line for listings."""
        return f"once a stop stands: {self.action.describe()}"


@dataclass(frozen=True)
class OnceEntriesRest:
    """Apply ``action`` once a buy entry priced off the venue's current mark rests there.

    A gap leaves the bot's entries priced off the old mark, which the venue refuses
    (PERCENT_PRICE) or which rest out of reach; a small dip fills one only after the
    bot has re-priced them, so the step waits for that instead of for a time. An
    order storm waits for the grid too: spent before the bot's first orders, it
    would refuse those instead of the re-pricing the story is about.
    """

    action: MovePrice | OrderStorm
    within_pct: float = 0.25

    def describe(self) -> str:
        """One line for listings."""
        return f"once a buy rests within {self.within_pct:g}% of the mark: {self.action.describe()}"


@dataclass(frozen=True)
class OnceWireFaultActs:
    """Apply ``action`` once the current wire fault plan has acted on a request.

    With a delay fault, the action lands while the delayed request (a cancel,
    say) is held at the venue, before the venue processes it.
    """

    actions: tuple[MovePrice | PriceWalk, ...]

    def describe(self) -> str:
        """One line for listings."""
        return "once a wire fault acts: " + ", ".join(a.describe() for a in self.actions)


StepAction = (
    WireFaults
    | ClearWireFaults
    | ProxyFaults
    | DropStreams
    | UserDataFault
    | MovePrice
    | PriceWalk
    | Controls
    | RogueOrder
    | RogueCancelStops
    | SpendWeight
    | OrderStorm
    | OnceProtected
    | OnceEntriesRest
    | OnceWireFaultActs
)


@dataclass(frozen=True)
class Step:
    """One action at one time (bot seconds after ready, plus seeded jitter)."""

    at: float
    action: StepAction
    jitter: float = 0.0


@dataclass(frozen=True)
class ExpectMode:
    """The bot reaches ``mode`` (or stricter) with ``reason`` in the MODE_CHANGE reason."""

    mode: TradingMode
    reason: str = ""
    recovers: bool = False  # and later returns to Active

    @property
    def name(self) -> str:
        """Invariant name in reports."""
        suffix = f".{self.reason}" if self.reason else ""
        return f"expect.mode.{self.mode.value}{suffix}" + (".recovers" if self.recovers else "")


@dataclass(frozen=True)
class ExpectEvent:
    """Between ``at_least`` and ``at_most`` events ``event`` whose fields contain ``where``."""

    event: str
    at_least: int = 1
    at_most: int | None = None
    where: tuple[tuple[str, str], ...] = ()

    @property
    def name(self) -> str:
        """Invariant name in reports."""
        where = "".join(f".{key}={value}" for key, value in self.where)
        bound = "none" if self.at_most == 0 else f"min{self.at_least}"
        return f"expect.event.{self.event}{where}.{bound}"


@dataclass(frozen=True)
class ExpectStatus:
    """Some ``/status`` sample has ``path`` (dotted) compared by ``op`` to ``value``."""

    path: str
    op: Literal["eq", "lt", "gt"]
    value: Any

    @property
    def name(self) -> str:
        """Invariant name in reports."""
        return f"expect.status.{self.path}.{self.op}.{self.value}"


@dataclass(frozen=True)
class ExpectVenue:
    """Facts about the venue's ground truth."""

    position_seen: bool = False  # the bot held a position at some point
    flat_at_end: bool = False  # the bot's position is zero at the end
    strays_cancelled: bool = False  # injected bot-prefixed orders are not open at the end

    @property
    def name(self) -> str:
        """Invariant name in reports."""
        parts = [
            label
            for label, wanted in (
                ("positionSeen", self.position_seen),
                ("flatAtEnd", self.flat_at_end),
                ("straysCancelled", self.strays_cancelled),
            )
            if wanted
        ]
        return "expect.venue." + ".".join(parts)


Expectation = ExpectMode | ExpectEvent | ExpectStatus | ExpectVenue


@dataclass(frozen=True)
class Scenario:
    """One chaos scenario."""

    name: str
    covers: str  # the FMEA or degradation-matrix row, or "extra: ..."
    summary: str
    steps: tuple[Step, ...] = ()
    setup: tuple[StepAction, ...] = ()  # applied before the bot starts
    duration: float = 20.0  # bot seconds after ready
    spec: Mapping[str, Any] = field(default_factory=dict)  # deep-merged into spec (camelCase)
    sim: Mapping[str, Any] = field(default_factory=dict)  # SimSettings overrides
    expect: tuple[Expectation, ...] = ()
    # Bot-second windows (after ready) in which divergence is injected on purpose:
    # the kill switch must engage inside and may not release before the end of one.
    divergence: tuple[tuple[float, float], ...] = ()
    needs_ready: bool = True  # False when the bot is expected never to become ready

    def schedule(self, seed: int) -> list[tuple[float, StepAction]]:
        """The steps with their seeded times, in order."""
        rng = random.Random(f"{self.name}:{seed}")
        timed = [(step.at + rng.uniform(0, step.jitter), step.action) for step in self.steps]
        return sorted(timed, key=lambda item: item[0])

    def describe(self) -> dict[str, Any]:
        """JSON for ``chaos --list --json``."""
        return {
            "name": self.name,
            "covers": self.covers,
            "summary": self.summary,
            "duration": self.duration,
            "setup": [action.describe() for action in self.setup],
            "steps": [
                {"at": step.at, "jitter": step.jitter, "action": step.action.describe()}
                for step in self.steps
            ],
            "expect": [expectation.name for expectation in self.expect],
        }
