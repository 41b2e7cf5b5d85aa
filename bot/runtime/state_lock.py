"""One bot process per state directory: an exclusive ``flock`` on ``STATE_DIR/lock``.

Taken before the bot does anything with side effects (the journal, the HTTP
server, the venue), held for the life of the process and released by the
kernel however the process ends (kill -9 included), so a stale lock file never
blocks a restart. The file holds the holder's pid, for the message a refused
second process prints; it is never deleted (unlinking a lock file lets a third
process lock a new inode while the second still holds the old one).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

LOCK_FILE = "lock"


class StateDirBusy(RuntimeError):
    """Another process holds the state directory, or it cannot be locked at all."""


def refusal(state_dir: Path, holder: str) -> str:
    """The message a refused second process gives; ``holder`` is the lock file's text."""
    pid = holder.strip()
    who = f"pid {pid}" if pid.isdigit() else "another process (pid unknown)"
    return (
        f"state directory {state_dir} is in use by {who}: one bot per state directory; "
        "stop that process or give this one its own --state-dir"
    )


@contextlib.contextmanager
def locked_state_dir(state_dir: Path) -> Iterator[None]:
    """Hold the exclusive lock on ``state_dir`` (created if absent) for the ``with`` body.

    Raises :class:`StateDirBusy` at once, without waiting, when another process
    holds it or the directory cannot be made or locked.
    """
    path = state_dir / LOCK_FILE
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as error:
        raise StateDirBusy(f"state directory {state_dir}: {error.strerror or error}") from error
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(descriptor, 64, 0).decode("ascii", "replace")
            raise StateDirBusy(refusal(state_dir, holder)) from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode("ascii"), 0)
        yield
    finally:
        os.close(descriptor)  # releases the lock
