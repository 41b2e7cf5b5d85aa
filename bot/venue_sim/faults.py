"""Fault plans: which requests to disturb, how, and how often."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

DEFAULT_ERROR_MSG = "Internal error; unable to process your request. Please try again."


class FaultMatch(BaseModel):
    """Which requests a fault applies to; an absent field matches anything."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: str | None = None
    path: str | None = None

    def matches(self, method: str, path: str) -> bool:
        """Whether a request with this method and path is covered."""
        return (self.method is None or self.method.upper() == method) and (
            self.path is None or self.path == path
        )


class ErrorReply(BaseModel):
    """A Binance error reply sent instead of processing the request."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: int = Field(503, ge=400, le=599)
    code: int = -1001
    msg: str = DEFAULT_ERROR_MSG


class RawReply(BaseModel):
    """A non-JSON reply sent after the request was processed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: int = Field(200, ge=100, le=599)
    body: str
    content_type: str = "text/html"


class FaultAction(BaseModel):
    """Exactly one disturbance."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    delay_ms: int | None = Field(None, ge=0, le=600_000)
    accept_then_drop: Literal[True] | None = None
    error: ErrorReply | None = None
    stale_ms: int | None = Field(None, ge=0)
    skew_ms: int | None = None
    # Signed requests reach the venue this late: the timestamp check sees them
    # aged by it, while /time is unaffected, so a clock re-sync cannot help.
    lag_ms: int | None = Field(None, ge=0, le=600_000)
    raw: RawReply | None = None
    drop_fields: tuple[str, ...] | None = None
    # Reads lag writes: orders (and algo orders) accepted within this many ms
    # are missing from this read, as Binance's query service can lag its
    # matching engine for tens of seconds: a lookup answers -2013 and the
    # open-orders lists leave them out. Cancels and creates still see them.
    hide_new_orders_ms: int | None = Field(None, ge=0, le=600_000)

    @model_validator(mode="after")
    def _exactly_one(self) -> FaultAction:
        chosen = [name for name, value in self if value is not None]
        if len(chosen) != 1:
            raise ValueError(f"an action needs exactly one of {list(type(self).model_fields)}")
        return self


class FaultSpec(BaseModel):
    """One entry of a fault plan as posted to ``/_sim/faults``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    match: FaultMatch = FaultMatch()
    after: int = Field(0, ge=0)  # matching requests to let through first
    times: int | None = Field(None, ge=1)  # requests to affect; None = forever
    action: FaultAction


@dataclass
class Disturbance:
    """Everything the active faults do to one request, merged."""

    delay_ms: int = 0
    drop_reply: bool = False
    error: ErrorReply | None = None
    stale_ms: int | None = None
    skew_ms: int = 0
    lag_ms: int = 0
    raw: RawReply | None = None
    drop_fields: set[str] = field(default_factory=set)
    hide_new_orders_ms: int = 0

    def add(self, action: FaultAction) -> None:
        """Merge one action; the first error/raw/stale wins, delays, skews and lags add up.

        Of several read lags the longest applies.
        """
        self.delay_ms += action.delay_ms or 0
        self.skew_ms += action.skew_ms or 0
        self.lag_ms += action.lag_ms or 0
        self.drop_reply = self.drop_reply or bool(action.accept_then_drop)
        self.error = self.error or action.error
        self.raw = self.raw or action.raw
        if self.stale_ms is None:
            self.stale_ms = action.stale_ms
        self.drop_fields.update(action.drop_fields or ())
        self.hide_new_orders_ms = max(self.hide_new_orders_ms, action.hide_new_orders_ms or 0)


@dataclass
class _ActiveFault:
    spec: FaultSpec
    passed: int = 0
    applied: int = 0

    @property
    def remaining(self) -> int | None:
        return None if self.spec.times is None else self.spec.times - self.applied


class FaultBook:
    """The current fault plan and how much of each fault is used up."""

    def __init__(self) -> None:
        self._faults: list[_ActiveFault] = []

    def replace(self, specs: list[FaultSpec]) -> None:
        """Install a new plan, dropping the old one and its counters."""
        self._faults = [_ActiveFault(spec) for spec in specs]

    def clear(self) -> None:
        """Remove every fault."""
        self._faults = []

    def take(self, method: str, path: str) -> Disturbance:
        """Count this request against every matching fault and return what applies to it."""
        disturbance = Disturbance()
        for fault in self._faults:
            if not fault.spec.match.matches(method, path):
                continue
            if fault.passed < fault.spec.after:
                fault.passed += 1
                continue
            remaining = fault.remaining
            if remaining is not None and remaining <= 0:
                continue
            fault.applied += 1
            disturbance.add(fault.spec.action)
        return disturbance

    def describe(self) -> list[dict[str, object]]:
        """The plan as JSON, with what is left of each fault."""
        return [
            {
                **fault.spec.model_dump(mode="json", exclude_none=True),
                "times": fault.spec.times,
                "passed": fault.passed,
                "applied": fault.applied,
                "remaining": fault.remaining,
            }
            for fault in self._faults
        ]
