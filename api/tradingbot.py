"""The TradingBot resource (``tradewarden.io/v1alpha1``) as pydantic models.

These models are the single source of truth for the manifest a person writes,
the config the bot reads and the generated CRD schema (``api/crd.py``). Field
names on the wire are Kubernetes camelCase; Python attributes are snake_case.
Unknown fields are rejected so that a typo is an error, not a silent default.
"""

from __future__ import annotations

import re
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

API_GROUP = "tradewarden.io"
API_VERSION = f"{API_GROUP}/v1alpha1"
KIND = "TradingBot"
# What a person sets on a TradingBot (``kubectl tradewarden retry``) to clear a sticky
# abort, and who did; the operator clears the abort and removes both.
CLEAR_ABORT_ANNOTATION = f"{API_GROUP}/clear-abort"
CLEARED_BY_ANNOTATION = f"{API_GROUP}/cleared-by"

# A venue URL that cannot reach a live exchange: a loopback address (127.0.0.0/8,
# ::1, localhost) or an in-cluster Service (``*.svc``, ``*.svc.cluster.local``),
# where only the venue simulator runs. Anything else may be a live venue, whatever
# its name says. One regex (RE2 and Python agree on it) for the model and the CRD.
LOCAL_VENUE_URL = (
    r"^https?://(localhost|127(\.[0-9]{1,3}){3}|\[::1\]|[a-z0-9]([-a-z0-9.]*[a-z0-9])?"
    r"\.svc(\.cluster\.local)?)(:[0-9]{1,5})?(/[^\s?#]*)?$"
)


def is_local_venue_url(url: str) -> bool:
    """True when ``url`` points at a loopback or in-cluster address (the simulator)."""
    return re.fullmatch(LOCAL_VENUE_URL, url) is not None


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
    )


class ExchangeSpec(_Model):
    """Which venue the bot trades on and how it reaches it."""

    id: str = Field(
        default="binanceusdm",
        min_length=1,
        description="ccxt exchange id, for example binanceusdm.",
    )
    sandbox: bool = Field(default=True, description="Use the venue's testnet/sandbox endpoints.")
    account: str = Field(
        default="default",
        min_length=1,
        max_length=63,
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        description="Account label; one bot per account and symbol may trade.",
    )
    credentials_secret: str | None = Field(
        default=None,
        description="Name of the Secret holding apiKey/apiSecret; never inline credentials.",
    )
    url_override: str | None = Field(
        default=None,
        max_length=512,
        pattern=r"^https?://",
        description=(
            "Base URL replacing every venue endpoint (the venue simulator); one that is "
            "not loopback or in-cluster (*.svc) counts as live and needs allowLive."
        ),
    )
    allow_live: bool = Field(
        default=False,
        description=(
            "Explicit opt-in required before a live venue may trade: sandbox false, or a "
            "urlOverride that is not loopback or in-cluster."
        ),
    )
    request_timeout_ms: int = Field(
        default=10_000, ge=100, le=120_000, description="Per-request timeout."
    )

    @property
    def is_live(self) -> bool:
        """Whether the client may reach a live venue: everything but a testnet or the simulator.

        A URL override replaces every endpoint, so it alone decides; without one
        the ``sandbox`` switch does.
        """
        if self.url_override is not None:
            return not is_local_venue_url(self.url_override)
        return not self.sandbox

    @model_validator(mode="after")
    def _live_needs_opt_in(self) -> ExchangeSpec:
        if self.is_live and not self.allow_live:
            raise ValueError(
                "allowLive: a live venue (sandbox: false, or a urlOverride that is not "
                "loopback or in-cluster *.svc) needs allowLive: true"
            )
        return self


class StrategySpec(_Model):
    """The strategy plug-in and its parameters."""

    type: str = Field(default="grid", min_length=1, description="Strategy plug-in name.")
    params: dict[str, Any] = Field(
        default_factory=dict, description="Strategy-specific parameters."
    )


class RiskSpec(_Model):
    """Hard limits the bot enforces on every intent."""

    # Bounded digits, so a value such as "1e400" is refused at load, not in the order path.
    max_position: Decimal = Field(
        gt=0,
        max_digits=30,
        decimal_places=18,
        description="Largest absolute position, in base units.",
    )
    max_order_notional: Decimal = Field(
        gt=0,
        max_digits=30,
        decimal_places=18,
        description="Largest notional of one order, in quote units.",
    )
    stop_distance_pct: Decimal = Field(
        default=Decimal("2"),
        gt=0,
        lt=50,
        description="Protective stop distance from entry, in percent.",
    )
    require_protective_stop: bool = Field(
        default=True, description="Every open position must carry a reduce-only stop."
    )


