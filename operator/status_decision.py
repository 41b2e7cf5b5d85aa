"""Turn what the probe saw into a TradingBot's status. Pure: no I/O, the clock is an argument.

Inputs are the bot's ``/status`` (:class:`tradewarden.api.bot_status.BotStatus`,
``None`` when unreachable or unreadable), the pod's state, the spec (a
:class:`tradewarden.api.tradingbot.TradingBotSpec`), the previous status and
the time. The phase is the most severe finding, in this order: a (sticky)
abort, a crash loop, an unreachable bot, preflight still running, drift, a
tripped guard, a TradingHalt or the bot's own emergency stop (the more
restrictive; the halt on a tie) or planned pause, and otherwise Running. A
spec the operator cannot read (only a CRD of another version lets one through)
is Degraded, SpecInvalid, in the place of the stop and pause it hides. The
``TradingHalt`` condition is True while a halt binds the bot, naming it,
whatever else decides the phase. Conditions keep their ``lastTransitionTime``
unless their status changes. An abort stays recorded
until a person clears it with the ``tradewarden.io/clear-abort`` annotation;
a spec change never clears it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from tradewarden.api.bot_status import BotStatus, DriftStatus
from tradewarden.api.halts import SEVERITY, Halt
from tradewarden.api.manifest import SpecError
from tradewarden.api.tradingbot import (
    EMERGENCY_PHASE,
    AbortRecord,
    BotSummary,
    Condition,
    Flip,
    Phase,
    TradingBotSpec,
    TradingBotStatus,
    TradingMode,
)

CONDITION_TYPES = ("Ready", "PreflightPassed", "BotHealthy", "InSync", "Protected", "TradingHalt")
# What Ready sums up: it is never True while one of these is False.
READY_DEPENDS_ON = ("PreflightPassed", "BotHealthy", "InSync", "Protected")
# The flip reason and Ready reason while a TradingHalt decides the phase.
HALT_REASON = "TradingHalt"

ConditionStatus = Literal["True", "False", "Unknown"]


@dataclass(frozen=True)
class PodState:
    """What the probe knows about the bot's pod."""

    exists: bool
    ready: bool = False
    restarts: int = 0
    crash_looping: bool = False
    # The bot container has never run in this pod: Pending, unschedulable, its image
    # not pulled, still being created. Nothing in it can be trading.
    never_started: bool = False


POD_MISSING = PodState(exists=False)


@dataclass(frozen=True)
class ProbeFindings:
    """One probe's findings."""

    bot_status: BotStatus | None
    pod: PodState
    # The TradingBot's spec, or why it cannot be read (a CRD of another version).
    spec: TradingBotSpec | SpecError
    generation: int | None
    previous: TradingBotStatus | None
    now: datetime
    clear_abort: str | None = None
    # The TradingHalt binding the bot (most restrictive in force that selects it).
    halt: Halt | None = None


@dataclass(frozen=True)
class StatusDecision:
    """The new status and what changed on the way."""

    status: TradingBotStatus
    flip: Flip | None
    previous_phase: Phase | None
    abort_cleared: bool


def _drift_message(drift: DriftStatus) -> str:
    """What the bot's ``/status`` ``drift`` says, for a person."""
    strays = ", ".join(drift.strays)
    if strays:
        return f"unknown bot orders at the venue (cancelled once confirmed): {strays}"
    return "bot-owned orders unknown to the journal were found at the venue and cancelled"


@dataclass(frozen=True)
class _PhaseChoice:
    """The phase the status takes, and the reason and message it gives for it."""

    phase: Phase
    reason: str
    message: str


def timestamp(now: datetime) -> str:
    """RFC 3339 in UTC, second precision, as Kubernetes writes times."""
    return now.strftime("%Y-%m-%dT%H:%M:%SZ")


def _abort_from_bot(bot: BotStatus, now: str) -> AbortRecord | None:
    if bot.preflight is not None and bot.preflight.passed is False:
        failed = [
            f"{check.name}: {check.detail}".strip()
            for check in bot.preflight.checks
            if not check.ok
        ]
        message = "; ".join(failed) or "preflight failed"
        return AbortRecord(reason="PreflightFailed", message=message, time=now)
    kill = bot.kill_switch
    if kill.engaged:
        return AbortRecord(reason="KillSwitch", message=kill.reason or "engaged", time=now)
    return None


def halt_message(halt: Halt) -> str:
    """How a bot's status names the halt that binds it."""
    return f"TradingHalt {halt.name} {halt.spec.action.value}: {halt.spec.reason}"


