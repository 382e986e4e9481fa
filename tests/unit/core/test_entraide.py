"""Entraide in the engine: look-ahead, chain fall-through, hysteresis, crisis, return to place."""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise

import pytest

from acd.core import events as ev
from acd.core.commands import (
    CallRecord,
    Command,
    MoveCall,
    OverflowCall,
    OverflowHeld,
    RuleChanged,
)
from acd.core.engine import Engine
from acd.core.ids import DeptId, QueueId
from acd.core.overflow import (
    CrisisOn,
    ExternalPartner,
    Metric,
    OverflowRule,
    OverflowSpec,
    PartnerLimits,
    Threshold,
)
from acd.core.states import CallState
from acd.core.testing import Driver, offers, simple_spec

from .helpers import arrive, cid, login, only_offer

D75, D92, D93 = DeptId("75"), DeptId("92"), DeptId("93")
SAMU60 = ExternalPartner(id="samu-60", name="SAMU 60", number="0344000000", trunk="PJSIP/trunk")


def _rule(**kw: object) -> OverflowRule:
    base: dict[str, object] = {
        "id": "75-saturation",
        "dept": D75,
        "when": Threshold(metric=Metric.WAITING, at_least=2),
        "partners": ("92", "93"),
        "limits": PartnerLimits(better_than_origin=False),
        "max_per_evaluation": 1,
    }
    return OverflowRule(**{**base, **kw})  # type: ignore[arg-type]


def _driver(*rules: OverflowRule, externals: tuple[ExternalPartner, ...] = ()) -> Driver:
    spec = simple_spec(depts=("75", "92", "93"), agents_per_dept=1)
    overflow = OverflowSpec(rules=rules, partners=externals, evaluate_every_s=1.0)
    return Driver(Engine(replace(spec, overflow=overflow)))


def _of(out: list[Command], kind: type) -> list:  # type: ignore[type-arg]
    return [c for c in out if isinstance(c, kind)]


def _moves(out: list[Command]) -> list[CallRecord]:
    """Records of calls moved into another department (entraide inside the platform)."""
    return [
        c
        for c in out
        if isinstance(c, CallRecord)
        and c.previous is CallState.WAITING
        and c.state is CallState.WAITING
    ]


def test_saturated_department_sends_its_oldest_call_to_the_first_partner_able() -> None:
    """Two waiting in 75 and a free agent in 92: the oldest call moves to 92 and rings there."""
    d = _driver(_rule())
    login(d, "92-a0")
    arrive(d, 1)
    out = arrive(d, 2, after=1)
    [move] = _moves(out)
    assert (move.call, move.dept, move.queue) == (cid(1), D92, QueueId("92-main"))
    assert move.reason.rule == "overflow-rule:75-saturation"
    assert move.reason.get("partner") == "92"
    assert move.reason.get("waiting") == 2
    offer = only_offer(out)
    assert (offer.call, offer.agent) == (cid(1), "92-a0")
    [relabel] = _of(out, MoveCall)
    assert (relabel.call, relabel.dept) == (cid(1), D92)
    assert d.engine.dept_stats(D75, d.now).overflowed_out == 1
    assert d.engine.dept_stats(D92, d.now).overflowed_in == 1
    assert d.engine.call(cid(1)).origin == D75  # type: ignore[union-attr]


def test_chain_falls_through_to_the_next_partner_when_the_first_is_full() -> None:
    """92 has nobody free: 93 is tried next and takes the call; the reason names the skip."""
    d = _driver(_rule())
    login(d, "93-a0")
    arrive(d, 1)
    out = arrive(d, 2, after=1)
    [move] = _moves(out)
    assert move.dept == D93
    assert move.reason.get("skipped:92") == "available=0<1"


def test_no_partner_able_keeps_the_call_and_says_why() -> None:
    """When every partner fails the look-ahead, calls stay and an OverflowHeld explains."""
    d = _driver(_rule())
    arrive(d, 1)
    out = arrive(d, 2, after=1)
    assert _moves(out) == []
    [held] = _of(out, OverflowHeld)
    assert held.rule == "75-saturation"
    assert held.reason.get("skipped:92") == "available=0<1"
    assert held.reason.get("skipped:93") == "available=0<1"
    assert d.engine.call_state(cid(1)) is CallState.WAITING


