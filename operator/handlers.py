"""The kopf handlers: render children, probe bots, write status, drain on delete, confirm halts.

This is the thin I/O shell around the pure parts: :mod:`children` renders the
objects, :mod:`status_decision` decides the status, :mod:`probe` reads the pod
index entry and the bot's ``/status``, :mod:`halt_status` decides a
TradingHalt's status. Handlers are registered into an explicit registry, so
tests and the command choose what runs.

TradingHalts get no kopf daemon: a daemon would put a finalizer on them, and
deleting a halt (a release) must not wait for the operator. Watch events keep
their latest reading in :class:`Fleet`, each bot's probe publishes what it saw
there, and one confirmer loop writes every halt's status from both.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import aiohttp
import kopf
from kubernetes.client.exceptions import ApiException
from pydantic import ValidationError

from tradewarden.api.bot_status import BotStatus
from tradewarden.api.crd import HALT_PLURAL, PLURAL, VERSION
from tradewarden.api.error_text import error_text
from tradewarden.api.halts import Halt, HaltError, binding_halt, halt_from_object
from tradewarden.api.manifest import SpecError, parse_spec
from tradewarden.api.tradingbot import (
    API_GROUP,
    CLEAR_ABORT_ANNOTATION,
    CLEARED_BY_ANNOTATION,
    DeletionPolicy,
    Phase,
    TradingBotSpec,
    TradingBotStatus,
)
from tradewarden.api.tradinghalt import (
    CREATED_BY_ANNOTATION,
    FLEET_CONFIRMED,
    RELEASED_BY_ANNOTATION,
    HaltState,
    TradingHaltStatus,
)
from tradewarden.operator.children import DEFAULT_BOT_IMAGE, MANAGED_BY, creation_waves
from tradewarden.operator.drain import (
    deletion_policy,
    drain_pending,
    drain_stop,
    drained_message,
    draining_message,
)
from tradewarden.operator.halt_status import BotView, decide_halt_status
from tradewarden.operator.kube import OperatorApi, connection_info
from tradewarden.operator.metrics import OperatorMetrics
from tradewarden.operator.probe import PodSnapshot, fetch_status, snapshot_pod
from tradewarden.operator.status_decision import (
    POD_MISSING,
    ProbeFindings,
    StatusDecision,
    decide_status,
    halt_message,
    status_write_due,
    timestamp,
)

# The audited way out of a drain that cannot finish (a bot that ran and no longer
# answers): why, and who. Both are required; the release is a Warning Event.
FORCE_RELEASE_ANNOTATION = "tradewarden.io/force-release"
FORCE_RELEASED_BY_ANNOTATION = "tradewarden.io/force-released-by"
DRAIN_RUNBOOK = "runbooks/drain-stuck.md"
# Phases a person should look at: their flips are Warning events.
WARNING_PHASES = frozenset({Phase.ABORTED, Phase.FAILED, Phase.DEGRADED, Phase.REDUCE_ONLY})
# Retry delay of a failed reconcile or drain (kopf's default is a minute). They are
# idempotent and their usual failure is the API server refusing a write for a moment.
HANDLER_RETRY_SECONDS = 5.0
LOGGER = logging.getLogger(__name__)

PodIndex = Mapping[tuple[str, str], Any]
_UNSEEN = object()
# kopf always passes the index; the default only satisfies its handler protocols.
NO_PODS: PodIndex = MappingProxyType({})


@dataclass(frozen=True)
class OperatorConfig:
    """What ``tradewarden operator`` was told on its command line and environment."""

    image: str = DEFAULT_BOT_IMAGE
    probe_interval: float = 2.0
    # The bot summary alone (position size, open orders, confidence) is written at most
    # this often; everything people and controllers act on is written at once.
    summary_interval: float = 60.0
    status_timeout: float = 1.5
    drain_timeout: float = 60.0
    drain_poll: float = 1.0


@dataclass
class Fleet:
    """What the operator knows of TradingHalts, namespaces and bots, kept by watch events
    and probes, read by the probes (which halt binds a bot) and the confirmer."""

    halts: dict[str, Halt] = field(default_factory=dict)
    # The halt objects as last seen: metadata for Events, the stored status.
    bodies: dict[str, dict[str, Any]] = field(default_factory=dict)
    namespace_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    views: dict[tuple[str, str], BotView] = field(default_factory=dict)
    # What the confirmer wrote last per halt (the watch may not have delivered it yet).
    written: dict[str, TradingHaltStatus] = field(default_factory=dict)

    def binding(self, namespace: str, labels: Mapping[str, str], now: datetime) -> Halt | None:
        """The halt that binds a bot in ``namespace`` with ``labels`` at ``now``."""
        return binding_halt(
            self.halts.values(), namespace, self.namespace_labels.get(namespace), labels, now
        )


@dataclass
class OperatorState:
    """Shared by the handlers for the life of the operator."""

    config: OperatorConfig
    api: OperatorApi
    metrics: OperatorMetrics
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    session: aiohttp.ClientSession | None = field(default=None, repr=False)
    fleet: Fleet = field(default_factory=Fleet)
    confirmer: asyncio.Task[None] | None = field(default=None, repr=False)

    def http(self) -> aiohttp.ClientSession:
        """The HTTP session for /status, created on first use."""
        if self.session is None:
            self.session = aiohttp.ClientSession()
        return self.session


def _pod(index: PodIndex, namespace: str, name: str) -> PodSnapshot | None:
    store = index.get((namespace, name))
    return next(iter(store), None) if store is not None else None


def previous_status(raw: Mapping[str, Any] | None) -> TradingBotStatus | None:
    """The status as stored, or ``None`` when there is none yet (or it is unreadable)."""
    if not raw or "phase" not in raw:
        return None
    try:
        return TradingBotStatus.model_validate(raw)
    except ValidationError:
        return None


def status_patch(decision: StatusDecision) -> dict[str, Any]:
    """The status as a merge patch: ``None`` values delete (a cleared abort goes away)."""
    return decision.status.model_dump(mode="json", by_alias=True)


def _post_flip(body: kopf.Body, decision: StatusDecision, metrics: OperatorMetrics) -> None:
    flip = decision.flip
    if flip is None:
        return
    phase = decision.status.phase
    before = decision.previous_phase.value if decision.previous_phase else "no status yet"
    ready = next((c for c in decision.status.conditions if c.type == "Ready"), None)
    detail = f": {ready.message}" if ready and ready.message else ""
    kopf.event(
        body,
        type="Warning" if phase in WARNING_PHASES else "Normal",
        reason=flip.reason,
        message=f"{before} -> {phase.value} ({decision.status.trading_mode.value}){detail}",
    )
    metrics.flips.labels(reason=flip.reason).inc()


def register(registry: kopf.OperatorRegistry, state: OperatorState) -> None:
    """Register every handler of the operator into ``registry``."""
    config = state.config
    resource = (API_GROUP, VERSION, PLURAL)

    @kopf.on.login(id="login", registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        # The identity the operator's own writes use, re-read on every (re-)login.
        return connection_info(state.api.configuration)

    @kopf.on.cleanup(id="close_session", registry=registry)
    async def close_session(**_: Any) -> None:
        if state.confirmer is not None:
            state.confirmer.cancel()
            await asyncio.gather(state.confirmer, return_exceptions=True)
        if state.session is not None:
            await state.session.close()
        await state.api.close()

    # /readyz (kopf serves it after login and startup; --ready-port): ready while the API
    # server answers with these credentials. A failure is final for this request, so the
    # kubelet's probe gets a 500 at once instead of waiting out kopf's retries.
    @kopf.on.probe(id="apiServer", registry=registry)
    async def api_server(**_: Any) -> str:
        try:
            await state.api.check_reachable()
        except (ApiException, aiohttp.ClientError, TimeoutError) as error:
            raise kopf.PermanentError(
                f"the API server is not reachable: {error_text(error)}"
            ) from error
        return "reachable"

    @kopf.on.event(API_GROUP, VERSION, HALT_PLURAL, id="trading_halts", registry=registry)
    def trading_halts(
        *, type: str | None, body: kopf.Body, name: str, logger: kopf.Logger, **_: Any
    ) -> None:
        fleet = state.fleet
        if type == "DELETED":
            fleet.halts.pop(name, None)
            fleet.bodies.pop(name, None)
            fleet.written.pop(name, None)
            return
        try:
            fleet.halts[name] = halt_from_object(body)
        except HaltError as error:
            logger.warning(f"{error}; the last good reading of it stays")
            return
        fleet.bodies[name] = copy.deepcopy(dict(body))

    @kopf.on.event("namespaces", id="namespace_labels", registry=registry)
    def namespace_labels(
        *, type: str | None, name: str, labels: Mapping[str, str], **_: Any
    ) -> None:
        if type == "DELETED":
            state.fleet.namespace_labels.pop(name, None)
        else:
            state.fleet.namespace_labels[name] = dict(labels)

    @kopf.on.startup(id="start_halt_confirmer", registry=registry)
    async def start_halt_confirmer(**_: Any) -> None:
        state.confirmer = asyncio.create_task(_confirm_halts(state), name="halt-confirmer")

    # The id is the keyword the index arrives under in the other handlers.
    @kopf.index(
        "pods",
        id="bot_pods",
        labels={"app.kubernetes.io/managed-by": MANAGED_BY},
        registry=registry,
    )
    def bot_pods(
        *,
        namespace: str | None,
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
        status: Mapping[str, Any],
        **_: Any,
    ) -> dict[tuple[str, str], PodSnapshot]:
        bot = labels.get("tradewarden.io/bot")
        if bot is None or namespace is None:
            return {}
        return {(namespace, bot): snapshot_pod(annotations, status)}

    @kopf.on.resume(*resource, id="reconcile", backoff=HANDLER_RETRY_SECONDS, registry=registry)
    @kopf.on.create(*resource, id="reconcile", backoff=HANDLER_RETRY_SECONDS, registry=registry)
    @kopf.on.update(*resource, id="reconcile", backoff=HANDLER_RETRY_SECONDS, registry=registry)
    async def reconcile(body: kopf.Body, **_: Any) -> None:
        with state.metrics.reconcile_seconds.time():
            # Three round trips' latency per bot instead of six, each child first time right.
            try:
                waves = creation_waves(body, config.image)
            except SpecError as error:
                # Only a CRD of another version lets such a spec through; retrying cannot
                # fix it, the next spec change is handled again.
                raise kopf.PermanentError(f"children not rendered: {error}") from error
            await state.api.apply_waves(waves)

    # A daemon, not a timer: one cheap loop per bot instead of kopf's handler machinery
    # on every tick (1,000 bots at 2 s are 500 ticks a second).
    @kopf.daemon(*resource, id="probe", cancellation_timeout=5, registry=registry)
    async def probe(
        *,
        stopped: kopf.DaemonStopped,
        body: kopf.Body,
        name: str,
        namespace: str | None,
        logger: kopf.Logger,
        bot_pods: PodIndex = NO_PODS,
        **_: Any,
    ) -> None:
        prober = _Prober(state, body, namespace or "default", name, bot_pods)
        try:
            while not stopped:
                try:
                    await prober.probe()
                except (ApiException, aiohttp.ClientError, TimeoutError) as error:
                    # The API server is down or overloaded. The next round decides and
                    # writes again; letting the daemon fail would leave the status stale
                    # for kopf's daemon backoff (a minute) after every blip.
                    logger.warning(
                        f"probe round failed, retrying in the next one: {error_text(error)}"
                    )
                await stopped.wait(config.probe_interval)
        finally:
            state.fleet.views.pop((prober.namespace, name), None)

    @kopf.on.delete(*resource, id="drain", backoff=HANDLER_RETRY_SECONDS, registry=registry)
    async def drain(
        *,
        body: kopf.Body,
        name: str,
        namespace: str | None,
        retry: int,
        bot_pods: PodIndex = NO_PODS,
        **_: Any,
    ) -> None:
        namespace = namespace or "default"
        spec: TradingBotSpec | None = None
        try:
            spec = parse_spec(body.spec)
        except SpecError as error:
            if retry == 0:
                message = f"the operator cannot read {error}; draining by Halt, the CRD default"
                kopf.warn(body, reason="SpecInvalid", message=message)
        stop = drain_stop(spec)
        if stop is not None:
            # The bot obeys its own TradingBot's emergencyStop through its watch.
            patch = {"spec": {"emergencyStop": stop.model_dump(mode="json", by_alias=True)}}
            await state.api.patch_bot(namespace, name, patch)
        if retry == 0:
            # kopf.event, not kopf.info: posting.level (WARNING) filters info/warn only.
            kopf.event(body, type="Normal", reason="Draining", message=draining_message(spec))
        policy = deletion_policy(spec)
        symbol = "" if spec is None else spec.symbol
        # Read once: a handler attempt sees one version of the object (kopf retries
        # with the new one after the annotations change).
        release = _release_request(body)
        waited = 0.0
        while True:
            pending, last = await _undrained(
                state, bot_pods, namespace, name, symbol=symbol, policy=policy
            )
            if pending is None:
                message = drained_message(last, symbol, policy)
                kopf.event(body, type="Normal", reason="Drained", message=message)
                break
            if release is not None:
                who, why = release
                kopf.warn(
                    body,
                    reason="ForceReleased",
                    message=f"drain released unverified by {who}: {why} (was: {pending}); "
                    "the bot's orders at the venue were not confirmed closed",
                )
                break
            if waited >= config.drain_timeout:
                kopf.warn(
                    body,
                    reason="DrainStuck",
                    message=f"{pending} after {waited:.0f}s; still waiting (to let it go "
                    f"unverified: annotate {FORCE_RELEASE_ANNOTATION} and "
                    f"{FORCE_RELEASED_BY_ANNOTATION}, see {DRAIN_RUNBOOK})",
                )
                raise kopf.TemporaryError(pending, delay=10)
            await state.sleep(config.drain_poll)
            waited += config.drain_poll
        state.metrics.observe_phase(namespace, name, None)


class _Prober:
    """One bot's probe: read, decide, write the status if it changed, post events."""

    def __init__(
        self, state: OperatorState, body: kopf.Body, namespace: str, name: str, pods: PodIndex
    ) -> None:
        self.state = state
        self.body = body  # kopf keeps this view up to date with every watch event
        self.namespace = namespace
        self.name = name
        self.pods = pods
        # What this prober wrote, and the stored status it replaced: until the watch
        # delivers the write, the stored status is stale and must not be decided on again.
        self._written: TradingBotStatus | None = None
        self._replaced: Any = None
        # The last stored status read and its parsed form (most rounds change nothing).
        self._seen: Any = None
        self._parsed: TradingBotStatus | None = None
        self._written_at: datetime | None = None
        # The TradingHalt binding the bot at the last round (its Events go on changes).
        self._halt: Halt | None = None
        # The last spec read and its parsed form (or why it cannot be read).
        self._spec_seen: Any = _UNSEEN
        self._spec: TradingBotSpec | SpecError = SpecError("spec: not read yet")

    def _previous(self) -> TradingBotStatus | None:
        raw = self.body.get("status")
        if self._written is not None and raw == self._replaced:
            return self._written
        if raw != self._seen:
            self._seen = copy.deepcopy(raw)
            self._parsed = previous_status(raw)
        return self._parsed

    def _read_spec(self) -> TradingBotSpec | SpecError:
        raw = self.body.get("spec")
        if raw != self._spec_seen:
            self._spec_seen = copy.deepcopy(raw)
            try:
                self._spec = parse_spec(raw)
            except SpecError as error:
                self._spec = error
        return self._spec

    async def probe(self) -> None:
        """One round: at most one /status call, one status patch and one annotation patch."""
        state, body = self.state, self.body
        snapshot = _pod(self.pods, self.namespace, self.name)
        bot_status = None
        if snapshot is not None:
            bot_status = await fetch_status(
                state.http(), snapshot.status_url, state.config.status_timeout
            )
        previous = self._previous()
        annotations = body.metadata.annotations
        clear = annotations.get(CLEAR_ABORT_ANNOTATION)
        now = state.clock()
        halt = state.fleet.binding(self.namespace, body.metadata.labels, now)
        decision = decide_status(
            ProbeFindings(
                bot_status=bot_status,
                pod=snapshot.state if snapshot else POD_MISSING,
                spec=self._read_spec(),
                generation=body.metadata.get("generation"),
                previous=previous,
                now=now,
                clear_abort=clear,
                halt=halt,
            )
        )
        age = None if self._written_at is None else (now - self._written_at).total_seconds()
        if status_write_due(previous, decision.status, age, state.config.summary_interval):
            self._replaced = copy.deepcopy(body.get("status"))
            await state.api.patch_bot_status(
                self.namespace, self.name, {"status": status_patch(decision)}
            )
            self._written = decision.status
            self._written_at = now
        _post_flip(body, decision, state.metrics)
        self._post_halt(halt)
        state.fleet.views[(self.namespace, self.name)] = _view(
            self.namespace,
            self.name,
            labels=body.metadata.labels,
            snapshot=snapshot,
            bot_status=bot_status,
            decision=decision,
        )
        state.metrics.observe_phase(self.namespace, self.name, decision.status.phase)
        if clear is not None:
            await self._clear_abort(decision, previous, clear)

    def _post_halt(self, halt: Halt | None) -> None:
        before, self._halt = self._halt, halt
        if halt == before:
            return
        if halt is not None:
            kopf.event(self.body, type="Warning", reason="TradingHalt", message=halt_message(halt))
        elif before is not None:
            message = f"TradingHalt {before.name} no longer binds this bot"
            kopf.event(self.body, type="Normal", reason="TradingHaltLifted", message=message)

    async def _clear_abort(
        self, decision: StatusDecision, previous: TradingBotStatus | None, why: str
    ) -> None:
        who = self.body.metadata.annotations.get(CLEARED_BY_ANNOTATION, "unknown")
        if decision.abort_cleared and previous is not None and previous.abort is not None:
            message = f"abort {previous.abort.reason} cleared by {who}: {why}"
            kopf.event(self.body, type="Normal", reason="AbortCleared", message=message)
        else:
            kopf.event(
                self.body, type="Normal", reason="NothingToClear", message=f"no abort ({who})"
            )
        remove = {CLEAR_ABORT_ANNOTATION: None, CLEARED_BY_ANNOTATION: None}
        await self.state.api.patch_bot(
            self.namespace, self.name, {"metadata": {"annotations": remove}}
        )


