"""Forced overflow: a supervisor sends a waiting call to a chosen partner, look-ahead recorded."""

from __future__ import annotations

from dataclasses import replace
from typing import TypeVar

import pytest

from acd.core import events as ev
from acd.core.commands import CallRecord, Command, MoveCall, OfferCall, OverflowCall
from acd.core.engine import Engine
from acd.core.errors import CallNotWaiting, CoreError, UnknownCall, UnknownPartner
from acd.core.forced import OverflowOption
from acd.core.ids import CallId, DeptId, QueueId
from acd.core.overflow import (
    ExternalPartner,
    Metric,
    OverflowRule,
    OverflowSpec,
    PartnerLimits,
    Threshold,
)
from acd.core.states import CallState
from acd.core.testing import Driver, simple_spec

from .helpers import arrive, cid, login, only_offer

T = TypeVar("T")
D75, D92 = DeptId("75"), DeptId("92")
SAMU60 = ExternalPartner(id="samu-60", name="SAMU 60", number="0344000000", trunk="PJSIP/trunk")
SAMU45 = ExternalPartner(id="samu-45", name="SAMU 45", number="0238000000", trunk="PJSIP/trunk")
SAMU77 = ExternalPartner(id="samu-77", name="SAMU 77", number="0164000000", trunk="PJSIP/trunk")


def _driver(
    *rules: OverflowRule,
    depts: tuple[str, ...] = ("75", "92", "93"),
    externals: tuple[ExternalPartner, ...] = (SAMU60,),
) -> Driver:
    spec = simple_spec(depts=depts, agents_per_dept=1)
    overflow = OverflowSpec(rules=rules, partners=externals, evaluate_every_s=1.0)
    return Driver(Engine(replace(spec, overflow=overflow)))


def _dormant_rule(rule_id: str, partners: tuple[str, ...], **kw: object) -> OverflowRule:
    """A rule of 75 that lists partners but never fires (its chain orders the options)."""
    when = Threshold(metric=Metric.WAITING, at_least=1_000)
    return OverflowRule(id=rule_id, dept=D75, when=when, partners=partners, **kw)  # type: ignore[arg-type]


def _publish(d: Driver, partner: str = "samu-60", available: int = 3, waiting: int = 0) -> None:
    d.send(
        ev.PartnerLoadReported(
            partner=partner,
            waiting=waiting,
            available_agents=available,
            estimated_wait_s=10.0,
            at=d.now,
        )
    )


def _force(d: Driver, n: int, partner: str, by: str = "sup-75") -> list[Command]:
    return d.send(ev.OverflowForced(call=cid(n), partner=partner, by=by))


def _of(out: list[Command], kind: type[T]) -> list[T]:
    return [c for c in out if isinstance(c, kind)]


def _refused(d: Driver, event: ev.Event, error: type[CoreError], slug: str) -> None:
    """The event raises ``error`` with ``slug`` and leaves the calls as they were."""
    before = d.engine.live_calls()
    with pytest.raises(error) as raised:
        d.engine.handle(event, d.now)
    assert raised.value.slug == slug
    assert d.engine.live_calls() == before


def test_forced_overflow_sends_waiting_call_to_chosen_external_partner() -> None:
    """Forced to an external SAMU: an OverflowCall whose reason says forced and by whom."""
    d = _driver()
    _publish(d)
    arrive(d, 1)
    out = _force(d, 1, "samu-60", by="sup-75")
    [sent] = _of(out, OverflowCall)
    assert (sent.call, sent.partner, sent.number, sent.trunk) == (
        cid(1),
        "samu-60",
        "0344000000",
        "PJSIP/trunk",
    )
    assert sent.reason.rule == "forced"
    assert sent.reason.get("by") == "sup-75"
    assert sent.reason.get("partner") == "samu-60"
    assert sent.reason.get("lookahead") == "accept"
    [record] = _of(out, CallRecord)
    assert (record.previous, record.state, record.reason) == (
        CallState.WAITING,
        CallState.OVERFLOWING,
        sent.reason,
    )
    assert d.engine.call_state(cid(1)) is CallState.OVERFLOWING
    assert d.engine.in_flight["samu-60"] == 1
    d.send(ev.OverflowConfirmed(call=sent.call, route=sent.route), after=4)
    assert d.engine.call_state(cid(1)) is CallState.OVERFLOWED


