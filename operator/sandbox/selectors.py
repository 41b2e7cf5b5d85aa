"""Label and field selectors as the Kubernetes API server understands them.

Pure functions: parse a selector string once, then test objects against it.
Label selectors support ``k=v``, ``k==v``, ``k!=v``, ``k in (a,b)``,
``k notin (a,b)``, ``k`` and ``!k``; field selectors support ``=``, ``==``
and ``!=`` on dotted paths such as ``metadata.name``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tradewarden.operator.kubectl_plugin import split_requirements

Obj = dict[str, Any]

_SET_TERM = re.compile(r"^\s*(!?)\s*([A-Za-z0-9_./-]+)\s*(?:(notin|in)\s*\(([^)]*)\))?\s*$")


class SelectorError(ValueError):
    """A selector that does not parse; the server answers 400."""


@dataclass(frozen=True)
class Requirement:
    """One term of a selector: a key, an operator and the values it allows."""

    key: str
    operator: str  # "=", "!=", "in", "notin", "exists", "!exists"
    values: frozenset[str] = frozenset()

    def matches(self, actual: str | None) -> bool:
        """Whether a value (None when the key is absent) satisfies the term."""
        if self.operator == "exists":
            return actual is not None
        if self.operator == "!exists":
            return actual is None
        if self.operator in ("=", "in"):
            return actual is not None and actual in self.values
        return actual is None or actual not in self.values


def _parse_term(term: str) -> Requirement:
    for operator in ("!=", "==", "="):
        if operator in term and "(" not in term:
            key, value = term.split(operator, 1)
            return Requirement(
                key.strip(), "!=" if operator == "!=" else "=", frozenset({value.strip()})
            )
    found = _SET_TERM.match(term)
    if found is None:
        raise SelectorError(f"unable to parse requirement: {term!r}")
    negated, key, operator, values = found.groups()
    if operator:
        if negated:
            raise SelectorError(f"unable to parse requirement: {term!r}")
        return Requirement(key, operator, frozenset(v.strip() for v in values.split(",")))
    return Requirement(key, "!exists" if negated else "exists")


def parse_selector(text: str | None) -> tuple[Requirement, ...]:
    """Parse a label or field selector; an empty or missing one selects everything."""
    return tuple(_parse_term(term) for term in split_requirements(text or "") if term)


def _labels(obj: Obj, key: str) -> str | None:
    value = obj.get("metadata", {}).get("labels", {}).get(key)
    return None if value is None else str(value)


def field_value(obj: Obj, path: str) -> str | None:
    """The value at a dotted field path as a selector compares it (a string)."""
    node: Any = obj
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    if isinstance(node, bool):
        return "true" if node else "false"
    return None if node is None else str(node)


def _field_value_or_empty(obj: Obj, path: str) -> str:
    # Field selectors compare missing fields as empty strings.
    return field_value(obj, path) or ""


def matches(
    requirements: tuple[Requirement, ...], obj: Obj, lookup: Callable[[Obj, str], str | None]
) -> bool:
    """Whether an object satisfies every requirement, looking values up with ``lookup``."""
    return all(term.matches(lookup(obj, term.key)) for term in requirements)


@dataclass(frozen=True)
class Selection:
    """A parsed pair of label and field selectors."""

    labels: tuple[Requirement, ...] = ()
    fields: tuple[Requirement, ...] = ()

    @classmethod
    def parse(cls, label_selector: str | None, field_selector: str | None) -> Selection:
        """Parse both selectors from query parameters."""
        return cls(parse_selector(label_selector), parse_selector(field_selector))

    def selects(self, obj: Obj) -> bool:
        """Whether the object is selected by both selectors."""
        return matches(self.labels, obj, _labels) and matches(
            self.fields, obj, _field_value_or_empty
        )

    @property
    def field_name(self) -> str | None:
        """The single object name a ``metadata.name=`` field selector pins, if any."""
        for term in self.fields:
            if term.key == "metadata.name" and term.operator == "=" and len(term.values) == 1:
                return next(iter(term.values))
        return None
