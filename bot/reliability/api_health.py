"""Venue API health: rolling error rate, rate-limit usage and a circuit breaker.

Pure state fed with request outcomes and the time they happened; it decides
nothing about posture, it only says whether the API is unhealthy, why, and
until when. The venue adapter reports every call it makes (see
``VenueAdapter``), and the bot sets the weight budget the venue publishes.

Invariant: a pause is dated by the trouble itself (the last failed request,
the used-weight reading), never by when someone asks: looking at the health,
or a request that went through while the circuit was open, does not push the
pause out. Once the pause is over the circuit half-opens and the next
request, the probe, decides: it closes the circuit or opens it for another
pause.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from tradewarden.api.tradingbot import ApiHealthGuard
from tradewarden.bot.execution.classification import classify
from tradewarden.bot.model.outcomes import ErrorClass, Operation

USED_WEIGHT_HEADER = "x-mbx-used-weight-1m"
# Binance USD-M REQUEST_WEIGHT per minute (the simulator's default too).
DEFAULT_WEIGHT_LIMIT = 2400
# Fewer outcomes than this in the window say nothing about a rate.
MIN_SAMPLES = 10
# Consecutive failed requests that open the circuit.
CIRCUIT_OPEN_AFTER = 5
# A used-weight reading older than Binance's one-minute window no longer applies.
WEIGHT_WINDOW_SECONDS = 60.0
# Binance's ORDERS limits: the reply header of each window and how long a reading holds.
ORDER_COUNT_WINDOWS: Mapping[str, float] = {
    "x-mbx-order-count-10s": 10.0,
    "x-mbx-order-count-1m": 60.0,
}
# Binance USD-M ORDERS limits (the simulator's defaults too): per 10 s and per minute.
DEFAULT_ORDER_LIMITS: Mapping[str, int] = {
    "x-mbx-order-count-10s": 300,
    "x-mbx-order-count-1m": 1200,
}


# Replies that prove the API works: the venue understood and answered the request.
_ANSWERED = (ErrorClass.UNKNOWN_ORDER, ErrorClass.REJECTED, ErrorClass.DUPLICATE_ID)


def request_failed(error: BaseException | None) -> bool:
    """Whether a request's outcome counts against API health (business refusals do not)."""
    return error is not None and classify(error, Operation.READ).error_class not in _ANSWERED


