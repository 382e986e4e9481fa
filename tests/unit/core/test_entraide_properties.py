"""Properties of entraide under any rule set and any load: never home, never worse, never lost."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import event, given
from hypothesis import strategies as st

from acd.core import events as ev
from acd.core.commands import CallRecord, Command, OfferCall, OverflowCall
from acd.core.engine import Engine
from acd.core.ids import AgentId, CallId, DeptId
from acd.core.overflow import (
    AnyOf,
    Condition,
    CrisisOn,
    ExternalPartner,
    Metric,
    OverflowRule,
    OverflowSpec,
    PartnerLimits,
    Select,
    Threshold,
)
from acd.core.states import TERMINAL_CALL_STATES, CallState
from acd.core.testing import simple_spec

DEPTS = ("75", "92", "93")
EXTERNALS = ("samu-60", "samu-45")

conditions: st.SearchStrategy[Condition] = st.one_of(
    st.builds(
        Threshold,
        metric=st.sampled_from(list(Metric)),
        at_least=st.sampled_from([0.0, 1.0, 2.0, 5.0, 30.0]),
    ),
    st.builds(
        Threshold,
        metric=st.sampled_from([Metric.AVAILABLE_AGENTS, Metric.LOGGED_IN_AGENTS]),
        at_most=st.sampled_from([0.0, 1.0]),
    ),
    st.just(CrisisOn()),
)


@st.composite
def rules(draw: st.DrawFn) -> tuple[OverflowRule, ...]:
    """Any rule set over three departments and two external partners."""
    out = []
    for n in range(draw(st.integers(1, 4))):
        dept = draw(st.sampled_from(DEPTS))
        others = [p for p in (*DEPTS, *EXTERNALS) if p != dept]
        chain = draw(st.lists(st.sampled_from(others), min_size=1, max_size=4, unique=True))
        out.append(
            OverflowRule(
                id=f"r{n}",
                dept=DeptId(dept),
                when=draw(st.one_of(conditions, st.builds(AnyOf, items=st.tuples(conditions)))),
                partners=tuple(chain),
                limits=PartnerLimits(
                    max_waiting=draw(st.sampled_from([None, 0, 2])),
                    min_available=draw(st.sampled_from([0, 1, 2])),
                    max_estimated_wait_s=draw(st.sampled_from([None, 30.0])),
                    better_than_origin=draw(st.booleans()),
                ),
                select=draw(st.sampled_from(list(Select))),
                max_per_evaluation=draw(st.integers(1, 3)),
                max_share_of_free=draw(st.sampled_from([0.5, 1.0])),
                min_wait_s=draw(st.sampled_from([0.0, 5.0])),
            )
        )
    return tuple(out)


def _limits_ok(rule: OverflowRule, load: ev.PartnerLoadReported) -> bool:
    lim = rule.limits
    ewt = load.estimated_wait_s
    return (
        load.available_agents >= lim.min_available
        and (lim.max_waiting is None or load.waiting <= lim.max_waiting)
        and (
            lim.max_estimated_wait_s is None
            or (ewt is not None and ewt <= lim.max_estimated_wait_s)
        )
    )


@given(rule_set=rules(), blind=st.booleans(), data=st.data())
def test_entraide_never_sends_home_never_breaks_limits_never_loses_a_call(
    rule_set: tuple[OverflowRule, ...], blind: bool, data: st.DataObject
) -> None:
    """Any rules and load: never home nor back, no look-ahead limit broken, no call lost."""
    externals = tuple(
        ExternalPartner(id=p, name=p, number="0", trunk="T", accept_blind=blind) for p in EXTERNALS
    )
    spec = simple_spec(depts=DEPTS, agents_per_dept=2)
    overflow = OverflowSpec(rules=rule_set, partners=externals, partner_load_ttl_s=10.0)
    engine = Engine(replace(spec, overflow=overflow))
    rules_by_id = {r.id: r for r in rule_set}
    now = 1_000_000.0
    loads: dict[str, ev.PartnerLoadReported] = {}
    path: dict[CallId, list[str]] = {}
    outcomes: dict[CallId, list[CallState]] = {}
    pending: dict[CallId, Command] = {}

    def check(out: list[Command], at: float) -> None:
        for c in out:
            if isinstance(c, CallRecord):
                if c.previous is None:
                    path[c.call] = [c.dept]
                elif c.state is CallState.WAITING and c.previous is CallState.WAITING:
                    assert c.dept not in path[c.call], f"{c.call} sent back to {c.dept}"
                    path[c.call].append(c.dept)
                    event("moved to an internal partner")
                if c.state in TERMINAL_CALL_STATES:
                    outcomes.setdefault(c.call, []).append(c.state)
            elif isinstance(c, OverflowCall):
                event("overflowed to an external partner")
                assert c.partner not in path[c.call]
                rule = rules_by_id[str(c.reason.rule).removeprefix("overflow-rule:")]
                load = loads.get(c.partner)
                if load is not None and at - load.at <= 10.0:
                    assert _limits_ok(rule, load), (c, load)
                else:
                    assert blind, "an unknown load is only sent to when accepting blind"
                pending[c.call] = c
            elif isinstance(c, OfferCall):
                pending[c.call] = c

    def send(event: ev.Event) -> None:
        while (due := engine.next_deadline()) is not None and due <= now:
            check(engine.handle(ev.Tick(), due), due)
        check(engine.handle(event, now), now)

    n = 0
    for _ in range(data.draw(st.integers(5, 40), label="steps")):
        now += data.draw(st.sampled_from([0.0, 0.5, 2.0, 11.0]), label="dt")
        action = data.draw(
            st.sampled_from(["arrive", "arrive", "login", "load", "settle", "crisis", "hangup"])
        )
        if action == "arrive":
            n += 1
            send(
                ev.CallArrived(
                    call=CallId(f"p/{n}"), dept=DeptId(data.draw(st.sampled_from(DEPTS)))
                )
            )
        elif action == "login":
            agent = AgentId(f"{data.draw(st.sampled_from(DEPTS))}-a{data.draw(st.integers(0, 1))}")
            send(ev.AgentLoggedIn(agent=agent))
        elif action == "load":
            load = ev.PartnerLoadReported(
                partner=data.draw(st.sampled_from(EXTERNALS)),
                waiting=data.draw(st.integers(0, 4)),
                available_agents=data.draw(st.integers(0, 3)),
                estimated_wait_s=data.draw(st.sampled_from([None, 5.0, 60.0])),
                at=now,
            )
            send(load)
            loads[load.partner] = load
        elif action == "crisis":
            send(
                ev.CrisisModeSet(
                    dept=DeptId(data.draw(st.sampled_from(DEPTS))), on=data.draw(st.booleans())
                )
            )
        elif action == "settle" and pending:
            cid, cmd = next(iter(pending.items()))
            del pending[cid]
            if engine.call_state(cid) not in (CallState.OFFERED, CallState.OVERFLOWING):
                continue
            if isinstance(cmd, OverflowCall):
                ok = data.draw(st.booleans())
                send(
                    ev.OverflowConfirmed(call=cid, route=cmd.route)
                    if ok
                    else ev.OverflowFailed(call=cid, route=cmd.route, cause=ev.RouteFailure.BUSY)
                )
            elif isinstance(cmd, OfferCall):
                send(ev.CallAnswered(call=cid, route=cmd.route))
        elif action == "hangup" and n:
            cid = CallId(f"p/{data.draw(st.integers(1, n))}")
            send(ev.CallHungUp(call=cid))
    # Every caller finally hangs up: each call must end in exactly one terminal state.
    for i in range(1, n + 1):
        send(ev.CallHungUp(call=CallId(f"p/{i}")))
    for i in range(1, n + 1):
        cid = CallId(f"p/{i}")
        assert len(outcomes.get(cid, [])) == 1, (cid, outcomes.get(cid))
        assert engine.call_state(cid) in TERMINAL_CALL_STATES