def _control_phase(spec: TradingBotSpec | SpecError, halt: Halt | None) -> _PhaseChoice | None:
    if isinstance(spec, SpecError):
        # Whether a person stopped or paused the bot is not known: say so, guess nothing.
        return _PhaseChoice(Phase.DEGRADED, "SpecInvalid", f"the operator cannot read {spec}")
    stop = spec.emergency_stop
    own = stop.action if stop is not None else None
    if halt is not None and (own is None or SEVERITY[halt.spec.action] >= SEVERITY[own]):
        return _PhaseChoice(EMERGENCY_PHASE[halt.spec.action], HALT_REASON, halt_message(halt))
    if stop is not None:
        phase = EMERGENCY_PHASE[stop.action]
        return _PhaseChoice(phase, "EmergencyStop", f"{stop.action.value}: {stop.reason}")
    if spec.paused:
        return _PhaseChoice(Phase.PAUSED, "Paused", "spec.paused is true")
    return None


def _choose_phase(observation: ProbeFindings, abort: AbortRecord | None) -> _PhaseChoice:
    pod = observation.pod
    bot = observation.bot_status
    previous_phase = observation.previous.phase if observation.previous else Phase.PENDING
    if abort is not None:
        return _PhaseChoice(Phase.ABORTED, abort.reason, abort.message)
    if pod.crash_looping:
        return _PhaseChoice(
            Phase.FAILED, "CrashLoopBackOff", f"bot container restarted {pod.restarts} times"
        )
    if bot is None:
        if not pod.exists:
            return _PhaseChoice(Phase.PENDING, "PodMissing", "the bot's pod does not exist yet")
        if previous_phase is Phase.PENDING and pod.restarts == 0:
            return _PhaseChoice(Phase.PENDING, "PodStarting", "waiting for the bot's /status")
        return _PhaseChoice(Phase.DEGRADED, "BotUnreachable", "the bot's /status did not answer")
    # A bot that does not report preflight at all has none to wait for.
    preflight_running = bot.preflight is not None and bot.preflight.passed is None
    if preflight_running or not bot.recovered:
        return _PhaseChoice(
            Phase.PREFLIGHT, "PreflightRunning", "preflight or recovery in progress"
        )
    if bot.drift.detected:
        return _PhaseChoice(Phase.REDUCE_ONLY, "DriftDetected", _drift_message(bot.drift))
    guard = bot.tripped_guard()
    if guard is not None:
        return _PhaseChoice(Phase.PAUSED, guard.name, guard.reason)
    control = _control_phase(observation.spec, observation.halt)
    if control is not None:
        return control
    if not bot.ready:
        # The bot's own readiness (recovered, markets and a mark price known) is what its
        # readiness probe reports; the pod's Ready condition lags it by a probe period.
        return _PhaseChoice(Phase.PREFLIGHT, "NotReady", "the bot is not ready to trade yet")
    return _PhaseChoice(Phase.RUNNING, "Running", "trading")


def _mode(observation: ProbeFindings, choice: _PhaseChoice) -> TradingMode:
    bot = observation.bot_status
    if bot is not None and bot.trading_mode is not None:
        return bot.trading_mode
    pod = observation.pod
    if not pod.exists or pod.never_started or choice.phase is Phase.FAILED:
        return TradingMode.HALTED
    # Unreachable but running: it may still trade; the last known mode is the best guess.
    return observation.previous.trading_mode if observation.previous else TradingMode.HALTED


def _tri(value: bool | None) -> ConditionStatus:
    if value is None:
        return "Unknown"
    return "True" if value else "False"


def _conditions(
    observation: ProbeFindings, choice: _PhaseChoice
) -> dict[str, tuple[ConditionStatus, str, str]]:
    found = _component_conditions(observation, choice)
    blocking = next((kind for kind in READY_DEPENDS_ON if found[kind][0] == "False"), None)
    if choice.phase is not Phase.RUNNING:
        found["Ready"] = ("False", choice.reason, choice.message)
    elif blocking is not None:
        # The phase follows the bot's own readiness, which the pod's lags by a probe
        # period; Ready waits for both, and for every other condition it depends on.
        _, reason, message = found[blocking]
        found["Ready"] = (
            "False",
            reason,
            f"{blocking} is False" + (f": {message}" if message else ""),
        )
    else:
        found["Ready"] = ("True", choice.reason, choice.message)
    return found