class UserDataStreamSpec(_Model):
    """The venue's private stream of order and account updates (Binance's user-data stream)."""

    enabled: bool = Field(
        default=True,
        description=(
            "Reconcile as soon as the venue streams a fill, an order that ended or a stop "
            "that fired, instead of at the next periodic reconcile. The stream only wakes "
            "the reconcile; what the venue holds is still read over REST."
        ),
    )
    keepalive_seconds: float = Field(
        default=1200.0,
        ge=1,
        le=3000,
        description=(
            "Interval of the listenKey keepalive (Binance's key lapses 60 minutes after the "
            "last one). A keepalive the venue refuses renews the key and reconnects."
        ),
    )


class ExecutionSpec(_Model):
    """Retry, backoff and reconcile settings of the order path."""

    retry_budget: int = Field(
        default=5, ge=0, le=20, description="Retries of one request before giving up."
    )
    backoff_base_seconds: float = Field(
        default=0.25, gt=0, le=30, description="First backoff delay."
    )
    backoff_max_seconds: float = Field(
        default=5.0, gt=0, le=300, description="Largest single backoff delay."
    )
    max_elapsed_seconds: float = Field(
        default=30.0, gt=0, le=600, description="Stop retrying one request after this long."
    )
    reconcile_interval_seconds: float = Field(
        default=10.0, gt=0, le=3600, description="Interval of the periodic reconcile."
    )
    tight_loop_timeout_seconds: float = Field(
        default=120.0,
        gt=0,
        le=3600,
        description="If reconciling an order keeps failing this long, the bot exits non-zero.",
    )
    max_cancel_replace: int = Field(
        default=3, ge=0, le=20, description="Cancel/replace attempts before giving up."
    )
    # Binance's reads can miss an accepted order for 22-62 s (measured by others): an
    # order judged absent sooner may be resent or replaced while it still works.
    absent_grace_seconds: float = Field(
        default=65.0,
        ge=0,
        le=300,
        description=(
            "A sent order absent at the venue is abandoned only after this long (Binance's"
            " reads can lag an accepted order by up to about a minute)."
        ),
    )
    incomplete_after_seconds: float = Field(
        default=60.0,
        gt=0,
        description="An intent without a terminal outcome after this long is incomplete.",
    )
    user_data_stream: UserDataStreamSpec = Field(
        default_factory=UserDataStreamSpec,
        description="Wake the reconcile on the venue's private stream of order updates.",
    )


class ApiHealthGuard(_Model):
    """Trip on venue API trouble."""

    error_rate: float = Field(
        default=0.2, gt=0, le=1, description="Share of failed venue calls in the window that trips."
    )
    rate_limit_usage: float = Field(
        default=0.9,
        gt=0,
        le=1,
        description="Share of the venue's rate-limit weight used that trips.",
    )
    window_seconds: float = Field(
        default=60.0, gt=0, description="Sliding window of the error rate, in seconds."
    )
    pause_seconds: float = Field(
        default=300.0, ge=0, description="Global pause after a trip, in seconds."
    )


class MarkStalenessGuard(_Model):
    """Pause a symbol whose mark price stopped updating."""

    stale_after_seconds: float = Field(
        default=15.0, gt=0, description="A mark older than this many seconds is stale."
    )
    pause_seconds: float = Field(
        default=120.0, ge=0, description="Pause of the symbol after a trip, in seconds."
    )


class SlippageGuard(_Model):
    """Pause a symbol after repeated fills too far from the expected price."""

    max_slippage_bps: float = Field(
        default=50.0, gt=0, description="Largest accepted fill slippage, in basis points."
    )
    max_failures: int = Field(
        default=3, ge=1, description="Slippage failures in a row that trip the guard."
    )
    pause_seconds: float = Field(
        default=60.0, ge=0, description="Pause of the symbol after a trip, in seconds."
    )


class BrokerReadGuard(_Model):
    """Pause after consecutive failed account/position reads."""

    max_consecutive_failures: int = Field(
        default=3, ge=1, description="Failed account/position reads in a row that trip."
    )
    pause_seconds: float = Field(
        default=120.0, ge=0, description="Global pause after a trip, in seconds."
    )


class DriftGuard(_Model):
    """React to bot-owned orders at the venue that the journal does not know."""

    detections_in_a_row: int = Field(
        default=3,
        ge=1,
        description="Reconciles in a row that must see stray orders before reduce-only.",
    )


