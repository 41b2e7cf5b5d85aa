"""The intent journal: SQLite in WAL mode, written before anything is sent.

Rules this module enforces:

- an intent and its client order id are committed, as SUBMITTING, before the
  first send, so a restart always knows every id that may exist at the venue;
  that is the one write an order costs before it leaves;
- state changes go through the order state machine and are kept as an audit
  trail; filled quantity only ever grows (a stale snapshot cannot undo a fill);
- the sequence behind client order ids is persisted, so ids never repeat, and
  every journal draws an epoch when it is created that goes into its ids, so a
  new journal (after one was lost) never repeats an old journal's ids either.

Non-terminal orders are also held in memory: the journal is the bot's only
writer (one bot per state directory, enforced at open), so the hot path
reads nothing back and each state change is one atomic UPDATE; a trigger
writes the audit row in the same statement.

``synchronous=NORMAL`` in WAL mode makes each commit durable against a killed
process (the failure a pod restart is for) without an fsync per order; a lost
node takes the StatefulSet volume's guarantees with it either way.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

from tradewarden.bot.execution.client_ids import client_order_id, new_epoch
from tradewarden.bot.model.order_state import OrderState, check_transition
from tradewarden.bot.model.orders import JournaledOrder, OrderIntent, OrderType, Purpose, Side

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS intents (
    client_order_id   TEXT PRIMARY KEY,  -- derived from sequence, so unique with it
    sequence          INTEGER NOT NULL,
    symbol            TEXT NOT NULL,
    side              TEXT NOT NULL,
    order_type        TEXT NOT NULL,
    quantity          TEXT NOT NULL,
    price             TEXT,
    reduce_only       INTEGER NOT NULL,
    purpose           TEXT NOT NULL,
    state             TEXT NOT NULL,
    filled            TEXT NOT NULL,
    average_price     TEXT,
    exchange_order_id TEXT,
    attempts          INTEGER NOT NULL,
    created_at        REAL NOT NULL,
    updated_at        REAL NOT NULL,
    last_error        TEXT,
    venue_client_id   TEXT NOT NULL UNIQUE,
    detail            TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS transitions (
    id              INTEGER PRIMARY KEY,  -- rowid: monotonic, rows are never deleted
    client_order_id TEXT NOT NULL REFERENCES intents (client_order_id),
    from_state      TEXT NOT NULL,
    to_state        TEXT NOT NULL,
    at              REAL NOT NULL,
    detail          TEXT
);
CREATE TRIGGER IF NOT EXISTS audit_transition AFTER UPDATE OF state ON intents
WHEN OLD.state IS NOT NEW.state OR OLD.filled IS NOT NEW.filled
     OR OLD.venue_client_id IS NOT NEW.venue_client_id
BEGIN
    INSERT INTO transitions (client_order_id, from_state, to_state, at, detail)
    VALUES (NEW.client_order_id, OLD.state, NEW.state, NEW.updated_at, NEW.detail);
END;
"""

_E = TypeVar("_E", bound=StrEnum)


class JournalError(RuntimeError):
    """The journal cannot be used as asked (wrong bot, regressing fill, damaged file, ...)."""


class JournalRowError(ValueError):
    """A journal row holding a value the journal never writes (names row and column)."""


def _reason(error: BaseException) -> str:
    return getattr(error, "strerror", None) or str(error) or type(error).__name__


def _check_integrity(connection: sqlite3.Connection) -> None:
    """SQLite's own structural check of the file (reads only); raises on damage."""
    problems = [str(row[0]) for row in connection.execute("PRAGMA quick_check(3)")]
    if problems != ["ok"]:
        raise sqlite3.DatabaseError("; ".join(problems))


class LostJournal(JournalError):
    """The journal has no history while the venue shows the bot's orders (see lost_journal)."""


