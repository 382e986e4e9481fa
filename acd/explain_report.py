"""What a dry run says: each rule's conditions with the figures read, then the partner walk."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

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
from acd.explain_snapshot import PARIS, Snapshot

if TYPE_CHECKING:
    from acd.core.spec import EngineSpec

    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


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
    origin's estimated wait (``None``: endless). Decided by the engine's look-ahead; the
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
