"""Error text as the bot and the operator write it: URL query strings cut, one length limit.

ccxt writes the full URL of a request into its network and HTTP errors, and a
signed request carries its timestamp and signature in the query string; so
every error that reaches an event, a log line, a status or a journal row goes
through :func:`clipped` (or a helper built on it) first. The limit is one for
every place: long enough for a ccxt error with its path and the venue's JSON
reply, or the status line and headers of a Kubernetes API error; short enough
for a log line, a status condition and a ``/status`` list.
"""

from __future__ import annotations

import re

ERROR_TEXT_LIMIT = 300

# A URL and its query string (and fragment).
_URL_QUERY = re.compile(r"((?:https?|wss?)://[^\s?#'\"]*)[?#][^\s'\"]*")


def without_url_queries(text: str) -> str:
    """``text`` with the query string of every URL in it cut: the path and the rest stay."""
    return _URL_QUERY.sub(r"\1", text) if "://" in text else text


def clipped(text: str) -> str:
    """``text`` with URL query strings cut first, then at most :data:`ERROR_TEXT_LIMIT` long."""
    return without_url_queries(text)[:ERROR_TEXT_LIMIT]


def error_text(error: BaseException) -> str:
    """``repr(error)``, clipped: for events and logs."""
    return clipped(repr(error))


def error_summary(error: BaseException) -> str:
    """``Type: message``, clipped: for people (check details, journal rows, ``/status``)."""
    return clipped(f"{type(error).__name__}: {error}")