class Journal:
    """Durable record of every intent one bot has made."""

    def __init__(self, connection: sqlite3.Connection, clock: Callable[[], float]) -> None:
        self._db = connection
        self._clock = clock
        self._live: dict[str, JournaledOrder] = {}
        # Signed filled quantity per symbol over every order ever journaled: what
        # the bot's own fills should have done to the venue position.
        self._net_filled: dict[str, Decimal] = {}
        self._next_sequence = 1
        self.bot_identity = ""
        self.epoch = ""

    @classmethod
    def open(
        cls,
        path: Path,
        bot_identity: str,
        clock: Callable[[], float],
        *,
        epoch: Callable[[], str] = new_epoch,
    ) -> Journal:
        """Open (or create) the journal at ``path`` for ``bot_identity``.

        A journal belongs to one bot: opening it for another is refused, so two
        bots can never share a sequence and collide on client order ids. A
        journal without intents that has no epoch yet draws one from ``epoch``;
        one from before epochs, with intents, keeps its ids as they were.
        """
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as error:
            raise JournalError(f"{path}: cannot open the journal: {_reason(error)}") from error
        try:
            # Read-only, before any write: a damaged file is refused, never written over.
            _check_integrity(connection)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            # Checkpoints fsync; they run from checkpoint(), between orders, never
            # inside a commit on the order path.
            connection.execute("PRAGMA wal_autocheckpoint=0")
            connection.execute("PRAGMA foreign_keys=ON")
            connection.executescript(_SCHEMA)
            journal = cls(connection, clock)
            journal._claim(bot_identity, epoch)
            journal._load()
        except (sqlite3.Error, JournalRowError) as error:
            connection.close()
            raise JournalError(
                f"{path}: not a usable journal: {_reason(error)}; nothing was changed: "
                "see runbooks/damaged-journal.md"
            ) from error
        except JournalError as error:
            connection.close()
            raise JournalError(f"{path}: {error}") from error
        return journal

    def checkpoint(self) -> None:
        """Fold the WAL into the database file without blocking (call between orders)."""
        self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def close(self) -> None:
        """Checkpoint the WAL and close the database."""
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._db.close()

    def _claim(self, bot_identity: str, new_epoch: Callable[[], str]) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'bot_identity'").fetchone()
            if row is None:
                self._db.execute("INSERT INTO meta VALUES ('bot_identity', ?)", (bot_identity,))
            elif row[0] != bot_identity:
                raise JournalError(
                    f"journal belongs to bot {row[0]!r}, not {bot_identity!r}: "
                    "use a state directory per bot"
                )
            row = self._db.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone()
            if row is None:
                epoch = "" if self.has_history() else new_epoch()
                self._db.execute("INSERT INTO meta VALUES ('epoch', ?)", (epoch,))
            else:
                epoch = str(row[0])
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
        self.bot_identity = bot_identity
        self.epoch = epoch

    def has_history(self) -> bool:
        """Whether any intent was ever journaled (rows are never deleted)."""
        return self._db.execute("SELECT 1 FROM intents LIMIT 1").fetchone() is not None

    def claim_symbol(self, symbol: str) -> None:
        """Bind the journal to the one symbol its bot trades; refuse any other.

        The symbol is immutable: a bot restarted on another symbol would stop
        managing the orders and position of the first. A journal from before the
        symbol was recorded is bound to the symbol its intents name.
        """
        self._db.execute("BEGIN IMMEDIATE")
        try:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'symbol'").fetchone()
            if row is None:
                row = self._db.execute(
                    "SELECT symbol FROM intents WHERE symbol != ? LIMIT 1", (symbol,)
                ).fetchone()
                if row is None:
                    self._db.execute("INSERT INTO meta VALUES ('symbol', ?)", (symbol,))
            if row is not None and row[0] != symbol:
                raise JournalError(
                    f"spec.symbol: {symbol!r} differs from the journal's symbol {row[0]!r}; "
                    "the symbol is immutable: create a new TradingBot for another symbol"
                )
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _load(self) -> None:
        """Read every row once: each must parse (JournalRowError names the row and column)."""
        highest = 0
        for row in self._db.execute(f"SELECT {_COLUMNS} FROM intents"):
            order = _row_to_order(row)
            highest = max(highest, order.sequence)
            if not order.state.is_terminal:
                self._live[order.client_order_id] = order
            self._add_fill(order.intent.symbol, order.intent.side, order.filled)
        self._next_sequence = highest + 1

    def record_intent(self, intent: OrderIntent) -> JournaledOrder:
        """Allocate a client order id and persist the intent as SUBMITTING, first attempt.

        Call it right before the first send: from this commit on the order may
        exist at the venue, and a restart looks it up.
        """
        now = self._clock()
        sequence = self._next_sequence
        coid = client_order_id(self.bot_identity, sequence, self.epoch)
        order = JournaledOrder(
            client_order_id=coid,
            sequence=sequence,
            intent=intent,
            state=OrderState.SUBMITTING,
            filled=Decimal(0),
            average_price=None,
            exchange_order_id=None,
            attempts=1,
            created_at=now,
            updated_at=now,
            last_error=None,
            venue_client_id=coid,
        )
        # The primary key turns a second writer into an error, never a reused id.
        self._db.execute(
            f"INSERT INTO intents ({_COLUMNS}) VALUES ({_PLACEHOLDERS})", _order_to_row(order)
        )
        self._next_sequence = sequence + 1
        self._live[coid] = order
        return order

    def get(self, coid: str) -> JournaledOrder:
        """The journaled order with this client order id (KeyError if never issued)."""
        live = self._live.get(coid)
        if live is not None:
            return live
        row = self._db.execute(
            f"SELECT {_COLUMNS} FROM intents WHERE client_order_id = ?", (coid,)
        ).fetchone()
        if row is None:
            raise KeyError(coid)
        return _row_to_order(row)

    def find(self, coid: str) -> JournaledOrder | None:
        """Like :meth:`get`, but ``None`` for an id the journal never issued."""
        try:
            return self.get(coid)
        except KeyError:
            return None

    def transition(
        self,
        coid: str,
        target: OrderState,
        *,
        filled: Decimal | None = None,
        average_price: Decimal | None = None,
        exchange_order_id: str | None = None,
        detail: str | None = None,
        attempted: bool = False,
    ) -> JournaledOrder:
        """Move an order to ``target``, keeping what the venue told us.

        ``attempted`` counts a send attempt in the same write (the first send
        of an order is also its move to SUBMITTING). Re-applying the current
        state with nothing new is a no-op, so reconciling the same snapshot
        twice is harmless.
        """
        current = self.get(coid)
        new_filled = current.filled if filled is None else filled
        if new_filled < current.filled:
            raise JournalError(f"{coid}: filled would shrink {current.filled} -> {new_filled}")
        unchanged = (
            not attempted
            and target is current.state
            and new_filled == current.filled
            and (exchange_order_id is None or exchange_order_id == current.exchange_order_id)
        )
        if unchanged:
            return current
        if target is not current.state:
            check_transition(coid, current.state, target)
        updated = replace(
            current,
            state=target,
            filled=new_filled,
            average_price=average_price if average_price is not None else current.average_price,
            exchange_order_id=exchange_order_id or current.exchange_order_id,
            attempts=current.attempts + int(attempted),
            updated_at=self._clock(),
        )
        self._write(
            updated,
            ("state", "filled", "average_price", "exchange_order_id", "attempts", "updated_at"),
            detail=detail,
        )
        self._remember(updated)
        self._add_fill(current.intent.symbol, current.intent.side, new_filled - current.filled)
        return updated

    def rotate_venue_id(self, coid: str, venue_client_id: str, detail: str) -> JournaledOrder:
        """Send ``coid`` under a new venue-side id from now on (after a proven-absent -4116).

        The journal keeps the original id as the intent's identity and
        correlation id; only the id shown to the venue changes.
        """
        updated = replace(self.get(coid), venue_client_id=venue_client_id, updated_at=self._clock())
        self._write(updated, ("state", "venue_client_id", "updated_at"), detail=detail)
        self._remember(updated)
        return updated

    def note_error(self, coid: str, error: str) -> None:
        """Remember the latest error of an order's send attempts."""
        updated = replace(self.get(coid), last_error=error, updated_at=self._clock())
        self._write(updated, ("last_error", "updated_at"))
        self._remember(updated)

    def _write(self, order: JournaledOrder, columns: tuple[str, ...], **extra: object) -> None:
        """Write ``columns`` of ``order``'s row as :func:`_order_to_row` encodes them.

        ``extra`` sets columns the order does not hold (``detail``, which the
        audit trigger copies into ``transitions``).
        """
        assignments = ", ".join(f"{column} = :{column}" for column in (*columns, *extra))
        self._db.execute(
            f"UPDATE intents SET {assignments} WHERE client_order_id = :client_order_id",
            {**_order_to_row(order), **extra},
        )

    def _add_fill(self, symbol: str, side: Side, quantity: Decimal) -> None:
        if quantity:
            self._net_filled[symbol] = (
                self._net_filled.get(symbol, Decimal(0)) + side.sign * quantity
            )

    def net_filled(self, symbol: str) -> Decimal:
        """Signed sum of every fill the journal has adopted on ``symbol`` (buys > 0)."""
        return self._net_filled.get(symbol, Decimal(0))

    def find_by_venue_id(self, venue_client_id: str) -> JournaledOrder | None:
        """The order the venue knows as ``venue_client_id`` (original or rotated id), if any."""
        row = self._db.execute(
            "SELECT client_order_id FROM intents WHERE venue_client_id = ? OR client_order_id = ?",
            (venue_client_id, venue_client_id),
        ).fetchone()
        return None if row is None else self.get(str(row[0]))

    def _remember(self, order: JournaledOrder) -> None:
        if order.state.is_terminal:
            self._live.pop(order.client_order_id, None)
        else:
            self._live[order.client_order_id] = order

    def non_terminal(self) -> list[JournaledOrder]:
        """Orders that still need an outcome, oldest first."""
        return sorted(self._live.values(), key=lambda order: order.sequence)

    def incomplete(self, older_than_seconds: float) -> list[JournaledOrder]:
        """Non-terminal orders created more than ``older_than_seconds`` ago.

        Resting limit orders are excluded: an open order at the venue is a
        known state, not a lifecycle that lost its outcome.
        """
        cutoff = self._clock() - older_than_seconds
        return [
            order
            for order in self.non_terminal()
            if order.created_at <= cutoff
            and order.state in (OrderState.SUBMITTING, OrderState.CANCELING)
        ]

    def orders(self) -> list[JournaledOrder]:
        """Every order the journal ever recorded, terminal ones included, by sequence.

        Rows are never deleted, so this is the bot's whole order history, read
        from the database (not the in-memory live set): for audits and
        harnesses, never the order path.
        """
        rows = self._db.execute(f"SELECT {_COLUMNS} FROM intents ORDER BY sequence")
        return [_row_to_order(row) for row in rows]

    def counts_by_state(self) -> dict[str, int]:
        """How many orders sit in each state."""
        rows = self._db.execute("SELECT state, COUNT(*) FROM intents GROUP BY state").fetchall()
        return {state: count for state, count in rows}

    def history(self, coid: str) -> list[tuple[str, str]]:
        """The ``(from, to)`` transitions of one order, oldest first."""
        rows = self._db.execute(
            "SELECT from_state, to_state FROM transitions WHERE client_order_id = ? ORDER BY id",
            (coid,),
        ).fetchall()
        return [(src, dst) for src, dst in rows]


