"""GitOps examples: the Argo CD Lua health check (run in a real Lua) and the manifests."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from lupa import LuaRuntime

from tests.ship.conftest import ROOT

GITOPS = ROOT / "helm" / "gitops"
LUA = (GITOPS / "argocd" / "tradingbot-health.lua").read_text()


def health(obj: dict[str, Any]) -> tuple[str, str]:
    lua = LuaRuntime(unpack_returned_tuples=True)
    lua.globals().obj = lua.table_from(obj, recursive=True)
    result = lua.execute(LUA)
    return result["status"], result["message"]


@pytest.mark.parametrize(
    ("phase", "expected"),
    [
        ("Running", "Healthy"),
        ("Paused", "Suspended"),
        ("ReduceOnly", "Suspended"),
        ("Aborted", "Degraded"),
        ("Degraded", "Degraded"),
        ("Failed", "Degraded"),
        ("Pending", "Progressing"),
        ("Preflight", "Progressing"),
    ],
)
def test_lua_health_maps_each_phase(phase: str, expected: str) -> None:
    status, message = health({"status": {"phase": phase, "lastFlip": {"reason": "r"}}})
    assert status == expected
    assert message == f"{phase}: r"


def test_lua_health_without_status_is_progressing() -> None:
    assert health({"spec": {}}) == ("Progressing", "waiting for the operator to write status")


def test_lua_health_names_the_abort_reason() -> None:
    status, message = health({"status": {"phase": "Aborted", "abort": {"reason": "KillSwitch"}}})
    assert (status, message) == ("Degraded", "Aborted: KillSwitch")


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