def _release_request(body: kopf.Body) -> tuple[str, str] | None:
    """Who released the drain and why (both annotations set), or ``None``.

    Only one of them is refused with a Warning naming the missing one.
    """
    annotations = body.metadata.annotations
    why = annotations.get(FORCE_RELEASE_ANNOTATION, "").strip()
    who = annotations.get(FORCE_RELEASED_BY_ANNOTATION, "").strip()
    if why and who:
        return who, why
    if why or who:
        missing = FORCE_RELEASE_ANNOTATION if not why else FORCE_RELEASED_BY_ANNOTATION
        kopf.warn(
            body,
            reason="ForceReleaseIncomplete",
            message=f"{missing} is empty: a forced release needs who and why; still draining",
        )
    return None


async def _undrained(
    state: OperatorState,
    index: PodIndex,
    namespace: str,
    name: str,
    *,
    symbol: str,
    policy: DeletionPolicy,
) -> tuple[str | None, BotStatus | None]:
    """What still keeps a deleted bot from being drained (``None`` once it is), and its /status.

    A missing or crash-looping pod, or one whose bot container never started
    (Pending, unschedulable, image not pulled), is not trading. A pod that ran and
    does not answer may be, so it is not drained yet.
    """
    snapshot = _pod(index, namespace, name)
    if snapshot is None or snapshot.state.crash_looping or snapshot.state.never_started:
        return None, None
    bot_status = await fetch_status(state.http(), snapshot.status_url, state.config.status_timeout)
    if bot_status is None:
        return "the bot does not answer /status", None
    return drain_pending(bot_status, symbol, policy), bot_status


