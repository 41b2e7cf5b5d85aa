"""How to start a ``tradewarden`` subprocess from Python (demo, tests, benchmarks)."""

from __future__ import annotations

import sys


def tradewarden_command(*args: str) -> list[str]:
    """The argv that runs ``tradewarden ARGS`` with this interpreter.

    ``-P`` keeps the working directory off ``sys.path``: run from the
    repository root, the ``operator/`` folder would otherwise shadow the
    standard library's ``operator`` module and break the interpreter.
    """
    return [sys.executable, "-P", "-m", "tradewarden.bot.cli", *args]
