"""Binance USD-M's private user-data stream: listenKeys and the account's events.

How Binance serves it (and ccxt.pro 4.5's ``binanceusdm`` uses it):

- ``POST /fapi/v1/listenKey`` (API key, no signature) answers ``{"listenKey": ..}``; an
  account with an active key gets that key back, its validity extended. A key lives 60
  minutes; ``PUT`` extends the active key (``{"listenKey": ..}``) or answers -1125
  "This listenKey does not exist." once it lapsed; ``DELETE`` closes it (``{}``).
- The stream is ``/private/ws?listenKey=<key>`` (``&events=A/B`` is an allow list); it
  pushes ``ORDER_TRADE_UPDATE`` for every change of a regular order, ``ALGO_UPDATE`` for
  conditional orders, ``ACCOUNT_UPDATE`` when a fill moves a balance or position
  (``m: "ORDER"``), and ``listenKeyExpired`` when the key behind the socket lapses or is
  closed (its ``E`` a string, as USD-M sends it); the socket then stays open and
  silent until a new key is used.

:class:`AccountEvents` turns engine state changes into those payloads (pure, read from
the engine after each mutation); :class:`UserData` keeps the keys and the sockets, and
the faults tests steer through ``/_sim/userdata``: drop every socket, refuse new ones,
expire the key now, shorten the validity.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import string
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aiohttp import WSCloseCode, web

from tradewarden.bot.venue_sim import errors
from tradewarden.bot.venue_sim.engine import Engine
from tradewarden.bot.venue_sim.models import (
    ZERO,
    AlgoOrder,
    AlgoStatus,
    Fill,
    Order,
    OrderStatus,
    Side,
)
from tradewarden.bot.venue_sim.views import fmt, money

log = logging.getLogger(__name__)

Json = dict[str, Any]
LISTEN_KEY_VALIDITY_S = 3600.0  # Binance: 60 minutes after creation or the last keepalive
LISTEN_KEY_LENGTH = 64
# The event names a socket's ``events`` filter may name (USD-M's user-data events).
EVENT_NAMES = ("ORDER_TRADE_UPDATE", "ACCOUNT_UPDATE", "ALGO_UPDATE", "listenKeyExpired")
# How often lapsed keys are looked for (their sockets hear ``listenKeyExpired``).
EXPIRY_SCAN_S = 0.2
_KEY_ALPHABET = string.ascii_letters + string.digits
_TERMINAL_ALGO = (AlgoStatus.CANCELED, AlgoStatus.FINISHED, AlgoStatus.EXPIRED)


def listen_key_missing() -> errors.VenueError:
    """-1125 for a keepalive or close of a key that lapsed or never existed."""
    return errors.VenueError(-1125, "This listenKey does not exist.")


@dataclass
class ListenKeys:
    """The account's one active listenKey and when it lapses (venue clock, seconds)."""

    validity_s: float = LISTEN_KEY_VALIDITY_S
    key: str | None = None
    expires_at: float = 0.0

    def active(self, now: float) -> str | None:
        """The key if it has not lapsed."""
        return self.key if self.key is not None and now < self.expires_at else None

    def create(self, now: float) -> str:
        """POST: the active key extended, or a new one."""
        key = self.active(now) or "".join(
            secrets.choice(_KEY_ALPHABET) for _ in range(LISTEN_KEY_LENGTH)
        )
        self.key, self.expires_at = key, now + self.validity_s
        return key

    def keepalive(self, now: float) -> str:
        """PUT: extend the active key; -1125 once it lapsed."""
        key = self.active(now)
        if key is None:
            raise listen_key_missing()
        self.expires_at = now + self.validity_s
        return key

    def close(self, now: float) -> str:
        """DELETE: invalidate the active key and return it; -1125 if there is none."""
        key = self.active(now)
        if key is None:
            raise listen_key_missing()
        self.expires_at = now
        return key

    def lapsed(self, now: float) -> str | None:
        """The key, once, after it lapsed (its sockets are told so)."""
        key = self.key
        if key is not None and now >= self.expires_at:
            self.key = None
            return key
        return None


@dataclass
class _OrderSeen:
    status: OrderStatus
    filled: Decimal
    quote: Decimal
    orig_qty: Decimal
    price: Decimal