def _view(
    namespace: str,
    name: str,
    *,
    labels: Mapping[str, str],
    snapshot: PodSnapshot | None,
    bot_status: BotStatus | None,
    decision: StatusDecision,
) -> BotView:
    """What one probe round saw of a bot, for the halts that match it."""
    position = Decimal(0)
    if bot_status is not None:
        summary = decision.status.bot
        try:
            position = Decimal(summary.position) if summary is not None else Decimal(0)
        except ArithmeticError:
            position = Decimal(0)
    return BotView(
        namespace=namespace,
        name=name,
        labels=dict(labels),
        mode=decision.status.trading_mode,
        reachable=bot_status is not None,
        pod_exists=snapshot is not None,
        open_entries=len(bot_status.entries()) if bot_status is not None else 0,
        position=position,
    )


def _halt_events(
    halt: Halt, body: Mapping[str, Any], before: TradingHaltStatus | None, after: TradingHaltStatus
) -> list[tuple[str, str, str]]:
    """The Events (type, reason, message) a status change of a halt is worth."""
    annotations = (body.get("metadata") or {}).get("annotations") or {}
    events = []
    if before is None and after.state is HaltState.ACTIVE:
        who = annotations.get(CREATED_BY_ANNOTATION, "unknown")
        message = (
            f"{halt.spec.action.value} by {who}: {halt.spec.reason}; {after.matched} bots matched"
        )
        events.append(("Warning", "Halting", message))
    if before is not None and before.state is not after.state:
        if after.state is HaltState.RELEASED:
            who = annotations.get(RELEASED_BY_ANNOTATION, "unknown")
            reason = halt.spec.release.reason if halt.spec.release else ""
            events.append(("Normal", "Released", f"released by {who}: {reason}"))
        elif after.state is HaltState.EXPIRED:
            events.append(("Normal", "Expired", f"expired at {halt.spec.expires_at}"))
    was = _fleet_confirmed(before)
    if _fleet_confirmed(after) and not was:
        condition = next(c for c in after.conditions if c.type == FLEET_CONFIRMED)
        events.append(("Normal", FLEET_CONFIRMED, condition.message))
    return events


