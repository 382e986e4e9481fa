"""Configuration errors: every issue names its file, line and field path, with a stable slug."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

Loc = tuple[str | int, ...]
"""A path into the configuration document: mapping keys and sequence indexes."""


def format_path(loc: Loc) -> str:
    """Render a path the way an administrator reads it: ``agents[3].serves[0].dept``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]":
            out += "[key]"
        else:
            out += f".{part}" if out else str(part)
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigIssue:
    """One mistake in a configuration file; ``line`` is 1-based, ``None`` when unknown."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where} {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """A mistake at ``loc``; ``first`` points at the earlier declaration a duplicate repeats.

    ``see`` points at another field the mistake involves (a rule it contradicts).
    """

    loc: Loc
    message: str
    first: Loc | None = None
    see: Loc | None = None

    def __str__(self) -> str:
        suffix = f" (first declared at {format_path(self.first)})" if self.first else ""
        if self.see:
            suffix += f" (see {format_path(self.see)})"
        return f"{format_path(self.loc)}: {self.message}{suffix}"


def duplicates(items: Iterable[tuple[Loc, str]], template: str) -> list[Problem]:
    """A problem for each repeated key; ``template`` names it as ``{key}``."""
    seen: dict[str, Loc] = {}
    problems = []
    for loc, key in items:
        if key in seen:
            message = template.format(key=key)
            problems.append(Problem(loc=loc, message=message, first=seen[key]))
        else:
            seen[key] = loc
    return problems


class ConfigError(Exception):
    """The configuration is unusable; ``issues`` lists every mistake found, in file order."""

    slug = "invalid-config"

    def __init__(self, issues: Iterable[ConfigIssue]) -> None:
        self.issues = tuple(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))


class SecretError(Exception):
    """A secret reference could not be resolved at run time (unset variable, unreadable file)."""

    slug = "missing-secret"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