def test_forced_overflow_moves_waiting_call_to_internal_department_where_it_waits() -> None:
    """Forced to a department of the platform: a MoveCall, and the call waits in its queue."""
    d = _driver()
    arrive(d, 1)
    arrive(d, 2, dept="92")
    out = _force(d, 1, "92")
    [move] = _of(out, MoveCall)
    assert (move.call, move.dept) == (cid(1), D92)
    assert move.reason.rule == "forced"
    assert move.reason.get("by") == "sup-75"
    [record] = _of(out, CallRecord)
    assert (record.dept, record.queue, record.state) == (D92, QueueId("92-main"), CallState.WAITING)
    assert _of(out, OverflowCall) == []
    waiting = d.engine.waiting_calls(QueueId("92-main"))
    assert [c.id for c in waiting] == [cid(1), cid(2)]  # its arrival keeps its place
    view = d.engine.call(cid(1))
    assert view is not None
    assert (view.dept, view.origin, view.path) == (D92, D75, (D75, D92))
    assert d.engine.dept_stats(D75, d.now).overflowed_out == 1
    assert d.engine.dept_stats(D92, d.now).overflowed_in == 1


def test_forced_call_rings_a_free_agent_of_the_internal_partner() -> None:
    """A free ARM in the chosen department is offered the forced call at once."""
    d = _driver()
    login(d, "92-a0")
    arrive(d, 1)
    offer = only_offer(_force(d, 1, "92"))
    assert (offer.call, offer.agent) == (cid(1), "92-a0")


def test_look_ahead_refusal_is_recorded_but_the_supervisor_overrides_it() -> None:
    """Nobody free in 92 and a full external partner: both still take the forced calls."""
    d = _driver()
    _publish(d, available=0, waiting=4)
    arrive(d, 1)
    arrive(d, 2)
    [move] = _of(_force(d, 1, "92"), MoveCall)
    assert move.reason.get("lookahead") == "refuse"
    assert move.reason.get("lookahead_why") == "available=0<1"
    assert move.reason.get("partner_available") == 0
    [sent] = _of(_force(d, 2, "samu-60", by="sup-2"), OverflowCall)
    assert sent.reason.get("lookahead") == "refuse"
    assert sent.reason.get("lookahead_why") == "available=0<1"
    assert sent.reason.get("partner_waiting") == 4
    assert sent.reason.get("load_age_s") == 0
    assert sent.reason.get("by") == "sup-2"


def test_unknown_external_load_is_recorded_as_a_refusal() -> None:
    """No load published by the external partner: the reason says the load was unknown."""
    d = _driver()
    arrive(d, 1)
    [sent] = _of(_force(d, 1, "samu-60"), OverflowCall)
    assert sent.reason.get("lookahead_why") == "load-unknown"
    assert sent.reason.get("partner_waiting") is None
    assert sent.reason.get("load_age_s") is None


def test_offered_overflowing_or_ended_call_is_not_waiting() -> None:
    """Only a waiting call may be forced: ringing, overflowing and ended calls are refused."""
    d = _driver()
    login(d, "75-a0")
    only_offer(arrive(d, 1))  # call 1 rings 75-a0
    arrive(d, 2)
    _force(d, 2, "samu-60")  # call 2 is on its way to the partner
    arrive(d, 3)
    d.send(ev.CallHungUp(call=cid(3)))
    for n in (1, 2, 3):
        forced = ev.OverflowForced(call=cid(n), partner="92")
        _refused(d, forced, CallNotWaiting, "call-not-waiting")
        with pytest.raises(CallNotWaiting):
            d.engine.overflow_options(cid(n), d.now)


def test_unknown_partner_own_department_or_unknown_call_is_refused() -> None:
    """A partner the engine does not know, the call's own department, a call never seen."""
    d = _driver()
    arrive(d, 1)
    for partner in ("samu-99", "75", ""):
        forced = ev.OverflowForced(call=cid(1), partner=partner)
        _refused(d, forced, UnknownPartner, "unknown-partner")
    ghost = ev.OverflowForced(call=CallId("pbx9/ghost"), partner="92")
    _refused(d, ghost, UnknownCall, "unknown-call")
    with pytest.raises(UnknownCall):
        d.engine.overflow_options(CallId("pbx9/ghost"), d.now)
    assert d.engine.call_state(cid(1)) is CallState.WAITING


def test_failed_forced_overflow_returns_the_call_to_its_exact_place() -> None:
    """The partner refuses the forced call: back in line where it was, the partner rests."""
    d = _driver()
    _publish(d)
    for n in (1, 2, 3):
        arrive(d, n, after=1)
    [sent] = _of(_force(d, 2, "samu-60"), OverflowCall)
    arrive(d, 4, after=1)
    out = d.send(
        ev.OverflowFailed(call=sent.call, route=sent.route, cause=ev.RouteFailure.BUSY), after=1
    )
    assert [r.state for r in _of(out, CallRecord)] == [CallState.WAITING]
    order = [c.id for c in d.engine.waiting_calls(QueueId("75-main"))]
    assert order == [cid(1), cid(2), cid(3), cid(4)]
    assert d.engine.in_flight["samu-60"] == 0
    [option] = [o for o in d.engine.overflow_options(cid(2), d.now) if o.partner == "samu-60"]
    assert (option.verdict, option.why) == ("refuse", "refused-recently")


