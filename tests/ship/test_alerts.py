"""The chart's alerts, run by a real promtool (`promtool test rules`) over series that must fire
each one and series that must not (tests/ship/alerts/tradewarden.test.yaml)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.ship.conftest import ENVIRONMENTS, ROOT, Render
from tradewarden.operator.toolchain import ToolchainError, require_tool

UNIT_TESTS = ROOT / "tests" / "ship" / "alerts" / "tradewarden.test.yaml"


@pytest.fixture(scope="module")
def promtool() -> Path:
    """The promtool binary; a missing one fails the test (`make` installs it)."""
    try:
        return require_tool("promtool")
    except ToolchainError as error:
        pytest.fail(str(error))


def _rules(render: Render, env: str) -> dict[str, Any]:
    (rule,) = [doc for doc in render(env) if doc["kind"] == "PrometheusRule"]
    spec: dict[str, Any] = rule["spec"]
    return spec


def _alerts(rules: dict[str, Any]) -> set[str]:
    return {
        rule["alert"] for group in rules["groups"] for rule in group["rules"] if "alert" in rule
    }


def _promtool(promtool: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(promtool), *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=120
    )


def test_promtool_unit_tests_pass_for_the_prod_rules(
    promtool: Path, render: Render, tmp_path: Path
) -> None:
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(_rules(render, "prod")))
    shutil.copy(UNIT_TESTS, tmp_path / UNIT_TESTS.name)
    done = _promtool(promtool, "test", "rules", UNIT_TESTS.name, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_every_alert_has_a_firing_and_a_quiet_case(render: Render) -> None:
    cases = yaml.safe_load(UNIT_TESTS.read_text())["tests"]
    checks = [check for case in cases for check in case["alert_rule_test"]]
    fires = {check["alertname"] for check in checks if check["exp_alerts"]}
    quiet = {check["alertname"] for check in checks if not check["exp_alerts"]}
    alerts = _alerts(_rules(render, "prod"))
    assert len(alerts) >= 10
    assert alerts - fires == set(), "alerts no series fires"
    assert alerts - quiet == set(), "alerts no series keeps quiet"
    assert (fires | quiet) - alerts == set(), "unit tests of alerts the chart does not have"


@pytest.mark.parametrize("env", [env for env in ENVIRONMENTS if env != "dev"])
def test_rendered_rules_pass_promtool_check(
    promtool: Path, render: Render, env: str, tmp_path: Path
) -> None:
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(_rules(render, env)))
    done = _promtool(promtool, "check", "rules", "rules.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
