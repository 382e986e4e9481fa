"""What the console shows, read from the engine: tiles, queues, agents, rules, partner loads.

Reads only, from the event loop the dispatcher runs on: between two of its steps the
engine is consistent, and nothing here changes it.
"""

from __future__ import annotations

from acd.config.models import ConsoleConfig
from acd.console.masking import mask_number
from acd.console.models import (
    AgentCounts,
    AgentOut,
    Level,
    PartnerLoadOut,
    RuleOut,
    Tile,
    TodayOut,
    WaitingCall,
)
from acd.console.today import DayFigures
from acd.core.engine import Engine
from acd.core.ids import AgentId, DeptId
from acd.core.model import CallView
from acd.core.overflow import (
    AllOf,
    AnyOf,
    Condition,
    CrisisOn,
    NotOf,
    Schedule,
    ServiceLevelBelow,
    Threshold,
)
from acd.core.states import AgentState

_DAYS = ["lun", "mar", "mer", "jeu", "ven", "sam", "dim"]


def level(wait_s: float, cfg: ConsoleConfig) -> Level:
    """The tile's colour for a longest wait."""
    if wait_s >= cfg.wait_red_s:
        return "red"
    if wait_s >= cfg.wait_amber_s:
        return "amber"
    return "ok"


def today_out(figures: DayFigures | None, dept: str) -> TodayOut | None:
    """A department's figures of the day, with their service level."""
    found = None if figures is None else figures.of(dept)
    if found is None:
        return None
    counted = found["answered"] + found["abandoned"]
    level = None if counted == 0 else found["within_target"] / counted
    return TodayOut(**found, service_level=level)


def tile(
    engine: Engine,
    dept: DeptId,
    now: float,
    cfg: ConsoleConfig,
    today: DayFigures | None = None,
) -> Tile:
    """One department's tile."""
    s = engine.dept_stats(dept, now)
    by = s.agents_by_state
    return Tile(
        dept=dept,
        name=engine.depts[dept].name,
        waiting=s.waiting,
        longest_wait_s=round(s.longest_wait_s, 1),
        level=level(s.longest_wait_s, cfg),
        estimated_wait_s=s.estimated_wait_s,
        agents=AgentCounts(
            available=by.get(AgentState.AVAILABLE, 0),
            offered=by.get(AgentState.OFFERED, 0),
            on_call=by.get(AgentState.ON_CALL, 0),
            wrapup=by.get(AgentState.WRAPUP, 0),
            paused=by.get(AgentState.PAUSED, 0),
            logged_in=s.logged_in_agents,
            logged_out=by.get(AgentState.LOGGED_OUT, 0),
        ),
        answered=s.answered,
        answered_within_target=s.answered_within_target,
        service_level=s.service_level,
        service_level_last_hour=s.service_level_last_hour,
        abandoned=s.abandoned,
        short_abandoned=s.short_abandoned,
        overflowed_out=s.overflowed_out,
        overflowed_in=s.overflowed_in,
        fallback=s.fallback,
        today=today_out(today, dept),
        crisis=dept in engine.crisis,
        active_rules=[
            r.id for r in engine.rules_by_dept.get(dept, ()) if engine.rule_states[r.id].active
        ],
        partners=partner_loads(engine, _partners_of(engine, dept), now),
    )


def _partners_of(engine: Engine, dept: DeptId) -> list[str]:
    seen: dict[str, None] = {}
    for rule in engine.rules_by_dept.get(dept, ()):
        seen.update(dict.fromkeys(rule.partners))
    return list(seen)


def partner_loads(engine: Engine, ids: list[str], now: float) -> list[PartnerLoadOut]:
    """The partners' loads as the look-ahead reads them (departments here: live figures)."""
    out = []
    for pid in ids:
        if pid in engine.depts:
            s = engine.dept_stats(DeptId(pid), now)
            out.append(
                PartnerLoadOut(
                    partner=pid,
                    name=engine.depts[DeptId(pid)].name,
                    kind="department",
                    waiting=s.waiting,
                    available_agents=s.available_agents,
                    estimated_wait_s=s.estimated_wait_s,
                    age_s=0.0,
                )
            )
            continue
        ext = engine.externals.get(pid)
        load = engine.partner_loads.get(pid)
        out.append(
            PartnerLoadOut(
                partner=pid,
                name=ext.name if ext is not None else pid,
                kind="external",
                waiting=None if load is None else load.waiting,
                available_agents=None if load is None else load.available_agents,
                estimated_wait_s=None if load is None else load.estimated_wait_s,
                age_s=None if load is None else round(max(0.0, now - load.at), 1),
            )
        )
    return out


