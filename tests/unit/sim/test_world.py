"""The simulated world: reproducible, every caller accounted for, the engine's tables intact."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from acd.core.ids import AgentId, DeptId, QueueId
from acd.core.overflow import (
    ExternalPartner,
    Metric,
    OverflowRule,
    OverflowSpec,
    PartnerLimits,
    Threshold,
)
from acd.core.spec import EngineSpec, PenaltyStep
from acd.core.states import AgentState
from acd.core.testing import simple_spec
from acd.sim import (
    Behaviour,
    DeptOutcome,
    Duration,
    Partners,
    Shape,
    Simulation,
    Snapshot,
    Surge,
    run_simulation,
)

D75, D92 = DeptId("75"), DeptId("92")
TWO_DEPTS = simple_spec(depts=("75", "92"), agents_per_dept=4, queue={"wrapup_s": 10.0})
RATES = {D75: 0.03, D92: 0.02}


def adds_up(o: DeptOutcome) -> bool:
    """Every caller is in exactly one fate."""
    return o.arrived == o.answered + o.abandoned + o.fallback + o.overflowed + o.waiting


def with_entraide(spec: EngineSpec) -> EngineSpec:
    """75 sends its calls to 92, then to an external SAMU, once two of them wait."""
    rule = OverflowRule(
        id="75-entraide",
        dept=D75,
        when=Threshold(metric=Metric.WAITING, at_least=2),
        partners=("92", "samu-60"),
        limits=PartnerLimits(better_than_origin=False),
    )
    partner = ExternalPartner(id="samu-60", name="SAMU 60", number="0300000060", trunk="T")
    return replace(spec, overflow=OverflowSpec(rules=(rule,), partners=(partner,)))


def test_the_same_seed_gives_the_same_result() -> None:
    """Two runs with one seed agree on every figure; another seed gives other figures."""
    one = run_simulation(TWO_DEPTS, rates=RATES, duration_s=3600, seed=11)
    two = run_simulation(TWO_DEPTS, rates=RATES, duration_s=3600, seed=11)
    other = run_simulation(TWO_DEPTS, rates=RATES, duration_s=3600, seed=12)
    assert one == two
    assert one.outcomes != other.outcomes


def test_every_caller_ends_in_exactly_one_fate() -> None:
    """At the end, arrived = answered + abandoned + fallback + overflowed + still waiting."""
    result = run_simulation(TWO_DEPTS, rates=RATES, duration_s=3600, seed=1)
    assert result.total.arrived > 100
    assert all(adds_up(o) for o in result.outcomes.values())
    assert adds_up(result.total)


def test_a_drained_run_leaves_nobody_on_the_line() -> None:
    """With ``drain`` the run goes past its duration until every caller has left."""
    result = run_simulation(TWO_DEPTS, rates=RATES, duration_s=1800, seed=2, drain=True)
    total = result.total
    assert total.waiting == total.talking == 0
    assert total.arrived == total.answered + total.abandoned + total.fallback
    assert result.final.elapsed_s > 1800


def test_the_figures_add_up_at_every_snapshot() -> None:
    """Periodic snapshots come every interval and never lose a caller."""
    seen: list[float] = []

    def check(snap: Snapshot) -> None:
        seen.append(snap.elapsed_s)
        assert all(adds_up(o) for o in snap.outcomes.values())

    run_simulation(TWO_DEPTS, rates=RATES, duration_s=600, seed=3, every_s=60, on_snapshot=check)
    assert seen == [60.0 * i for i in range(1, 11)]


def test_with_nobody_logged_in_and_join_empty_off_every_call_goes_to_fallback() -> None:
    """No agent and ``join_empty: false``: the engine sends each caller to the fallback."""
    spec = simple_spec(agents_per_dept=0, queue={"join_empty": False})
    result = run_simulation(spec, rates={D75: 0.05}, duration_s=3600, seed=4)
    outcome = result.outcomes[D75]
    assert outcome.arrived > 100
    assert outcome.fallback == outcome.arrived
    assert result.dept_stats[D75].fallback == outcome.arrived


def test_agents_left_out_of_the_login_never_take_a_call() -> None:
    """Only the chosen agents log in; the others stay logged out all along."""
    sim = Simulation(TWO_DEPTS, rates=RATES, duration_s=600, seed=5, agents=[AgentId("75-a0")])
    sim.run()
    assert sim.engine.agent(AgentId("75-a1")).state is AgentState.LOGGED_OUT
    assert sim.engine.agent(AgentId("75-a1")).calls == 0
    assert sim.engine.agent(AgentId("75-a0")).calls > 0


def test_a_surge_lowers_the_service_level() -> None:
    """Ten times the traffic on the same agents answers fewer callers within 60 s."""
    calm = run_simulation(TWO_DEPTS, rates=RATES, duration_s=3600, seed=6).total
    surge = {d: 10 * r for d, r in RATES.items()}
    busy = run_simulation(TWO_DEPTS, rates=surge, duration_s=3600, seed=6).total
    assert calm.service_level is not None
    assert busy.service_level is not None
    assert busy.service_level < calm.service_level - 0.3
    assert busy.abandoned > calm.abandoned


def test_a_surge_window_only_hurts_while_it_lasts() -> None:
    """A ×10 surge in the middle of the run brings more arrivals than the calm run."""
    surges = (Surge(start_s=1200.0, end_s=2400.0, factor=10.0),)
    calm = run_simulation(TWO_DEPTS, rates=RATES, duration_s=3600, seed=7).total
    surged = run_simulation(TWO_DEPTS, rates=RATES, duration_s=3600, seed=7, surges=surges).total
    assert surged.arrived > 3 * calm.arrived


def test_a_caller_hanging_up_while_ringing_cancels_the_answer() -> None:
    """Callers who give up before any phone is picked up are abandoned, never answered."""
    impatient = Behaviour(patience=Duration(shape=Shape.FIXED, mean_s=1.0), ring_delay_s=(4.0, 6.0))
    sim = Simulation(TWO_DEPTS, rates=RATES, duration_s=3600, seed=8, behaviour=impatient)
    result = sim.run()
    assert result.total.answered == 0
    assert result.total.abandoned == result.total.arrived - result.total.waiting
    states = {sim.engine.agent(a.id).state for a in TWO_DEPTS.agents}
    assert states <= {AgentState.AVAILABLE, AgentState.OFFERED}


def test_agents_who_miss_a_call_come_back_by_themselves() -> None:
    """Every offer rings out: agents are paused for no-answer, then unpause and ring again."""
    deaf = Behaviour(no_answer_share=1.0, back_after_no_answer_s=20.0)
    sim = Simulation(TWO_DEPTS, rates=RATES, duration_s=1800, seed=9, behaviour=deaf)
    result = sim.run()
    assert result.total.answered == 0
    # Paused for good, the eight agents could have been rung eight times in all.
    assert sim.engine.route_seq > 10 * len(TWO_DEPTS.agents)


def test_breaks_pause_and_unpause_agents_without_breaking_the_tables() -> None:
    """Frequent breaks during calls and ring-outs keep every transition legal."""
    busy_lives = Behaviour(
        break_every=Duration(shape=Shape.EXPONENTIAL, mean_s=120.0),
        break_length=Duration(shape=Shape.EXPONENTIAL, mean_s=60.0),
        no_answer_share=0.2,
    )
    result = run_simulation(
        TWO_DEPTS, rates=RATES, duration_s=3600, seed=10, behaviour=busy_lives, drain=True
    )
    assert adds_up(result.total)
    assert result.total.answered > 0


def test_penalty_steps_fire_once_at_their_exact_wait() -> None:
    """A 30 s penalty step is reached with a wait of exactly 30 s, so the run moves on."""
    spec = simple_spec(
        depts=("75",),
        agents_per_dept=2,
        queue={"penalty_steps": (PenaltyStep(after_s=30.0, max_penalty=2),)},
    )
    result = run_simulation(spec, rates={D75: 0.2}, duration_s=1800, seed=11, start_at=1.7e9)
    assert adds_up(result.total)


def test_entraide_moves_calls_inside_the_platform_and_out_to_partners() -> None:
    """Calls overflowed to 92 are counted as moved; those an outside SAMU takes, overflowed."""
    spec = with_entraide(simple_spec(depts=("75", "92"), agents_per_dept=3))
    result = run_simulation(spec, rates={D75: 0.06, D92: 0.01}, duration_s=3600, seed=12)
    outcome = result.outcomes[D75]
    assert outcome.moved > 0
    assert outcome.overflowed > 0
    assert result.dept_stats[D92].overflowed_in > 0
    assert adds_up(outcome)


def test_a_partner_refusing_calls_puts_them_back_in_the_queue() -> None:
    """With every overflow refused, no call is taken outside and the fates still add up."""
    spec = with_entraide(simple_spec(depts=("75", "92"), agents_per_dept=3))
    refusing = Behaviour(partners=Partners(refusal_share=1.0))
    result = run_simulation(
        spec, rates={D75: 0.06, D92: 0.01}, duration_s=3600, seed=13, behaviour=refusing
    )
    assert result.total.overflowed == 0
    assert adds_up(result.total)


def test_callers_can_be_spread_over_a_department_s_queues() -> None:
    """A queue share sends that part of the callers to a non-first queue of the department."""
    spec = simple_spec(depts=("75",), agents_per_dept=3)
    second = replace(spec.queues[0], id=QueueId("75-pro"))
    dept = replace(spec.departments[0], queues=(spec.queues[0].id, second.id))
    spec = replace(spec, queues=(*spec.queues, second), departments=(dept,))
    shares = Behaviour(queue_shares=((QueueId("75-pro"), 0.5),))
    sim = Simulation(spec, rates={D75: 0.05}, duration_s=3600, seed=14, behaviour=shares)
    sim.run()
    pro = sim.engine.queue_stats(QueueId("75-pro"), sim.now).entered
    main = sim.engine.queue_stats(spec.queues[0].id, sim.now).entered
    assert 0.35 < pro / (pro + main) < 0.65


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32),
    rate=st.floats(min_value=0.0, max_value=0.5),
    agents=st.integers(min_value=0, max_value=4),
    join_empty=st.booleans(),
)
def test_fates_always_add_up(seed: int, rate: float, agents: int, join_empty: bool) -> None:
    """Whatever the load and staffing, no caller is lost or counted twice."""
    spec = with_entraide(
        simple_spec(depts=("75", "92"), agents_per_dept=agents, queue={"join_empty": join_empty})
    )
    result = run_simulation(spec, rates={D75: rate, D92: rate}, duration_s=600, seed=seed)
    assert all(adds_up(o) for o in result.outcomes.values())
