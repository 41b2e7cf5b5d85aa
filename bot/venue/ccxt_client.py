"""Build the async ccxt client for a venue: a real exchange, its sandbox, or the local simulator."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import ccxt.async_support as ccxt_async

SIMULATED_EXCHANGE_ID = "binanceusdm"


class _LocalBinanceUsdm(ccxt_async.binanceusdm):  # type: ignore[misc]  # ccxt ships no type hints
    """binanceusdm pointed at a local base URL, with the futures error table kept.

    ccxt picks Binance's per-market error table by hostname, so on a local URL
    futures codes such as -4116, -2019, -4164 and -2022 would surface as a bare
    ExchangeError. This subclass maps the local URL to the ``linear`` table and
    changes nothing else.
    """

    def __init__(self, config: dict[str, Any], local_base_url: str) -> None:
        self._local_base_url = local_base_url
        super().__init__(config)

    def get_exceptions_by_url(self, url: str | None, exactOrBroad: str) -> dict[str, Any]:
        if url is not None and url.startswith(self._local_base_url + "/"):
            linear: dict[str, Any] = self.safe_dict(self.exceptions, "linear", {})
            table: dict[str, Any] = self.safe_dict(linear, exactOrBroad, {})
            return table
        inherited: dict[str, Any] = super().get_exceptions_by_url(url, exactOrBroad)
        return inherited


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


def build_exchange(
    exchange_id: str,
    *,
    api_key: str | None,
    api_secret: str | None,
    url_override: str | None = None,
    sandbox: bool = False,
    timeout_ms: int = 10000,
    adjust_for_time_difference: bool = False,
) -> ccxt_async.Exchange:
    """The async ccxt client for ``exchange_id``; the caller must ``await client.close()``.

    ``url_override`` (the simulator's base URL, binanceusdm only) routes every futures
    call there and nowhere else; ``sandbox`` switches to the exchange's own testnet and
    cannot be combined with an override. Credentials are passed to ccxt and never logged.
    """
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
        exchange_class = getattr(ccxt_async, exchange_id, None)
        if exchange_class is None:
            raise ValueError(f"unknown ccxt exchange id {exchange_id!r}")
        exchange: ccxt_async.Exchange = exchange_class(config)
        if sandbox:
            exchange.set_sandbox_mode(True)
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
    local = _LocalBinanceUsdm(config, base_url)
    local.urls["api"] = _local_api_urls(local.urls["api"], base_url)
    return local