@dataclass
class AccountEvents:
    """What changed in the engine since the last look, as Binance's user-data payloads.

    Invariants: every fill is reported exactly once, as a TRADE of its order with the
    order's cumulative quantity at that fill; every regular order is reported NEW once,
    and once more when it ends without a fill (CANCELED / EXPIRED); every algo order is
    reported on each status change; a fill that moves the position or the wallet is
    followed by one ACCOUNT_UPDATE naming the changed positions.
    """

    engine: Engine
    _orders_seen: int = 0
    _fills_seen: int = 0
    _algos_seen: int = 0
    _open: dict[int, _OrderSeen] = field(default_factory=dict)
    _algo_status: dict[int, AlgoStatus] = field(default_factory=dict)
    _positions: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)
    _realized: dict[str, Decimal] = field(default_factory=dict)
    _wallet: Decimal | None = None

    def __post_init__(self) -> None:
        """Start from the engine as it is: only later changes are events."""
        self._orders_seen = len(self.engine.orders())
        self._fills_seen = len(self.engine.fills())
        self._algos_seen = len(self.engine.algo_orders())
        for order in self.engine.snapshot().open_orders:
            self._open[order.order_id] = _seen(order)
        for algo in self.engine.algo_orders():
            if algo.status not in _TERMINAL_ALGO:
                self._algo_status[algo.algo_id] = algo.status
        snapshot = self.engine.snapshot()
        self._positions = {p.symbol: (p.amount, p.entry_price) for p in snapshot.positions}
        self._wallet = snapshot.wallet_balance
        for fill in self.engine.fills():
            self._realized[fill.symbol] = self._realized.get(fill.symbol, ZERO) + fill.realized_pnl

    def collect(self) -> list[Json]:
        """Every event since the last call, in the order Binance sends them."""
        engine, now = self.engine, self.engine.now_ms()
        algo_first, algo_last = self._algo_events(now)
        orders = engine.orders()
        new_orders = orders[self._orders_seen :]
        self._orders_seen = len(orders)
        fills = engine.fills()
        new_fills = fills[self._fills_seen :]
        self._fills_seen = len(fills)
        events: list[Json] = list(algo_first)
        for order in new_orders:
            events.append(self._order_event(order, "NEW", OrderStatus.NEW, now))
            self._open[order.order_id] = _OrderSeen(
                OrderStatus.NEW, ZERO, ZERO, order.orig_qty, order.price
            )
        by_id = {order.order_id: order for order in orders}
        for fill in new_fills:
            events.append(self._trade_event(by_id[fill.order_id], fill, now))
            self._realized[fill.symbol] = self._realized.get(fill.symbol, ZERO) + fill.realized_pnl
        events.extend(self._order_endings(by_id, now))
        account = self._account_event(now, traded=bool(new_fills))
        if account is not None:
            events.append(account)
        events.extend(algo_last)
        return events

    # ------------------------------------------------------------------ orders

    def _order_endings(self, by_id: dict[int, Order], now: int) -> list[Json]:
        """Amendments, and orders that ended beyond their last fill (cancel, expiry)."""
        events: list[Json] = []
        for order_id in list(self._open):
            seen = self._open[order_id]
            order = by_id[order_id]
            if order.is_open:
                if (order.orig_qty, order.price) != (seen.orig_qty, seen.price):
                    seen.orig_qty, seen.price = order.orig_qty, order.price
                    events.append(self._order_event(order, "AMENDMENT", order.status, now))
                continue
            del self._open[order_id]
            if order.status in (OrderStatus.CANCELED, OrderStatus.EXPIRED):
                events.append(self._order_event(order, order.status.value, order.status, now))
        return events

    def _order_event(self, order: Order, execution: str, status: OrderStatus, now: int) -> Json:
        seen = self._open.get(order.order_id)
        filled = seen.filled if seen is not None else ZERO
        quote = seen.quote if seen is not None else ZERO
        body = self._order_body(order, execution, status, filled, quote)
        body.update({"T": order.update_time_ms, "t": 0, "l": "0", "L": "0", "m": False})
        return _wrap("ORDER_TRADE_UPDATE", now, order.update_time_ms, body)

    def _trade_event(self, order: Order, fill: Fill, now: int) -> Json:
        seen = self._open.setdefault(
            order.order_id, _OrderSeen(OrderStatus.NEW, ZERO, ZERO, order.orig_qty, order.price)
        )
        seen.filled += fill.qty
        seen.quote += fill.qty * fill.price
        status = (
            OrderStatus.FILLED if seen.filled >= order.orig_qty else OrderStatus.PARTIALLY_FILLED
        )
        seen.status = status
        body = self._order_body(order, "TRADE", status, seen.filled, seen.quote)
        body.update(
            {
                "l": fmt(fill.qty),
                "L": fmt(fill.price),
                "T": fill.time_ms,
                "t": fill.trade_id,
                "m": fill.maker,
                "n": money(fill.commission),
                "rp": money(fill.realized_pnl),
            }
        )
        return _wrap("ORDER_TRADE_UPDATE", now, fill.time_ms, body)

    def _order_body(
        self, order: Order, execution: str, status: OrderStatus, filled: Decimal, quote: Decimal
    ) -> Json:
        bids, asks = self._book_notional(order.symbol)
        return {
            "s": order.symbol,
            "c": order.client_order_id,
            "S": order.side.value,
            "o": order.type.value,
            "f": order.time_in_force,
            "q": fmt(order.orig_qty),
            "p": fmt(order.price),
            "ap": fmt(quote / filled) if filled else "0",
            "sp": fmt(order.stop_price),
            "x": execution,
            "X": status.value,
            "i": order.order_id,
            "z": fmt(filled),
            "N": "USDT",
            "n": "0",
            "b": fmt(bids),
            "a": fmt(asks),
            "R": order.reduce_only,
            "wt": "CONTRACT_PRICE",
            "ot": (order.orig_type or order.type).value,
            "ps": "BOTH",
            "cp": order.close_position,
            "rp": "0",
            "pP": False,
            "si": 0,
            "ss": 0,
            "V": "EXPIRE_MAKER",
            "pm": "NONE",
            "gtd": 0,
            "er": "0",
        }

    def _book_notional(self, symbol: str) -> tuple[Decimal, Decimal]:
        """Binance's ``b``/``a``: the notional of the symbol's open buy and sell orders."""
        bids = asks = ZERO
        for order in self.engine.snapshot().open_orders:
            if order.symbol != symbol or order.reduce_only:
                continue
            notional = order.remaining * order.price
            if order.side is Side.BUY:
                bids += notional
            else:
                asks += notional
        return bids, asks

    # ------------------------------------------------------------- algo orders

    def _algo_events(self, now: int) -> tuple[list[Json], list[Json]]:
        """Algo status changes: NEW/CANCELED/TRIGGERED first, FINISHED/EXPIRED after the fill."""
        first: list[Json] = []
        last: list[Json] = []
        algos = self.engine.algo_orders()
        for algo in algos[self._algos_seen :]:
            first.append(_algo_event(algo, AlgoStatus.NEW, now))
            self._algo_status[algo.algo_id] = AlgoStatus.NEW
        self._algos_seen = len(algos)
        by_id = {a.algo_id: a for a in algos if a.algo_id in self._algo_status}
        for algo_id, seen in list(self._algo_status.items()):
            algo = by_id[algo_id]
            if algo.status is seen:
                continue
            if seen is AlgoStatus.NEW and algo.actual_order_id is not None:
                # Triggered: the order it placed comes next in the stream.
                first.append(_algo_event(algo, AlgoStatus.TRIGGERED, now))
            if algo.status is AlgoStatus.CANCELED:
                first.append(_algo_event(algo, AlgoStatus.CANCELED, now))
            elif algo.status is not AlgoStatus.TRIGGERED:
                last.append(_algo_event(algo, algo.status, now))
            if algo.status in _TERMINAL_ALGO:
                del self._algo_status[algo_id]
            else:
                self._algo_status[algo_id] = algo.status
        return first, last

    # ----------------------------------------------------------------- account

    def _account_event(self, now: int, traded: bool) -> Json | None:
        """ACCOUNT_UPDATE when a fill moved a position or the wallet (reason ORDER), or
        the wallet moved without a fill (funding, reason FUNDING_FEE)."""
        snapshot = self.engine.snapshot()
        current = {p.symbol: p for p in snapshot.positions}
        changed: list[Json] = []
        for symbol in sorted(set(current) | set(self._positions)):
            position = current.get(symbol)
            amount = position.amount if position else ZERO
            entry = position.entry_price if position else ZERO
            if self._positions.get(symbol, (ZERO, ZERO)) == (amount, entry):
                continue
            unrealized = snapshot.unrealized_pnl(position) if position else ZERO
            isolated = self.engine.margin_type(symbol) == "ISOLATED"
            changed.append(
                {
                    "s": symbol,
                    "pa": fmt(amount),
                    "ep": fmt(entry),
                    "bep": fmt(entry),
                    "cr": money(self._realized.get(symbol, ZERO)),
                    "up": money(unrealized),
                    "mt": "isolated" if isolated else "cross",
                    "iw": money(snapshot.position_initial_margin(position))
                    if isolated and position
                    else "0",
                    "ps": "BOTH",
                    "ma": "USDT",
                }
            )
            if position is None:
                self._positions.pop(symbol, None)
            else:
                self._positions[symbol] = (amount, entry)
        wallet = snapshot.wallet_balance
        if not changed and wallet == self._wallet:
            return None
        previous, self._wallet = self._wallet, wallet
        balance = {"a": "USDT", "wb": money(wallet), "cw": money(wallet), "bc": "0"}
        if not traded:
            # Funding on a cross position: the balance alone, its change in bc.
            balance["bc"] = money(wallet - (previous or ZERO))
            data: Json = {"m": "FUNDING_FEE", "B": [balance]}
        else:
            data = {"m": "ORDER", "B": [balance], "P": changed}
        return {"e": "ACCOUNT_UPDATE", "E": now, "T": snapshot.time_ms, "a": data}


