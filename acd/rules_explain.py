"""``acd rules explain``: a dry run of the overflow rules on a snapshot of the platform.

For each department with rules, in order, it tells which rule would fire and why (every
figure a condition read), then walks the partner chain: each partner would take the call
or is skipped, with the look-ahead check that failed. Nothing is sent anywhere.

The snapshot is a JSON file::

    {
      "at": "2026-07-14T23:30:00+02:00",
      "departments": {
        "75": {"waiting": 12, "oldest_wait_s": 140, "estimated_wait_s": 300,
               "available_agents": 0, "logged_in_agents": 6,
               "service_level": {"15": 0.72}, "crisis": false}
      },
      "partners": {
        "samu-60": {"waiting": 0, "available_agents": 3, "estimated_wait_s": 20, "age_s": 4}
      }
    }

``at`` (optional) is when the snapshot was taken; ``--at`` overrides it; without either,
now. A time without an offset is Europe/Paris local time. Under ``departments`` (this
platform's SAMU, by department id), every field is optional: ``waiting`` 0,
``oldest_wait_s`` 0, ``estimated_wait_s`` null (unknown: counts as endless),
``available_agents`` 0, ``logged_in_agents`` as many as available, ``service_level`` by
window in minutes (share 0–1 answered within the target; a window not given is unknown),
``crisis`` false. A department missing from the snapshot is not evaluated, and as a
partner its load is unknown. Under ``partners`` (external SAMU, by partner id):
``waiting`` and ``available_agents`` are required, ``estimated_wait_s`` defaults to null and
``age_s`` (seconds since the partner published its load) to 0; a load older than
``partner_load_ttl_s`` is unknown, as is a partner missing from the snapshot.

The engine's look-ahead is mirrored by :func:`look_ahead`, a pure function the tests hold
against the engine's own decisions.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from zoneinfo import ZoneInfo

from acd.config import ConfigError, build_engine_spec, load_document
from acd.core.entraide import PartnerLoad
from acd.core.entraide import look_ahead as engine_look_ahead
from acd.core.overflow import (
    AllOf,
    AnyOf,
    Condition,
    CrisisOn,
    DeptLoad,
    ExternalPartner,
    NotOf,
    OverflowRule,
    Schedule,
    Seen,
    ServiceLevelBelow,
    Threshold,
    holds,
)

if TYPE_CHECKING:
    from acd.core.spec import EngineSpec

    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]

EXIT_OK = 0
EXIT_INVALID = 2
PARIS = ZoneInfo("Europe/Paris")
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
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


# -- look-ahead -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a partner would take the call: the engine's refusal text, and a sentence."""

    refusal: str | None
    """Exactly what the engine records as ``skipped:<partner>``; ``None``: it takes the call."""
    text: str


def look_ahead(
    rule: OverflowRule,
    load: PartnerLoad | None,
    origin_wait_s: float | None,
    sent: int,
    *,
    accept_blind: bool,
    unknown: str = "not known",
) -> Verdict:
    """Whether a partner with ``load`` (``None``: unknown) passes the rule's look-ahead.

    ``sent``: calls this rule already sent it in the same evaluation; ``origin_wait_s``: the
    origin's estimated wait (``None``: endless). Mirrors the engine's look-ahead check; the
    ``already visited`` and ``refused recently`` checks need a live call and are not here.
    """
    if load is None:
        if accept_blind and sent < rule.max_per_evaluation:
            return Verdict(None, f"would take the call blind (load {unknown}, accept_blind)")
        return Verdict("load-unknown", f"skipped (load {unknown})")
    # The decision is the engine's own; only the sentence is written here.
    refusal = engine_look_ahead(rule, load, sent, origin_wait_s)
    limits = rule.limits
    ewt, mine = load.estimated_wait_s, origin_wait_s
    available = load.available_agents - sent
    waiting = load.waiting + sent
    if refusal is None:
        wait = f"estimated wait {_secs(ewt)}"
        if limits.better_than_origin:
            wait += f" < origin {_secs(mine)}"
        text = f"would take the call (waiting={waiting}, available={available}, {wait})"
        return Verdict(None, text)
    if refusal.startswith("available="):
        why = f"available={available} < {limits.min_available}"
    elif refusal.startswith("waiting="):
        why = f"waiting={waiting} > {limits.max_waiting}"
    elif refusal.startswith("share-cap="):
        cap = refusal.removeprefix("share-cap=")
        why = (
            f"share cap: {cap} call(s) for {load.available_agents} free ARM "
            f"at max_share_of_free {rule.max_share_of_free:g}"
        )
    elif "origin" in refusal:
        why = f"estimated wait {_secs(ewt)} not shorter than origin {_secs(mine)}"
    else:
        why = f"estimated wait {_secs(ewt)} > {_secs(limits.max_estimated_wait_s)}"
    return Verdict(refusal, f"skipped ({why})")