def test_partner_worse_off_than_origin_is_skipped() -> None:
    """With better_than_origin, a partner whose estimated wait is not lower is skipped."""
    d = _driver(_rule(limits=PartnerLimits(min_available=0, better_than_origin=True)))
    arrive(d, 1)
    out = arrive(d, 2, after=1)
    [held] = _of(out, OverflowHeld)
    assert "origin" in str(held.reason.get("skipped:92"))


def test_calls_that_have_not_waited_long_enough_stay() -> None:
    """min_wait_s keeps fresh calls home; the rule sends them once they waited enough."""
    d = _driver(_rule(min_wait_s=30.0))
    login(d, "92-a0")
    arrive(d, 1)
    assert _moves(arrive(d, 2, after=1)) == []
    out = d.advance(d.now + 30)
    assert [m.call for m in _moves(out)] == [cid(1)]


def test_at_most_n_calls_per_evaluation() -> None:
    """max_per_evaluation 2: five calls waiting, four agents free in 92, two calls leave."""
    spec = simple_spec(depts=("75", "92"), agents_per_dept=4)
    rule = _rule(max_per_evaluation=2, partners=("92",))
    d = Driver(Engine(replace(spec, overflow=OverflowSpec(rules=(rule,)))))
    for n in range(5):
        arrive(d, n)
    for a in range(4):
        d.engine.handle(ev.AgentLoggedIn(agent=f"92-a{a}"), d.now)  # type: ignore[arg-type]
    out = d.advance(d.now + 1.0)
    assert [m.call for m in _moves(out)] == [cid(0), cid(1)]


def test_share_of_partner_free_agents_caps_a_batch() -> None:
    """max_share_of_free 0.5 of 4 free agents sends at most 2 calls in one evaluation."""
    spec = simple_spec(depts=("75", "92"), agents_per_dept=4)
    rule = _rule(partners=("92",), max_per_evaluation=10, max_share_of_free=0.5)
    d = Driver(Engine(replace(spec, overflow=OverflowSpec(rules=(rule,)))))
    for n in range(6):
        arrive(d, n)
    for a in range(4):
        d.engine.handle(ev.AgentLoggedIn(agent=f"92-a{a}"), d.now)  # type: ignore[arg-type]
    out = d.advance(d.now + 1.0)
    assert len(_moves(out)) == 2
    assert [o.call for o in offers(out)] == [cid(0), cid(1)]


def test_never_overflows_back_to_a_department_the_call_came_from() -> None:
    """A call moved 75 → 92 is not sent back to 75 by 92's own rule; 92's own call is."""
    spec = simple_spec(depts=("75", "92"), agents_per_dept=2)
    rules = (_rule(partners=("92",)), _rule(id="92-saturation", dept=D92, partners=("75",)))
    d = Driver(Engine(replace(spec, overflow=OverflowSpec(rules=rules))))
    login(d, "92-a0")
    arrive(d, 1)
    offer = only_offer(arrive(d, 2))  # call 1 moves to 92 and rings 92-a0
    assert offer.call == cid(1)
    d.send(ev.RouteFailed(call=cid(1), route=offer.route, cause=ev.RouteFailure.NO_ANSWER))
    login(d, "75-a0", "75-a1")  # 75-a0 takes call 2; 75-a1 stays free
    out = arrive(d, 3, dept="92", after=1)
    [move] = _moves(out)
    assert (move.call, move.dept) == (cid(3), D75)
    assert move.reason.get("skipped:75") is None
    assert d.engine.call(cid(1)).dept == D92  # type: ignore[union-attr]


def test_hysteresis_does_not_flap_on_a_sawtooth_load() -> None:
    """With until (waiting ≤ 1), a load oscillating between 2 and 3 turns the rule on once."""
    rule = _rule(
        when=Threshold(metric=Metric.WAITING, at_least=3),
        until=Threshold(metric=Metric.WAITING, at_most=1),
        limits=PartnerLimits(min_available=5),  # nobody can take: we watch the rule only
    )
    d = _driver(rule)
    arrive(d, 0)
    arrive(d, 1)
    for n in range(2, 22):
        arrive(d, n, after=1)  # 3 waiting
        d.send(ev.CallHungUp(call=cid(n)), after=1)  # 2 waiting
    assert [c.active for c in _of(d.log, RuleChanged)] == [True]