def _seen(order: Order) -> _OrderSeen:
    return _OrderSeen(
        order.status, order.executed_qty, order.cum_quote, order.orig_qty, order.price
    )


def _wrap(event: str, now: int, transaction_ms: int, body: Json) -> Json:
    return {"e": event, "E": now, "T": transaction_ms, "o": body}


def _algo_event(algo: AlgoOrder, status: AlgoStatus, now: int) -> Json:
    body: Json = {
        "caid": algo.client_algo_id,
        "aid": algo.algo_id,
        "at": "CONDITIONAL",
        "o": algo.order_type.value,
        "s": algo.symbol,
        "S": algo.side.value,
        "ps": "BOTH",
        "f": algo.time_in_force,
        "q": fmt(algo.quantity),
        "X": status.value,
        "ai": "" if algo.actual_order_id is None else str(algo.actual_order_id),
        "tp": fmt(algo.trigger_price),
        "p": fmt(algo.price),
        "V": "EXPIRE_MAKER",
        "wt": algo.working_type,
        "pm": "NONE",
        "cp": algo.close_position,
        "pP": False,
        "R": algo.reduce_only,
        "tt": algo.trigger_time_ms,
        "gtd": 0,
    }
    if algo.actual_order_id is not None:
        # Shown once the triggered order is in the matching engine.
        body.update({"ap": "0", "aq": "0", "act": algo.order_type.after_trigger.value})
    return {"e": "ALGO_UPDATE", "T": algo.update_time_ms, "E": now, "o": body}


