"""YAML to validated configuration: every mistake is reported as ``FILE:LINE path: reason``."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from acd.config.checks import cross_check
from acd.config.errors import ConfigError, ConfigIssue, Loc, Problem, format_path
from acd.config.models import DEFER_CROSS_CHECKS, AcdConfig, config_version

_MERGE_TAG = "tag:yaml.org,2002:merge"
_ECHOED = frozenset(
    {
        "bool_parsing",
        "bool_type",
        "enum",
        "float_parsing",
        "float_type",
        "greater_than",
        "greater_than_equal",
        "int_from_float",
        "int_parsing",
        "int_type",
        "less_than",
        "less_than_equal",
        "string_type",
    }
)
"""Error types whose offending value is repeated in the message; others may hold a secret."""
_FRIENDLY = {
    "missing": "required key is missing",
    "extra_forbidden": "unknown key (check its spelling and indentation)",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigDocument:
    """A validated configuration with the YAML node tree it came from, to place later issues."""

    config: AcdConfig
    source: str
    root: yaml.Node

    def line_of(self, loc: Loc) -> int:
        """The 1-based line of the deepest node of ``loc`` present in the file."""
        return _line_of(self.root, loc)

    def issue(self, loc: Loc, message: str) -> ConfigIssue:
        """An issue about the field at ``loc``, placed on its line."""
        return ConfigIssue(
            file=self.source, line=self.line_of(loc), path=format_path(loc), message=message
        )


def load_config(path: str | os.PathLike[str]) -> AcdConfig:
    """Read, validate and version a YAML configuration file; raise ``ConfigError`` if unusable."""
    return load_document(path).config


def load_document(path: str | os.PathLike[str]) -> ConfigDocument:
    """Like ``load_config``, keeping the node tree so callers can report issues by line."""
    source = os.fspath(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        reason = f"cannot read the configuration: {exc.strerror}"
        raise ConfigError([ConfigIssue(file=source, line=None, path="", message=reason)]) from exc
    return parse_document(raw, source=source)


def parse_document(raw: bytes, *, source: str = "<string>") -> ConfigDocument:
    """Validate configuration bytes named ``source`` in messages; raise ``ConfigError``.

    Shape errors (types, ranges, unknown keys) are all reported together; the
    cross-reference checks (unknown or duplicate ids) run once the shape is valid.
    """
    root, data = _compose(raw, source)
    try:
        cfg = AcdConfig.model_validate(data, context={DEFER_CROSS_CHECKS: True})
    except ValidationError as exc:
        errors = _without_knock_on_errors(exc.errors())
        raise ConfigError(
            _in_file_order(_from_pydantic(root, source, err) for err in errors)
        ) from None
    problems = cross_check(cfg)
    if problems:
        raise ConfigError(_in_file_order(_from_problem(root, source, p) for p in problems))
    return ConfigDocument(
        config=cfg.with_source_version(config_version(raw)), source=source, root=root
    )


def _compose(raw: bytes, source: str) -> tuple[yaml.Node, Any]:
    loader = yaml.SafeLoader(raw)
    try:
        root = loader.get_single_node()
        if root is None:
            reason = "the file is empty: expected the configuration sections (instance, pbx…)"
            raise ConfigError([ConfigIssue(file=source, line=1, path="", message=reason)])
        duplicates = _in_file_order(_duplicate_keys(root, source))
        if duplicates:
            raise ConfigError(duplicates)
        data = loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = None if mark is None else mark.line + 1
        reason = ": ".join(p for p in (exc.context, exc.problem) if p)
        issue = ConfigIssue(file=source, line=line, path="", message=f"YAML syntax: {reason}")
        raise ConfigError([issue]) from None
    except yaml.YAMLError as exc:
        issue = ConfigIssue(file=source, line=None, path="", message=f"YAML: {exc}")
        raise ConfigError([issue]) from None
    finally:
        loader.dispose()
    return root, data


def _duplicate_keys(root: yaml.Node, source: str) -> Iterator[ConfigIssue]:
    """PyYAML silently keeps the last of two equal keys; an administrator must hear of it."""
    seen_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, Loc]] = [(root, ())]
    while stack:
        node, loc = stack.pop()
        if id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            stack += [(item, (*loc, i)) for i, item in enumerate(node.value)]
        elif isinstance(node, yaml.MappingNode):
            first_line: dict[str, int] = {}
            for key, value in node.value:
                if key.tag == _MERGE_TAG or not isinstance(key, yaml.ScalarNode):
                    continue
                line = key.start_mark.line + 1
                if key.value in first_line:
                    yield ConfigIssue(
                        file=source,
                        line=line,
                        path=format_path((*loc, key.value)),
                        message=f"duplicate key '{key.value}' (first at line "
                        f"{first_line[key.value]}): YAML would silently keep only the last one",
                    )
                else:
                    first_line[key.value] = line
                stack.append((value, (*loc, key.value)))


def _child(node: yaml.Node, part: str | int) -> tuple[yaml.Node, int] | None:
    """The node under ``part`` and the line that names it (a key's line, an item's line)."""
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int):
        if 0 <= part < len(node.value):
            item: yaml.Node = node.value[part]
            return item, item.start_mark.line + 1
        return None
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                return value, key.start_mark.line + 1
    return None


def _as_written(root: yaml.Node, loc: Loc) -> Loc:
    """Pydantic's path with mapping keys as text (``rules.92``, not ``rules[92]``), no ``[key]``."""
    out: list[str | int] = []
    node: yaml.Node | None = root
    for part in loc:
        if part == "[key]":
            continue
        step = str(part) if isinstance(node, yaml.MappingNode) else part
        out.append(step)
        found = None if node is None else _child(node, step)
        node = None if found is None else found[0]
    return tuple(out)


