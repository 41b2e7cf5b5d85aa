"""What a venue error means for the order path, decided in one table.

ccxt's exception classes are not enough on their own: Binance's -4116
(duplicate client id) and -2022 (reduce-only rejected) both arrive as
``InvalidOrder``, and a 503 carrying -1001 arrives as ``OperationFailed``
although Binance documents it as "execution status unknown". So the venue code
in the message is read first, then the class.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import ccxt

from tradewarden.api.error_text import error_summary
from tradewarden.bot.model.outcomes import ErrorClass, Operation


@dataclass(frozen=True)
class Classified:
    """An error's class and the venue code it carried, if any."""

    error_class: ErrorClass
    venue_code: int | None
    summary: str


_VENUE_CODE = re.compile(r'"code"\s*:\s*(-?\d+)')

# Codes whose meaning is sharper than the ccxt class they arrive as.
_BY_VENUE_CODE: dict[int, ErrorClass] = {
    -1000: ErrorClass.AMBIGUOUS,  # unknown error: execution status unknown
    -1001: ErrorClass.AMBIGUOUS,  # internal error / disconnected: status unknown
    -1003: ErrorClass.RATE_LIMITED,
    -1021: ErrorClass.CLOCK_SKEW,
    -2011: ErrorClass.UNKNOWN_ORDER,
    -2013: ErrorClass.UNKNOWN_ORDER,
    -4116: ErrorClass.DUPLICATE_ID,
}

# The venue's filters refused the order's price, quantity or notional (Binance USD-M:
# precision, tick size, step size, minimum notional). Resending the same order gets
# the same answer: only a change (the mark, the venue's filters, the spec) can help.
FILTER_CODES = frozenset({-1111, -4014, -4023, -4164})

# First match wins, so subclasses come before their bases.
_BY_EXCEPTION: tuple[tuple[type[BaseException], ErrorClass], ...] = (
    (ccxt.DDoSProtection, ErrorClass.RATE_LIMITED),
    (ccxt.RateLimitExceeded, ErrorClass.RATE_LIMITED),
    (ccxt.InvalidNonce, ErrorClass.CLOCK_SKEW),
    (ccxt.OrderNotFound, ErrorClass.UNKNOWN_ORDER),
    (ccxt.DuplicateOrderId, ErrorClass.DUPLICATE_ID),
    (ccxt.AuthenticationError, ErrorClass.REJECTED),
    (ccxt.InsufficientFunds, ErrorClass.REJECTED),
    (ccxt.InvalidOrder, ErrorClass.REJECTED),
    (ccxt.BadRequest, ErrorClass.REJECTED),
    (ccxt.NotSupported, ErrorClass.REJECTED),
    # Binance refusals ccxt files here: -4061 position side, -2025 open-order limit, ...
    (ccxt.OperationRejected, ErrorClass.REJECTED),
    (ccxt.RequestTimeout, ErrorClass.AMBIGUOUS),
    (ccxt.NetworkError, ErrorClass.AMBIGUOUS),
    (ccxt.BadResponse, ErrorClass.AMBIGUOUS),
    (ccxt.OperationFailed, ErrorClass.AMBIGUOUS),
)


def venue_code(error: BaseException | str) -> int | None:
    """The Binance-style ``code`` embedded in a ccxt error (or its message), if any."""
    match = _VENUE_CODE.search(str(error))
    return int(match.group(1)) if match else None


def classify(error: BaseException, operation: Operation) -> Classified:
    """Decide what ``error`` means for ``operation``.

    Anything unrecognised, including a parse failure inside ccxt on a garbled
    reply, is ambiguous: for a create the order may exist, so the caller must
    look it up rather than resend or give up.
    """
    code = venue_code(error)
    error_class = _BY_VENUE_CODE.get(code) if code is not None else None
    if error_class is None:
        error_class = next(
            (cls for exc_type, cls in _BY_EXCEPTION if isinstance(error, exc_type)),
            ErrorClass.AMBIGUOUS,
        )
    if error_class is ErrorClass.AMBIGUOUS and operation is Operation.READ:
        # A read changes nothing at the venue, so "maybe it happened" is moot.
        error_class = ErrorClass.RETRYABLE
    summary = error_summary(error)
    return Classified(error_class, code, summary)
