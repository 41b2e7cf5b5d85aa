"""The control companion: watch the bot's own TradingBot, hold the Lease, run the dead-man.

Three loops beside the bot, each a thin shell around the pure logic in
:mod:`.controls`, :mod:`.lease` and :mod:`.dead_man`:

- the watch applies ``spec.paused``, ``spec.emergencyStop`` and ``status.abort``
  on the event that carries them, straight from the API server, so a patch
  takes effect with the operator down;
- the halt watch does the same for TradingHalts (cluster-scoped): on every
  event the most restrictive halt that selects this bot (its namespace, the
  namespace's labels, its own labels) binds it, and an expiry lifts it on the
  next tick. A bot that cannot read TradingHalts for ``apiUnreachableSeconds``
  goes reduce-only like the dead-man: it could not hear the desk's red button;
- the Lease loop creates, renews or takes over the account+symbol Lease every
  few seconds; the order gate it installs refuses every order while the Lease
  is not held (judged on the local clock);
- the dead-man turns "no successful API-server call for N seconds" into
  reduce-only, and lifts it on the next successful call.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from tradewarden.api.bot_status import ControlStatus, HaltBinding
from tradewarden.api.error_text import clipped, error_text
from tradewarden.api.halts import Halt, HaltError, binding_halt, halt_from_object
from tradewarden.api.identity import lease_name
from tradewarden.api.kube_client import api_client_from_environment
from tradewarden.api.tradingbot import EmergencyStop, TradingBot, TradingBotSpec, TradingMode
from tradewarden.bot.control.controls import Controls, interpret_event
from tradewarden.bot.control.dead_man import DeadMan, DeadManChange, heartbeat_seconds
from tradewarden.bot.control.halts import SOURCE as SOURCE_TRADING_HALT
from tradewarden.bot.control.halts import halt_restriction
from tradewarden.bot.control.kube import ApiCallFailed, ControlApi
from tradewarden.bot.control.lease import (
    LEASE_DURATION_SECONDS,
    LEASE_RENEW_SECONDS,
    LeaseAction,
    LeaseRecord,
    RivalSighting,
    Tenure,
    decide_lease,
    holder_identity,
    lease_body,
    lease_owner,
)
from tradewarden.bot.model.orders import OrderIntent
from tradewarden.bot.observability.events import Event, EventLog
from tradewarden.bot.posture import Posture
from tradewarden.bot.retry import Retry, RetryPolicy

ENV_BOT_NAME = "TRADEWARDEN_BOT_NAME"
ENV_NAMESPACE = "TRADEWARDEN_NAMESPACE"
SOURCE_DEAD_MAN = "control.deadMan"
SOURCE_OPERATOR_ABORT = "control.operatorAbort"
SOURCE_HALTS_UNREADABLE = "control.haltsUnreadable"


class Clocks(Protocol):
    """The bot's injected time: ``clock()`` in seconds, ``sleep(seconds)``."""

    @property
    def clock(self) -> Callable[[], float]: ...

    @property
    def sleep(self) -> Callable[[float], Awaitable[None]]: ...


class ControlledBot(Protocol):
    """What the control loops need of the bot they serve, and nothing more.

    They read its spec, clocks, event log and posture; they act only through
    :meth:`restrict`, :meth:`update_controls` and the order gate they append.
    """

    @property
    def spec(self) -> TradingBotSpec: ...

    @property
    def clocks(self) -> Clocks: ...

    @property
    def events(self) -> EventLog: ...

    @property
    def posture(self) -> Posture: ...

    @property
    def order_gates(self) -> list[Callable[[OrderIntent], str | None]]: ...

    def restrict(
        self,
        source: str,
        mode: TradingMode | None,
        reason: str = "",
        symbol: str | None = None,
        *,
        flatten: bool = False,
    ) -> None: ...

    def update_controls(self, paused: bool, emergency_stop: EmergencyStop | None) -> None: ...


