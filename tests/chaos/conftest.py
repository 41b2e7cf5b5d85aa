"""Session summary of the soak run: how many schedules ran, and every seed that broke."""

from __future__ import annotations

from typing import Any

SOAK_RUNS: list[int] = []
SOAK_FAILURES: list[tuple[int, list[str], dict[str, str]]] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the soak tally (only when soak schedules ran)."""
    if not SOAK_RUNS:
        return
    terminalreporter.section("chaos soak")
    terminalreporter.write_line(f"{len(SOAK_RUNS)} randomized schedules ran")
    for seed, schedule, failed in SOAK_FAILURES:
        terminalreporter.write_line(f"seed {seed} broke {sorted(failed)}: {schedule}")
        for name, detail in failed.items():
            terminalreporter.write_line(f"    {name}: {detail}")
