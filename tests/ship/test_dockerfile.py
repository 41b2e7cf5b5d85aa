"""The Dockerfile builds one slim, non-root image with tradewarden as entry point."""

from __future__ import annotations

import json
import re

from tests.ship.conftest import ROOT

BUILD_TOOLS = re.compile(r"\b(build-essential|gcc|g\+\+|make|cmake|git)\b")


def _stages() -> list[list[str]]:
    """Instructions grouped by stage, continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    stages: list[list[str]] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.upper().startswith("FROM "):
            stages.append([])
        stages[-1].append(stripped)
    return stages


def _instructions(stage: list[str], keyword: str) -> list[str]:
    return [line[len(keyword) :].strip() for line in stage if line.upper().startswith(keyword)]


def test_multi_stage_on_slim_python_311() -> None:
    stages = _stages()
    assert len(stages) >= 2
    for stage in stages:
        assert re.match(r"FROM python:3\.11-slim", stage[0]), stage[0]
    assert any("pip wheel" in line for line in stages[0])


def test_final_stage_has_no_build_tools_and_installs_built_wheels() -> None:
    final = _stages()[-1]
    runs = " ".join(_instructions(final, "RUN "))
    assert not BUILD_TOOLS.search(runs), runs
    assert "--no-index" in runs
    assert any(line.startswith("COPY --from=") for line in final)


def test_runs_as_uid_10001_with_the_journal_as_volume() -> None:
    final = _stages()[-1]
    assert _instructions(final, "USER ")[-1].split(":")[0] == "10001"
    volumes = [json.loads(v) for v in _instructions(final, "VOLUME ")]
    assert ["/var/lib/tradewarden"] in volumes
    assert "useradd --uid 10001" in " ".join(final)


def test_entrypoint_is_tradewarden() -> None:
    final = _stages()[-1]
    assert json.loads(_instructions(final, "ENTRYPOINT ")[-1]) == ["tradewarden"]


def test_dockerignore_keeps_local_state_out_of_the_context() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", ".sandbox", "tests"} <= ignored
