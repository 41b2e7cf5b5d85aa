"""The state-directory lock: one holder at a time, a refusal that names it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tradewarden.bot.runtime.state_lock import (
    LOCK_FILE,
    StateDirBusy,
    locked_state_dir,
    refusal,
)


def test_refusal_names_the_holder_pid() -> None:
    message = refusal(Path("/var/state"), "4242\n")
    assert "/var/state" in message
    assert "pid 4242" in message
    assert "one bot per state directory" in message


def test_refusal_without_a_readable_pid_says_so() -> None:
    assert "pid unknown" in refusal(Path("s"), "")
    assert "pid unknown" in refusal(Path("s"), "garbage")


def test_second_holder_is_refused_at_once_and_the_first_keeps_it(tmp_path: Path) -> None:
    # flock belongs to an open file description: a second open in this process conflicts too.
    with locked_state_dir(tmp_path / "state"):
        assert (tmp_path / "state" / LOCK_FILE).read_text() == f"{os.getpid()}\n"
        with (
            pytest.raises(StateDirBusy, match=f"in use by pid {os.getpid()}"),
            locked_state_dir(tmp_path / "state"),
        ):
            pytest.fail("the second holder got in")
        assert (tmp_path / "state" / LOCK_FILE).read_text() == f"{os.getpid()}\n"


def test_lock_is_released_when_the_holder_leaves(tmp_path: Path) -> None:
    with locked_state_dir(tmp_path):
        pass
    with locked_state_dir(tmp_path):
        pass


def test_a_state_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "state").write_text("not a directory")
    with pytest.raises(StateDirBusy, match="state directory"), locked_state_dir(tmp_path / "state"):
        pytest.fail("locked a file")
    assert (tmp_path / "state").read_text() == "not a directory"