class Circuit(StrEnum):
    """Circuit-breaker state."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"  # the next request is the probe


def used_weight(headers: Mapping[str, str] | None) -> int | None:
    """The ``x-mbx-used-weight-1m`` value of a response, header name in any case."""
    for name, value in (headers or {}).items():
        if name.lower() == USED_WEIGHT_HEADER:
            try:
                return int(str(value).split(",")[0].strip())
            except ValueError:
                return None
    return None


def order_counts(headers: Mapping[str, str] | None) -> dict[str, int]:
    """The ``x-mbx-order-count-10s`` / ``-1m`` values of a response (order requests carry them)."""
    counts = {}
    for name, value in (headers or {}).items():
        if name.lower() in ORDER_COUNT_WINDOWS:
            try:
                counts[name.lower()] = int(str(value).split(",")[0].strip())
            except ValueError:
                continue
    return counts


@dataclass(frozen=True)
class ApiTrouble:
    """Why the API counts as unhealthy, and until when (``None``: until the probe answers)."""

    reason: str
    until: float | None


@dataclass
class ApiHealth:
    """Request outcomes over a rolling window, the last used weight, and the breaker."""

    settings: ApiHealthGuard
    weight_limit: int = DEFAULT_WEIGHT_LIMIT
    order_limits: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_ORDER_LIMITS))

    def __post_init__(self) -> None:
        self._outcomes: deque[tuple[float, bool]] = deque()
        self._weight: tuple[float, int] | None = None
        self._orders: dict[str, tuple[float, int]] = {}
        self._consecutive_failures = 0
        self._circuit = Circuit.CLOSED
        self._open_until = 0.0
        self._last_failure: float | None = None
        self._opened_after = 0  # failures in a row that opened the circuit

    def record(
        self,
        now: float,
        failed: bool,
        weight: int | None = None,
        orders: Mapping[str, int] | None = None,
    ) -> None:
        """Take in one request's outcome and its used-weight and order-count headers, if any."""
        self._outcomes.append((now, failed))
        if weight is not None:
            self._weight = (now, weight)
        for name, count in (orders or {}).items():
            self._orders[name] = (now, count)
        circuit = self.circuit(now)
        if not failed:
            self._consecutive_failures = 0
            if circuit is Circuit.HALF_OPEN:
                self._circuit = Circuit.CLOSED
            return
        self._consecutive_failures += 1
        self._last_failure = now
        probe_failed = circuit is Circuit.HALF_OPEN
        if probe_failed or self._consecutive_failures >= CIRCUIT_OPEN_AFTER:
            self._circuit = Circuit.OPEN
            self._open_until = now + self.settings.pause_seconds
            self._opened_after = self._consecutive_failures

    def circuit(self, now: float) -> Circuit:
        """The breaker's state at ``now``: an open circuit half-opens after the pause."""
        if self._circuit is Circuit.OPEN and now >= self._open_until:
            return Circuit.HALF_OPEN
        return self._circuit

    def error_rate(self, now: float) -> float:
        """Failed share of the requests in the window (0 with too few to judge)."""
        horizon = now - self.settings.window_seconds
        while self._outcomes and self._outcomes[0][0] < horizon:
            self._outcomes.popleft()
        if len(self._outcomes) < MIN_SAMPLES:
            return 0.0
        return sum(failed for _, failed in self._outcomes) / len(self._outcomes)

    def usage(self, now: float) -> float:
        """The highest share of a rate limit in use: request weight or orders per window.

        Each reading counts until its window (a minute for weight and orders per
        minute, 10 s for orders per 10 s) has passed.
        """
        return self._usage(now)[0]

    def _usage(self, now: float) -> tuple[float, float | None]:
        """``(share, when it was read)`` of the most used limit; ``(0, None)`` without readings."""
        readings: list[tuple[float, float]] = []
        if self._weight is not None and now - self._weight[0] < WEIGHT_WINDOW_SECONDS:
            readings.append((self._weight[1] / self.weight_limit, self._weight[0]))
        for name, (at, count) in self._orders.items():
            limit = self.order_limits.get(name)
            if limit and now - at < ORDER_COUNT_WINDOWS[name]:
                readings.append((count / limit, at))
        return max(readings, default=(0.0, None))

    def trouble(self, now: float) -> ApiTrouble | None:
        """Why the API counts as unhealthy at ``now`` and until when, or ``None``.

        Each kind of trouble pauses from the event that showed it: the error
        rate from the last failed request, the usage from its reading, an open
        circuit from the failure that (re)opened it. When several apply, the
        latest end wins; a half-open circuit holds until its probe answers.
        """
        pause = self.settings.pause_seconds
        found: list[ApiTrouble] = []
        rate = self.error_rate(now)
        if rate >= self.settings.error_rate and self._last_failure is not None:
            reason = f"error rate {rate:.2f} >= {self.settings.error_rate}"
            found.append(ApiTrouble(reason, self._last_failure + pause))
        usage, read_at = self._usage(now)
        if usage >= self.settings.rate_limit_usage and read_at is not None:
            reason = f"rate-limit usage {usage:.2f} >= {self.settings.rate_limit_usage}"
            found.append(ApiTrouble(reason, read_at + pause))
        circuit = self.circuit(now)
        if circuit is Circuit.OPEN:
            reason = f"circuit open after {self._opened_after} failures in a row"
            found.append(ApiTrouble(reason, self._open_until))
        elif circuit is Circuit.HALF_OPEN:
            reason = f"circuit half-open after {self._opened_after} failures in a row"
            found.append(ApiTrouble(f"{reason}: the next request is the probe", None))
        found = [t for t in found if t.until is None or now < t.until]
        if not found:
            return None
        return max(found, key=lambda t: float("inf") if t.until is None else t.until)