@dataclass(frozen=True)
class ControlSettings:
    """Timings of the control loops (contract defaults; tests shorten them)."""

    lease_duration_seconds: int = LEASE_DURATION_SECONDS
    lease_renew_seconds: float = LEASE_RENEW_SECONDS
    watch_timeout_seconds: int = 30
    retry_base_seconds: float = 0.5
    retry_max_seconds: float = 5.0
    dead_man_tick_seconds: float = 1.0

    def retry(self, clocks: Clocks) -> Retry:
        """A failing watch's paced retries: base doubling to the max, forever."""
        policy = RetryPolicy(self.retry_base_seconds, self.retry_max_seconds, jitter=0)
        return Retry(policy, clock=clocks.clock, sleep=clocks.sleep)


class KubernetesControl:
    """The companion of a bot running under the operator (a ``runtime.bot.Companion``)."""

    def __init__(
        self,
        api: ControlApi,
        *,
        account: str,
        symbol: str,
        settings: ControlSettings | None = None,
        uid: str | None = None,
    ) -> None:
        self.api = api
        self.settings = settings or ControlSettings()
        self.identity = holder_identity(api.namespace, api.name)
        self.lease_name = lease_name(account, symbol)
        # The Lease is owned by this bot's TradingBot (uid known) and goes with it.
        self._lease_owner = lease_owner(api.name, uid) if uid else None
        self._tenure = Tenure(self.lease_name, self.settings.lease_duration_seconds)
        self._bot: ControlledBot | None = None
        self._controls: Controls | None = None
        self._dead_man: DeadMan | None = None
        self._last_call_ok = False
        self._last_contact: float | None = None
        self._rival: str | None = None
        # TradingHalts as last listed/watched, the Namespace's labels (None until read),
        # the halt binding this bot now, and a dead-man of its own for the halt feed.
        self._halts: dict[str, Halt] = {}
        self._namespace_labels: dict[str, str] | None = None
        self._binding: Halt | None = None
        self._halt_feed: DeadMan | None = None

    async def run(self, bot: ControlledBot) -> None:
        """Run the watch, the Lease loop and the dead-man until cancelled."""
        # The gate goes in before the first await: no order may slip out unfenced.
        bot.order_gates.append(self.gate)
        self._bot = bot
        timeout = bot.spec.guards.dead_man.api_unreachable_seconds
        self._dead_man = DeadMan(timeout=timeout, last_contact=bot.clocks.clock())
        self._halt_feed = DeadMan(timeout=timeout, last_contact=bot.clocks.clock())
        loops = {
            "watch": self._watch_loop,
            "halts": self._halt_loop,
            "lease": self._lease_loop,
            "deadMan": self._dead_man_loop,
        }
        tasks = [
            asyncio.create_task(self._keep_running(bot, name, loop), name=f"control-{name}")
            for name, loop in loops.items()
        ]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.api.close()

    @classmethod
    def from_environment(
        cls, manifest: TradingBot, environ: Mapping[str, str] = os.environ
    ) -> KubernetesControl:
        """Control for the bot in ``manifest``: name and namespace from the pod's env
        (``TRADEWARDEN_BOT_NAME``, ``TRADEWARDEN_NAMESPACE``; the manifest's metadata
        otherwise), the API server from ``KUBECONFIG`` or the in-cluster config.
        Raises :class:`ApiConfigError` when neither is usable."""
        name = environ.get(ENV_BOT_NAME) or manifest.metadata.name
        namespace = environ.get(ENV_NAMESPACE) or manifest.metadata.namespace
        api = ControlApi(api_client_from_environment(environ), namespace, name)
        exchange = manifest.spec.exchange
        return cls(
            api, account=exchange.account, symbol=manifest.spec.symbol, uid=manifest.metadata.uid
        )

    async def _keep_running(
        self, bot: ControlledBot, name: str, loop: Callable[[ControlledBot], Awaitable[None]]
    ) -> None:
        # A bug in one loop must not silently end fencing, the watch or the dead-man.
        while True:
            try:
                await loop(bot)
            except Exception as error:
                bot.events.emit(Event.CONTROL_API_ERROR, call=name, error=error_text(error))
                await bot.clocks.sleep(self.settings.retry_max_seconds)

    def gate(self, intent: OrderIntent) -> str | None:
        """Order gate: refuse while this bot does not hold a live Lease."""
        if self._bot is None:
            return f"lease: {self.lease_name} not held by this bot"
        return self._tenure.refusal(self._bot.clocks.clock())

    def status(self) -> ControlStatus:
        """The ``control`` section of ``/status``."""
        abort = self._controls.abort if self._controls else None
        dead = self._dead_man is not None and self._dead_man.tripped
        binding = self._binding
        return ControlStatus(
            trading_halt=None
            if binding is None
            else HaltBinding(
                name=binding.name, action=binding.spec.action, reason=binding.spec.reason
            ),
            halts_readable=self._halt_feed is not None and not self._halt_feed.tripped,
            enabled=True,
            api_server_reachable=self._last_call_ok and not dead,
            last_contact=self._last_contact,
            lease_held=self._bot is not None and self._tenure.held(self._bot.clocks.clock()),
            lease_name=self.lease_name,
            operator_abort=abort.reason if abort else None,
        )

    # -- the watch ---------------------------------------------------------------

    async def _watch_loop(self, bot: ControlledBot) -> None:
        await self._relist(bot, "watch", self._list_and_watch, on_failure=self._failed)

    async def _relist(
        self,
        bot: ControlledBot,
        call: str,
        list_and_watch: Callable[[ControlledBot], Awaitable[None]],
        *,
        on_failure: Callable[[], None] = lambda: None,
    ) -> None:
        """List and watch forever; a failing server is retried on the settings' backoff."""
        retry = self.settings.retry(bot.clocks)
        while True:
            try:
                await list_and_watch(bot)
                retry.reset()
                # Relisting after a watch error: never spin if the server keeps refusing.
                await bot.clocks.sleep(self.settings.retry_base_seconds)
            except ApiCallFailed as error:
                on_failure()
                retry.begin()
                bot.events.emit(Event.CONTROL_API_ERROR, call=call, error=str(error))
                await retry.backoff()

    async def _list_and_watch(self, bot: ControlledBot) -> None:
        listing = await self.api.list_bot()
        self._contact(bot)
        version = (listing.get("metadata") or {}).get("resourceVersion")
        for item in listing.get("items") or []:
            outcome = interpret_event({"type": "ADDED", "object": item}, self.api.name)
            self._take(bot, outcome.controls, outcome.problem)
        while True:
            async with contextlib.aclosing(
                self.api.watch_bot(version, self.settings.watch_timeout_seconds)
            ) as events:
                async for event in events:
                    self._contact(bot)
                    outcome = interpret_event(event, self.api.name)
                    if outcome.relist:
                        problem = outcome.problem
                        bot.events.emit(Event.CONTROL_API_ERROR, call="watch", error=problem)
                        return
                    if outcome.deleted:
                        bot.events.emit(Event.CONTROL_DELETED, bot=self.identity)
                    self._take(bot, outcome.controls, outcome.problem)
                    version = outcome.resource_version or version
            # The end of a watch is not counted as contact: a server going down may end it
            # just as cleanly as its timeout does. The Lease calls are the heartbeat.

    def _take(self, bot: ControlledBot, controls: Controls | None, problem: str | None) -> None:
        if problem is not None:
            bot.events.emit(Event.CONTROL_INVALID, error=problem, kept="last good controls")
        if controls is None or controls == self._controls:
            return
        self._controls = controls
        for dead_man in (self._dead_man, self._halt_feed):
            if dead_man is not None:
                dead_man.timeout = controls.dead_man.api_unreachable_seconds
        abort = controls.abort
        bot.restrict(
            SOURCE_OPERATOR_ABORT,
            TradingMode.HALTED if abort else None,
            f"operator abort {abort.reason}: {abort.message}" if abort else "",
        )
        bot.update_controls(controls.paused, controls.emergency_stop)
        bot.events.emit(
            Event.CONTROL_UPDATE,
            paused=controls.paused,
            emergency_stop=controls.emergency_stop.model_dump(mode="json", by_alias=True)
            if controls.emergency_stop
            else None,
            operator_abort=abort.reason if abort else None,
            mode=bot.posture.mode,
        )
        # The bot's labels may have changed what selects it.
        self._apply_halts(bot)

    # -- TradingHalts --------------------------------------------------------------

    def _halt_watch_seconds(self) -> int:
        # An idle watch is no contact; relisting three times per dead-man timeout keeps a
        # healthy but quiet halt feed from tripping it.
        assert self._halt_feed is not None
        third = int(self._halt_feed.timeout / 3)
        return max(1, min(self.settings.watch_timeout_seconds, third))

    async def _halt_loop(self, bot: ControlledBot) -> None:
        await self._relist(bot, "haltWatch", self._list_and_watch_halts)

    async def _list_and_watch_halts(self, bot: ControlledBot) -> None:
        listing = await self.api.list_halts()
        await self._read_namespace_labels(bot)
        self._halts = {}
        for item in listing.get("items") or []:
            self._take_halt(bot, "ADDED", item)
        self._halt_contact(bot)
        version = (listing.get("metadata") or {}).get("resourceVersion")
        async with contextlib.aclosing(
            self.api.watch_halts(version, self._halt_watch_seconds())
        ) as events:
            async for event in events:
                kind, resource = event.get("type"), event.get("object")
                if kind == "ERROR" or not isinstance(resource, Mapping):
                    # 410 Gone and other watch errors: start over from a fresh list.
                    bot.events.emit(
                        Event.CONTROL_API_ERROR, call="haltWatch", error=clipped(str(resource))
                    )
                    return
                if kind != "BOOKMARK":
                    self._take_halt(bot, str(kind), resource)
                self._halt_contact(bot)

    async def _read_namespace_labels(self, bot: ControlledBot) -> None:
        try:
            namespace = await self.api.read_namespace()
        except ApiCallFailed as error:
            # The last labels read stay; none read yet fails closed (see halts.selects).
            bot.events.emit(Event.CONTROL_API_ERROR, call="namespace", error=str(error))
            return
        labels = (namespace.get("metadata") or {}).get("labels") or {}
        self._namespace_labels = {str(k): str(v) for k, v in labels.items()}

    def _take_halt(self, bot: ControlledBot, kind: str, resource: Mapping[str, Any]) -> None:
        name = str((resource.get("metadata") or {}).get("name"))
        if kind == "DELETED":
            self._halts.pop(name, None)
        else:
            try:
                self._halts[name] = halt_from_object(resource)
            except HaltError as error:
                # Kept as it was: a halt the bot cannot read must not lift one it could.
                bot.events.emit(Event.CONTROL_INVALID, error=str(error), kept="last good halt")
        self._apply_halts(bot)

    def _apply_halts(self, bot: ControlledBot) -> None:
        """Bind the bot to the most restrictive halt in force that selects it (or none)."""
        labels = self._controls.labels if self._controls is not None else None
        if labels is None:
            return  # the bot's own TradingBot is not read yet; its labels decide
        now = datetime.fromtimestamp(bot.clocks.clock(), UTC)
        binding = binding_halt(
            self._halts.values(), self.api.namespace, self._namespace_labels, labels, now
        )
        if binding == self._binding:
            return
        self._binding = binding
        if binding is None:
            bot.restrict(SOURCE_TRADING_HALT, None)
        else:
            demand = halt_restriction(binding)
            bot.restrict(demand.source, demand.mode, demand.reason, flatten=demand.flatten)
        bot.events.emit(
            Event.TRADING_HALT,
            halt=binding.name if binding else None,
            action=binding.spec.action.value if binding else None,
            reason=binding.spec.reason if binding else None,
            mode=bot.posture.mode,
        )

    def _halt_contact(self, bot: ControlledBot) -> None:
        assert self._halt_feed is not None
        if self._halt_feed.contact(bot.clocks.clock()) is DeadManChange.RECOVERED:
            bot.restrict(SOURCE_HALTS_UNREADABLE, None)
            bot.events.emit(Event.HALT_FEED_RESTORED, mode=bot.posture.mode)

    # -- the Lease ---------------------------------------------------------------

    async def _lease_loop(self, bot: ControlledBot) -> None:
        sighting: RivalSighting | None = None
        while True:
            sighting = await self._lease_round(bot, sighting)
            assert self._dead_man is not None  # set by run() before the loops start
            await bot.clocks.sleep(
                heartbeat_seconds(self.settings.lease_renew_seconds, self._dead_man.timeout)
            )

    async def _lease_round(
        self, bot: ControlledBot, sighting: RivalSighting | None
    ) -> RivalSighting | None:
        started = bot.clocks.clock()
        was_held = self._tenure.held(started)
        try:
            current = await self.api.read_lease(self.lease_name)
            self._contact(bot)
            record = None if current is None else LeaseRecord.from_object(current)
            decision = decide_lease(record, self.identity, started, sighting)
            if decision.action is LeaseAction.WAIT:
                self._drop(bot, was_held, decision.reason)
                if record is not None and record.holder != self._rival:
                    self._rival = record.holder
                    bot.events.emit(
                        Event.LEASE_HELD_BY_OTHER, lease=self.lease_name, holder=record.holder
                    )
                return decision.sighting
            body = lease_body(
                decision.action,
                record,
                name=self.lease_name,
                namespace=self.api.namespace,
                holder=self.identity,
                now=started,
                duration_seconds=self.settings.lease_duration_seconds,
                owner=self._lease_owner,
            )
            if decision.action is LeaseAction.CREATE:
                await self.api.create_lease(body)
            else:
                await self.api.replace_lease(body)
            self._contact(bot)
        except ApiCallFailed as error:
            if error.status == 409:
                # Someone else wrote the Lease in between: it may be theirs now.
                self._contact(bot)
                self._drop(bot, was_held, "lost a concurrent write (409)")
            else:
                self._failed()
                bot.events.emit(Event.LEASE_ERROR, lease=self.lease_name, error=str(error))
            return sighting
        self._tenure = Tenure(self.lease_name, self.settings.lease_duration_seconds, started)
        self._rival = None
        if not was_held:
            bot.events.emit(
                Event.LEASE_ACQUIRED,
                lease=self.lease_name,
                holder=self.identity,
                how=decision.action,
                reason=decision.reason,
            )
        return None

    def _drop(self, bot: ControlledBot, was_held: bool, reason: str) -> None:
        self._tenure = Tenure(self.lease_name, self.settings.lease_duration_seconds)
        if was_held:
            bot.events.emit(Event.LEASE_LOST, lease=self.lease_name, reason=reason)

    # -- the dead-man -----------------------------------------------------------

    async def _dead_man_loop(self, bot: ControlledBot) -> None:
        assert self._dead_man is not None and self._halt_feed is not None
        while True:
            now = bot.clocks.clock()
            if self._dead_man.tick(now) is DeadManChange.TRIPPED:
                silent = self._dead_man.unreachable_for(now)
                reason = f"API server unreachable for {silent:.0f}s"
                bot.restrict(SOURCE_DEAD_MAN, TradingMode.REDUCE_ONLY, reason)
                bot.events.emit(Event.DEAD_MAN_TRIP, reason=reason, mode=bot.posture.mode)
            if self._halt_feed.tick(now) is DeadManChange.TRIPPED:
                silent = self._halt_feed.unreachable_for(now)
                reason = f"TradingHalts unreadable for {silent:.0f}s"
                bot.restrict(SOURCE_HALTS_UNREADABLE, TradingMode.REDUCE_ONLY, reason)
                bot.events.emit(Event.HALT_FEED_LOST, reason=reason, mode=bot.posture.mode)
            # An expiry lifts its halt on the next tick.
            self._apply_halts(bot)
            tick = min(self.settings.dead_man_tick_seconds, self._dead_man.timeout / 4)
            await bot.clocks.sleep(tick)

    def _contact(self, bot: ControlledBot) -> None:
        now = bot.clocks.clock()
        self._last_call_ok = True
        self._last_contact = now
        if self._dead_man is not None and self._dead_man.contact(now) is DeadManChange.RECOVERED:
            bot.restrict(SOURCE_DEAD_MAN, None)
            bot.events.emit(Event.DEAD_MAN_CLEAR, mode=bot.posture.mode)

    def _failed(self) -> None:
        self._last_call_ok = False


def render_control(companions: Iterable[object]) -> ControlStatus:
    """The ``control`` section of ``/status`` (disabled when no control companion runs)."""
    for companion in companions:
        if isinstance(companion, KubernetesControl):
            return companion.status()
    return ControlStatus(enabled=False)