def waiting_calls(engine: Engine, dept: DeptId, now: float, *, unmasked: bool) -> list[WaitingCall]:
    """The department's live calls: waiting ones in serving order, then the others."""
    calls: list[WaitingCall] = []
    position = 0
    listed = set()
    for queue in engine.depts[dept].queues:
        for view in engine.waiting_calls(queue):
            position += 1
            listed.add(view.id)
            calls.append(_call(view, position, now, unmasked))
    for view in engine.live_calls():
        if view.dept == dept and view.id not in listed:
            calls.append(_call(view, 0, now, unmasked))
    return calls


def _call(view: CallView, position: int, now: float, unmasked: bool) -> WaitingCall:
    return WaitingCall(
        call=view.id,
        position=position,
        queue=view.queue,
        priority=view.priority,
        state=view.state.value,
        wait_s=round(max(0.0, now - view.arrived_at), 1),
        caller=view.caller if unmasked else mask_number(view.caller),
        origin=view.origin,
        agent=view.agent,
    )


def depts_of_agent(engine: Engine, agent: AgentId) -> list[str]:
    """The departments whose queues an agent serves."""
    spec = engine.agents[agent].spec
    queues = {m.queue for m in spec.memberships}
    return [d.id for d in engine.depts.values() if queues.intersection(d.queues)]


def agent_depts(engine: Engine) -> dict[AgentId, list[str]]:
    """Every agent's departments (fixed while the service runs: departments change at restart)."""
    return {aid: depts_of_agent(engine, aid) for aid in engine.agents}


def agent_out(engine: Engine, agent: AgentId, now: float, depts: list[str]) -> AgentOut:
    """One agent as the console lists them."""
    a = engine.agent(agent)
    return AgentOut(
        agent=a.id,
        name=a.name,
        state=a.state.value,
        since=a.since,
        in_state_s=round(max(0.0, now - a.since), 1),
        pause_reason=a.pause_reason,
        pending_pause=a.pending_pause,
        pending_logout=a.pending_logout,
        call=a.call,
        calls=a.calls,
        depts=depts,
    )


def agents(
    engine: Engine, now: float, depts_of: dict[AgentId, list[str]], dept: str | None = None
) -> list[AgentOut]:
    """Every agent (or a department's), by id."""
    return [
        agent_out(engine, aid, now, depts_of.get(aid, []))
        for aid in sorted(engine.agents)
        if dept is None or dept in depts_of.get(aid, ())
    ]


def rules(engine: Engine) -> list[RuleOut]:
    """The overflow rules in force, with their state."""
    out = []
    for rule in engine.overflow.rules:
        state = engine.rule_states[rule.id]
        out.append(
            RuleOut(
                id=rule.id,
                dept=rule.dept,
                partners=list(rule.partners),
                active=state.active,
                since=None if state.changed_at == float("-inf") else state.changed_at,
                when=describe(rule.when),
                until=None if rule.until is None else describe(rule.until),
            )
        )
    return out


def describe(cond: Condition) -> str:  # noqa: PLR0911 - one answer per kind of condition
    """A condition in a line, as the configuration writes it."""
    if isinstance(cond, Threshold):
        parts = []
        if cond.at_least is not None:
            parts.append(f"{cond.metric.value} ≥ {cond.at_least:g}")
        if cond.at_most is not None:
            parts.append(f"{cond.metric.value} ≤ {cond.at_most:g}")
        return " and ".join(parts)
    if isinstance(cond, ServiceLevelBelow):
        return f"service level < {100 * cond.share:g}% over {cond.window_min} min"
    if isinstance(cond, Schedule):
        days = ",".join(_DAYS[d - 1] for d in sorted(cond.days))
        start, end = cond.start_min, cond.end_min
        return f"{days} {start // 60:02d}:{start % 60:02d}–{end // 60:02d}:{end % 60:02d}"
    if isinstance(cond, CrisisOn):
        return "crisis mode"
    if isinstance(cond, AllOf):
        return "(" + " and ".join(describe(c) for c in cond.items) + ")"
    if isinstance(cond, AnyOf):
        return "(" + " or ".join(describe(c) for c in cond.items) + ")"
    if isinstance(cond, NotOf):
        return f"not {describe(cond.item)}"
    raise TypeError(f"unknown condition {cond!r}")
