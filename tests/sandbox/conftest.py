"""Fixtures: a sandbox API server with the TradingBot CRD, and real kubectl against it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tradewarden.operator.sandbox.apiserver import SandboxApi, running_api_server

ROOT = Path(__file__).resolve().parents[2]
CRD = yaml.safe_load((ROOT / "crds" / "tradingbots.tradewarden.io.yaml").read_text())
KUBECTL = "/usr/bin/kubectl"


@dataclass
class Kubectl:
    """Runs the real kubectl against the sandbox without blocking the event loop."""

    kubeconfig: Path

    async def __call__(self, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
        process = await asyncio.create_subprocess_exec(
            KUBECTL,
            "--kubeconfig",
            str(self.kubeconfig),
            # Its own discovery cache: another server may have had this port before.
            "--cache-dir",
            str(self.kubeconfig.parent / "kube-cache"),
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(
                process.communicate(stdin.encode() if stdin else None), 30
            )
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        assert process.returncode is not None
        return process.returncode, out.decode(), err.decode()


@pytest.fixture
async def api() -> AsyncIterator[SandboxApi]:
    async with running_api_server(crds=[CRD]) as server:
        yield server


@pytest.fixture
def kubectl(api: SandboxApi, tmp_path: Path) -> Kubectl:
    return Kubectl(api.write_kubeconfig(tmp_path / "kubeconfig"))


def bot_manifest(
    name: str = "alpha", namespace: str = "default", **spec: object
) -> dict[str, object]:
    """A valid TradingBot manifest pointing at a (not running) simulator."""
    body: dict[str, object] = {
        "exchange": {"id": "binanceusdm", "account": "sim", "urlOverride": "http://127.0.0.1:1"},
        "symbol": "BTC/USDT:USDT",
        "risk": {"maxPosition": "0.02", "maxOrderNotional": "2000"},
    }
    body.update(spec)
    return {
        "apiVersion": "tradewarden.io/v1alpha1",
        "kind": "TradingBot",
        "metadata": {"name": name, "namespace": namespace},
        "spec": body,
    }