# The intents columns a JournaledOrder is stored in (``detail`` only feeds the audit
# trigger). Rows are written and read by these names, so their order here is free.
_FIELDS = [
    "client_order_id",
    "sequence",
    "symbol",
    "side",
    "order_type",
    "quantity",
    "price",
    "reduce_only",
    "purpose",
    "state",
    "filled",
    "average_price",
    "exchange_order_id",
    "attempts",
    "created_at",
    "updated_at",
    "last_error",
    "venue_client_id",
]
_COLUMNS = ", ".join(_FIELDS)
_PLACEHOLDERS = ", ".join(f":{field}" for field in _FIELDS)


def _order_to_row(order: JournaledOrder) -> dict[str, object]:
    """Every column of ``order``'s intents row, by name, as the journal stores it."""
    intent = order.intent
    return {
        "client_order_id": order.client_order_id,
        "sequence": order.sequence,
        "symbol": intent.symbol,
        "side": intent.side.value,
        "order_type": intent.order_type.value,
        "quantity": str(intent.quantity),
        "price": _text(intent.price),
        "reduce_only": int(intent.reduce_only),
        "purpose": intent.purpose.value,
        "state": order.state.value,
        "filled": str(order.filled),
        "average_price": _text(order.average_price),
        "exchange_order_id": order.exchange_order_id,
        "attempts": order.attempts,
        "created_at": order.created_at,
        "updated_at": order.updated_at,
        "last_error": order.last_error,
        "venue_client_id": order.venue_client_id,
    }


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


