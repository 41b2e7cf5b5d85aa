"""GitOps examples: the Argo CD Lua health check (run in a real Lua) and the manifests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import combinations, product
from typing import Any

import pytest
import yaml
from lupa import LuaRuntime

from tests.ship.conftest import ROOT
from tradewarden.api.bot_status import read_bot_status
from tradewarden.api.halts import halt_from_object
from tradewarden.api.manifest import parse_spec
from tradewarden.api.tradingbot import AbortRecord, Phase, TradingBotStatus, TradingMode
from tradewarden.bot.model.guards import DEAD_MAN, GUARD_NAMES
from tradewarden.operator.status_decision import (
    CONDITION_TYPES,
    POD_MISSING,
    PodState,
    ProbeFindings,
    decide_status,
)

GITOPS = ROOT / "helm" / "gitops"
LUA = (GITOPS / "argocd" / "tradingbot-health.lua").read_text()


def health(obj: dict[str, Any]) -> tuple[str, str]:
    lua = LuaRuntime(unpack_returned_tuples=True)
    lua.globals().obj = lua.table_from(obj, recursive=True)
    result = lua.execute(LUA)
    return result["status"], result["message"]


# The grid the operator's decision function is run over: pod states, the bot's own
# findings (alone and in pairs), its trading mode, the spec's person-made controls and
# the status the operator had before. Every status it writes for these is checked.
PODS = {
    "missing": POD_MISSING,
    "starting": PodState(exists=True),
    "restarted": PodState(exists=True, restarts=2),
    "ready": PodState(exists=True, ready=True),
    "crash-looping": PodState(exists=True, restarts=5, crash_looping=True),
}
FINDINGS: dict[str, dict[str, Any]] = {
    "preflight running": {"preflight": {"passed": None}},
    "recovering": {"recovered": False},
    "preflight failed": {
        "preflight": {"passed": False, "checks": [{"name": "balance", "ok": False}]}
    },
    "drift": {"drift": {"detected": True, "strays": ["x1"]}},
    **{
        f"guard {name}": {"guards": [{"name": name, "tripped": True, "reason": "tripped"}]}
        for name in (*GUARD_NAMES, DEAD_MAN)
    },
    "kill switch": {"killSwitch": {"engaged": True, "reason": "divergence"}},
    "not ready": {"ready": False},
    "mismatch": {"belief": {"mismatchStreak": 2}},
    "unprotected": {"protection": {"protected": False}},
    "protection unreported": {"protection": None},
}
CONTROLS: dict[str, dict[str, Any]] = {
    "none": {},
    "paused": {"paused": True},
    **{
        f"emergency stop {action}": {"emergencyStop": {"action": action, "reason": "desk call"}}
        for action in ("ReduceOnly", "Halt", "Flatten")
    },
    # A desk-wide TradingHalt binding the bot (not a spec field: the halt is passed on).
    **{
        f"trading halt {action}": {"tradingHalt": action}
        for action in ("ReduceOnly", "Halt", "Flatten")
    },
}
NOW = datetime(2026, 1, 1, tzinfo=UTC)
RUNNING_BEFORE = TradingBotStatus(phase=Phase.RUNNING, trading_mode=TradingMode.ACTIVE)
ABORTED_BEFORE = TradingBotStatus(
    phase=Phase.ABORTED,
    trading_mode=TradingMode.HALTED,
    abort=AbortRecord(reason="KillSwitch", message="divergence", time="2026-01-01T00:00:00Z"),
)
PREVIOUS = {"none": None, "running": RUNNING_BEFORE, "aborted": ABORTED_BEFORE}


@dataclass(frozen=True)
class Case:
    """One point of the grid and the health a platform team expects for it."""

    pod: str
    findings: tuple[str, ...]
    mode: str | None
    control: str
    previous: str

    def bot_status(self) -> dict[str, Any] | None:
        if self.mode is None:
            return None
        bot: dict[str, Any] = {
            "tradingMode": self.mode,
            "preflight": {"passed": True},
            "protection": {"protected": True},
        }
        for finding in self.findings:
            bot.update(FINDINGS[finding])
        return bot

    def expected(self) -> str:
        """The health from what happened, not from the status written for it."""
        found = set(self.findings)
        pod = PODS[self.pod]
        bot = self.bot_status()
        guard = any(finding.startswith("guard ") for finding in found)
        person = self.control != "none"
        if self.previous == "aborted" or found & {"preflight failed", "kill switch"}:
            return "Degraded"
        if pod.crash_looping:
            return "Degraded"
        if bot is None:
            starting = self.previous == "none" and pod.restarts == 0
            return "Progressing" if not pod.exists or starting else "Degraded"
        if found & {"preflight running", "recovering"}:
            return "Progressing"
        if guard or "drift" in found:
            return "Degraded"
        if not person and "not ready" in found:
            return "Progressing"
        if found & {"mismatch", "unprotected", "not ready"} or not pod.ready:
            return "Degraded"
        if person:
            return "Suspended"
        return "Healthy" if self.mode == TradingMode.ACTIVE.value else "Degraded"


def grid() -> list[Case]:
    pairs = [
        (a, b) for a, b in combinations(FINDINGS, 2) if not FINDINGS[a].keys() & FINDINGS[b].keys()
    ]
    finding_sets = [(), *((f,) for f in FINDINGS), *pairs]
    modes: list[str | None] = [None, *(mode.value for mode in TradingMode)]
    return [
        Case(pod, findings, mode, control, previous)
        for pod, findings, mode, control, previous in product(
            PODS, finding_sets, modes, CONTROLS, PREVIOUS
        )
        if mode is not None or not findings
    ]


def written_status(case: Case) -> dict[str, Any]:
    control = dict(CONTROLS[case.control])
    action = control.pop("tradingHalt", None)
    halt = None
    if action is not None:
        halt = halt_from_object(
            {
                "metadata": {"name": "desk-stop"},
                "spec": {"action": action, "reason": "desk call", "allBots": True},
            }
        )
    decision = decide_status(
        ProbeFindings(
            bot_status=read_bot_status(case.bot_status()),
            pod=PODS[case.pod],
            spec=parse_spec(
                {
                    "symbol": "BTC/USDT:USDT",
                    "risk": {"maxPosition": "0.01", "maxOrderNotional": "1000"},
                    **control,
                }
            ),
            generation=3,
            previous=PREVIOUS[case.previous],
            now=NOW,
            halt=halt,
        )
    )
    return decision.status.model_dump(mode="json", by_alias=True, exclude_none=True)


def test_lua_health_over_every_status_the_operator_writes() -> None:
    lua = LuaRuntime(unpack_returned_tuples=True)
    check = lua.eval(f"function(obj) {LUA} end")
    wrong = []
    seen: set[tuple[str, str, tuple[tuple[str, str, str], ...]]] = set()
    for case in grid():
        status = written_status(case)
        conditions = tuple((c["type"], c["status"], c["reason"]) for c in status["conditions"])
        seen.add((status["phase"], status["tradingMode"], conditions))
        obj = {"metadata": {"generation": 3}, "spec": {}, "status": status}
        verdict = check(lua.table_from(obj, recursive=True))
        got, message = verdict["status"], verdict["message"]
        if got != case.expected():
            wrong.append((case, got, message))
        assert status["phase"] in message, message
        if got in ("Degraded", "Suspended"):
            assert any(c[2] in message for c in conditions), (case, message)
        # The same status is Progressing while the bot is deleted or its spec is ahead.
        for metadata in (
            {"generation": 3, "deletionTimestamp": "2026-01-01T00:00:00Z"},
            {"generation": 4},
        ):
            stale = check(lua.table_from({**obj, "metadata": metadata}, recursive=True))
            assert stale["status"] == "Progressing", (case, metadata, stale["message"])
    assert not wrong, wrong[:5]
    phases = {phase for phase, _, _ in seen}
    modes = {mode for _, mode, _ in seen}
    assert phases == {phase.value for phase in Phase}
    assert modes == {mode.value for mode in TradingMode}
    for kind in CONDITION_TYPES:
        written = {status for _, _, conditions in seen for k, status, _ in conditions if k == kind}
        assert {"True", "False"} <= written, kind


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (
            {
                "phase": "Paused",
                "conditions": [
                    {"type": "Ready", "status": "False", "reason": "apiHealth", "message": "418"}
                ],
            },
            ("Degraded", "Paused imposed by a guard, unknown mode: apiHealth: 418"),
        ),
        (
            {
                "phase": "ReduceOnly",
                "tradingMode": "ReduceOnly",
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "False",
                        "reason": "EmergencyStop",
                        "message": "ReduceOnly: desk call",
                    }
                ],
            },
            (
                "Suspended",
                "ReduceOnly by a person, ReduceOnly: EmergencyStop: ReduceOnly: desk call",
            ),
        ),
        (
            {
                "phase": "Running",
                "tradingMode": "Active",
                "conditions": [{"type": "Ready", "status": "False", "reason": "BotUnhealthy"}],
            },
            ("Degraded", "Running, Ready is False: BotUnhealthy"),
        ),
        (
            {"phase": "Halted", "tradingMode": "Halted"},
            ("Unknown", "phase Halted is not one this health check knows"),
        ),
    ],
)
def test_lua_health_messages(status: dict[str, Any], expected: tuple[str, str]) -> None:
    assert (
        health({"metadata": {"generation": 1}, "status": {"observedGeneration": 1, **status}})
        == expected
    )


def test_lua_health_calls_a_trading_halt_suspended() -> None:
    """A fleet halt is a person's stop (the Ready or flip reason TradingHalt, as the operator
    writes it); a guard's restriction on a halted bot stays Degraded, as with an emergencyStop."""
    by_reason = {"phase": "Paused", "tradingMode": "Halted", "lastFlip": {"reason": "TradingHalt"}}
    halted = {"type": "TradingHalt", "status": "True", "reason": "Flatten", "message": "desk-red"}
    by_ready = {
        "phase": "Paused",
        "tradingMode": "Halted",
        "conditions": [
            {"type": "Ready", "status": "False", "reason": "TradingHalt", "message": "desk-red"},
            halted,
        ],
    }
    guard = {
        "phase": "Paused",
        "tradingMode": "Halted",
        "conditions": [
            {"type": "Ready", "status": "False", "reason": "apiHealth", "message": "418"},
            halted,
        ],
    }
    assert health({"status": by_reason})[0] == "Suspended"
    assert health({"status": by_ready})[0] == "Suspended"
    assert health({"status": guard})[0] == "Degraded"