def test_without_hysteresis_the_same_sawtooth_flaps() -> None:
    """The control case: no until and no cooldown, the rule follows every tooth."""
    rule = _rule(
        when=Threshold(metric=Metric.WAITING, at_least=3), limits=PartnerLimits(min_available=5)
    )
    d = _driver(rule)
    arrive(d, 0)
    arrive(d, 1)
    for n in range(2, 12):
        arrive(d, n, after=1)
        d.send(ev.CallHungUp(call=cid(n)), after=1)
    assert len(_of(d.log, RuleChanged)) >= 10


def test_cooldown_limits_how_often_a_rule_changes() -> None:
    """With a 60 s cooldown the rule changes state at most once a minute."""
    rule = _rule(
        when=Threshold(metric=Metric.WAITING, at_least=3),
        limits=PartnerLimits(min_available=5),
        cooldown_s=60.0,
    )
    d = _driver(rule)
    arrive(d, 0)
    arrive(d, 1)
    for n in range(2, 62):
        arrive(d, n, after=1)
        d.send(ev.CallHungUp(call=cid(n)), after=1)
    times = [c.at for c in _of(d.log, RuleChanged)]
    assert 2 <= len(times) <= 3
    assert all(b - a >= 60.0 for a, b in pairwise(times))


def test_crisis_mode_fires_the_crisis_rule_and_switching_it_off_stops_it() -> None:
    """A supervisor's crisis mode sends calls at once; off again, they stay home."""
    d = _driver(_rule(id="75-crise", when=CrisisOn(), partners=("92",)))
    login(d, "92-a0", "92-a0")
    d.send(ev.AgentPaused(agent="92-a0", reason="x"))  # type: ignore[arg-type]
    arrive(d, 1)
    d.send(ev.AgentUnpaused(agent="92-a0"))  # type: ignore[arg-type]
    assert _moves(d.log) == []
    out = d.send(ev.CrisisModeSet(dept=D75, on=True, by="sup"))
    assert [m.call for m in _moves(out)] == [cid(1)]
    assert _of(out, RuleChanged)[0].reason.get("crisis") is True
    out = d.send(ev.CrisisModeSet(dept=D75, on=False, by="sup"), after=1)
    assert [c.active for c in _of(out, RuleChanged)] == [False]
    login(d, "92-a0")
    assert _moves(arrive(d, 2, after=1)) == []


def test_external_partner_with_published_load_takes_the_call_and_confirms() -> None:
    """An external SAMU with a fresh load that passes look-ahead gets an OverflowCall."""
    d = _driver(_rule(partners=("samu-60",)), externals=(SAMU60,))
    d.send(
        ev.PartnerLoadReported(
            partner="samu-60", waiting=0, available_agents=3, estimated_wait_s=10.0, at=d.now
        )
    )
    arrive(d, 1)
    out = arrive(d, 2, after=1)
    [call] = _of(out, OverflowCall)
    assert (call.call, call.number, call.trunk) == (cid(1), "0344000000", "PJSIP/trunk")
    assert d.engine.call_state(cid(1)) is CallState.OVERFLOWING
    d.send(ev.OverflowConfirmed(call=call.call, route=call.route), after=5)
    assert d.engine.call_state(cid(1)) is CallState.OVERFLOWED
    assert d.engine.dept_stats(D75, d.now).overflowed_out == 1


def test_refused_overflow_returns_the_call_to_its_original_place() -> None:
    """The partner refuses: the caller is back first in line and that partner rests a while."""
    d = _driver(_rule(partners=("samu-60",)), externals=(SAMU60,))
    d.send(
        ev.PartnerLoadReported(
            partner="samu-60", waiting=0, available_agents=3, estimated_wait_s=10.0, at=d.now
        )
    )
    arrive(d, 1)
    [call] = _of(arrive(d, 2, after=1), OverflowCall)
    d.send(
        ev.PartnerLoadReported(
            partner="samu-60", waiting=4, available_agents=0, estimated_wait_s=90.0, at=d.now
        )
    )
    arrive(d, 3, after=1)
    out = d.send(
        ev.OverflowFailed(call=call.call, route=call.route, cause=ev.RouteFailure.BUSY), after=1
    )
    order = [c.id for c in d.engine.waiting_calls(QueueId("75-main"))]
    assert order == [cid(1), cid(2), cid(3)]
    assert _of(out, OverflowCall) == []
    [held, *_] = _of(d.advance(d.now + 5), OverflowHeld)
    assert held.reason.get("skipped:samu-60") == "refused-recently"