def _secs(value: float | None) -> str:
    return "unknown" if value is None else f"{value:g} s"


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


# -- explanation ----------------------------------------------------------------------------


def explain(spec: EngineSpec, snapshot: Snapshot, now: float) -> list[str]:
    """The dry run's report, one line per string."""
    overflow = spec.overflow
    externals = {p.id: p for p in overflow.partners}
    local = datetime.fromtimestamp(now, PARIS)
    lines = [
        f"Dry run at {local:%a %Y-%m-%d %H:%M} (Europe/Paris): nothing is sent.",
        "Every rule is taken as off before this evaluation, so hysteresis (until) and "
        "cooldown start afresh;",
        "each department is read as the snapshot gives it (calls another department would "
        "send are not added).",
    ]
    for dept in spec.departments:
        rules = [r for r in overflow.rules if r.dept == dept.id]
        if not rules:
            continue
        lines.append("")
        load = snapshot.departments.get(dept.id)
        if load is None:
            lines.append(f"{dept.id} {dept.name}: not in the snapshot, not evaluated")
            continue
        lines.append(f"{dept.id} {dept.name}: {_load_text(load)}")
        for n, rule in enumerate(rules):
            sends, text = _rule_lines(
                rule, load, now, snapshot, externals, overflow.partner_load_ttl_s
            )
            lines += text
            if sends:
                rest = ", ".join(r.id for r in rules[n + 1 :])
                if rest:
                    lines.append(f"  not evaluated, the rule above sends calls: {rest}")
                break
    return lines


def _load_text(load: DeptLoad) -> str:
    crisis = "on" if load.crisis else "off"
    return (
        f"{load.waiting} waiting (oldest {load.oldest_wait_s:g} s), estimated wait "
        f"{_secs(load.estimated_wait_s)}, {load.available_agents} free of "
        f"{load.logged_in_agents} logged in, crisis mode {crisis}"
    )


def _rule_lines(
    rule: OverflowRule,
    load: DeptLoad,
    now: float,
    snapshot: Snapshot,
    externals: Mapping[str, ExternalPartner],
    ttl_s: float,
) -> tuple[bool, list[str]]:
    """The lines of one rule, and whether it would send calls (later rules then wait)."""
    fired, why = describe(rule.when, load, now)
    if not fired:
        return False, [f"  rule {rule.id}: does not fire ({why})"]
    lines = [f"  rule {rule.id}: FIRES ({why})"]
    if rule.until is not None:
        released, state = describe(rule.until, load, now)
        then = "would stop at the next evaluation" if released else "stays on"
        lines.append(f"    once on, stops when {render(rule.until)}: now {state}, {then}")
    if rule.priorities is not None:
        lines.append(f"    only calls of priority {', '.join(sorted(rule.priorities))} leave")
    if load.waiting == 0:
        return False, [*lines, "    no call is waiting: nothing to send, next rule"]
    if load.oldest_wait_s < rule.min_wait_s:
        lines.append(
            f"    no call has waited min_wait_s={rule.min_wait_s:g} s yet "
            f"(oldest {load.oldest_wait_s:g} s): nothing to send, next rule"
        )
        return False, lines

    def verdict_of(pid: str, sent: int) -> Verdict:
        partner, unknown = _partner_load(pid, snapshot, now, ttl_s)
        blind = pid in externals and externals[pid].accept_blind
        return look_ahead(
            rule, partner, load.estimated_wait_s, sent, accept_blind=blind, unknown=unknown
        )

    for pid in rule.partners:
        verdict = verdict_of(pid, 0)
        lines.append(f"    → {pid}: {verdict.text}")
        if verdict.refusal is None:
            break
    else:
        lines.append("    no partner can take a call now: the calls stay here, next rule")
        return False, lines
    sent_to: dict[str, int] = {}
    for _ in range(min(rule.max_per_evaluation, load.waiting)):
        chosen = next(
            (p for p in rule.partners if verdict_of(p, sent_to.get(p, 0)).refusal is None), None
        )
        if chosen is not None:
            sent_to[chosen] = sent_to.get(chosen, 0) + 1
    total = sum(sent_to.values())
    where = ", ".join(f"{p} ×{n}" for p, n in sent_to.items())
    lines.append(
        f"    sends {total} call(s) now ({rule.select.value} first): {where}"
        + (f"; calls that waited under {rule.min_wait_s:g} s stay" if rule.min_wait_s else "")
    )
    return True, lines