def _component_conditions(
    observation: ProbeFindings, choice: _PhaseChoice
) -> dict[str, tuple[ConditionStatus, str, str]]:
    """Every condition but Ready."""
    bot = observation.bot_status
    pod = observation.pod
    halt = observation.halt
    result: dict[str, tuple[ConditionStatus, str, str]] = {
        "TradingHalt": ("False", "NotHalted", "")
        if halt is None
        else ("True", halt.spec.action.value, halt_message(halt)),
    }
    if bot is None:
        reason = "CrashLoopBackOff" if pod.crash_looping else choice.reason
        for kind in ("PreflightPassed", "InSync", "Protected"):
            result[kind] = ("Unknown", "BotUnreachable", "no /status from the bot")
        result["BotHealthy"] = ("False", reason, choice.message)
        return result
    passed = bot.preflight.passed if bot.preflight is not None else None
    result["PreflightPassed"] = (
        _tri(passed),
        {True: "Passed", False: "PreflightFailed", None: "NotRun"}[passed],
        "",
    )
    healthy = pod.ready and not pod.crash_looping and bot.ready
    result["BotHealthy"] = (
        _tri(healthy),
        "Healthy" if healthy else ("CrashLoopBackOff" if pod.crash_looping else "NotReady"),
        f"restarts: {pod.restarts}",
    )
    streak = bot.belief.mismatch_streak
    in_sync: tuple[ConditionStatus, str, str]
    if bot.drift.detected:
        in_sync = ("False", "DriftDetected", "bot-owned orders at the venue unknown locally")
    elif bot.kill_switch.engaged:
        in_sync = ("False", "KillSwitch", "persistent divergence")
    elif streak:
        in_sync = ("False", "Mismatch", f"mismatch streak {streak}")
    else:
        in_sync = ("True", "InSync", "")
    result["InSync"] = in_sync
    protection = bot.protection
    if protection is None:
        result["Protected"] = ("Unknown", "NotReported", "")
    elif protection.protected:
        result["Protected"] = ("True", "Protected", "")
    else:
        result["Protected"] = ("False", "StopMissing", "a position lacks its protective stop")
    return result


def _merge_conditions(
    observation: ProbeFindings, found: Mapping[str, tuple[ConditionStatus, str, str]]
) -> list[Condition]:
    previous = {
        c.type: c for c in (observation.previous.conditions if observation.previous else [])
    }
    now = timestamp(observation.now)
    merged = []
    for kind in CONDITION_TYPES:
        status, reason, message = found[kind]
        before = previous.get(kind)
        since = before.last_transition_time if before and before.status == status else now
        merged.append(
            Condition(
                type=kind,
                status=status,
                reason=reason,
                message=message,
                last_transition_time=since,
            )
        )
    return merged


def _summary(observation: ProbeFindings) -> BotSummary | None:
    bot = observation.bot_status
    if bot is None:
        return observation.previous.bot if observation.previous else None
    spec = observation.spec
    symbol = bot.symbol if isinstance(spec, SpecError) else spec.symbol
    return BotSummary(
        position=str(bot.position(symbol)),
        open_orders=len(bot.open_orders),
        confidence=bot.belief.confidence,
        incomplete_lifecycles=len(bot.incomplete_lifecycles),
    )


def decide_status(observation: ProbeFindings) -> StatusDecision:
    """The new status for one probe's observation."""
    previous = observation.previous
    now = timestamp(observation.now)
    abort = previous.abort if previous else None
    cleared = abort is not None and observation.clear_abort is not None
    if cleared:
        abort = None
    if abort is None and observation.bot_status is not None:
        abort = _abort_from_bot(observation.bot_status, now)
    choice = _choose_phase(observation, abort)
    previous_phase = previous.phase if previous else None
    flip = previous.last_flip if previous else None
    flipped = None
    if choice.phase is not previous_phase:
        flipped = Flip(reason=choice.reason, time=now)
        flip = flipped
    status = TradingBotStatus(
        observed_generation=observation.generation,
        phase=choice.phase,
        trading_mode=_mode(observation, choice),
        conditions=_merge_conditions(observation, _conditions(observation, choice)),
        last_flip=flip,
        abort=abort,
        bot=_summary(observation),
    )
    return StatusDecision(
        status=status, flip=flipped, previous_phase=previous_phase, abort_cleared=cleared
    )


def status_write_due(
    previous: TradingBotStatus | None,
    new: TradingBotStatus,
    summary_age: float | None,
    summary_interval: float,
) -> bool:
    """Whether a probe round writes ``new`` over the stored ``previous``.

    Everything a person or a controller acts on (phase, mode, conditions, reasons,
    abort, observed generation, whether the bot is flat, incomplete lifecycles) is
    written at once. The rest of the bot summary (the position's size, the
    open-order count, the confidence) moves with every fill and order of a trading
    bot; alone it is written at most once per ``summary_interval`` seconds
    (``summary_age``: seconds since this prober last wrote, ``None`` before its
    first write), so watchers of a steady bot see no stream of MODIFIED events.
    """
    if previous is None:
        return True
    if new.model_copy(update={"bot": None}) != previous.model_copy(update={"bot": None}):
        return True
    before, after = previous.bot, new.bot
    if before == after:
        return False
    if before is None or after is None:
        return True
    if _flat(before) != _flat(after) or before.incomplete_lifecycles != after.incomplete_lifecycles:
        return True
    return summary_age is None or summary_age >= summary_interval


def _flat(summary: BotSummary) -> bool:
    try:
        return Decimal(summary.position) == 0
    except ArithmeticError:
        return False