def test_calls_forced_to_a_partner_are_charged_to_its_load() -> None:
    """One free ARM published: once a call is forced there, the look-ahead sees it taken."""
    d = _driver()
    _publish(d, available=1)
    arrive(d, 1)
    arrive(d, 2)
    [before] = [o for o in d.engine.overflow_options(cid(2), d.now) if o.partner == "samu-60"]
    assert (before.verdict, before.in_flight) == ("accept", 0)
    _force(d, 1, "samu-60")
    [after] = [o for o in d.engine.overflow_options(cid(2), d.now) if o.partner == "samu-60"]
    assert (after.verdict, after.why, after.in_flight) == ("refuse", "available=0<1", 1)
    [sent] = _of(_force(d, 2, "samu-60"), OverflowCall)
    assert sent.reason.get("in_flight") == 1
    assert d.engine.in_flight["samu-60"] == 2


def test_overflow_options_list_the_chains_first_then_departments_then_externals() -> None:
    """Chain partners in chain order (deduplicated), then the other departments and SAMU."""
    rules = (
        _dormant_rule("75-saturation", ("93", "samu-45"), limits=PartnerLimits(min_available=2)),
        _dormant_rule("75-night", ("samu-60", "93")),
    )
    d = _driver(*rules, depts=("75", "92", "93", "94"), externals=(SAMU60, SAMU45, SAMU77))
    login(d, "93-a0", "92-a0")
    _publish(d, "samu-60", available=2)
    arrive(d, 1, after=5)
    options = d.engine.overflow_options(cid(1), d.now)
    assert [(o.partner, o.kind, o.in_chain) for o in options] == [
        ("93", "department", True),
        ("samu-45", "external", True),
        ("samu-60", "external", True),
        ("92", "department", False),
        ("94", "department", False),
        ("samu-77", "external", False),
    ]
    by_id = {o.partner: o for o in options}
    # 93 is judged with the limits of the first rule listing it (two agents needed).
    assert by_id["93"] == OverflowOption(
        partner="93",
        kind="department",
        name="SAMU 93",
        verdict="refuse",
        why="available=1<2",
        text="Look-ahead refuses: too few agents available (available=1<2)",
        waiting=0,
        available_agents=1,
        estimated_wait_s=0.0,
        load_age_s=0.0,
        in_flight=0,
        in_chain=True,
    )
    assert (by_id["92"].verdict, by_id["92"].available_agents) == ("accept", 1)
    assert by_id["94"].why == "available=0<1"
    assert by_id["samu-60"].name == "SAMU 60"
    assert (by_id["samu-60"].verdict, by_id["samu-60"].load_age_s) == ("accept", 5.0)
    assert by_id["samu-60"].text == "Look-ahead accepts: this partner can take a call now"
    assert (by_id["samu-45"].verdict, by_id["samu-45"].why) == ("refuse", "load-unknown")
    assert by_id["samu-45"].waiting is None
    assert all(o.partner != "75" for o in options)


def test_stale_external_load_is_shown_with_its_age_and_judged_unknown() -> None:
    """A load older than its time to live is still shown, aged; the look-ahead calls it unknown."""
    d = _driver()
    _publish(d, available=2)
    arrive(d, 1, after=30)
    [option] = [o for o in d.engine.overflow_options(cid(1), d.now) if o.partner == "samu-60"]
    assert (option.available_agents, option.load_age_s) == (2, 30.0)
    assert (option.verdict, option.why) == ("refuse", "load-unknown")


def test_blind_partner_accepts_without_a_load() -> None:
    """An external partner taking calls blind is accepted while its load is unknown."""
    d = _driver(externals=(replace(SAMU60, accept_blind=True),))
    arrive(d, 1)
    [option] = [o for o in d.engine.overflow_options(cid(1), d.now) if o.partner == "samu-60"]
    assert (option.verdict, option.why) == ("accept", None)
    assert option.text.startswith("Look-ahead accepts blind")


def test_forced_call_may_go_back_to_a_department_it_came_from() -> None:
    """The supervisor may send a call back home; the options say it was already queued there."""
    d = _driver()
    arrive(d, 1)
    _force(d, 1, "92")
    options = {o.partner: o for o in d.engine.overflow_options(cid(1), d.now)}
    assert list(options) == ["75", "93", "samu-60"]
    assert (options["75"].verdict, options["75"].why) == ("refuse", "already-visited")
    out = _force(d, 1, "75", by="sup-92")
    [move] = _of(out, MoveCall)
    assert (move.dept, move.reason.get("lookahead_why")) == (D75, "already-visited")
    view = d.engine.call(cid(1))
    assert view is not None
    assert (view.dept, view.origin, view.path) == (D75, D75, (D75, D92, D75))
    assert not _of(out, OfferCall)