class _Row:
    """Typed reads of one intents row; a value the journal never writes is a JournalRowError."""

    def __init__(self, row: tuple[object, ...]) -> None:
        self._values = dict(zip(_FIELDS, row, strict=True))
        self.coid = self._values["client_order_id"]

    def bad(self, column: str, why: str) -> JournalRowError:
        value = self._values[column]
        return JournalRowError(f"intents row {self.coid!r}: {column} {value!r} {why}")

    def text(self, column: str) -> str:
        value = self._values[column]
        if not isinstance(value, str) or not value:
            raise self.bad(column, "is not a non-empty text")
        return value

    def optional_text(self, column: str) -> str | None:
        return None if self._values[column] is None else self.text(column)

    def integer(self, column: str) -> int:
        value = self._values[column]
        if not isinstance(value, int):
            raise self.bad(column, "is not an integer")
        return value

    def number(self, column: str) -> float:
        value = self._values[column]
        if not isinstance(value, int | float) or not math.isfinite(value):
            raise self.bad(column, "is not a finite number")
        return float(value)

    def amount(self, column: str, *, zero_allowed: bool = False) -> Decimal:
        value = self._values[column]
        try:
            amount = Decimal(value) if isinstance(value, str) else None
        except ArithmeticError:
            amount = None
        if amount is None or not amount.is_finite() or amount < 0:
            raise self.bad(column, "is not a non-negative decimal")
        if amount == 0 and not zero_allowed:
            raise self.bad(column, "is zero")
        return amount

    def optional_amount(self, column: str) -> Decimal | None:
        return None if self._values[column] is None else self.amount(column, zero_allowed=True)

    def member(self, column: str, kind: type[_E]) -> _E:
        try:
            return kind(self.text(column))
        except ValueError:
            allowed = ", ".join(member.value for member in kind)
            raise self.bad(column, f"is not one of {allowed}") from None


def _row_to_order(row: tuple[object, ...]) -> JournaledOrder:
    """A row as the journal wrote it; JournalRowError names the row and column otherwise."""
    read = _Row(row)
    quantity, filled = read.amount("quantity"), read.amount("filled", zero_allowed=True)
    if filled > quantity:
        raise read.bad("filled", f"exceeds the quantity {quantity}")
    return JournaledOrder(
        client_order_id=read.text("client_order_id"),
        sequence=read.integer("sequence"),
        intent=OrderIntent(
            symbol=read.text("symbol"),
            side=read.member("side", Side),
            order_type=read.member("order_type", OrderType),
            quantity=quantity,
            price=read.optional_amount("price"),
            reduce_only=bool(read.integer("reduce_only")),
            purpose=read.member("purpose", Purpose),
        ),
        state=read.member("state", OrderState),
        filled=filled,
        average_price=read.optional_amount("average_price"),
        exchange_order_id=read.optional_text("exchange_order_id"),
        attempts=read.integer("attempts"),
        created_at=read.number("created_at"),
        updated_at=read.number("updated_at"),
        last_error=read.optional_text("last_error"),
        venue_client_id=read.text("venue_client_id"),
    )