class WebSocketGuard(_Model):
    """Reconnect policy of the market-data stream."""

    max_reconnects: int = Field(
        default=10, ge=1, description="Reconnects before the stream counts as lost."
    )
    backoff_base_seconds: float = Field(
        default=2.0, gt=0, description="First reconnect delay, in seconds."
    )
    backoff_multiplier: float = Field(
        default=2.0, ge=1, description="Factor applied to the delay after each failure."
    )
    backoff_cap_seconds: float = Field(
        default=60.0, gt=0, description="Largest reconnect delay, in seconds."
    )
    jitter: float = Field(
        default=0.25, ge=0, le=1, description="Random share added to or taken from each delay."
    )
    stable_reset_seconds: float = Field(
        default=60.0, gt=0, description="Seconds connected that reset the reconnect count."
    )
    pause_seconds: float = Field(
        default=300.0, ge=0, description="Global pause once reconnects are exhausted, in seconds."
    )


class KillSwitchGuard(_Model):
    """Halt on persistent divergence; recover only on clean evidence."""

    clean_reconciles_to_recover: int = Field(
        default=5, ge=1, description="Clean reconciles in a row that release the kill switch."
    )


class DeadManGuard(_Model):
    """Degrade by itself when the bot loses the Kubernetes API server."""

    api_unreachable_seconds: float = Field(
        default=60.0,
        gt=0,
        description="Seconds without a successful API-server call before going reduce-only.",
    )


class GuardsSpec(_Model):
    """Degradation-matrix thresholds; defaults follow DESIGN.md."""

    api_health: ApiHealthGuard = Field(
        default_factory=ApiHealthGuard, description="Trip on venue API errors or rate limits."
    )
    mark_staleness: MarkStalenessGuard = Field(
        default_factory=MarkStalenessGuard, description="Pause a symbol whose mark is stale."
    )
    slippage: SlippageGuard = Field(
        default_factory=SlippageGuard, description="Pause a symbol after repeated slippage."
    )
    broker_reads: BrokerReadGuard = Field(
        default_factory=BrokerReadGuard, description="Pause after failed account reads."
    )
    drift: DriftGuard = Field(
        default_factory=DriftGuard, description="Reduce-only on unknown bot orders at the venue."
    )
    websocket: WebSocketGuard = Field(
        default_factory=WebSocketGuard, description="Market-data stream reconnect policy."
    )
    kill_switch: KillSwitchGuard = Field(
        default_factory=KillSwitchGuard, description="Halt on persistent divergence."
    )
    dead_man: DeadManGuard = Field(
        default_factory=DeadManGuard, description="Reduce-only when the API server is lost."
    )


class EmergencyAction(StrEnum):
    """Break-glass actions, set with ``kubectl patch``."""

    REDUCE_ONLY = "ReduceOnly"
    HALT = "Halt"
    FLATTEN = "Flatten"


class DeletionPolicy(StrEnum):
    """What deleting a TradingBot does to its position before the operator lets it go."""

    HALT = "Halt"
    FLATTEN = "Flatten"


class EmergencyStop(_Model):
    """An emergency stop and why it was pulled."""

    action: EmergencyAction = Field(
        description="ReduceOnly blocks new exposure, Halt stops all orders, Flatten closes."
    )
    reason: str = Field(min_length=1, description="Who pulled it and why.")


class TradingBotSpec(_Model):
    """Desired state of one bot."""

    exchange: ExchangeSpec = Field(
        default_factory=ExchangeSpec, description="Which venue the bot trades on and how."
    )
    symbol: str = Field(
        min_length=1,
        description="Unified ccxt symbol, for example BTC/USDT:USDT.",
    )
    strategy: StrategySpec = Field(
        default_factory=StrategySpec, description="The strategy plug-in and its parameters."
    )
    risk: RiskSpec = Field(description="Hard limits the bot enforces on every intent.")
    execution: ExecutionSpec = Field(
        default_factory=ExecutionSpec, description="Retry, backoff and reconcile settings."
    )
    guards: GuardsSpec = Field(
        default_factory=GuardsSpec, description="Degradation-matrix thresholds."
    )
    paused: bool = Field(default=False, description="Planned pause; lives in Git.")
    emergency_stop: EmergencyStop | None = Field(
        default=None, description="Break-glass stop; kept out of GitOps diffs."
    )
    environment: Literal["dev", "canary", "prod"] = Field(
        default="dev", description="Promotion stage: dev, canary or prod."
    )
    deletion_policy: DeletionPolicy = Field(
        default=DeletionPolicy.HALT,
        description="What `kubectl delete` does before the bot goes. Halt: cancel every "
        "order but the protective stops; the position stays at the venue with its stop. "
        "Flatten: close the position and cancel its stops; the bot goes once flat.",
    )


