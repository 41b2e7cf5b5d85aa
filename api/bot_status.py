"""The bot's ``/status`` document as pydantic models: what the bot serves, the operator reads.

The bot builds a :class:`BotStatus` from its state and serves
:meth:`BotStatus.to_json`; the operator's probe and the chaos harness read it
back with :func:`read_bot_status`. Field names on the wire are camelCase;
Python attributes are snake_case.

Reading is as tolerant as the operator always was, because the bot and the
operator roll out separately: a field the document leaves out reads as its
default here (a bot that does not report ``ready``, ``recovered`` or
``preflight`` has nothing to wait for; no ``protection`` is "not reported"),
and a field this version does not know is ignored. A document that does not
fit the models (not an object, a wrong type, an unknown trading mode, a
position that is no number) is unreadable: the operator treats it as a bot
that did not answer, never as a healthy one.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from tradewarden.api.tradingbot import EmergencyAction, TradingMode

# Order types that only ever reduce a position: a drain or a halt leaves them working.
PROTECTIVE_ORDER_TYPES = frozenset({"stop_market"})


class _Part(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        frozen=True,
    )


class OpenOrder(_Part):
    """One non-terminal order of the bot's journal."""

    client_order_id: str = ""
    side: str = ""  # buy, sell
    type: str = ""  # limit, market, stop_market
    price: Decimal | None = None
    quantity: Decimal = Decimal(0)
    filled: Decimal = Decimal(0)
    state: str = ""  # the journal's order state

    @property
    def protective(self) -> bool:
        """A protective stop: it only ever reduces the position."""
        return self.type in PROTECTIVE_ORDER_TYPES


class PreflightCheck(_Part):
    """One preflight check's outcome."""

    name: str
    ok: bool
    detail: str = ""
    remediation: str = ""


class PreflightStatus(_Part):
    """The last preflight run; ``passed`` is ``None`` before the first one finished."""

    passed: bool | None = None
    warn_only: bool = False
    checks: list[PreflightCheck] = Field(default_factory=list)


class GuardStatus(_Part):
    """One guard, or one symbol a guard holds; an untripped guard has no mode."""

    name: str
    tripped: bool = False
    mode: TradingMode | None = None
    reason: str = ""
    until: float | None = None  # bot time; None: until clean evidence
    symbol: str | None = None  # None: every symbol


class KillSwitchStatus(_Part):
    """Whether the kill switch holds the bot, why, and the clean evidence seen since."""

    engaged: bool = False
    reason: str = ""
    clean_reconciles: int = 0


class BeliefStatus(_Part):
    """Confidence in the local picture, the mismatch streak and the debt per symbol."""

    confidence: float = 1.0
    mismatch_streak: int = 0
    debt: dict[str, float] = Field(default_factory=dict)


class DriftStatus(_Part):
    """Bot-owned orders at the venue the journal does not know, and whether drift is on.

    ``strays`` lists what the last reconcile saw; drift stays detected for a while
    after the confirmed strays are cancelled, when the list is empty again.
    """

    detected: bool = False
    stray_streak: int = 0
    strays: list[str] = Field(default_factory=list)


class ProtectionStatus(_Part):
    """Whether every position carries its stop, since when not, and the repairs so far."""

    protected: bool = False
    unprotected_since: float | None = None
    stop_repairs: int = 0


class HaltBinding(_Part):
    """The TradingHalt that binds the bot, as the bot reads it."""

    name: str
    action: EmergencyAction
    reason: str


class ControlStatus(_Part):
    """The bot's link to its TradingBot, its Lease and the TradingHalts."""

    trading_halt: HaltBinding | None = None
    halts_readable: bool = False
    enabled: bool = False  # False: no control companion runs (no Kubernetes)
    api_server_reachable: bool = False
    last_contact: float | None = None  # bot time of the last API-server answer
    lease_held: bool = False
    lease_name: str | None = None
    operator_abort: str | None = None  # the abort reason the operator recorded


class BotStatus(_Part):
    """The whole ``/status`` document."""

    bot: str = ""  # the bot's identity (:func:`tradewarden.api.identity.bot_identity`)
    symbol: str = ""
    dry_run: bool = False
    ready: bool = True  # recovered, markets and a mark price known: it may trade
    recovered: bool = True  # the journal's orders are reconciled after the start
    trading_mode: TradingMode | None = None
    mode_reasons: list[str] = Field(default_factory=list)
    marks: dict[str, Decimal] = Field(default_factory=dict)
    positions: dict[str, Decimal] = Field(default_factory=dict)
    open_orders: list[OpenOrder] = Field(default_factory=list)
    journal: dict[str, int] = Field(default_factory=dict)  # orders by state
    incomplete_lifecycles: list[str] = Field(default_factory=list)
    execution_queue: int = 0
    last_errors: list[dict[str, Any]] = Field(default_factory=list)  # the last error events
    preflight: PreflightStatus | None = None
    guards: list[GuardStatus] = Field(default_factory=list)
    kill_switch: KillSwitchStatus = Field(default_factory=KillSwitchStatus)
    belief: BeliefStatus = Field(default_factory=BeliefStatus)
    drift: DriftStatus = Field(default_factory=DriftStatus)
    protection: ProtectionStatus | None = None
    control: ControlStatus | None = None

    def to_json(self) -> dict[str, Any]:
        """The document as served: camelCase names, decimals as strings, nulls kept."""
        return self.model_dump(mode="json", by_alias=True)

    def position(self, symbol: str) -> Decimal:
        """The bot's position in ``symbol`` (0 when it reports none)."""
        return self.positions.get(symbol, Decimal(0))

    def entries(self) -> list[OpenOrder]:
        """Open orders that are not protective stops (what a drain or a halt must see gone)."""
        return [order for order in self.open_orders if not order.protective]

    def tripped_guard(self) -> GuardStatus | None:
        """The first tripped guard, if any."""
        return next((guard for guard in self.guards if guard.tripped), None)


def read_bot_status(document: object) -> BotStatus | None:
    """The document as a :class:`BotStatus`, or ``None`` when it does not fit."""
    try:
        return BotStatus.model_validate(document)
    except ValidationError:
        return None