def _partner_load(
    pid: str, snapshot: Snapshot, now: float, ttl_s: float
) -> tuple[PartnerLoad | None, str]:
    """A partner's load as the engine would see it, or ``None`` and why it is unknown."""
    dept = snapshot.departments.get(pid)
    if dept is not None:
        load = PartnerLoad(
            waiting=dept.waiting,
            available_agents=dept.available_agents,
            estimated_wait_s=dept.estimated_wait_s,
            at=now,
        )
        return load, ""
    published = snapshot.partners.get(pid)
    if published is None:
        return None, "unknown: not in the snapshot"
    load, age_s = published
    if age_s > ttl_s:
        return None, f"unknown: published {age_s:g} s ago, older than {ttl_s:g} s"
    return load, ""


def describe(cond: Condition, load: DeptLoad, now: float) -> tuple[bool, str]:
    """Whether ``cond`` holds, and the figures it read: ``waiting=12 ≥ 8, oldest…``."""
    if isinstance(cond, AllOf | AnyOf):
        if not cond.items:
            return True, "always on: the rule has no 'when'"
        texts = [_grouped(c, describe(c, load, now)[1]) for c in cond.items]
        ok = holds(cond, load, now, [])
        return ok, ", ".join(texts) if isinstance(cond, AllOf) else f"any of: {' | '.join(texts)}"
    if isinstance(cond, NotOf):
        inner = describe(cond.item, load, now)
        return not inner[0], f"not ({inner[1]})"
    return _describe_leaf(cond, load, now)


def _describe_leaf(
    cond: Threshold | ServiceLevelBelow | Schedule | CrisisOn, load: DeptLoad, now: float
) -> tuple[bool, str]:
    seen: Seen = []
    ok = holds(cond, load, now, seen)
    value = seen[0][1]
    if isinstance(cond, Threshold):
        return ok, _threshold(cond, value, ok)
    if isinstance(cond, ServiceLevelBelow):
        if not isinstance(value, float | int):
            return ok, f"service level over {cond.window_min} min unknown"
        sign = "<" if ok else "≥"
        return ok, f"service level over {cond.window_min} min {value:.0%} {sign} {cond.share:.0%}"
    if isinstance(cond, Schedule):
        local = datetime.fromtimestamp(now, ZoneInfo(cond.tz))
        where = "inside" if ok else "outside"
        return ok, f"{local:%a %H:%M} is {where} {render(cond)}"
    assert isinstance(cond, CrisisOn)
    return ok, f"crisis mode {'on' if ok else 'off'}"


def _threshold(cond: Threshold, value: object, ok: bool) -> str:
    name = cond.metric.value
    shown = "unknown" if value is None else f"{value:g}" if isinstance(value, float) else value
    low, high = cond.at_least, cond.at_most
    if low is not None and high is not None:
        return f"{name}={shown} {'in' if ok else 'outside'} [{low:g}, {high:g}]"
    if low is not None:
        return f"{name}={shown} {'≥' if ok else '<'} {low:g}"
    assert high is not None  # a threshold has at least one bound
    return f"{name}={shown} {'≤' if ok else '>'} {high:g}"