def test_lua_health_without_status_is_progressing() -> None:
    assert health({"spec": {}}) == ("Progressing", "waiting for the operator to write status")


def test_lua_health_names_the_abort_reason() -> None:
    status, message = health(
        {"status": {"phase": "Aborted", "abort": {"reason": "KillSwitch", "message": "divergence"}}}
    )
    assert (status, message) == ("Degraded", "Aborted: KillSwitch: divergence")


def test_argocd_cm_embeds_the_same_lua() -> None:
    cm = yaml.safe_load((GITOPS / "argocd" / "argocd-cm-patch.yaml").read_text())
    assert (
        cm["data"]["resource.customizations.health.tradewarden.io_TradingBot"].strip()
        == LUA.strip()
    )


def test_applicationset_ignores_the_emergency_stop_for_every_environment() -> None:
    appset = yaml.safe_load((GITOPS / "argocd" / "applicationset.yaml").read_text())
    envs = {element["env"] for element in appset["spec"]["generators"][0]["list"]["elements"]}
    assert envs == {"dev", "canary", "prod"}
    spec = appset["spec"]["template"]["spec"]
    assert {
        "group": "tradewarden.io",
        "kind": "TradingBot",
        "jsonPointers": ["/spec/emergencyStop"],
    } in spec["ignoreDifferences"]
    assert "RespectIgnoreDifferences=true" in spec["syncPolicy"]["syncOptions"]
    assert "finalizers" not in appset["spec"]["template"]["metadata"]


@pytest.mark.parametrize("env", ["dev", "canary", "prod"])
def test_flux_release_per_environment(env: str) -> None:
    release = yaml.safe_load((GITOPS / "flux" / env / "release" / "helmrelease.yaml").read_text())
    assert release["spec"]["chart"]["spec"]["valuesFiles"] == [
        f"helm/tradewarden/values-{env}.yaml"
    ]
    assert release["spec"]["upgrade"]["crds"] == "CreateReplace"
    assert (ROOT / release["spec"]["chart"]["spec"]["valuesFiles"][0]).is_file()
    sync = yaml.safe_load((GITOPS / "flux" / env / "sync.yaml").read_text())
    assert sync["kind"] == "Kustomization"
    assert sync["spec"]["path"] == f"./helm/gitops/flux/{env}/release"
    assert sync["spec"]["prune"] is False
