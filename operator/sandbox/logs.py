"""What ``kubectl logs`` reads from a pod runner log file (pure text functions).

The runner appends every run of a container to one file and marks each start
with a line ``--- TIME start (restarts N): ARGV`` (and its own notes, such as
a failed liveness probe, with ``--- ``). The kubelet keeps each run's output
apart and none of these notes, so :func:`runs` splits the file into runs
without the runner's lines: the last is the current container's log, the one
before it is what ``--previous`` shows.
"""

from __future__ import annotations

import re
from pathlib import Path

_RUNNER_LINE = re.compile(r"^--- (?:\S+ start \(restarts \d+\)|cannot start|liveness probe) ")
_START = re.compile(r"^--- \S+ start \(restarts \d+\)")


def runs(text: str) -> list[str]:
    """The output of each run of the container, oldest first (at least one, maybe empty)."""
    found: list[list[str]] = [[]]
    for line in text.splitlines(keepends=True):
        if _START.match(line):
            if found[-1] or len(found) > 1:
                found.append([])
            continue
        if not _RUNNER_LINE.match(line):
            found[-1].append(line)
    return ["".join(lines) for lines in found]


def until_restart(text: str) -> tuple[str, bool]:
    """Appended output up to the next start of the container, and whether it restarted."""
    kept: list[str] = []
    for line in text.splitlines(keepends=True):
        if _START.match(line):
            return "".join(kept), True
        if not _RUNNER_LINE.match(line):
            kept.append(line)
    return "".join(kept), False


def tail(text: str, count: str | None) -> str:
    """The last ``count`` lines (``tailLines``); all of them without a number."""
    if count is None or not count.isdigit():
        return text
    lines = text.splitlines(keepends=True)
    return "".join(lines[-int(count) :]) if int(count) else ""


def read_from(path: Path | None, offset: int) -> tuple[str, int]:
    """What the file holds from byte ``offset`` on, and the offset after it."""
    if path is None or not path.exists():
        return "", offset
    with path.open("rb") as log:
        log.seek(offset)
        data = log.read()
    return data.decode(errors="replace"), offset + len(data)