def render(cond: Condition) -> str:
    """A condition as a supervisor reads it, without figures: ``waiting ≤ 2``."""
    if isinstance(cond, Threshold):
        bounds = [f"≥ {cond.at_least:g}"] if cond.at_least is not None else []
        bounds += [f"≤ {cond.at_most:g}"] if cond.at_most is not None else []
        return f"{cond.metric.value} {' and '.join(bounds)}"
    if isinstance(cond, ServiceLevelBelow):
        return f"service level over {cond.window_min} min < {cond.share:.0%}"
    if isinstance(cond, Schedule):
        days = sorted(cond.days)
        named = "every day" if len(days) == 7 else ", ".join(DAY_NAMES[d - 1] for d in days)
        start, end = divmod(cond.start_min, 60), divmod(cond.end_min, 60)
        return (
            f"schedule {named} {start[0]:02d}:{start[1]:02d}–{end[0]:02d}:{end[1]:02d} ({cond.tz})"
        )
    if isinstance(cond, CrisisOn):
        return "crisis mode on"
    if isinstance(cond, NotOf):
        return f"not ({render(cond.item)})"
    texts = [_grouped(c, render(c)) for c in cond.items]
    return ", ".join(texts) if isinstance(cond, AllOf) else f"any of: {' | '.join(texts)}"


def _grouped(cond: Condition, text: str) -> str:
    """``text`` in brackets when ``cond`` combines several conditions inside another."""
    several = isinstance(cond, AllOf | AnyOf) and len(cond.items) > 1
    return f"({text})" if several else text


# -- command --------------------------------------------------------------------------------


def explain_command(
    config_path: str,
    state_path: str,
    *,
    at: str | None,
    out: TextIO,
    err: TextIO,
    clock: Callable[[], float] = time.time,
) -> int:
    """Run the dry run; print the report on ``out`` or the problems on ``err``."""
    try:
        doc = load_document(config_path)
    except ConfigError as exc:
        for issue in exc.issues:
            print(issue, file=err)
        return EXIT_INVALID
    spec = build_engine_spec(doc.config)
    try:
        data = json.loads(Path(state_path).read_text(encoding="utf-8"))
        snapshot = parse_snapshot(
            data,
            departments={d.id for d in spec.departments},
            partners={p.id for p in spec.overflow.partners},
        )
        now = parse_time(at, "--at") if at is not None else snapshot.at
    except OSError as exc:
        print(f"{state_path}: cannot read the snapshot: {exc.strerror}", file=err)
        return EXIT_INVALID
    except json.JSONDecodeError as exc:
        print(f"{state_path}:{exc.lineno}: not valid JSON: {exc.msg}", file=err)
        return EXIT_INVALID
    except SnapshotError as exc:
        print(f"{state_path}: {exc}", file=err)
        return EXIT_INVALID
    lines = explain(spec, snapshot, clock() if now is None else now)
    print(f"{doc.source} (version {doc.config.version}), snapshot {state_path}", file=out)
    print("\n".join(lines), file=out)
    return EXIT_OK


def rules_explain(args: argparse.Namespace) -> int:
    """``acd rules explain FILE --state SNAPSHOT.json [--at ISO-TIME]``."""
    return explain_command(args.file, args.state, at=args.at, out=sys.stdout, err=sys.stderr)


def register_rules(subparsers: Subparsers) -> None:
    """``acd rules explain``: what the overflow rules would do on a snapshot."""
    group = subparsers.add_parser("rules", help="dry-run the overflow rules on a snapshot")
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)
    intro, _, rest = (__doc__ or "").partition("The snapshot is a JSON file::")
    snapshot_format = rest.partition("The engine's look-ahead")[0]
    explain_parser = actions.add_parser(
        "explain",
        help="which overflow rule would fire and where the calls would go",
        description=intro.strip().replace("``", "'"),
        epilog=("The snapshot is a JSON file:" + snapshot_format).replace("``", "'"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    explain_parser.add_argument("file", help="the YAML configuration, e.g. configs/acd.yaml")
    explain_parser.add_argument(
        "--state", required=True, metavar="SNAPSHOT.json", help="the platform's figures (JSON)"
    )
    explain_parser.add_argument(
        "--at",
        metavar="ISO-TIME",
        help="evaluate at this time, e.g. 2026-07-14T23:30 (Europe/Paris unless an offset "
        "is given); default: the snapshot's 'at', else now",
    )
    explain_parser.set_defaults(handler=rules_explain)
