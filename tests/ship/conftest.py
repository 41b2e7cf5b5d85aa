"""Shared helpers of the shipping tests: the real helm binary and the chart."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tradewarden.operator.toolchain import ToolchainError, require_tool

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "tradewarden"
ENVIRONMENTS = ("dev", "canary", "prod")
NAMESPACES = {"dev": "tradewarden-dev", "canary": "tradewarden-canary", "prod": "tradewarden-prod"}

Render = Callable[..., list[dict[str, Any]]]


@pytest.fixture(scope="session")
def helm() -> Path:
    """The helm binary; a missing one fails the test (it is installed by `make`)."""
    try:
        return require_tool("helm")
    except ToolchainError as error:
        pytest.fail(str(error))


def run_helm(helm: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run helm in the chart's folder and capture its output."""
    return subprocess.run(
        [str(helm), *args], cwd=CHART, capture_output=True, text=True, check=False, timeout=60
    )


def template_args(env: str, *extra: str) -> list[str]:
    """``helm template`` arguments for one environment's values."""
    return [
        "template",
        "tradewarden",
        ".",
        "--namespace",
        NAMESPACES[env],
        "--include-crds",
        "-f",
        f"values-{env}.yaml",
        *extra,
    ]


@pytest.fixture(scope="session")
def render(helm: Path) -> Render:
    """Render an environment into a list of manifests (fails on a helm error)."""
    cache: dict[tuple[str, ...], list[dict[str, Any]]] = {}

    def _render(env: str, *extra: str) -> list[dict[str, Any]]:
        key = (env, *extra)
        if key not in cache:
            done = run_helm(helm, *template_args(env, *extra))
            assert done.returncode == 0, done.stderr
            cache[key] = [doc for doc in yaml.safe_load_all(done.stdout) if doc]
        return cache[key]

    return _render
