"""``tradewarden crds``: print the CRDs, or write the checked-in copies."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tradewarden.api.crd import KINDS, render_yaml

# Where the CRDs are checked in, relative to the repository root: the plain copies
# for `kubectl apply -f crds/` and the ones the Helm chart installs.
CRD_LOCATIONS = (Path("crds"), Path("helm") / "tradewarden" / "crds")


def crd_paths(root: Path) -> list[Path]:
    """Every checked-in copy of every CRD under the repository ``root``."""
    return [root / folder / kind.file_name for folder in CRD_LOCATIONS for kind in KINDS]


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``tradewarden crds``."""
    parser.add_argument(
        "--write",
        action="store_true",
        help="write crds/ and helm/tradewarden/crds/ instead of printing",
    )
    parser.add_argument(
        "--root", type=Path, default=Path.cwd(), help="repository root (default: current dir)"
    )


def run(args: argparse.Namespace) -> int:
    """Print every CRD as one YAML stream, or write every checked-in copy with ``--write``."""
    if not args.write:
        sys.stdout.write("---\n".join(render_yaml(kind) for kind in KINDS))
        return 0
    for folder in CRD_LOCATIONS:
        for kind in KINDS:
            path = args.root / folder / kind.file_name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render_yaml(kind), encoding="utf-8")
            print(f"wrote {path}")
    return 0
