"""The kubectl plugin builds exactly the commands the runbooks document.

The table tests check the kubectl command lines; the live tests run the plugin
as ``kubectl tradewarden ...`` (found by the real kubectl on PATH) against the
sandbox API server and check what landed on the TradingBot.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.sandbox.conftest import CRD, KUBECTL, Kubectl, bot_manifest
from tradewarden.api.crd import TRADING_HALT, custom_resource_definition
from tradewarden.operator.kubectl_plugin import (
    UsageError,
    build_command,
    halt_document,
    parser,
    split_requirements,
    summarize,
)
from tradewarden.operator.sandbox.apiserver import SandboxApi, running_api_server
from tradewarden.operator.sandbox.selectors import Requirement, parse_selector
from tradewarden.operator.toolchain import venv_bin

CONN = ["--kubeconfig=/k", "--context=c", "--namespace=canary"]


def command(*argv: str) -> list[str]:
    return build_command(
        parser().parse_args(["--kubeconfig", "/k", "--context", "c", "-n", "canary", *argv])
    )


@pytest.mark.parametrize(
    ("argv", "patch"),
    [
        (["pause", "btc"], {"spec": {"paused": True}}),
        (["resume", "btc"], {"spec": {"paused": False, "emergencyStop": None}}),
        (
            ["stop", "btc", "--action", "Halt", "--reason", "ops: venue outage"],
            {"spec": {"emergencyStop": {"action": "Halt", "reason": "ops: venue outage"}}},
        ),
    ],
)
def test_patches_use_the_documented_merge_patch(argv: list[str], patch: dict[str, object]) -> None:
    line = command(*argv)
    assert line[:4] == ["patch", "tradingbot", "btc", "--type=merge"]
    assert json.loads(line[line.index("-p") + 1]) == patch
    assert "--field-manager=kubectl-tradewarden" in line
    assert line[-3:] == CONN


def test_connection_flags_work_after_the_verb_as_the_runbooks_write_them() -> None:
    line = build_command(
        parser().parse_args(["stop", "btc", "-n", "canary", "--action", "Halt", "--reason", "x"])
    )
    assert "--namespace=canary" in line
    before = build_command(parser().parse_args(["-n", "canary", "status", "btc"]))
    assert "--namespace=canary" in before


def test_retry_sets_clear_abort_and_who() -> None:
    line = command("retry", "btc", "--reason", "drift understood", "--by", "alice")
    assert line[:4] == ["annotate", "tradingbot", "btc", "--overwrite"]
    assert "tradewarden.io/clear-abort=drift understood" in line
    assert "tradewarden.io/cleared-by=alice" in line
    assert "--field-manager=kubectl-tradewarden" in line


def test_stop_refuses_an_unknown_action() -> None:
    with pytest.raises(SystemExit):
        parser().parse_args(["stop", "btc", "--action", "Panic", "--reason", "x"])


def test_status_reads_json_and_summarizes_the_abort() -> None:
    assert command("status", "btc")[:4] == ["get", "tradingbot", "btc", "--output=json"]
    text = summarize(
        {
            "metadata": {"name": "btc", "namespace": "canary"},
            "spec": {"emergencyStop": {"action": "Halt", "reason": "ops"}},
            "status": {
                "phase": "Aborted",
                "tradingMode": "Halted",
                "abort": {"reason": "KillSwitch", "message": "divergence", "time": "t"},
            },
        }
    )
    assert "canary/btc: phase Aborted, mode Halted" in text
    assert "emergencyStop: Halt (ops)" in text
    assert "kubectl tradewarden retry btc --reason" in text


# ---- live, against the sandbox API server ----------------------------------------------------


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[tuple[SandboxApi, Path]]:
    """A sandbox API server holding one TradingBot ``alpha`` in ``canary``."""
    async with running_api_server(crds=[CRD, custom_resource_definition(TRADING_HALT)]) as api:
        api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "canary"}})
        kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
        code, _, err = await Kubectl(kubeconfig)(
            "apply", "-f", "-", stdin=yaml.safe_dump(bot_manifest(namespace="canary"))
        )
        assert code == 0, err
        yield api, kubeconfig


async def plugin(kubeconfig: Path, *args: str) -> tuple[int, str, str]:
    """``kubectl tradewarden ARGS`` with the plugin on PATH, as after ``pip install``."""
    process = await asyncio.create_subprocess_exec(
        KUBECTL, "tradewarden", *args, f"--kubeconfig={kubeconfig}",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PATH": f"{venv_bin()}{os.pathsep}{os.environ.get('PATH', '')}"},
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def stored(api: SandboxApi) -> dict[str, Any]:
    found = api.store.find(api.type_of("tradewarden.io/v1alpha1", "TradingBot"), "canary", "alpha")
    assert found is not None
    return dict(found)


async def test_live_stop_pause_resume_patch_the_bot(live: tuple[SandboxApi, Path]) -> None:
    api, kubeconfig = live
    code, out, err = await plugin(
        kubeconfig, "stop", "alpha", "-n", "canary", "--action", "Halt", "--reason", "ops: outage"
    )
    assert code == 0, err
    assert "patched" in out
    assert stored(api)["spec"]["emergencyStop"] == {"action": "Halt", "reason": "ops: outage"}
    code, _, err = await plugin(kubeconfig, "pause", "alpha", "-n", "canary")
    assert code == 0, err
    assert stored(api)["spec"]["paused"] is True
    code, _, err = await plugin(kubeconfig, "-n", "canary", "resume", "alpha")
    assert code == 0, err
    spec = stored(api)["spec"]
    assert spec["paused"] is False
    assert "emergencyStop" not in spec
    assert stored(api)["metadata"]["generation"] == 4


async def test_live_retry_annotates_and_status_summarizes(live: tuple[SandboxApi, Path]) -> None:
    api, kubeconfig = live
    code, _, err = await plugin(
        kubeconfig, "retry", "alpha", "-n", "canary", "--reason", "venue checked", "--by", "alice"
    )
    assert code == 0, err
    annotations = stored(api)["metadata"]["annotations"]
    assert annotations["tradewarden.io/clear-abort"] == "venue checked"
    assert annotations["tradewarden.io/cleared-by"] == "alice"
    code, out, err = await plugin(kubeconfig, "status", "alpha", "-n", "canary")
    assert code == 0, err
    assert out.startswith("canary/alpha: phase Pending")
    code, _, err = await plugin(kubeconfig, "status", "nobody", "-n", "canary")
    assert code != 0
    assert "NotFound" in err


# ---- TradingHalts: halt and release ------------------------------------------------------------

NOW = datetime(2026, 12, 3, 20, 0, tzinfo=UTC)


def halt_of(*argv: str) -> dict[str, Any]:
    return halt_document(parser().parse_args(["halt", *argv, "--by", "alice"]), NOW)


def test_one_splitter_serves_the_plugin_and_the_sandbox_api_server() -> None:
    text = " tier in (a, b),env!=dev , ,desk"
    assert split_requirements(text) == ["tier in (a, b)", "env!=dev", "", "desk"]
    # The sandbox's API server skips empty terms; the plugin refuses them.
    assert parse_selector(text) == (
        Requirement("tier", "in", frozenset({"a", "b"})),
        Requirement("env", "!=", frozenset({"dev"})),
        Requirement("desk", "exists"),
    )
    with pytest.raises(UsageError, match="cannot read ''"):
        halt_of("-A", "-l", text, "--action", "Halt", "--reason", "x")


def test_halt_scopes_namespace_selector_or_every_bot() -> None:
    one = halt_of("-n", "desk-a", "--action", "Flatten", "--reason", "leak", "--for", "1h30m")
    assert one["spec"] == {
        "action": "Flatten",
        "reason": "leak",
        "namespaces": ["desk-a"],
        "expiresAt": "2026-12-03T21:30:00Z",
    }
    assert one["metadata"] == {
        "name": "halt-20261203-200000",
        "annotations": {"tradewarden.io/created-by": "alice"},
    }
    labelled = halt_of("-A", "-l", "team=red,tier in (a, b),!canary,env!=dev,desk",
                       "--action", "Halt", "--reason", "x", "--name", "red")  # fmt: skip
    assert labelled["metadata"]["name"] == "red"
    assert labelled["spec"]["selector"] == {
        "matchLabels": {"team": "red"},
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["a", "b"]},
            {"key": "canary", "operator": "DoesNotExist"},
            {"key": "env", "operator": "NotIn", "values": ["dev"]},
            {"key": "desk", "operator": "Exists"},
        ],
    }
    assert "namespaces" not in labelled["spec"] and "allBots" not in labelled["spec"]
    everything = halt_of("-A", "--action", "ReduceOnly", "--reason", "x")["spec"]
    assert everything["allBots"] is True


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["--action", "Halt", "--reason", "x"], "-A"),
        (["-A", "-n", "a", "--action", "Halt", "--reason", "x"], "-A"),
        (["-A", "--action", "Halt", "--reason", "x", "--for", "soon"], "--for"),
        (["-A", "--action", "Halt", "--reason", "x", "--for", "0m"], "--for"),
        (["-A", "-l", "team in ()", "--action", "Halt", "--reason", "x"], "-l"),
        (["-A", "-l", "!team=red", "--action", "Halt", "--reason", "x"], "-l"),
    ],
)
def test_halt_refuses_what_it_cannot_read_naming_the_flag(argv: list[str], flag: str) -> None:
    with pytest.raises(UsageError, match=flag):
        halt_of(*argv)


def test_release_records_why_and_who() -> None:
    line = build_command(
        parser().parse_args(["release", "red", "--reason", "venue fixed", "--by", "bob"])
    )
    assert line[:5] == ["patch", "tradinghalt", "red", "--type=merge", "-p"]
    assert json.loads(line[5]) == {
        "metadata": {"annotations": {"tradewarden.io/released-by": "bob"}},
        "spec": {"release": {"reason": "venue fixed"}},
    }


def stored_halt(api: SandboxApi, name: str) -> dict[str, Any] | None:
    found = api.store.find(api.type_of("tradewarden.io/v1alpha1", "TradingHalt"), "", name)
    return None if found is None else dict(found)


async def test_live_halt_and_release_record_who_and_why(live: tuple[SandboxApi, Path]) -> None:
    api, kubeconfig = live
    code, out, err = await plugin(
        kubeconfig, "halt", "-n", "canary", "-l", "team=red", "--action", "Flatten",
        "--reason", "key leaked", "--for", "2h", "--name", "red-stop", "--by", "alice",
    )  # fmt: skip
    assert code == 0, err
    assert out.strip() == "tradinghalt.tradewarden.io/red-stop"
    halt = stored_halt(api, "red-stop")
    assert halt is not None
    assert halt["metadata"]["annotations"]["tradewarden.io/created-by"] == "alice"
    assert halt["spec"]["namespaces"] == ["canary"] and halt["spec"]["action"] == "Flatten"
    code, _, err = await plugin(
        kubeconfig, "release", "red-stop", "--reason", "rotated", "--by", "bob"
    )
    assert code == 0, err
    released = stored_halt(api, "red-stop")
    assert released is not None
    assert released["spec"]["release"] == {"reason": "rotated"}
    assert released["metadata"]["annotations"]["tradewarden.io/released-by"] == "bob"
    code, _, err = await plugin(kubeconfig, "halt", "-n", "canary", "--action", "Halt",
                                "--reason", "x", "--for", "tomorrow")  # fmt: skip
    assert code == 2 and "--for" in err
