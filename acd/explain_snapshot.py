"""The snapshot a dry run reads: this platform's departments and the partners' loads, as JSON."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from acd.core.entraide import PartnerLoad
from acd.core.overflow import (
    DeptLoad,
)

if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]

PARIS = ZoneInfo("Europe/Paris")
_DEPT_FIELDS = (
    "waiting",
    "oldest_wait_s",
    "estimated_wait_s",
    "available_agents",
    "logged_in_agents",
    "service_level",
    "crisis",
)
_PARTNER_FIELDS = ("waiting", "available_agents", "estimated_wait_s", "age_s")


# -- snapshot -------------------------------------------------------------------------------


class SnapshotError(Exception):
    """The snapshot file is unusable: ``path`` in the JSON document and the reason."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}" if path else reason)


@dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot:
    """The platform as the dry run sees it."""

    at: float | None
    departments: dict[str, DeptLoad]
    partners: dict[str, tuple[PartnerLoad, float]]
    """External partners' loads with their age in seconds."""


def parse_snapshot(data: Any, *, departments: set[str], partners: set[str]) -> Snapshot:
    """Check and read a snapshot document; raise ``SnapshotError`` naming the bad field."""
    doc = _object(data, "", ("at", "departments", "partners"))
    at = None if doc.get("at") is None else parse_time(doc["at"], "at")
    depts = _object(doc.get("departments", {}), "departments", None)
    ext = _object(doc.get("partners", {}), "partners", None)
    for key, known, kind in ((depts, departments, "department"), (ext, partners, "partner")):
        for name in key:
            if name not in known:
                where = "departments" if kind == "department" else "partners"
                raise SnapshotError(f"{where}.{name}", f"unknown {kind} (known: {_list(known)})")
    return Snapshot(
        at=at,
        departments={d: _dept(v, f"departments.{d}") for d, v in depts.items()},
        partners={p: _partner(v, f"partners.{p}") for p, v in ext.items()},
    )


def parse_time(text: object, path: str) -> float:
    """An ISO 8601 time as epoch seconds; without an offset, Europe/Paris local time."""
    if not isinstance(text, str):
        raise SnapshotError(path, "expected an ISO 8601 time, e.g. 2026-07-14T23:30:00+02:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise SnapshotError(path, f"'{text}' is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=PARIS)
    return moment.timestamp()


def _object(value: Any, path: str, fields: tuple[str, ...] | None) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SnapshotError(path, "expected an object {...}")
    for key in value:
        if fields is not None and key not in fields:
            raise SnapshotError(_at(path, key), f"unknown field (fields: {', '.join(fields)})")
    return value


def _number(obj: dict[str, Any], key: str, path: str, *, integer: bool = False) -> Any:
    value = obj[key]
    kind = "an integer" if integer else "a number"
    ok = isinstance(value, int if integer else int | float) and not isinstance(value, bool)
    if not ok or value < 0:
        raise SnapshotError(_at(path, key), f"expected {kind} ≥ 0, got {json.dumps(value)}")
    return value


def _count(obj: dict[str, Any], key: str, path: str, default: int) -> int:
    return int(_number(obj, key, path, integer=True)) if key in obj else default


def _dept(value: Any, path: str) -> DeptLoad:
    obj = _object(value, path, _DEPT_FIELDS)
    available = _count(obj, "available_agents", path, 0)
    logged_in = _count(obj, "logged_in_agents", path, available)
    if logged_in < available:
        raise SnapshotError(
            _at(path, "logged_in_agents"), f"{logged_in} logged in but {available} available"
        )
    crisis = obj.get("crisis", False)
    if not isinstance(crisis, bool):
        raise SnapshotError(_at(path, "crisis"), "expected true or false")
    return DeptLoad(
        waiting=_count(obj, "waiting", path, 0),
        oldest_wait_s=_optional(obj, "oldest_wait_s", path) or 0.0,
        estimated_wait_s=_optional(obj, "estimated_wait_s", path),
        available_agents=available,
        logged_in_agents=logged_in,
        service_level=_levels(obj.get("service_level", {}), _at(path, "service_level")),
        crisis=crisis,
    )


def _optional(obj: dict[str, Any], key: str, path: str) -> float | None:
    if obj.get(key) is None:
        return None
    return float(_number(obj, key, path))


def _levels(value: Any, path: str) -> dict[int, float | None]:
    obj = _object(value, path, None)
    levels: dict[int, float | None] = {}
    for window, share in obj.items():
        if not window.isdigit() or not 1 <= int(window) <= 60:
            raise SnapshotError(_at(path, window), "a window is a number of minutes, 1 to 60")
        level = _optional(obj, window, path)
        if level is not None and level > 1:
            raise SnapshotError(_at(path, window), f"a share is 0 to 1, got {json.dumps(share)}")
        levels[int(window)] = level
    return levels


def _partner(value: Any, path: str) -> tuple[PartnerLoad, float]:
    obj = _object(value, path, _PARTNER_FIELDS)
    for key in ("waiting", "available_agents"):
        if key not in obj:
            raise SnapshotError(_at(path, key), "required field is missing")
    load = PartnerLoad(
        waiting=_number(obj, "waiting", path, integer=True),
        available_agents=_number(obj, "available_agents", path, integer=True),
        estimated_wait_s=_optional(obj, "estimated_wait_s", path),
        at=0.0,
    )
    return load, float(_number(obj, "age_s", path)) if "age_s" in obj else 0.0


def _at(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _list(names: set[str]) -> str:
    return ", ".join(sorted(names)) or "none"