def _line_of(root: yaml.Node, loc: Loc) -> int:
    node, line = root, root.start_mark.line + 1
    for part in loc:
        found = _child(node, part)
        if found is None:
            break
        node, line = found
    return line


def _without_knock_on_errors(errors: list[ErrorDetails]) -> list[ErrorDetails]:
    """Drop a "too short" error caused only by an invalid item below it (pydantic gives both)."""
    failing = [tuple(err["loc"]) for err in errors]

    def has_failing_item(loc: Loc) -> bool:
        return any(len(other) > len(loc) and other[: len(loc)] == loc for other in failing)

    return [err for err in errors if err["type"] != "too_short" or not has_failing_item(err["loc"])]


def _from_pydantic(root: yaml.Node, source: str, err: ErrorDetails) -> ConfigIssue:
    loc = _as_written(root, tuple(err["loc"]))
    message = _FRIENDLY.get(err["type"], err["msg"])
    given = err.get("input")
    echo = err["type"] in _ECHOED and isinstance(given, str | int | float)
    if echo and str(given) not in message:
        message += f" (got {given!r})"
    if not loc and err["type"] == "model_type":
        message = "the file must be a mapping of sections: instance, pbx, redis, journal…"
    return ConfigIssue(
        file=source, line=_line_of(root, loc), path=format_path(loc), message=message
    )


def _from_problem(root: yaml.Node, source: str, problem: Problem) -> ConfigIssue:
    message = problem.message
    if problem.first is not None:
        message += f" (first declared at line {_line_of(root, problem.first)})"
    if problem.see is not None:
        message += f" (see line {_line_of(root, problem.see)})"
    return ConfigIssue(
        file=source,
        line=_line_of(root, problem.loc),
        path=format_path(problem.loc),
        message=message,
    )


def _in_file_order(issues: Iterable[ConfigIssue]) -> list[ConfigIssue]:
    return sorted(issues, key=lambda issue: (issue.line or 0, issue.path))
