"""The order book as a sequence of numbered versions, shared by REST depth and the depth streams.

Binance numbers every change of a symbol's book: ``GET /fapi/v1/depth`` answers with the
``lastUpdateId`` of the book it shows, and each ``depthUpdate`` event on a diff stream
carries the first and last update ids it covers (``U``, ``u``) and the last id of the
previous event (``pu``). A client syncs a local book by applying, on top of a snapshot with
``lastUpdateId = L``, the first event with ``U <= L <= u`` and every event after it whose
``pu`` is the previous ``u``.

:class:`BookFeed` gives the simulator's book (a pure function of the engine's mark and what
takers consumed, :meth:`Engine.book_key`) those numbers. Invariants:

- A version is created only when the book differs from the previous version, so one
  ``lastUpdateId`` names exactly one book.
- Every version's changed levels reach every subscriber of the symbol, in order; a
  subscriber merges the versions it has not sent into one event (later wins), so applying
  the event to the book of any version between its ``U - 1`` and ``u`` gives version ``u``.
- Only the best :data:`TRACKED_LEVELS` levels per side are tracked (the deepest REST
  snapshot); a level leaving that window is sent as removed (quantity 0).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from tradewarden.bot.venue_sim.engine import Engine
from tradewarden.bot.venue_sim.models import BookLevel
from tradewarden.bot.venue_sim.views import fmt

# The deepest GET /fapi/v1/depth (limit=1000).
TRACKED_LEVELS = 1000

# One side of a book as the streams send it: price string -> quantity string ("0" = removed).
Side = dict[str, str]


@dataclass(frozen=True)
class BookVersion:
    """One numbered book: the best levels per side, best first."""

    update_id: int
    bids: tuple[BookLevel, ...]
    asks: tuple[BookLevel, ...]


@dataclass
class DepthDiff:
    """Versions ``first..last`` of a symbol merged: the levels they changed, with their values."""

    first: int
    last: int
    previous: int
    bids: Side = field(default_factory=dict)
    asks: Side = field(default_factory=dict)

    def merge(self, later: DepthDiff) -> None:
        """Append the next diff (its ``previous`` is this one's ``last``); later values win."""
        self.last = later.last
        self.bids.update(later.bids)
        self.asks.update(later.asks)


def as_side(levels: tuple[BookLevel, ...]) -> Side:
    """Levels as the streams send them, price string to quantity string."""
    return {fmt(level.price): fmt(level.qty) for level in levels}


def _changes(before: Side, after: Side) -> Side:
    """The levels that differ between two sides; a level gone is sent with quantity "0"."""
    changed = {price: qty for price, qty in after.items() if before.get(price) != qty}
    changed.update({price: "0" for price in before.keys() - after.keys()})
    return changed


@dataclass
class _SymbolBook:
    version: BookVersion
    key: tuple[object, ...]
    subscribers: list[list[DepthDiff]] = field(default_factory=list)


class BookFeed:
    """Numbered versions of each symbol's book and the diffs between them, per subscriber."""

    def __init__(self, engine: Engine, first_update_id: Callable[[], int]) -> None:
        self._engine = engine
        self._first_update_id = first_update_id
        self._books: dict[str, _SymbolBook] = {}

    def current(self, symbol: str) -> BookVersion:
        """The book as it is now, numbered: a new version if it changed since the last one."""
        key = self._engine.book_key(symbol)
        book = self._books.get(symbol)
        if book is not None and book.key == key:
            return book.version
        bids, asks = self._engine.book(symbol, TRACKED_LEVELS)
        if book is None:
            version = BookVersion(self._first_update_id(), tuple(bids), tuple(asks))
            self._books[symbol] = _SymbolBook(version, key)
            return version
        old = book.version
        version = BookVersion(old.update_id + 1, tuple(bids), tuple(asks))
        if (version.bids, version.asks) == (old.bids, old.asks):
            book.key = key
            return old
        diff_bids = _changes(as_side(old.bids), as_side(version.bids))
        diff_asks = _changes(as_side(old.asks), as_side(version.asks))
        for queue in book.subscribers:
            queue.append(
                DepthDiff(version.update_id, version.update_id, old.update_id, diff_bids, diff_asks)
            )
        book.version, book.key = version, key
        return version

    def subscribe(self, symbol: str) -> list[DepthDiff]:
        """A queue that receives every later version's diff of ``symbol`` (drain it, then
        :meth:`unsubscribe`)."""
        self.current(symbol)
        queue: list[DepthDiff] = []
        self._books[symbol].subscribers.append(queue)
        return queue

    def unsubscribe(self, symbol: str, queue: list[DepthDiff]) -> None:
        """Stop feeding ``queue``."""
        book = self._books.get(symbol)
        if book is not None:
            book.subscribers = [q for q in book.subscribers if q is not queue]


def drain(queue: list[DepthDiff]) -> DepthDiff | None:
    """Every diff waiting in ``queue`` merged into one (None if none), and the queue emptied."""
    if not queue:
        return None
    merged = DepthDiff(queue[0].first, queue[0].last, queue[0].previous)
    for diff in queue:
        merged.merge(diff)
    queue.clear()
    return merged
