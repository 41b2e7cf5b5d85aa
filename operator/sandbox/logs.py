"""What ``kubectl logs`` reads from a pod runner log file, and when each line arrived.

The runner appends every run of a container to one file and marks each start
with a line ``--- TIME start (restarts N): ARGV`` (and its own notes, such as
a failed liveness probe, with ``--- ``). The kubelet keeps each run's output
apart and none of these notes, so :func:`timed_runs` splits the file into
runs without the runner's lines: the last is the current container's log,
the one before it is what ``--previous`` shows.

The container writes to the file itself, so the runner notes when lines
arrive by looking at the file every fraction of a second (:func:`stamp_lines`):
``CONTAINER.times`` holds one RFC 3339 time per complete line of the log, as
the kubelet's log files carry one per line, for ``--timestamps`` and ``--since``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

Line = tuple[str, str]  # (arrival time or "", the line with its newline)
_RUNNER_LINE = re.compile(r"^--- (?:\S+ start \(restarts \d+\)|cannot start|liveness probe) ")
_START = re.compile(r"^--- \S+ start \(restarts \d+\)")


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


def read_times(log: Path | None) -> list[str]:
    """The noted arrival times of a log file's lines, oldest first."""
    if log is None or not times_path(log).exists():
        return []
    return times_path(log).read_text().splitlines()


def times_path(log: Path) -> Path:
    """Where the arrival times of a log file's lines are kept."""
    return log.with_suffix(".times")


def stamp_lines(log: Path, offset: int, now: str) -> int:
    """Note ``now`` for each complete line written after byte ``offset``; the new offset."""
    if not log.exists():
        return offset
    with log.open("rb") as source:
        source.seek(offset)
        data = source.read()
    complete = data.rfind(b"\n") + 1
    if complete:
        with times_path(log).open("a") as times:
            times.write(f"{now}\n" * data[:complete].count(b"\n"))
    return offset + complete


def stamped_offset(log: Path) -> int:
    """The byte offset after the lines that already have a time (0 without times)."""
    stamped = times_path(log)
    if not log.exists() or not stamped.exists():
        return 0
    count = len(stamped.read_text().splitlines())
    offset = 0
    with log.open("rb") as source:
        for _ in range(count):
            line = source.readline()
            if not line.endswith(b"\n"):
                break
            offset += len(line)
    return offset


def timed_runs(text: str, times: list[str]) -> list[list[Line]]:
    """Each run's lines, oldest first, with their arrival times ("" when not noted yet)."""
    found: list[list[Line]] = [[]]
    for index, line in enumerate(text.splitlines(keepends=True)):
        if _START.match(line):
            if found[-1] or len(found) > 1:
                found.append([])
            continue
        if not _RUNNER_LINE.match(line):
            found[-1].append((times[index] if index < len(times) else "", line))
    return found


def render(lines: list[Line], *, since: str | None, timestamps: bool, now: str) -> str:
    """The lines at or after ``since`` (RFC 3339), each prefixed with its time if asked."""
    shown = []
    for noted, line in lines:
        time = noted or now
        if since is not None and time < since:
            continue
        shown.append(f"{time} {line}" if timestamps else line)
    return "".join(shown)


def rfc3339_nano(moment: datetime) -> str:
    """A time as kubelet log lines carry it (UTC, nanoseconds)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"