def _fleet_confirmed(status: TradingHaltStatus | None) -> bool:
    return status is not None and any(
        c.type == FLEET_CONFIRMED and c.status == "True" for c in status.conditions
    )


def _stored_halt_status(body: Mapping[str, Any]) -> TradingHaltStatus | None:
    raw = body.get("status")
    if not raw:
        return None
    try:
        return TradingHaltStatus.model_validate(raw)
    except ValidationError:
        return None


async def _confirm_halts(state: OperatorState) -> None:
    """Every probe interval: decide each halt's status, write it when it changed, post Events."""
    while True:
        try:
            await _confirm_round(state)
        except Exception:
            # A bug in one round must not end the confirmations for good.
            LOGGER.exception("halt confirmation round failed")
        await state.sleep(state.config.probe_interval)


async def _confirm_round(state: OperatorState) -> None:
    fleet = state.fleet
    for name, halt in list(fleet.halts.items()):
        body = fleet.bodies.get(name) or {}
        before = fleet.written.get(name) or _stored_halt_status(body)
        now = state.clock()
        after = decide_halt_status(
            halt,
            list(fleet.views.values()),
            namespace_labels=fleet.namespace_labels,
            previous=before,
            generation=(body.get("metadata") or {}).get("generation"),
            now=now,
        )
        if after == before:
            continue
        try:
            await state.api.patch_halt_status(
                name, {"status": after.model_dump(mode="json", by_alias=True)}
            )
            fleet.written[name] = after
            for kind, reason, message in _halt_events(halt, body, before, after):
                await state.api.post_event(body, kind, reason, message, timestamp(now))
        except (ApiException, aiohttp.ClientError, TimeoutError) as error:
            # Decided again and written in the next round.
            LOGGER.warning(f"status of TradingHalt {name} not written: {error_text(error)}")
