"""Build ccxt clients for a venue: a real exchange, its sandbox, or the local simulator.

:func:`build_exchange` gives the REST client of the order path; :func:`build_stream_exchange`
gives a ccxt.pro client for market streams, built the same way and pointed at the same
venue, so market data never shares a connection or throttle with orders.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import ccxt
import ccxt.async_support as ccxt_async
import ccxt.pro as ccxt_pro

from tradewarden.api.tradingbot import ExchangeSpec
from tradewarden.bot.venue.credentials import Credentials

SIMULATED_EXCHANGE_ID = "binanceusdm"
# spec.exchange.requestTimeoutMs when no TradingBot says otherwise (tools, benchmarks).
DEFAULT_TIMEOUT_MS = ExchangeSpec().request_timeout_ms


class _LocalErrorTable:
    """Maps a local base URL to Binance's futures error table; changes nothing else.

    ccxt picks Binance's per-market error table by hostname, so on a local URL
    futures codes such as -4116, -2019, -4164 and -2022 would surface as a bare
    ExchangeError.
    """

    _local_base_url: str
    exceptions: dict[str, Any]

    def __init__(self, config: dict[str, Any], local_base_url: str) -> None:
        self._local_base_url = local_base_url
        super().__init__(config)  # type: ignore[call-arg]  # the ccxt class comes next in the MRO

    def get_exceptions_by_url(self, url: str | None, exactOrBroad: str) -> dict[str, Any]:
        if url is not None and url.startswith(self._local_base_url + "/"):
            linear: dict[str, Any] = self.exceptions.get("linear") or {}
            table: dict[str, Any] = linear.get(exactOrBroad) or {}
            return table
        inherited: dict[str, Any] = super().get_exceptions_by_url(  # type: ignore[misc]
            url, exactOrBroad
        )
        return inherited


class _LocalBinanceUsdm(_LocalErrorTable, ccxt_async.binanceusdm):  # type: ignore[misc]
    """REST binanceusdm on a local base URL (ccxt ships no type hints)."""


class _LocalBinanceUsdmPro(_LocalErrorTable, ccxt_pro.binanceusdm):  # type: ignore[misc]
    """ccxt.pro binanceusdm on a local base URL, streams included."""


def _local_api_urls(default_urls: dict[str, str], base_url: str) -> dict[str, str]:
    """Every ``fapi*`` API URL re-rooted at ``base_url``; all other APIs dropped.

    Dropping the rest means a call that would reach spot, sapi or dapi fails inside
    ccxt (NotSupported) instead of leaking to the internet.
    """
    return {
        name: base_url + urlsplit(url).path
        for name, url in default_urls.items()
        if name.startswith("fapi")
    }


def local_ws_url(base_url: str) -> str:
    """The futures stream root on the simulator, shaped like ccxt's ``wss://fstream.../ws``.

    ccxt turns it into ``<root without /ws>/public/ws/<n>`` for book data and trades and
    ``/market/ws/<n>`` for mark prices, tickers and klines (``/private/ws`` for user data).
    """
    return "ws" + base_url.removeprefix("http") + "/ws"


def _point_at_simulator(exchange: Any, base_url: str) -> None:
    """Re-root every futures REST URL, and on a ccxt.pro client the linear streams, locally."""
    urls = exchange.urls["api"]
    rest = _local_api_urls({k: v for k, v in urls.items() if isinstance(v, str)}, base_url)
    if isinstance(urls.get("ws"), dict):
        # Only linear streams exist on the simulator; other stream types fail inside ccxt.
        rest["ws"] = {"linear": local_ws_url(base_url)}  # type: ignore[assignment]
    exchange.urls["api"] = rest


def _refuse_garbled_replies(exchange: Any) -> None:
    """Make a successful reply that is not a JSON object or array a ``ccxt.BadResponse``.

    Binance answers every REST request with a JSON object or array. ccxt hands
    anything else (a JSON string or number, a truncated body, HTML) to its
    parsers as text, which then read it as "no positions" or fail with an
    ``AttributeError``. Checked per reply where ccxt checks for venue errors,
    after its own check, so venue error codes keep their meaning; the message
    names the path only, never the signed query string.
    """
    handle_errors = exchange.handle_errors

    def checked(code: Any, reason: Any, url: Any, method: Any, *rest: Any) -> Any:
        handled = handle_errors(code, reason, url, method, *rest)
        body, response = rest[1], rest[2]  # after the headers, as ccxt passes them
        if isinstance(code, int) and 200 <= code < 300 and not isinstance(response, dict | list):
            path = urlsplit(str(url)).path
            raise ccxt.BadResponse(
                f"{exchange.id} {method} {path}: reply is not a JSON object or array: "
                f"{str(body)[:60]!r}"
            )
        return handled

    exchange.handle_errors = checked


def build_exchange(
    exchange_id: str,
    *,
    api_key: str | None,
    api_secret: str | None,
    url_override: str | None = None,
    sandbox: bool = False,
    timeout_ms: int = DEFAULT_TIMEOUT_MS,
    adjust_for_time_difference: bool = False,
) -> ccxt_async.Exchange:
    """The async ccxt client for ``exchange_id``; the caller must ``await client.close()``.

    ``url_override`` (the simulator's base URL, binanceusdm only) routes every futures
    call there and nowhere else; ``sandbox`` switches to the exchange's own testnet and
    cannot be combined with an override. Credentials are passed to ccxt and never logged.
    """
    exchange: ccxt_async.Exchange = _build(
        ccxt_async,
        _LocalBinanceUsdm,
        exchange_id,
        api_key=api_key,
        api_secret=api_secret,
        url_override=url_override,
        sandbox=sandbox,
        timeout_ms=timeout_ms,
        adjust_for_time_difference=adjust_for_time_difference,
    )
    return exchange


def exchange_for(spec: ExchangeSpec, credentials: Credentials | None) -> ccxt_async.Exchange:
    """The REST client a TradingBot's ``spec.exchange`` describes, with these credentials."""
    return build_exchange(
        spec.id,
        api_key=credentials.api_key if credentials else None,
        api_secret=credentials.api_secret if credentials else None,
        url_override=spec.url_override,
        # The simulator URL replaces every endpoint, testnet ones included.
        sandbox=spec.sandbox and spec.url_override is None,
        timeout_ms=spec.request_timeout_ms,
    )


def streams_for(spec: ExchangeSpec) -> ccxt_async.Exchange | None:
    """A public ccxt.pro client for ``spec``'s market streams, or None if ccxt.pro has none."""
    if not has_streams(spec.id):
        return None
    return build_stream_exchange(
        spec.id,
        api_key=None,
        api_secret=None,
        url_override=spec.url_override,
        sandbox=spec.sandbox and spec.url_override is None,
        timeout_ms=spec.request_timeout_ms,
    )


def user_stream_for(
    spec: ExchangeSpec, api_key: str | None, api_secret: str | None, keepalive_seconds: float
) -> ccxt_async.Exchange | None:
    """A ccxt.pro client of the account's private order stream, or None if there is none.

    None when ccxt.pro cannot watch orders on ``spec.id`` or there are no credentials.
    ``keepalive_seconds`` paces ccxt's listenKey keepalive. The caller must close it.
    """
    exchange_class = getattr(ccxt_pro, spec.id, None)
    if exchange_class is None or not api_key or not api_secret:
        return None
    if not exchange_class().has.get("watchOrders"):
        return None
    client = build_stream_exchange(
        spec.id,
        api_key=api_key,
        api_secret=api_secret,
        url_override=spec.url_override,
        sandbox=spec.sandbox and spec.url_override is None,
        timeout_ms=spec.request_timeout_ms,
    )
    client.options["listenKeyRefreshRate"] = int(keepalive_seconds * 1000)
    # watch_orders would also fetch a REST snapshot of positions in the background (a
    # signed read the bot does not use and whose failure nobody awaits); the bot reads
    # positions through its own reconcile.
    client.options["watchPositions"] = {
        **client.options.get("watchPositions", {}),
        "fetchPositionsSnapshot": False,
    }
    return client


def has_streams(exchange_id: str) -> bool:
    """Whether ccxt.pro can stream mark prices or tickers for ``exchange_id``."""
    exchange_class = getattr(ccxt_pro, exchange_id, None)
    if exchange_class is None:
        return False
    has: dict[str, Any] = exchange_class().has
    return bool(has.get("watchMarkPrice") or has.get("watchTicker"))


def build_stream_exchange(
    exchange_id: str,
    *,
    api_key: str | None,
    api_secret: str | None,
    url_override: str | None = None,
    sandbox: bool = False,
    timeout_ms: int = DEFAULT_TIMEOUT_MS,
) -> ccxt_async.Exchange:
    """The ccxt.pro client for market streams; same venue and URL mapping as :func:`build_exchange`.

    Raises ValueError when ccxt.pro has no client for ``exchange_id`` (check
    :func:`has_streams` first). The caller must ``await client.close()``.
    """
    exchange: ccxt_async.Exchange = _build(
        ccxt_pro,
        _LocalBinanceUsdmPro,
        exchange_id,
        api_key=api_key,
        api_secret=api_secret,
        url_override=url_override,
        sandbox=sandbox,
        timeout_ms=timeout_ms,
        adjust_for_time_difference=False,
    )
    return exchange


def _build(
    module: Any,
    local_class: Any,
    exchange_id: str,
    *,
    api_key: str | None,
    api_secret: str | None,
    url_override: str | None,
    sandbox: bool,
    timeout_ms: int,
    adjust_for_time_difference: bool,
) -> Any:
    if url_override is not None and sandbox:
        raise ValueError("url_override and sandbox are mutually exclusive")
    config: dict[str, Any] = {
        "apiKey": api_key,
        "secret": api_secret,
        "timeout": timeout_ms,
        "enableRateLimit": True,
        "options": {"adjustForTimeDifference": adjust_for_time_difference},
    }
    if url_override is None:
        exchange_class = getattr(module, exchange_id, None)
        if exchange_class is None:
            raise ValueError(f"unknown ccxt exchange id {exchange_id!r}")
        exchange = exchange_class(config)
        if sandbox:
            exchange.set_sandbox_mode(True)
        _refuse_garbled_replies(exchange)
        return exchange
    if exchange_id != SIMULATED_EXCHANGE_ID:
        raise ValueError(f"url_override is only supported for {SIMULATED_EXCHANGE_ID}")
    base_url = url_override.rstrip("/")
    config["options"].update(
        {
            "defaultType": "future",
            "fetchMarkets": {"types": ["linear"]},
            # The currencies endpoint is a sapi call the simulator does not serve.
            "fetchCurrencies": False,
            # binanceusdm defaults this to None, which makes fetch_positions load the brackets
            # first; an empty cache keeps ccxt from calling leverageBracket on its own.
            "leverageBrackets": {},
        }
    )
    local = local_class(config, base_url)
    _point_at_simulator(local, base_url)
    _refuse_garbled_replies(local)
    return local
