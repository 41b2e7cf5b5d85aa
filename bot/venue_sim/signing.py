"""Binance request authentication: API key header, HMAC-SHA256 signature, recvWindow."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from tradewarden.bot.venue_sim import errors
from tradewarden.bot.venue_sim.settings import MAX_RECV_WINDOW_MS

SIGNATURE_PARAM = "signature"
# Binance tolerates a client clock up to one second ahead of its own.
MAX_AHEAD_MS = 1000


def sign(payload: str, secret: str) -> str:
    """Hex HMAC-SHA256 of the payload, as Binance computes it."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def strip_signature(raw: str) -> tuple[str, str | None]:
    """Split ``a=1&b=2&signature=..`` into the signed part and the signature."""
    kept: list[str] = []
    signature: str | None = None
    for part in raw.split("&") if raw else []:
        name, _, value = part.partition("=")
        if name == SIGNATURE_PARAM:
            signature = value
        else:
            kept.append(part)
    return "&".join(kept), signature


def check_api_key(header: str | None, api_key: str) -> None:
    """-2014 for a missing key header, -2015 for someone else's key."""
    if not header:
        raise errors.api_key_format_invalid()
    if not hmac.compare_digest(header, api_key):
        raise errors.invalid_api_key()


def check_signature(raw_query: str, raw_body: str, secret: str) -> None:
    """Verify the HMAC over the query string concatenated with the body (Binance's totalParams)."""
    query, query_signature = strip_signature(raw_query)
    body, body_signature = strip_signature(raw_body)
    signature = query_signature or body_signature
    if signature is None:
        raise errors.mandatory_missing(SIGNATURE_PARAM)
    if not hmac.compare_digest(sign(query + body, secret), signature.lower()):
        raise errors.bad_signature()


def check_timestamp(params: Mapping[str, str], server_ms: int, default_recv_window_ms: int) -> None:
    """Reject requests outside recvWindow (-1021), with Binance's parameter errors first."""
    raw_timestamp = params.get("timestamp")
    if not raw_timestamp:
        raise errors.mandatory_missing("timestamp")
    if not raw_timestamp.isdigit():
        raise errors.illegal_characters("timestamp")
    raw_window = params.get("recvWindow")
    if raw_window is None or raw_window == "":
        recv_window = default_recv_window_ms
    elif not raw_window.isdigit():
        raise errors.illegal_characters("recvWindow")
    else:
        recv_window = int(raw_window)
    if not 0 < recv_window <= MAX_RECV_WINDOW_MS:
        raise errors.invalid_param("recvWindow")
    timestamp = int(raw_timestamp)
    if timestamp > server_ms + MAX_AHEAD_MS:
        raise errors.timestamp_ahead()
    if server_ms - timestamp > recv_window:
        raise errors.timestamp_outside_recv_window()
