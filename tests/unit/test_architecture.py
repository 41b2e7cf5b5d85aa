"""The package graph ARCHITECTURE.md draws, checked from the source.

- The bot's packages import each other in one direction (no cycle), and
  ``bot.model`` imports nothing of the bot.
- Runtime code (everything under ``api/``, ``bot/`` and ``operator/`` apart
  from the harnesses) never imports the venue simulator, the chaos harness or
  the sandbox, nor the modules only the ``sandbox`` extra installs; the
  harnesses may import runtime code.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tradewarden.bot import cli

ROOT = Path(__file__).resolve().parents[2]
SOURCE_DIRS = {
    "api": "tradewarden.api",
    "bot": "tradewarden.bot",
    "operator": "tradewarden.operator",
}
HARNESSES = ("tradewarden.bot.venue_sim", "tradewarden.bot.chaos", "tradewarden.operator.sandbox")


def modules() -> Iterator[tuple[str, Path]]:
    for directory, package in SOURCE_DIRS.items():
        for path in sorted((ROOT / directory).rglob("*.py")):
            parts = path.relative_to(ROOT / directory).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield ".".join((package, *parts)), path


def imports(module: str, path: Path) -> set[str]:
    """Every module ``module`` imports, relative imports resolved, at any depth of the file."""
    found = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            target = ".".join(part for part in (base, node.module or "") if part)
            found.add(target)
    return found


def bot_package(module: str) -> str | None:
    """``tradewarden.bot.execution.router`` -> ``execution``; a top-level module counts as one."""
    parts = module.split(".")
    if parts[:2] != ["tradewarden", "bot"] or len(parts) < 3:
        return None
    return parts[2]


def is_harness(module: str) -> bool:
    return any(module == h or module.startswith(h + ".") for h in HARNESSES)


def package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, path in modules():
        source = bot_package(module)
        if source is None or is_harness(module):
            continue
        for target in map(bot_package, imports(module, path)):
            graph.setdefault(source, set())
            if target is not None and target != source:
                graph[source].add(target)
    return graph


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle in ``graph`` as a path, or None."""
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_bot_packages_import_each_other_in_one_direction() -> None:
    graph = package_graph()
    assert {"model", "execution", "venue", "reliability", "runtime", "control"} <= set(graph)
    assert cycle(graph) is None, " -> ".join(cycle(graph) or [])


def test_the_cycle_check_finds_a_cycle() -> None:
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_the_model_imports_nothing_of_the_bot() -> None:
    for module, path in modules():
        if bot_package(module) != "model":
            continue
        ours = {m for m in imports(module, path) if m.startswith("tradewarden.")}
        outside = {
            m for m in ours if bot_package(m) != "model" and not m.startswith("tradewarden.api")
        }
        assert not outside, f"{module} imports {sorted(outside)}"


def test_runtime_code_never_imports_a_harness_or_the_sandbox_extra() -> None:
    extra = cli.SANDBOX_EXTRA_MODULES
    offenders = []
    for module, path in modules():
        if is_harness(module):
            continue
        for target in imports(module, path):
            if is_harness(target) or target.split(".")[0] in extra:
                offenders.append(f"{module} imports {target}")
    assert not offenders, offenders


def test_the_sandbox_extra_holds_the_sandbox_dependencies() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = " ".join(project["dependencies"])
    sandbox = " ".join(project["optional-dependencies"]["sandbox"])
    for requirement in ("kmock", "jsonschema", "common-expression-language"):
        assert requirement not in runtime
        assert requirement in sandbox


def test_a_sandbox_command_without_the_extra_exits_2_naming_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "kmock", None)  # as if not installed
    for name in [m for m in sys.modules if m.startswith("tradewarden.operator.sandbox")]:
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(SystemExit) as exited:
        cli.main(["sandbox", "--help"])
    assert exited.value.code == 2
    assert "pip install 'tradewarden[sandbox]'" in capsys.readouterr().err
