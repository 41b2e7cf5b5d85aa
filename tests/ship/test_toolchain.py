"""Where the toolchain looks for kubectl and helm, and what it installs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tradewarden.operator import toolchain
from tradewarden.operator.toolchain import locate, path_dirs, search_dirs, tools_to_install


def test_path_entries_come_first_then_the_venv_bin() -> None:
    dirs = search_dirs("/usr/local/bin::/usr/bin", Path("/venv/bin"))
    assert dirs == [Path("/usr/local/bin"), Path("/usr/bin"), Path("/venv/bin")]


def test_venv_bin_already_on_path_is_not_searched_twice() -> None:
    dirs = search_dirs("/venv/bin:/usr/bin", Path("/venv/bin"))
    assert dirs == [Path("/venv/bin"), Path("/usr/bin")]


def test_empty_path_still_finds_the_venv_bin() -> None:
    assert path_dirs("") == []
    assert search_dirs("", Path("/venv/bin")) == [Path("/venv/bin")]


@pytest.mark.parametrize(
    ("executables", "expected"),
    [
        ({"/usr/bin/helm", "/venv/bin/helm"}, "/usr/bin/helm"),
        ({"/venv/bin/helm"}, "/venv/bin/helm"),
        (set(), None),
    ],
)
def test_first_executable_wins(executables: set[str], expected: str | None) -> None:
    found = locate(
        "helm", [Path("/usr/bin"), Path("/venv/bin")], lambda path: str(path) in executables
    )
    assert found == (Path(expected) if expected else None)


@pytest.mark.parametrize(
    ("kubectl_on_path", "expected"),
    [(True, ("helm", "promtool")), (False, ("helm", "kubectl", "promtool"))],
)
def test_kubectl_only_installed_when_none_is_on_path(
    kubectl_on_path: bool, expected: tuple[str, ...]
) -> None:
    assert tools_to_install(kubectl_on_path) == expected


def test_a_promtool_package_with_another_checksum_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The .deb apt-get download fetched is checked against the pinned sha256 before use."""

    def fake_download(into: Path) -> subprocess.CompletedProcess[str]:
        (into / "prometheus_2.42.0+ds-5+deb12u1_amd64.deb").write_bytes(b"not the pinned package")
        return subprocess.CompletedProcess(["apt-get", "download"], 0, "", "")

    monkeypatch.setattr(toolchain, "_apt_download", fake_download)
    monkeypatch.setattr(toolchain, "PROMTOOL_DEB_SHA256", {arch(): "0" * 64})
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with pytest.raises(toolchain.ToolchainError, match=r"sha256 [0-9a-f]{64}, pinned 0{64}"):
        toolchain._install_promtool(tmp_path / "promtool", scratch)
    assert not (tmp_path / "promtool").exists()


def arch() -> str:
    done = subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()
