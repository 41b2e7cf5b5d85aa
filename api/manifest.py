"""Load a TradingBot manifest or read a stored spec, with errors that name the offending field."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from tradewarden.api.tradingbot import TradingBot, TradingBotSpec


class ManifestError(ValueError):
    """A manifest that cannot be used; the message names each bad field."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: invalid TradingBot manifest:\n  " + "\n  ".join(problems))


def _field_path(location: tuple[int | str, ...]) -> str:
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "<root>"


def describe_validation_error(error: ValidationError) -> list[str]:
    """One line per problem: ``spec.risk.maxPosition: Input should be greater than 0``."""
    problems = []
    for item in error.errors():
        message = item["msg"].removeprefix("Value error, ")
        problems.append(f"{_field_path(item['loc'])}: {message}")
    return problems


class SpecError(ValueError):
    """A stored TradingBot spec the models refuse; the message names each bad field.

    The CRD is generated from the same models, so the API server refuses such a
    spec; only a CRD of another version than the reader's lets one through.
    """


def parse_spec(document: object) -> TradingBotSpec:
    """A TradingBot's ``spec`` as the API server returns it."""
    try:
        return TradingBotSpec.model_validate(document)
    except ValidationError as exc:
        problems = [
            "spec" + problem.removeprefix("<root>")
            if problem.startswith("<root>")
            else f"spec.{problem}"
            for problem in describe_validation_error(exc)
        ]
        raise SpecError("; ".join(problems)) from exc


def parse_manifest(text: str, source: str = "<manifest>") -> TradingBot:
    """Parse YAML text holding exactly one TradingBot."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ManifestError(source, [f"<root>: not valid YAML: {exc}"]) from exc
    if not isinstance(document, dict):
        raise ManifestError(source, ["<root>: expected a mapping (a TradingBot object)"])
    try:
        return TradingBot.model_validate(document)
    except ValidationError as exc:
        raise ManifestError(source, describe_validation_error(exc)) from exc


def load_manifest(path: Path) -> TradingBot:
    """Read and validate a TradingBot manifest file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ManifestError(str(path), [f"<file>: cannot read: {exc.strerror}"]) from exc
    except UnicodeDecodeError as exc:
        raise ManifestError(
            str(path), [f"<file>: not UTF-8 text: byte {exc.start} is {exc.object[exc.start]:#04x}"]
        ) from exc
    return parse_manifest(text, str(path))
