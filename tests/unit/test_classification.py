"""Error classification on real ccxt exceptions, formatted the way ccxt formats Binance errors."""

from __future__ import annotations

import json

import ccxt
import pytest

from tradewarden.api.error_text import ERROR_TEXT_LIMIT
from tradewarden.bot.execution.classification import classify, venue_code
from tradewarden.bot.model.outcomes import ErrorClass, Operation

C = ErrorClass
CREATE, CANCEL, READ = Operation.CREATE, Operation.CANCEL, Operation.READ
FAPI_ORDER = "https://fapi.binance.com/fapi/v1/order"


def binance(code: int, msg: str) -> str:
    """The message ccxt's binanceusdm puts on an exception for a JSON error body."""
    return "binanceusdm " + json.dumps({"code": code, "msg": msg}, separators=(",", ":"))


# (case, ccxt exception class, message, expected class for CREATE, CANCEL, READ)
CASES: list[tuple[str, type[Exception], str, tuple[ErrorClass, ErrorClass, ErrorClass]]] = [
    (
        "-4116 duplicate client id",
        ccxt.InvalidOrder,
        binance(-4116, "ClientOrderId is duplicated."),
        (C.DUPLICATE_ID, C.DUPLICATE_ID, C.DUPLICATE_ID),
    ),
    (
        "-2022 reduce-only rejected",
        ccxt.InvalidOrder,
        binance(-2022, "ReduceOnly Order is rejected."),
        (C.REJECTED, C.REJECTED, C.REJECTED),
    ),
    (
        "-2019 margin insufficient",
        ccxt.InsufficientFunds,
        binance(-2019, "Margin is insufficient."),
        (C.REJECTED, C.REJECTED, C.REJECTED),
    ),
    (
        "-4164 notional too small",
        ccxt.InvalidOrder,
        binance(
            -4164,
            "Order's notional must be no smaller than 100 (unless you choose reduce only).",
        ),
        (C.REJECTED, C.REJECTED, C.REJECTED),
    ),
    (
        "-1021 timestamp outside recvWindow",
        ccxt.InvalidNonce,
        binance(-1021, "Timestamp for this request is outside of the recvWindow."),
        (C.CLOCK_SKEW, C.CLOCK_SKEW, C.CLOCK_SKEW),
    ),
    (
        "-1003 too many requests",
        ccxt.RateLimitExceeded,
        binance(-1003, "Too many requests; current limit is 2400 requests per minute."),
        (C.RATE_LIMITED, C.RATE_LIMITED, C.RATE_LIMITED),
    ),
    (
        "HTTP 429",
        ccxt.DDoSProtection,
        "binanceusdm 429 Too Many Requests "
        + json.dumps({"code": -1003, "msg": "Too many requests."}, separators=(",", ":")),
        (C.RATE_LIMITED, C.RATE_LIMITED, C.RATE_LIMITED),
    ),
    (
        "HTTP 418 IP ban",
        ccxt.DDoSProtection,
        "binanceusdm 418 I'm a teapot ",
        (C.RATE_LIMITED, C.RATE_LIMITED, C.RATE_LIMITED),
    ),
    (
        "-1001 internal error, status unknown",
        ccxt.OperationFailed,
        binance(-1001, "Internal error; unable to process your request. Please try again."),
        (C.AMBIGUOUS, C.AMBIGUOUS, C.RETRYABLE),
    ),
    (
        "-1000 unknown error",
        ccxt.OperationFailed,
        binance(-1000, "An unknown error occured while processing the request."),
        (C.AMBIGUOUS, C.AMBIGUOUS, C.RETRYABLE),
    ),
    (
        "request timeout",
        ccxt.RequestTimeout,
        "binanceusdm POST https://fapi.binance.com/fapi/v1/order request timeout (10000 ms)",
        (C.AMBIGUOUS, C.AMBIGUOUS, C.RETRYABLE),
    ),
    (
        "503 service unavailable",
        ccxt.ExchangeNotAvailable,
        "binanceusdm POST https://fapi.binance.com/fapi/v1/order 503 Service Unavailable",
        (C.AMBIGUOUS, C.AMBIGUOUS, C.RETRYABLE),
    ),
    (
        "-2011 unknown order sent",
        ccxt.OrderNotFound,
        binance(-2011, "Unknown order sent."),
        (C.UNKNOWN_ORDER, C.UNKNOWN_ORDER, C.UNKNOWN_ORDER),
    ),
    (
        "-2013 order does not exist",
        ccxt.OrderNotFound,
        binance(-2013, "Order does not exist."),
        (C.UNKNOWN_ORDER, C.UNKNOWN_ORDER, C.UNKNOWN_ORDER),
    ),
    (
        "-2015 bad API key",
        ccxt.AuthenticationError,
        binance(-2015, "Invalid API-key, IP, or permissions for action."),
        (C.REJECTED, C.REJECTED, C.REJECTED),
    ),
    (
        "garbled reply (parse failure inside ccxt)",
        KeyError,
        "price",
        (C.AMBIGUOUS, C.AMBIGUOUS, C.RETRYABLE),
    ),
    (
        "garbled reply (TypeError inside ccxt)",
        TypeError,
        "'NoneType' object is not subscriptable",
        (C.AMBIGUOUS, C.AMBIGUOUS, C.RETRYABLE),
    ),
]

