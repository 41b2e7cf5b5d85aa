"""Preflight verdicts from plain facts."""

from __future__ import annotations

from decimal import Decimal

import ccxt
import pytest

from tradewarden.bot.preflight import checks
from tradewarden.bot.preflight.checks import CheckResult, PreflightReport, preflight_status


@pytest.mark.parametrize(
    ("sent", "server", "received", "window", "ok"),
    [
        (1000, 1010, 1020, 5000, True),  # in sync
        (1000, 3000, 1020, 5000, True),  # 2 s behind: inside half of recvWindow
        (1000, 4000, 1020, 5000, False),  # 3 s behind: beyond half of recvWindow
        (1000, 4000, 1020, 10000, True),  # the same with ccxt's 10 s window
        (1400, 1000, 1400, 5000, True),  # 400 ms ahead
        (1600, 1000, 1600, 60000, False),  # 600 ms ahead: Binance refuses >1 s ahead
        (0, 2000, 4000, 5000, False),  # round trip too slow to trust the clock
    ],
)
def test_clock_skew(sent: int, server: int, received: int, window: int, ok: bool) -> None:
    result = checks.clock_skew(sent, server, received, window)
    assert result.ok is ok
    assert (result.remediation == "") is ok


@pytest.mark.parametrize(
    ("configured", "error", "ok", "hint"),
    [
        (False, None, False, "credentialsSecret"),
        (True, None, True, ""),
        (True, ccxt.AuthenticationError("-1022 bad signature"), False, "key pair"),
        (True, ccxt.PermissionDenied("-2015"), False, "IP allow-list"),
        (True, ccxt.InvalidNonce("-1021"), False, "NTP"),
        (True, ccxt.NetworkError("reset"), False, "retry"),
    ],
)
def test_credentials(configured: bool, error: BaseException | None, ok: bool, hint: str) -> None:
    result = checks.credentials(configured, error)
    assert result.ok is ok
    assert hint in result.remediation


@pytest.mark.parametrize(
    ("free", "required", "ok"),
    [
        (Decimal(10000), Decimal(2000), True),
        (Decimal(2000), Decimal(2000), True),
        (Decimal(1999), Decimal(2000), False),
        (None, Decimal(1), False),
    ],
)
def test_account_margin(free: Decimal | None, required: Decimal, ok: bool) -> None:
    assert checks.account(free, required, "USDT").ok is ok


@pytest.mark.parametrize(
    ("market", "ok"),
    [
        ({"id": "BTCUSDT", "active": True, "contract": True}, True),
        ({"id": "BTCUSDT", "active": False, "contract": True}, False),
        ({"id": "BTCUSDT", "active": True, "contract": False}, False),
        (None, False),
    ],
)
def test_symbol(market: dict[str, object] | None, ok: bool) -> None:
    assert checks.symbol("BTC/USDT:USDT", market).ok is ok


@pytest.mark.parametrize(
    ("mark", "ticker_ms", "server_ms", "ok"),
    [
        (Decimal(50000), 10_000, 12_000, True),
        (Decimal(50000), 10_000, 30_000, False),  # 20 s old, limit 15 s
        (Decimal(0), 10_000, 10_000, False),
        (None, None, None, False),
    ],
)
def test_market_data(
    mark: Decimal | None, ticker_ms: int | None, server_ms: int | None, ok: bool
) -> None:
    assert checks.market_data(mark, ticker_ms, server_ms, 15.0).ok is ok


def test_report_passes_only_when_every_check_passes() -> None:
    good = CheckResult("a", True, "fine")
    bad = CheckResult("b", False, "broken", "fix it")
    assert PreflightReport((good,)).passed
    report = PreflightReport((good, bad), warn_only=True)
    assert not report.passed
    assert report.failed == (bad,)
    assert report.to_status().model_dump(mode="json", by_alias=True) == {
        "passed": False,
        "warnOnly": True,
        "checks": [
            {"name": "a", "ok": True, "detail": "fine", "remediation": ""},
            {"name": "b", "ok": False, "detail": "broken", "remediation": "fix it"},
        ],
    }
    unknown = preflight_status(None, False).model_dump(mode="json", by_alias=True)
    assert unknown == {"passed": None, "warnOnly": False, "checks": []}