class ObjectMeta(_Model):
    """The part of Kubernetes metadata the bot uses."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(
        min_length=1,
        max_length=63,
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
    )
    namespace: str = Field(default="default", description="Namespace of the TradingBot.")
    uid: str | None = Field(default=None, description="Kubernetes uid; seeds client order ids.")
    generation: int | None = Field(default=None, description="Spec generation.")
    labels: dict[str, str] = Field(default_factory=dict, description="Kubernetes labels.")
    annotations: dict[str, str] = Field(default_factory=dict, description="Kubernetes annotations.")


class Phase(StrEnum):
    """Lifecycle phase shown in ``kubectl get tb``."""

    PENDING = "Pending"
    PREFLIGHT = "Preflight"
    RUNNING = "Running"
    PAUSED = "Paused"
    REDUCE_ONLY = "ReduceOnly"
    ABORTED = "Aborted"
    DEGRADED = "Degraded"
    FAILED = "Failed"


class TradingMode(StrEnum):
    """The effective trading mode: what the bot may send."""

    ACTIVE = "Active"
    REDUCE_ONLY = "ReduceOnly"
    HALTED = "Halted"


# How restrictive a mode is: the strictest demand wins, a stricter mode "reaches" a laxer one.
MODE_SEVERITY = {TradingMode.ACTIVE: 0, TradingMode.REDUCE_ONLY: 1, TradingMode.HALTED: 2}
# What an emergency action (a TradingBot's ``emergencyStop`` or a TradingHalt's) means:
# the mode the bot trades in, and the phase the operator shows while it decides the phase.
# One table for both sides, so the bot and the operator never read an action differently.
EMERGENCY_MODE = {
    EmergencyAction.REDUCE_ONLY: TradingMode.REDUCE_ONLY,
    EmergencyAction.HALT: TradingMode.HALTED,
    EmergencyAction.FLATTEN: TradingMode.HALTED,
}
EMERGENCY_PHASE = {
    EmergencyAction.REDUCE_ONLY: Phase.REDUCE_ONLY,
    EmergencyAction.HALT: Phase.PAUSED,
    EmergencyAction.FLATTEN: Phase.PAUSED,
}


class Condition(_Model):
    """A status condition in the Kubernetes convention."""

    type: str = Field(description="Ready, PreflightPassed, BotHealthy, InSync or Protected.")
    status: Literal["True", "False", "Unknown"] = Field(description="True, False or Unknown.")
    reason: str = Field(description="CamelCase reason of the last transition.")
    message: str = Field(default="", description="Human-readable detail.")
    last_transition_time: str = Field(description="When status last changed (RFC 3339).")


class Flip(_Model):
    """The last phase/mode change and why."""

    reason: str = Field(description="Reason of the flip, for example DriftDetected.")
    time: str = Field(description="When the flip happened (RFC 3339).")


class AbortRecord(_Model):
    """An abort that stays until someone clears it explicitly."""

    reason: str = Field(description="PreflightFailed or KillSwitch.")
    message: str = Field(description="What the bot reported when it aborted.")
    time: str = Field(description="When the abort was recorded (RFC 3339).")


class BotSummary(_Model):
    """A short digest of the bot's own /status."""

    position: str = Field(default="0", description="Net position in base units (decimal).")
    open_orders: int = Field(default=0, description="Orders the bot has working at the venue.")
    confidence: float = Field(default=1.0, description="Belief confidence 0..1.")
    incomplete_lifecycles: int = Field(
        default=0, description="Intents without a terminal outcome in time."
    )


class TradingBotStatus(_Model):
    """Observed state, written by the operator through the status subresource."""

    observed_generation: int | None = Field(
        default=None, description="The spec generation this status describes."
    )
    phase: Phase = Field(default=Phase.PENDING, description="Lifecycle phase.")
    trading_mode: TradingMode = Field(
        default=TradingMode.HALTED, description="What the bot may send: Active, ReduceOnly, Halted."
    )
    conditions: list[Condition] = Field(
        default_factory=list, description="Ready, PreflightPassed, BotHealthy, InSync, Protected."
    )
    last_flip: Flip | None = Field(default=None, description="The last phase change and why.")
    abort: AbortRecord | None = Field(
        default=None,
        description="Sticky abort; cleared only by the tradewarden.io/clear-abort annotation.",
    )
    bot: BotSummary | None = Field(default=None, description="Digest of the bot's /status.")


class TradingBot(_Model):
    """A whole TradingBot manifest."""

    api_version: Literal["tradewarden.io/v1alpha1"]
    kind: Literal["TradingBot"]
    metadata: ObjectMeta
    spec: TradingBotSpec
    status: TradingBotStatus | None = None
