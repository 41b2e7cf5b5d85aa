"""Binance USD-M market stream names: what a name asks for, and which path serves it.

Since 2025 ``fstream.binance.com`` routes streams by path: high-frequency book data
(``@depth``, ``@bookTicker``, ``@trade``) on ``/public/ws``, the other market streams
(``@aggTrade``, ``@kline_<i>``, ``@markPrice``, ``@miniTicker``, ``@ticker``) on
``/market/ws``; the legacy ``/ws`` carries the public tier only. A stream subscribed on a
path of the other tier is accepted and stays silent, as on Binance. A name that matches no
stream is refused with ``Invalid request: invalid stream``.

:func:`parse` is pure: the grammar only, not whether the venue lists the symbol (Binance
accepts a well-formed stream of an unknown symbol and sends nothing on it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from tradewarden.bot.venue_sim.fapi import KLINE_INTERVALS_MS


class Tier(StrEnum):
    """The routed path a stream is delivered on."""

    PUBLIC = "public"
    MARKET = "market"


class Kind(StrEnum):
    """What a stream sends."""

    DEPTH = "depth"  # diff book depth
    PARTIAL_DEPTH = "partialDepth"  # top 5/10/20 levels
    BOOK_TICKER = "bookTicker"
    TRADE = "trade"
    AGG_TRADE = "aggTrade"
    KLINE = "kline"
    MARK_PRICE = "markPrice"
    MINI_TICKER = "miniTicker"
    TICKER = "ticker"


TIERS = {
    Kind.DEPTH: Tier.PUBLIC,
    Kind.PARTIAL_DEPTH: Tier.PUBLIC,
    Kind.BOOK_TICKER: Tier.PUBLIC,
    Kind.TRADE: Tier.PUBLIC,
    Kind.AGG_TRADE: Tier.MARKET,
    Kind.KLINE: Tier.MARKET,
    Kind.MARK_PRICE: Tier.MARKET,
    Kind.MINI_TICKER: Tier.MARKET,
    Kind.TICKER: Tier.MARKET,
}

# Update speeds in ms: Binance's default for the stream, and the speeds a suffix may pick.
_DEPTH_SPEEDS = {"": 250, "@100ms": 100, "@250ms": 250, "@500ms": 500}
_MARK_SPEEDS = {"": 3000, "@1s": 1000}
REAL_TIME_MS = 0

_SYMBOL = r"(?P<symbol>[a-z0-9_]+)"
_SPEED = r"(?P<speed>@\d+m?s)?"
_PATTERNS: tuple[tuple[Kind, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern))
    for kind, pattern in (
        (Kind.DEPTH, _SYMBOL + r"@depth" + _SPEED),
        (Kind.PARTIAL_DEPTH, _SYMBOL + r"@depth(?P<levels>5|10|20)" + _SPEED),
        (Kind.BOOK_TICKER, _SYMBOL + r"@bookTicker|!bookTicker"),
        (Kind.TRADE, _SYMBOL + r"@trade"),
        (Kind.AGG_TRADE, _SYMBOL + r"@aggTrade"),
        (Kind.KLINE, _SYMBOL + r"@kline_(?P<interval>\w+)"),
        (Kind.MARK_PRICE, r"(?:" + _SYMBOL + r"@markPrice|!markPrice@arr)(?P<speed>@1s)?"),
        (Kind.MINI_TICKER, _SYMBOL + r"@miniTicker|!miniTicker@arr"),
        (Kind.TICKER, _SYMBOL + r"@ticker|!ticker@arr"),
    )
)


@dataclass(frozen=True)
class StreamName:
    """A parsed stream name. ``symbol`` is the venue symbol (upper case), None for ``!..@arr``."""

    name: str
    kind: Kind
    symbol: str | None
    speed_ms: int = REAL_TIME_MS
    levels: int = 0  # partial depth
    interval: str = ""  # kline

    @property
    def tier(self) -> Tier:
        """The path tier that delivers this stream."""
        return TIERS[self.kind]


def parse(name: str) -> StreamName | None:
    """The stream ``name`` asks for, or None if it is no Binance USD-M market stream."""
    for kind, pattern in _PATTERNS:
        match = pattern.fullmatch(name)
        if match is None:
            continue
        groups = match.groupdict()
        symbol = groups.get("symbol")
        speed = groups.get("speed") or ""
        stream = StreamName(name, kind, symbol.upper() if symbol else None)
        if kind in (Kind.DEPTH, Kind.PARTIAL_DEPTH):
            if speed not in _DEPTH_SPEEDS:
                return None
            levels = int(groups.get("levels") or 0)
            return StreamName(name, kind, stream.symbol, _DEPTH_SPEEDS[speed], levels)
        if kind == Kind.KLINE:
            interval = groups["interval"]
            if interval not in KLINE_INTERVALS_MS:  # the intervals GET /fapi/v1/klines takes
                return None
            return StreamName(name, kind, stream.symbol, 250, interval=interval)
        if kind == Kind.MARK_PRICE:
            return StreamName(name, kind, stream.symbol, _MARK_SPEEDS[speed])
        return stream
    return None
