"""``tradewarden bot --control kubernetes``: who the bot is and where the API server is."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import yaml

from tests.support.manifests import EXAMPLE
from tradewarden.api.kube_client import ApiConfigError
from tradewarden.api.manifest import load_manifest
from tradewarden.bot.control.companion import KubernetesControl
from tradewarden.bot.runtime import bot_command

KUBECONFIG = {
    "apiVersion": "v1",
    "kind": "Config",
    "clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:1"}}],
    "users": [{"name": "u", "user": {}}],
    "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
    "current-context": "x",
}


@pytest.fixture
def kubeconfig(tmp_path: Path) -> str:
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(KUBECONFIG), encoding="utf-8")
    return str(path)


def test_identity_comes_from_the_pod_environment(kubeconfig: str) -> None:
    environ = {
        "KUBECONFIG": kubeconfig,
        "TRADEWARDEN_BOT_NAME": "btc-grid",
        "TRADEWARDEN_NAMESPACE": "trading",
    }
    control = KubernetesControl.from_environment(load_manifest(EXAMPLE), environ)
    assert control.identity == "trading/btc-grid"
    assert control.lease_name == "tw-sim-btc-usdt-usdt"
    assert control.status().enabled is True
    assert control.status().lease_held is False


def test_identity_falls_back_to_the_manifest(kubeconfig: str) -> None:
    control = KubernetesControl.from_environment(load_manifest(EXAMPLE), {"KUBECONFIG": kubeconfig})
    assert control.identity == "dev/btc-grid-sim"


def test_outside_a_cluster_without_kubeconfig_is_a_config_error() -> None:
    with pytest.raises(ApiConfigError, match="in-cluster"):
        KubernetesControl.from_environment(load_manifest(EXAMPLE), {})


def test_bot_command_refuses_kubernetes_control_it_cannot_configure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    parser = argparse.ArgumentParser()
    bot_command.configure(parser)
    args = parser.parse_args(
        ["--config", str(EXAMPLE), "--state-dir", str(tmp_path), "--control", "kubernetes"]
    )
    assert bot_command.run(args) == bot_command.EXIT_CONFIG
    assert "in-cluster" in capsys.readouterr().err


def test_control_defaults_to_none() -> None:
    parser = argparse.ArgumentParser()
    bot_command.configure(parser)
    assert parser.parse_args(["--config", "x", "--state-dir", "y"]).control == "none"
