"""Named outcomes of the order path: fixed vocabularies that metrics count and logs name.

Each is a closed set, so a metric label never carries free text; the module
that reaches the outcome (``classification``, ``evidence``, ``admission``)
says when each applies.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorClass(StrEnum):
    """How the order path reacts to an error."""

    RETRYABLE = "retryable"  # nothing happened at the venue; try again
    AMBIGUOUS = "ambiguous"  # the venue may have acted; look before resending
    RATE_LIMITED = "rate_limited"  # back off harder
    CLOCK_SKEW = "clock_skew"  # re-sync server time, then retry
    DUPLICATE_ID = "duplicate_id"  # evidence the order exists: fetch it
    UNKNOWN_ORDER = "unknown_order"  # the venue does not know this order
    REJECTED = "rejected"  # the venue refused it; retrying cannot help


class Operation(StrEnum):
    """Whether a request can change venue state."""

    READ = "read"
    CREATE = "create"
    CANCEL = "cancel"


class Verdict(StrEnum):
    """How a snapshot relates to what the journal knows."""

    APPLY = "apply"  # newer evidence: adopt it
    SAME = "same"  # nothing new
    STALE = "stale"  # older than what we know: ignore, count as mismatch
    CONFLICT = "conflict"  # contradicts a terminal outcome: real divergence


class RefusalKind(StrEnum):
    """Why an intent was refused, as a fixed metric label; the message says the rest.

    Every refusal message starts with its kind and a colon (``"max-position:
    position could reach ..."``); a gate's message that starts otherwise counts
    as ``other``. Numbers stay in the message, never in the label.
    """

    HALTED = "halted"
    REDUCE_ONLY = "reduce-only"
    NOT_REDUCING = "not-reducing"
    MAX_ORDER_NOTIONAL = "max-order-notional"
    MAX_POSITION = "max-position"
    NO_MARK = "no-mark"
    LEASE = "lease"
    VENUE_FILTER = "venue-filter"
    OTHER = "other"
