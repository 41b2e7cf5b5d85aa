"""Preflight verdicts: each check turns measured facts into ok / detail / remediation. Pure.

The runner (:mod:`tradewarden.bot.preflight.runner`) gathers the facts from the venue;
everything here is decided from plain values so the rules are table-tested.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import ccxt

from tradewarden.api.bot_status import PreflightCheck, PreflightStatus
from tradewarden.api.error_text import error_summary

API_REACHABLE = "apiReachable"
CREDENTIALS = "credentials"
ACCOUNT = "account"
SYMBOL = "symbol"
MARKET_DATA = "marketData"
CLOCK_SKEW = "clockSkew"
LEVERAGE = "leverage"

# Binance rejects a request stamped more than this ahead of its clock, whatever recvWindow is.
MAX_AHEAD_MS = 1000
# "Well inside": the measured offset (plus half the round trip) may use half of either limit.
SKEW_SHARE = 0.5


@dataclass(frozen=True)
class CheckResult:
    """One preflight check: what it found and, when it failed, what a person should do."""

    name: str
    ok: bool
    detail: str
    remediation: str = ""

    def to_json(self) -> dict[str, Any]:
        """The check as ``/status`` and ``--json`` show it."""
        return {
            "name": self.name,
            "ok": self.ok,
            "detail": self.detail,
            "remediation": self.remediation,
        }


@dataclass(frozen=True)
class PreflightReport:
    """Every check of one preflight run."""

    checks: tuple[CheckResult, ...]
    warn_only: bool = False

    @property
    def passed(self) -> bool:
        """True when every check is ok."""
        return all(check.ok for check in self.checks)

    @property
    def failed(self) -> tuple[CheckResult, ...]:
        """The checks that did not pass."""
        return tuple(check for check in self.checks if not check.ok)

    def to_status(self) -> PreflightStatus:
        """The contract's ``preflight`` object of ``/status`` (and of ``preflight --json``)."""
        return PreflightStatus(
            passed=self.passed,
            warn_only=self.warn_only,
            checks=[
                PreflightCheck(
                    name=check.name, ok=check.ok, detail=check.detail, remediation=check.remediation
                )
                for check in self.checks
            ],
        )


def skipped(name: str, because: str) -> CheckResult:
    """A check that could not run because an earlier one failed."""
    return CheckResult(name, False, f"not checked: {because}", f"fix {because} first")


def api_reachable(server_ms: int | None, error: str | None) -> CheckResult:
    """The venue answered its server-time endpoint."""
    if server_ms is not None:
        return CheckResult(API_REACHABLE, True, f"server time {server_ms}")
    return CheckResult(
        API_REACHABLE,
        False,
        f"venue did not answer: {error}",
        "check spec.exchange (id, sandbox, urlOverride), DNS and egress to the venue",
    )


def credentials(configured: bool, error: BaseException | None) -> CheckResult:
    """A signed call was accepted with the configured key pair."""
    if not configured:
        return CheckResult(
            CREDENTIALS,
            False,
            "no API key configured",
            "set spec.exchange.credentialsSecret (keys apiKey, apiSecret) or "
            "TRADEWARDEN_API_KEY / TRADEWARDEN_API_SECRET",
        )
    if error is None:
        return CheckResult(CREDENTIALS, True, "signed request accepted")
    detail = f"signed request rejected: {error_summary(error)}"
    if isinstance(error, ccxt.InvalidNonce):
        return CheckResult(
            CREDENTIALS, False, detail, "the request timestamp was refused: sync the clock (NTP)"
        )
    if isinstance(error, ccxt.AuthenticationError | ccxt.PermissionDenied):
        return CheckResult(
            CREDENTIALS,
            False,
            detail,
            "check the key pair in the Secret (apiKey/apiSecret), that it is enabled for "
            "futures, its IP allow-list, and that testnet keys meet a testnet venue",
        )
    return CheckResult(CREDENTIALS, False, detail, "retry; if it persists check venue status")


