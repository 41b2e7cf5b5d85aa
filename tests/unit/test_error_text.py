"""One way to write an error: URL query strings cut, then one documented length limit."""

from __future__ import annotations

import ccxt

from tradewarden.api.error_text import (
    ERROR_TEXT_LIMIT,
    clipped,
    error_summary,
    error_text,
    without_url_queries,
)

SIGNED = "https://fapi.binance.com/fapi/v1/order?symbol=BTCUSDT&timestamp=1&signature=" + "ab" * 32


def test_a_url_keeps_its_path_and_loses_its_query_string() -> None:
    assert without_url_queries(f"GET {SIGNED} 502") == (
        "GET https://fapi.binance.com/fapi/v1/order 502"
    )
    assert without_url_queries("wss://fstream.binance.com/ws#frag x") == (
        "wss://fstream.binance.com/ws x"
    )
    assert without_url_queries("no url here?a=b") == "no url here?a=b"


def test_the_query_string_goes_before_the_cut() -> None:
    text = f"GET {SIGNED}" + "&pad=" + "x" * 2 * ERROR_TEXT_LIMIT + " 502 Bad Gateway"
    assert clipped(text) == "GET https://fapi.binance.com/fapi/v1/order 502 Bad Gateway"


def test_every_helper_stops_at_the_one_limit() -> None:
    long = ccxt.InvalidOrder("x" * 3 * ERROR_TEXT_LIMIT)
    assert len(clipped("y" * 3 * ERROR_TEXT_LIMIT)) == ERROR_TEXT_LIMIT
    assert error_text(long) == repr(long)[:ERROR_TEXT_LIMIT]
    assert error_summary(long) == ("InvalidOrder: " + "x" * ERROR_TEXT_LIMIT)[:ERROR_TEXT_LIMIT]


def test_short_errors_are_whole() -> None:
    error = ccxt.OrderNotFound('binanceusdm {"code":-2011,"msg":"Unknown order sent."}')
    assert (
        error_summary(error)
        == 'OrderNotFound: binanceusdm {"code":-2011,"msg":"Unknown order sent."}'
    )
    assert error_text(error) == repr(error)
