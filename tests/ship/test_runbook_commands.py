"""Every ``tradewarden`` and ``kubectl tradewarden`` command the runbooks and the promotion
guide tell a person to run parses with the real command-line parsers."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tradewarden.bot.cli import build_parser
from tradewarden.operator import kubectl_plugin
from tradewarden.operator.handlers import (
    DRAIN_RUNBOOK,
    FORCE_RELEASE_ANNOTATION,
    FORCE_RELEASED_BY_ANNOTATION,
)

ROOT = Path(__file__).resolve().parents[2]
PAGES = [*sorted((ROOT / "runbooks").glob("*.md")), ROOT / "helm" / "gitops" / "PROMOTION.md"]
# Optionally after a prompt and environment assignments (``KEY=... tradewarden preflight``).
COMMAND = re.compile(r"^\s*(?:\$\s*)?(?:[A-Z_]+=\S*\s+)*((?:kubectl )?tradewarden [a-z-].*)$")


def documented_commands() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        for line in page.read_text(encoding="utf-8").splitlines():
            if match := COMMAND.match(line):
                # Keep the command only: no trailing comment, no pipe into other tools.
                command = match.group(1).split(" #")[0].split(" | ")[0].strip()
                found.append((page.name, command))
    return found


COMMANDS = documented_commands()


def verb(words: list[str]) -> str:
    return words[2] if words[0] == "kubectl" else words[1]


def test_the_runbooks_document_commands_at_all() -> None:
    verbs = {verb(shlex.split(command)) for _, command in COMMANDS}
    expected = {"stop", "pause", "resume", "retry", "status", "bot", "preflight", "promote-check"}
    assert expected <= verbs


@pytest.mark.parametrize(("page", "command"), COMMANDS, ids=[c for _, c in COMMANDS])
def test_a_documented_command_parses(page: str, command: str) -> None:
    words = shlex.split(command)
    try:
        if words[0] == "kubectl":
            kubectl_plugin.parser().parse_args(words[2:])
        else:
            parser, _ = build_parser(words[1:])
            parser.parse_args(words[1:])
    except SystemExit as exit_:
        pytest.fail(f"{page}: `{command}` does not parse (exit {exit_.code})")


def test_the_drain_stuck_warning_points_at_a_runbook_with_the_release_annotations() -> None:
    page = (ROOT / DRAIN_RUNBOOK).read_text(encoding="utf-8")
    assert FORCE_RELEASE_ANNOTATION in page
    assert FORCE_RELEASED_BY_ANNOTATION in page