@pytest.mark.parametrize("blind", [False, True])
def test_unknown_partner_load_is_skipped_unless_it_accepts_blind(blind: bool) -> None:
    """No published (or a stale) load: skipped, unless the partner is marked accept_blind."""
    partner = replace(SAMU60, accept_blind=blind)
    d = _driver(_rule(partners=("samu-60",)), externals=(partner,))
    d.send(
        ev.PartnerLoadReported(
            partner="samu-60", waiting=0, available_agents=3, estimated_wait_s=1.0, at=d.now
        )
    )
    arrive(d, 1, after=11)  # the load is now older than its 10 s time to live
    out = arrive(d, 2)
    assert bool(_of(out, OverflowCall)) is blind
    if not blind:
        assert _of(out, OverflowHeld)[0].reason.get("skipped:samu-60") == "load-unknown"


def test_caller_hanging_up_during_an_external_overflow_is_abandoned() -> None:
    """A caller who hangs up while the partner's line rings counts as abandoned."""
    d = _driver(_rule(partners=("samu-60",)), externals=(replace(SAMU60, accept_blind=True),))
    arrive(d, 1)
    [call] = _of(arrive(d, 2, after=1), OverflowCall)
    d.send(ev.CallHungUp(call=call.call), after=3)
    assert d.engine.call_state(call.call) is CallState.ABANDONED


def test_reloaded_rules_change_decisions_from_the_next_evaluation() -> None:
    """Replacing the rules takes effect at the next evaluation; calls keep their state."""
    d = _driver(_rule(partners=("92",), when=Threshold(metric=Metric.WAITING, at_least=50)))
    login(d, "92-a0")
    arrive(d, 1)
    arrive(d, 2)
    assert _moves(d.advance(d.now + 2)) == []
    d.engine.reconfigure_overflow(OverflowSpec(rules=(_rule(partners=("92",)),)), d.now)
    out = d.advance(d.now + 1.0)
    assert [m.call for m in _moves(out)] == [cid(1)]
    assert d.engine.call_state(cid(2)) is CallState.WAITING


def test_fallback_while_overflowing_ends_the_call_in_fallback() -> None:
    """The partner's line failed unseen and the dialplan fell back: the call ends there."""
    d = _driver(_rule(partners=("samu-60",)), externals=(replace(SAMU60, accept_blind=True),))
    arrive(d, 1)
    [call] = _of(arrive(d, 2, after=1), OverflowCall)
    d.send(ev.CallFellBack(call=call.call), after=30)
    assert d.engine.call_state(call.call) is CallState.FALLBACK
    assert d.engine.dept_stats(D75, d.now).fallback == 1


def test_calls_on_their_way_to_a_partner_are_charged_to_its_load() -> None:
    """One free ARM published: four saturating arrivals send one call, not four."""
    d = _driver(_rule(partners=("samu-60",)), externals=(SAMU60,))
    d.send(
        ev.PartnerLoadReported(
            partner="samu-60", waiting=0, available_agents=1, estimated_wait_s=5.0, at=d.now
        )
    )
    arrive(d, 0)
    for n in range(1, 5):
        arrive(d, n, after=0.1)
    assert len(_of(d.log, OverflowCall)) == 1
    [sent] = _of(d.log, OverflowCall)
    d.send(ev.OverflowFailed(call=sent.call, route=sent.route, cause=ev.RouteFailure.BUSY))
    assert d.engine.in_flight["samu-60"] == 0


def test_a_blind_partner_gets_at_most_a_batch_in_flight() -> None:
    """Load unknown, accept_blind: no more calls on their way than one evaluation's batch."""
    d = _driver(_rule(partners=("samu-60",)), externals=(replace(SAMU60, accept_blind=True),))
    arrive(d, 0)
    for n in range(1, 6):
        arrive(d, n, after=0.1)
    d.advance(d.now + 3)
    assert len(_of(d.log, OverflowCall)) == 1
