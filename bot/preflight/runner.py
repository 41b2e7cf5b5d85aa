"""Run the preflight checks against a venue through an unchanged ccxt client.

:func:`run_preflight` is the one entry point: the ``tradewarden preflight`` command,
the bot at start-up and the chaos harness all call it. It never raises for a venue
problem; every failure becomes a failed check with a remediation.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt_async

from tradewarden.api.error_text import error_summary
from tradewarden.api.tradingbot import TradingBotSpec
from tradewarden.bot.market.feed import mark_of
from tradewarden.bot.preflight import checks
from tradewarden.bot.preflight.checks import CheckResult, PreflightReport

# The bot trades at 1x: the most margin per contract, the least liquidation risk.
# The leverage check sets it, which also proves the key may change account settings.
BOT_LEVERAGE = 1
# What ccxt signs with when the exchange sets no recvWindow option (Binance's default).
DEFAULT_RECV_WINDOW_MS = 5000


def _signing_clock_ms(exchange: ccxt_async.Exchange) -> int:
    """The millisecond clock ccxt stamps signed requests with (its own offset applied)."""
    offset = exchange.options.get("timeDifference") or 0
    return int(exchange.milliseconds()) - int(offset)


async def _reachability(exchange: ccxt_async.Exchange, recv_window_ms: int) -> list[CheckResult]:
    sent = _signing_clock_ms(exchange)
    try:
        server_ms = int(await exchange.fetch_time())
    except Exception as error:
        return [
            checks.api_reachable(None, error_summary(error)),
            checks.skipped(checks.CLOCK_SKEW, checks.API_REACHABLE),
        ]
    received = _signing_clock_ms(exchange)
    return [
        checks.api_reachable(server_ms, None),
        checks.clock_skew(sent, server_ms, received, recv_window_ms),
    ]


async def _market(
    exchange: ccxt_async.Exchange, spec: TradingBotSpec
) -> tuple[list[CheckResult], dict[str, Any] | None, Decimal | None]:
    try:
        markets = await exchange.load_markets()
    except Exception as error:
        failed = CheckResult(
            checks.SYMBOL, False, f"markets not loaded: {error_summary(error)}", "retry"
        )
        return [failed, checks.skipped(checks.MARKET_DATA, checks.SYMBOL)], None, None
    market = markets.get(spec.symbol)
    verdict = checks.symbol(spec.symbol, market)
    if not verdict.ok:
        return [verdict, checks.skipped(checks.MARKET_DATA, checks.SYMBOL)], None, None
    try:
        ticker = await exchange.fetch_ticker(spec.symbol)
        mark = mark_of(ticker)
        server_ms = int(await exchange.fetch_time())
    except Exception as error:
        detail = f"no mark price: {error_summary(error)}"
        failed = CheckResult(checks.MARKET_DATA, False, detail, "check the venue's market data")
        return [verdict, failed], market, None
    stale_after = spec.guards.mark_staleness.stale_after_seconds
    fresh = checks.market_data(mark, ticker.get("timestamp"), server_ms, stale_after)
    return [verdict, fresh], market, mark


async def _account(
    exchange: ccxt_async.Exchange,
    spec: TradingBotSpec,
    market: dict[str, Any] | None,
    mark: Decimal | None,
    change_leverage: bool,
) -> list[CheckResult]:
    configured = bool(exchange.apiKey and exchange.secret)
    if not configured:
        return [
            checks.credentials(False, None),
            checks.skipped(checks.ACCOUNT, checks.CREDENTIALS),
            checks.skipped(checks.LEVERAGE, checks.CREDENTIALS),
        ]
    try:
        balance = await exchange.fetch_balance()
    except Exception as error:
        return [
            checks.credentials(True, error),
            checks.skipped(checks.ACCOUNT, checks.CREDENTIALS),
            checks.skipped(checks.LEVERAGE, checks.CREDENTIALS),
        ]
    currency = str((market or {}).get("settle") or "USDT")
    free_raw = (balance.get(currency) or {}).get("free")
    free = None if free_raw is None else Decimal(str(free_raw))
    risk = spec.risk
    largest = max(risk.max_order_notional, risk.max_position * (mark or Decimal(0)))
    account = checks.account(free, largest / BOT_LEVERAGE, currency)
    if market is None:
        return [checks.credentials(True, None), account, checks.skipped(checks.LEVERAGE, "symbol")]
    if not change_leverage:
        return [checks.credentials(True, None), account, checks.leverage_left_alone(BOT_LEVERAGE)]
    try:
        await exchange.set_leverage(BOT_LEVERAGE, spec.symbol)
    except Exception as error:
        leverage = checks.leverage(BOT_LEVERAGE, error_summary(error))
    else:
        leverage = checks.leverage(BOT_LEVERAGE, None)
    return [checks.credentials(True, None), account, leverage]


async def run_preflight(
    exchange: ccxt_async.Exchange,
    spec: TradingBotSpec,
    *,
    warn_only: bool = False,
    change_leverage: bool = True,
) -> PreflightReport:
    """Every preflight check of ``spec`` against ``exchange``, in a fixed order.

    Credentials are whatever the client was built with (``apiKey``/``secret``).
    ``change_leverage=False`` (a dry run) leaves the account's leverage alone:
    the leverage check passes as not applied.
    """
    recv_window = int(exchange.options.get("recvWindow") or DEFAULT_RECV_WINDOW_MS)
    reach = await _reachability(exchange, recv_window)
    if not reach[0].ok:
        rest = [
            checks.skipped(name, checks.API_REACHABLE)
            for name in (checks.CREDENTIALS, checks.ACCOUNT, checks.SYMBOL, checks.MARKET_DATA)
        ]
        leverage = checks.skipped(checks.LEVERAGE, checks.API_REACHABLE)
        return PreflightReport((reach[0], *rest, reach[1], leverage), warn_only)
    market_checks, market, mark = await _market(exchange, spec)
    credentials, account, leverage = await _account(exchange, spec, market, mark, change_leverage)
    return PreflightReport(
        (reach[0], credentials, account, *market_checks, reach[1], leverage), warn_only
    )