@dataclass
class _Socket:
    """One user-data connection: its key, its event filter, its outbox."""

    key: str
    events: frozenset[str] | None
    outbox: asyncio.Queue[Json] = field(default_factory=asyncio.Queue)
    silenced: bool = False  # its key lapsed: nothing more is pushed

    def push(self, event: Json) -> None:
        if self.silenced:
            return
        if self.events is None or event["e"] in self.events:
            self.outbox.put_nowait(event)


class UserData:
    """The account's listenKeys and user-data sockets, fed by the engine's changes."""

    def __init__(self, engine: Engine, clock: Callable[[], float], validity_s: float) -> None:
        self._engine = engine
        self._clock = clock
        self.keys = ListenKeys(validity_s)
        self._sockets: dict[web.WebSocketResponse, _Socket] = {}
        self._events: AccountEvents | None = None
        self.refuse_until = 0.0
        self.refuse_count = 0
        self.accepted = 0
        self.refused = 0
        self.pushed = 0
        engine.listeners.append(self._engine_changed)

    # ------------------------------------------------------------ listenKeys

    def create(self) -> Json:
        """POST /fapi/v1/listenKey."""
        self.expire_due()
        return {"listenKey": self.keys.create(self._clock())}

    def keepalive(self) -> Json:
        """PUT /fapi/v1/listenKey."""
        self.expire_due()
        return {"listenKey": self.keys.keepalive(self._clock())}

    def close(self) -> Json:
        """DELETE /fapi/v1/listenKey: the key's sockets hear ``listenKeyExpired``."""
        self.expire_due()
        self._expire(self.keys.close(self._clock()))
        self.keys.key = None
        return {}

    def expire_now(self) -> str | None:
        """The stale-listenKey fault: the active key lapses at once; returns it."""
        key = self.keys.active(self._clock())
        if key is not None:
            self.keys.expires_at = self._clock()
            self.expire_due()
        return key

    def expire_due(self) -> None:
        """Tell the sockets of a lapsed key, once, and stop feeding them."""
        key = self.keys.lapsed(self._clock())
        if key is not None:
            self._expire(key)

    def _expire(self, key: str) -> None:
        # USD-M sends this event's time as a string ("E": "1736996475556"), unlike every
        # other event's integer E.
        event = {"e": "listenKeyExpired", "E": str(self._engine.now_ms()), "listenKey": key}
        for socket in self._sockets.values():
            if socket.key == key:
                socket.push(event)
                socket.silenced = True

    # --------------------------------------------------------------- sockets

    def admit(self) -> bool:
        """Whether a new connection may open now; a refusal is counted."""
        if self.refuse_count > 0:
            self.refuse_count -= 1
        elif self._clock() >= self.refuse_until:
            self.accepted += 1
            return True
        self.refused += 1
        return False

    def refuse(self, seconds: float, count: int) -> None:
        """Refuse new connections for ``seconds`` (venue clock) and the next ``count`` tries."""
        self.refuse_until = self._clock() + seconds if seconds > 0 else 0.0
        self.refuse_count = count

    async def drop(self) -> int:
        """The forced-disconnect fault: close every user-data socket; returns how many."""
        sockets = list(self._sockets)
        for socket in sockets:
            await socket.close(code=WSCloseCode.GOING_AWAY, message=b"dropped by the simulator")
        return len(sockets)

    def describe(self) -> Json:
        """The user-data side as JSON for /_sim/userdata."""
        now = self._clock()
        return {
            "open": len(self._sockets),
            "accepted": self.accepted,
            "refused": self.refused,
            "pushed": self.pushed,
            "listenKeyActive": self.keys.active(now) is not None,
            "listenKeyExpiresIn": max(0.0, self.keys.expires_at - now) if self.keys.key else 0.0,
            "validitySeconds": self.keys.validity_s,
            "refuseUntil": self.refuse_until,
            "refuseCount": self.refuse_count,
        }

    @contextlib.asynccontextmanager
    async def attached(
        self, socket: web.WebSocketResponse, key: str, events: frozenset[str] | None
    ) -> AsyncIterator[_Socket]:
        """Register a socket for the key's events while the body runs."""
        if self._events is None:
            self._events = AccountEvents(self._engine)
        state = _Socket(key, events, silenced=self.keys.active(self._clock()) != key)
        self._sockets[socket] = state
        try:
            yield state
        finally:
            del self._sockets[socket]
            if not self._sockets:
                self._events = None

    def _engine_changed(self) -> None:
        """After every engine mutation: turn the changes into events for open sockets."""
        if self._events is None:
            return
        self.expire_due()
        try:
            events = self._events.collect()
        except Exception:
            # A bug here must not fail the order request that caused the change.
            log.exception("user-data events failed; the stream restarts its view")
            self._events = AccountEvents(self._engine)
            return
        for event in events:
            for socket in self._sockets.values():
                socket.push(event)
            self.pushed += 1