def account(
    free: Decimal | None, required: Decimal, currency: str, error: str | None = None
) -> CheckResult:
    """The account is readable and has enough free margin for the largest exposure."""
    if free is None:
        return CheckResult(
            ACCOUNT,
            False,
            f"account not readable: {error or f'no {currency} balance'}",
            f"fund the futures wallet with {currency}; check the key may read the account",
        )
    if free < required:
        return CheckResult(
            ACCOUNT,
            False,
            f"free {currency} {free} below required margin {required}",
            f"deposit at least {required - free} {currency} or lower spec.risk limits",
        )
    return CheckResult(ACCOUNT, True, f"free {currency} {free} >= required margin {required}")


def symbol(name: str, market: Mapping[str, Any] | None) -> CheckResult:
    """The symbol exists at the venue, is a linear contract and trades."""
    if market is None:
        return CheckResult(
            SYMBOL, False, f"{name} not listed", "use a unified ccxt symbol like BTC/USDT:USDT"
        )
    if market.get("active") is False:
        return CheckResult(
            SYMBOL, False, f"{name} is not trading", "wait for the venue or pick another symbol"
        )
    if not market.get("contract"):
        return CheckResult(
            SYMBOL, False, f"{name} is not a contract market", "use the perpetual, e.g. X/USDT:USDT"
        )
    return CheckResult(SYMBOL, True, f"{name} ({market.get('id')}) trades")


def market_data(
    mark: Decimal | None, ticker_ms: int | None, server_ms: int | None, max_age_s: float
) -> CheckResult:
    """A positive mark price no older than ``max_age_s`` by the venue's own clock."""
    if mark is None or mark <= 0:
        return CheckResult(
            MARKET_DATA, False, "no usable mark price", "check the symbol and the venue's status"
        )
    if ticker_ms is None or server_ms is None:
        return CheckResult(MARKET_DATA, True, f"mark {mark} (venue sent no timestamp)")
    age_s = (server_ms - ticker_ms) / 1000
    if age_s > max_age_s:
        return CheckResult(
            MARKET_DATA,
            False,
            f"mark {mark} is {age_s:.1f}s old (limit {max_age_s:g}s)",
            "the venue's market data is stale; wait or check the venue's status",
        )
    return CheckResult(MARKET_DATA, True, f"mark {mark}, {age_s:.1f}s old")


def clock_skew(sent_ms: int, server_ms: int, received_ms: int, recv_window_ms: int) -> CheckResult:
    """Local clock close enough to the venue's that signed requests stay inside recvWindow.

    The offset is measured against the midpoint of the round trip; half the round
    trip is added as uncertainty.
    """
    rtt = max(0, received_ms - sent_ms)
    offset = (sent_ms + received_ms) / 2 - server_ms  # > 0: local clock ahead
    ahead_limit, behind_limit = MAX_AHEAD_MS * SKEW_SHARE, recv_window_ms * SKEW_SHARE
    detail = (
        f"local clock {offset:+.0f} ms vs venue (round trip {rtt} ms, recvWindow {recv_window_ms})"
    )
    if offset + rtt / 2 > ahead_limit or -offset + rtt / 2 > behind_limit:
        return CheckResult(
            CLOCK_SKEW,
            False,
            detail,
            "sync the node clock (NTP/chrony); requests would be refused with -1021",
        )
    return CheckResult(CLOCK_SKEW, True, detail)


def leverage(value: int, error: str | None) -> CheckResult:
    """The venue accepted the leverage the bot trades at."""
    if error is None:
        return CheckResult(LEVERAGE, True, f"leverage {value}x set")
    return CheckResult(
        LEVERAGE,
        False,
        f"setting leverage {value}x failed: {error}",
        "check the key may trade futures and the symbol's leverage brackets",
    )


def leverage_left_alone(value: int) -> CheckResult:
    """A dry run changes nothing at the venue, the leverage included."""
    return CheckResult(LEVERAGE, True, f"dry run: leverage not set (the bot trades at {value}x)")


def preflight_status(report: PreflightReport | None, warn_only: bool) -> PreflightStatus:
    """``/status``'s ``preflight``: the last report, or ``passed: null`` before the first run."""
    if report is None:
        return PreflightStatus(passed=None, warn_only=warn_only)
    return report.to_status()