CLASSIFY_TABLE = [
    pytest.param(exc_type(message), operation, expected[index], id=f"{case} / {operation}")
    for case, exc_type, message, expected in CASES
    for index, operation in enumerate((CREATE, CANCEL, READ))
]


@pytest.mark.parametrize(("error", "operation", "expected"), CLASSIFY_TABLE)
def test_classify(error: BaseException, operation: Operation, expected: ErrorClass) -> None:
    assert classify(error, operation).error_class is expected


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ccxt.InvalidOrder(binance(-4116, "ClientOrderId is duplicated.")), -4116),
        (ccxt.OrderNotFound(binance(-2011, "Unknown order sent.")), -2011),
        (ccxt.DDoSProtection("binanceusdm 418 I'm a teapot "), None),
        (ccxt.RequestTimeout("binanceusdm request timeout"), None),
        (KeyError("price"), None),
    ],
)
def test_venue_code_is_reported(error: BaseException, code: int | None) -> None:
    assert venue_code(error) == code
    assert classify(error, CREATE).venue_code == code


def test_summary_names_the_exception_and_is_bounded() -> None:
    error = ccxt.InvalidOrder(binance(-2022, "ReduceOnly Order is rejected." + "x" * 1000))

    summary = classify(error, CREATE).summary

    assert summary.startswith("InvalidOrder: ")
    assert "-2022" in summary
    assert len(summary) == ERROR_TEXT_LIMIT


# The exceptions above claim to be what ccxt raises; let ccxt's own error
# handler (pure, no network) confirm the class and the message for each body.
CCXT_FIDELITY = [
    (400, -4116, "ClientOrderId is duplicated.", ccxt.InvalidOrder),
    (400, -2022, "ReduceOnly Order is rejected.", ccxt.InvalidOrder),
    (400, -2019, "Margin is insufficient.", ccxt.InsufficientFunds),
    (400, -1021, "Timestamp for this request is outside of the recvWindow.", ccxt.InvalidNonce),
    (
        400,
        -1003,
        "Too many requests; current limit is 2400 requests per minute.",
        ccxt.RateLimitExceeded,
    ),
    (
        503,
        -1001,
        "Internal error; unable to process your request. Please try again.",
        ccxt.OperationFailed,
    ),
    (500, -1000, "An unknown error occured while processing the request.", ccxt.OperationFailed),
    (400, -2011, "Unknown order sent.", ccxt.OrderNotFound),
    (400, -2013, "Order does not exist.", ccxt.OrderNotFound),
    (401, -2015, "Invalid API-key, IP, or permissions for action.", ccxt.AuthenticationError),
]


@pytest.mark.parametrize(("http", "code", "msg", "exc_type"), CCXT_FIDELITY)
def test_ccxt_raises_what_the_table_assumes(
    http: int, code: int, msg: str, exc_type: type[Exception]
) -> None:
    exchange = ccxt.binanceusdm()
    body = json.dumps({"code": code, "msg": msg}, separators=(",", ":"))

    with pytest.raises(ccxt.BaseError) as caught:
        exchange.handle_errors(
            http, "Err", FAPI_ORDER, "POST", {}, body, json.loads(body), None, None
        )

    assert type(caught.value) is exc_type
    assert str(caught.value) == binance(code, msg)


@pytest.mark.parametrize("http", [418, 429])
def test_ccxt_raises_ddos_protection_for_http_bans(http: int) -> None:
    exchange = ccxt.binanceusdm()
    body = json.dumps({"code": -1003, "msg": "Too many requests."}, separators=(",", ":"))

    with pytest.raises(ccxt.DDoSProtection) as caught:
        exchange.handle_errors(
            http, "Err", FAPI_ORDER, "POST", {}, body, json.loads(body), None, None
        )

    for operation in Operation:
        assert classify(caught.value, operation).error_class is C.RATE_LIMITED


def test_the_summary_keeps_the_path_and_drops_a_signed_query_string() -> None:
    error = ccxt.ExchangeNotAvailable(
        "binanceusdm GET https://fapi.binance.com/fapi/v1/openOrders?symbol=BTCUSDT"
        "&timestamp=1764800000000&signature=" + "ab" * 32 + " 502 Bad Gateway <html>"
    )
    summary = classify(error, Operation.READ).summary
    assert summary == (
        "ExchangeNotAvailable: binanceusdm GET https://fapi.binance.com/fapi/v1/openOrders "
        "502 Bad Gateway <html>"
    )