USER_DATA_KEY = web.AppKey("venue_user_data", UserData)


def parse_events(raw: str | None) -> frozenset[str] | None:
    """The ``events`` allow list of a socket (``A/B``), or None for every event."""
    if raw is None:
        return None
    return frozenset(name for name in raw.split("/") if name)


async def user_stream(request: web.Request) -> web.StreamResponse:
    """GET /private/ws?listenKey=..: the account's events until the socket closes."""
    user_data = request.app[USER_DATA_KEY]
    key = request.query.get("listenKey")
    if not key:
        error = errors.mandatory_missing("listenKey")
        return web.json_response(error.body(), status=error.status)
    if not user_data.admit():
        return web.json_response(
            {"code": -1001, "msg": "Stream refused by the simulator."}, status=503
        )
    socket = web.WebSocketResponse()
    await socket.prepare(request)
    async with user_data.attached(socket, key, parse_events(request.query.get("events"))) as state:
        sender = asyncio.create_task(_send(socket, state))
        try:
            async for _message in socket:
                pass  # the user-data stream takes no requests; pings are answered by aiohttp
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
    return socket


async def _send(socket: web.WebSocketResponse, state: _Socket) -> None:
    while not socket.closed:
        event = await state.outbox.get()
        await socket.send_json(event)


async def _watch_expiry(app: web.Application) -> AsyncIterator[None]:
    """Look for lapsed keys now and then, so an idle socket still hears of its expiry."""
    user_data = app[USER_DATA_KEY]

    async def scan() -> None:
        while True:
            await asyncio.sleep(EXPIRY_SCAN_S)
            user_data.expire_due()

    task = asyncio.create_task(scan())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _close_sockets(app: web.Application) -> None:
    await app[USER_DATA_KEY].drop()


def add_routes(app: web.Application, user_data: UserData) -> None:
    """Serve the user-data stream, watch key expiry, and close the sockets on shutdown."""
    app[USER_DATA_KEY] = user_data
    app.router.add_get("/private/ws", user_stream)
    app.cleanup_ctx.append(_watch_expiry)
    app.on_shutdown.append(_close_sockets)
