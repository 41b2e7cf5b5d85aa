"""The intent journal: SQLite in WAL mode, written before anything is sent.

Rules this module enforces:

- an intent and its client order id are committed, as SUBMITTING, before the
  first send, so a restart always knows every id that may exist at the venue;
  that is the one write an order costs before it leaves;
- state changes go through the order state machine and are kept as an audit
  trail; filled quantity only ever grows (a stale snapshot cannot undo a fill);
- the sequence behind client order ids is persisted, so ids never repeat.

Non-terminal orders are also held in memory: the journal is the bot's only
writer (one bot per state directory, enforced at open), so the hot path
reads nothing back and each state change is one atomic UPDATE; a trigger
writes the audit row in the same statement.

``synchronous=NORMAL`` in WAL mode makes each commit durable against a killed
process (the failure a pod restart is for) without an fsync per order; a lost
node takes the StatefulSet volume's guarantees with it either way.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from tradewarden.bot.execution.client_ids import client_order_id
from tradewarden.bot.execution.intent import (
    JournaledOrder,
    OrderIntent,
    OrderType,
    Purpose,
    Side,
)
from tradewarden.bot.execution.order_state import (
    TERMINAL_STATES,
    OrderState,
    check_transition,
)

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

_TERMINAL_SQL = ",".join(f"'{state.value}'" for state in TERMINAL_STATES)


class JournalError(RuntimeError):
    """The journal cannot be used as asked (wrong bot, regressing fill, ...)."""


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

    @classmethod
    def open(cls, path: Path, bot_identity: str, clock: Callable[[], float]) -> Journal:
        """Open (or create) the journal at ``path`` for ``bot_identity``.

        A journal belongs to one bot: opening it for another is refused, so two
        bots can never share a sequence and collide on client order ids.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        # Checkpoints fsync; they run from checkpoint(), between orders, never
        # inside a commit on the order path.
        connection.execute("PRAGMA wal_autocheckpoint=0")
        connection.execute("PRAGMA foreign_keys=ON")
        connection.executescript(_SCHEMA)
        journal = cls(connection, clock)
        journal._claim(bot_identity)
        journal._load()
        return journal

    def checkpoint(self) -> None:
        """Fold the WAL into the database file without blocking (call between orders)."""
        self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def close(self) -> None:
        """Checkpoint the WAL and close the database."""
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._db.close()

    def _claim(self, bot_identity: str) -> None:
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
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
        self.bot_identity = bot_identity

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
        (highest,) = self._db.execute("SELECT MAX(sequence) FROM intents").fetchone()
        self._next_sequence = (highest or 0) + 1
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM intents WHERE state NOT IN ({_TERMINAL_SQL})"
        ).fetchall()
        self._live = {order.client_order_id: order for order in map(_row_to_order, rows)}
        for symbol, side, filled in self._db.execute("SELECT symbol, side, filled FROM intents"):
            self._add_fill(str(symbol), Side(str(side)), Decimal(str(filled)))

    def record_intent(self, intent: OrderIntent) -> JournaledOrder:
        """Allocate a client order id and persist the intent as SUBMITTING, first attempt.

        Call it right before the first send: from this commit on the order may
        exist at the venue, and a restart looks it up.
        """
        now = self._clock()
        sequence = self._next_sequence
        coid = client_order_id(self.bot_identity, sequence)
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
        self._db.execute(
            "UPDATE intents SET state = ?, filled = ?, average_price = ?, exchange_order_id = ?, "
            "attempts = ?, updated_at = ?, detail = ? WHERE client_order_id = ?",
            (
                updated.state.value,
                str(updated.filled),
                _text(updated.average_price),
                updated.exchange_order_id,
                updated.attempts,
                updated.updated_at,
                detail,
                coid,
            ),
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
        self._db.execute(
            "UPDATE intents SET state = ?, venue_client_id = ?, updated_at = ?, detail = ? "
            "WHERE client_order_id = ?",
            (updated.state.value, venue_client_id, updated.updated_at, detail, coid),
        )
        self._remember(updated)
        return updated

    def note_error(self, coid: str, error: str) -> None:
        """Remember the latest error of an order's send attempts."""
        updated = replace(self.get(coid), last_error=error, updated_at=self._clock())
        self._db.execute(
            "UPDATE intents SET last_error = ?, updated_at = ? WHERE client_order_id = ?",
            (error, updated.updated_at, coid),
        )
        self._remember(updated)

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
_PLACEHOLDERS = ", ".join("?" for _ in _FIELDS)


def _order_to_row(order: JournaledOrder) -> tuple[object, ...]:
    intent = order.intent
    return (
        order.client_order_id,
        order.sequence,
        intent.symbol,
        intent.side.value,
        intent.order_type.value,
        str(intent.quantity),
        _text(intent.price),
        int(intent.reduce_only),
        intent.purpose.value,
        order.state.value,
        str(order.filled),
        _text(order.average_price),
        order.exchange_order_id,
        order.attempts,
        order.created_at,
        order.updated_at,
        order.last_error,
        order.venue_client_id,
    )


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _row_to_order(row: tuple[object, ...]) -> JournaledOrder:
    (
        coid,
        sequence,
        symbol,
        side,
        order_type,
        quantity,
        price,
        reduce_only,
        purpose,
        state,
        filled,
        average_price,
        exchange_order_id,
        attempts,
        created_at,
        updated_at,
        last_error,
        venue_client_id,
    ) = row
    return JournaledOrder(
        client_order_id=str(coid),
        sequence=int(str(sequence)),
        intent=OrderIntent(
            symbol=str(symbol),
            side=Side(str(side)),
            order_type=OrderType(str(order_type)),
            quantity=Decimal(str(quantity)),
            price=None if price is None else Decimal(str(price)),
            reduce_only=bool(reduce_only),
            purpose=Purpose(str(purpose)),
        ),
        state=OrderState(str(state)),
        filled=Decimal(str(filled)),
        average_price=None if average_price is None else Decimal(str(average_price)),
        exchange_order_id=None if exchange_order_id is None else str(exchange_order_id),
        attempts=int(str(attempts)),
        created_at=float(str(created_at)),
        updated_at=float(str(updated_at)),
        last_error=None if last_error is None else str(last_error),
        venue_client_id=str(venue_client_id),
    )
