"""The TradingHalt resource (``tradewarden.io/v1alpha1``, cluster-scoped): the desk's red button.

One TradingHalt stops every TradingBot it selects: bots in the listed
namespaces and/or namespaces whose labels match ``namespaceSelector``, whose
own labels match ``selector``. Selecting every bot of the cluster takes an
explicit ``allBots: true``: an empty selector is never read as "everything"
by accident. ``action`` means what it means in ``spec.emergencyStop``. The bots
obey the most restrictive halt that matches them by themselves (the operator
need not run); the operator confirms it at the venue in ``status``.

A halt stops applying when it is released (``spec.release``, final) or when
``spec.expiresAt`` passes; it then stays as the record of who pulled it, why
and when. Deleting it releases the bots too, but leaves no record.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field, model_validator

from tradewarden.api.tradingbot import API_GROUP, Condition, EmergencyAction, _Model

HALT_KIND = "TradingHalt"
# Who pulled the halt, and who released it: recorded by `kubectl tradewarden halt/release`.
CREATED_BY_ANNOTATION = f"{API_GROUP}/created-by"
RELEASED_BY_ANNOTATION = f"{API_GROUP}/released-by"
# The condition `kubectl wait --for=condition=FleetConfirmed` waits on.
FLEET_CONFIRMED = "FleetConfirmed"


class SelectorOperator(StrEnum):
    """Operators of a label selector requirement, as in Kubernetes."""

    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


class LabelSelectorRequirement(_Model):
    """One requirement of a label selector."""

    key: str = Field(min_length=1, max_length=317, description="The label key.")
    operator: SelectorOperator = Field(description="In, NotIn, Exists or DoesNotExist.")
    values: list[str] = Field(
        default_factory=list,
        max_length=100,
        description="Values for In and NotIn (at least one); empty for Exists and DoesNotExist.",
    )

    @model_validator(mode="after")
    def _values_fit_operator(self) -> LabelSelectorRequirement:
        takes_values = self.operator in (SelectorOperator.IN, SelectorOperator.NOT_IN)
        if takes_values and not self.values:
            raise ValueError(f"values: must be non-empty for operator {self.operator.value}")
        if not takes_values and self.values:
            raise ValueError(f"values: must be empty for operator {self.operator.value}")
        return self


class LabelSelector(_Model):
    """A Kubernetes label selector: every ``matchLabels`` pair and every expression must hold."""

    match_labels: dict[str, str] = Field(
        default_factory=dict, description="Labels that must be present with these values."
    )
    match_expressions: list[LabelSelectorRequirement] = Field(
        default_factory=list, max_length=20, description="Requirements that must all hold."
    )

    @property
    def empty(self) -> bool:
        """An empty selector selects everything (so it needs ``allBots`` to be meant)."""
        return not self.match_labels and not self.match_expressions


class HaltRelease(_Model):
    """The release of a halt: final; the halt stays as the record."""

    reason: str = Field(min_length=1, description="Why it is safe to trade again.")


class TradingHaltSpec(_Model):
    """Which bots to stop, how, and why."""

    namespaces: list[str] = Field(
        default_factory=list,
        max_length=256,
        description="Only bots in these namespaces (empty: any namespace).",
    )
    namespace_selector: LabelSelector | None = Field(
        default=None, description="Only bots in namespaces whose labels match."
    )
    selector: LabelSelector | None = Field(
        default=None, description="Only TradingBots whose labels match."
    )
    all_bots: bool = Field(
        default=False,
        description="Must be true to stop every bot of the cluster (no namespaces, no selector).",
    )
    action: EmergencyAction = Field(
        description="ReduceOnly blocks new exposure, Halt stops all orders, Flatten closes.",
    )
    reason: str = Field(min_length=1, description="Why the halt was pulled (required).")
    expires_at: datetime | None = Field(
        default=None,
        description="When the halt stops applying (RFC 3339); it stays as a record.",
    )
    release: HaltRelease | None = Field(
        default=None, description="Set to release the halt; final, the halt stays as a record."
    )

    @property
    def scoped(self) -> bool:
        """Whether anything narrows the halt below every bot of the cluster."""
        return bool(
            self.namespaces
            or (self.namespace_selector is not None and not self.namespace_selector.empty)
            or (self.selector is not None and not self.selector.empty)
        )

    @model_validator(mode="after")
    def _everything_is_explicit(self) -> TradingHaltSpec:
        if self.all_bots and self.scoped:
            raise ValueError("allBots: true cannot be combined with namespaces or selectors")
        if not self.all_bots and not self.scoped:
            raise ValueError(
                "allBots: no namespaces, namespaceSelector or selector given; "
                "set allBots: true to stop every bot"
            )
        return self


class HaltState(StrEnum):
    """Whether the halt applies."""

    ACTIVE = "Active"
    EXPIRED = "Expired"
    RELEASED = "Released"


class OutstandingBot(_Model):
    """A matched bot that is not confirmed yet, and why."""

    namespace: str = Field(description="Namespace of the TradingBot.")
    name: str = Field(description="Name of the TradingBot.")
    why: str = Field(description="What is still missing, for example 2 open entry orders.")


class TradingHaltStatus(_Model):
    """What the operator confirmed, written through the status subresource."""

    observed_generation: int | None = Field(
        default=None, description="The spec generation this status describes."
    )
    state: HaltState = Field(default=HaltState.ACTIVE, description="Active, Expired or Released.")
    matched: int = Field(default=0, description="TradingBots the halt selects.")
    reached_mode: int = Field(
        default=0, description="Matched bots whose own status shows the demanded mode."
    )
    confirmed: int = Field(
        default=0,
        description="Matched bots confirmed at the venue: no open non-protective orders "
        "(Flatten: position zero too).",
    )
    outstanding: list[OutstandingBot] = Field(
        default_factory=list, description="Matched bots not confirmed yet (at most 50), and why."
    )
    confirmed_at: str | None = Field(
        default=None, description="When every matched bot was first confirmed (RFC 3339)."
    )
    conditions: list[Condition] = Field(
        default_factory=list, description="FleetConfirmed: every matched bot is confirmed."
    )
