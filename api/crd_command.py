"""``tradewarden crds``: print the TradingBot CRD, or write the checked-in copies."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tradewarden.api.crd import CRD_FILE_NAME, render_yaml

# Where the CRD is checked in, relative to the repository root: the plain copy
# for `kubectl apply -f crds/` and the one the Helm chart installs.
CRD_LOCATIONS = (Path("crds"), Path("helm") / "tradewarden" / "crds")


def crd_paths(root: Path) -> list[Path]:
    """Every checked-in copy of the CRD under the repository ``root``."""
    return [root / folder / CRD_FILE_NAME for folder in CRD_LOCATIONS]


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
    """Print the CRD YAML, or write every checked-in copy with ``--write``."""
    text = render_yaml()
    if not args.write:
        sys.stdout.write(text)
        return 0
    for path in crd_paths(args.root):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    return 0
