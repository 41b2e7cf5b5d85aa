"""In-process faults: a proxy around the ccxt client that disturbs calls by method name.

The plan is pure bookkeeping (which call gets which fault, how often); the proxy is
a thin async shell that applies what the plan decides. Faults can act *before* the
call (the venue never hears of it) or *after* it (the venue acted, the reply is
lost or altered), which is the difference between a refused and an ambiguous order.
"""

from __future__ import annotations

import inspect
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

Sleep = Callable[[float], Awaitable[None]]


class When(StrEnum):
    """Whether a fault acts before the real call or on its reply."""

    BEFORE = "before"
    AFTER = "after"


@dataclass(frozen=True)
class Raise:
    """Raise ``error`` (a ccxt exception class) instead of returning."""

    error: type[Exception]
    message: str = "injected by the chaos harness"

    def describe(self) -> str:
        """A short label for listings."""
        return f"raise {self.error.__name__}"


@dataclass(frozen=True)
class Return:
    """Return ``value`` instead of the venue's reply."""

    value: Any

    def describe(self) -> str:
        """A short label for listings."""
        return f"return {self.value!r}"


@dataclass(frozen=True)
class Delay:
    """Wait ``seconds`` (on the injected sleep) before going on."""

    seconds: float

    def describe(self) -> str:
        """A short label for listings."""
        return f"delay {self.seconds}s"


@dataclass(frozen=True)
class Scale:
    """Multiply a numeric field of a mapping reply (e.g. a fill's ``average``)."""

    field: str
    factor: float

    def describe(self) -> str:
        """A short label for listings."""
        return f"scale {self.field} x{self.factor}"


ProxyAction = Raise | Return | Delay | Scale


@dataclass(frozen=True)
class ProxyFault:
    """One in-process fault: which method, when it starts, how often, what it does."""

    method: str
    action: ProxyAction
    after: int = 0  # matching calls to let through first
    times: int | None = 1  # calls to affect; None = every call from then on
    when: When = When.BEFORE

    def describe(self) -> str:
        """A one-line summary for ``chaos --list``."""
        times = "always" if self.times is None else f"x{self.times}"
        return f"{self.method} after {self.after} {times}: {self.action.describe()} ({self.when})"


@dataclass
class _Counted:
    fault: ProxyFault
    passed: int = 0
    applied: int = 0


@dataclass
class ProxyPlan:
    """The active in-process faults and how much of each is used up. Pure."""

    _faults: list[_Counted] = field(default_factory=list)

    def replace(self, faults: Sequence[ProxyFault]) -> None:
        """Install a new plan, dropping the old one and its counters."""
        self._faults = [_Counted(fault) for fault in faults]

    def clear(self) -> None:
        """Remove every fault."""
        self._faults = []

    def take(self, method: str) -> list[ProxyFault]:
        """Count one call to ``method`` against the plan; the faults that apply to it."""
        chosen: list[ProxyFault] = []
        for counted in self._faults:
            fault = counted.fault
            if fault.method != method:
                continue
            if counted.passed < fault.after:
                counted.passed += 1
                continue
            if fault.times is not None and counted.applied >= fault.times:
                continue
            counted.applied += 1
            chosen.append(fault)
        return chosen


def _scaled(reply: Any, action: Scale) -> Any:
    if isinstance(reply, list):
        return [_scaled(item, action) for item in reply]
    if isinstance(reply, Mapping) and isinstance(reply.get(action.field), int | float):
        return {**reply, action.field: reply[action.field] * action.factor}
    return reply


async def _apply(actions: Sequence[ProxyAction], sleep: Sleep, reply: Any) -> Any:
    for action in actions:
        if isinstance(action, Delay):
            await sleep(action.seconds)
        elif isinstance(action, Raise):
            raise action.error(action.message)
        elif isinstance(action, Return):
            reply = action.value
        else:
            reply = _scaled(reply, action)
    return reply


class FaultyExchange:
    """Stands in for a ccxt async exchange; coroutine methods go through the plan.

    Everything else (markets, options, sync helpers) is the real client's.
    """

    def __init__(self, inner: Any, plan: ProxyPlan, sleep: Sleep) -> None:
        self._inner = inner
        self._plan = plan
        self._sleep = sleep
        self.calls: Counter[str] = Counter()

    @property
    def inner(self) -> Any:
        """The wrapped ccxt client."""
        return self._inner

    def __setattr__(self, name: str, value: Any) -> None:
        # Settings written through the proxy (options, hooks) must land on the real
        # client, whose own methods read them.
        if name.startswith("_") or name == "calls":
            object.__setattr__(self, name, value)
        else:
            setattr(self._inner, name, value)

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if not inspect.iscoroutinefunction(attribute):
            return attribute

        async def disturbed(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            faults = self._plan.take(name)
            before = [f.action for f in faults if f.when is When.BEFORE]
            after = [f.action for f in faults if f.when is When.AFTER]
            early = await _apply(before, self._sleep, None)
            if any(isinstance(action, Return) for action in before):
                return early
            reply = await attribute(*args, **kwargs)
            return await _apply(after, self._sleep, reply)

        return disturbed
