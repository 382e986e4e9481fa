"""Configuration to core value objects: defaults filled in, memberships expanded, ids typed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from acd.config.models import (
    AcdConfig,
    AgentConfig,
    DefaultsConfig,
    DepartmentConfig,
    QueueConfig,
)
from acd.config.overflow import (
    ConditionConfig,
    OverflowConfig,
    RuleConfig,
    threshold_of,
)
from acd.core.ids import AgentId, DeptId, QueueId
from acd.core.overflow import (
    AllOf,
    AnyOf,
    Condition,
    CrisisOn,
    ExternalPartner,
    NotOf,
    OverflowRule,
    OverflowSpec,
    PartnerLimits,
    Schedule,
    ServiceLevelBelow,
    Threshold,
)
from acd.core.spec import (
    AgentSpec,
    DepartmentSpec,
    EngineSpec,
    Membership,
    PenaltyStep,
    PriorityClass,
    QueueSpec,
    Skills,
)


def build_engine_spec(cfg: AcdConfig) -> EngineSpec:
    """The engine's specification for a validated configuration, stamped with its version."""
    d = cfg.defaults
    queues_of = {dept.id: tuple(q.id for q in dept.queues) for dept in cfg.departments}
    return EngineSpec(
        departments=tuple(_department(dept, d) for dept in cfg.departments),
        queues=tuple(
            _queue(queue, DeptId(dept.id), d) for dept in cfg.departments for queue in dept.queues
        ),
        agents=tuple(_agent(agent, queues_of) for agent in cfg.agents),
        priorities=tuple(
            PriorityClass(name=p.name, head_start_s=p.head_start_s) for p in cfg.priorities.classes
        ),
        default_priority=cfg.priorities.default,
        no_answer_pause=d.no_answer_pause,
        no_answer_pause_s=d.no_answer_pause_s,
        busy_retry_s=d.busy_retry_s,
        offer_guard_s=d.offer_guard_s,
        sl_short_s=d.sl_short_s,
        sl_target_s=d.sl_target_s,
        aht_prior_s=d.aht_prior_s,
        overflow=build_overflow(cfg.overflow, [dept.id for dept in cfg.departments]),
        version=cfg.version,
        extra={"instance": cfg.instance.name},
    )


def skills(levels: Mapping[str, int]) -> Skills:
    """Skill levels as the core holds them: a tuple sorted by skill name."""
    return tuple(sorted(levels.items()))


def _department(dept: DepartmentConfig, d: DefaultsConfig) -> DepartmentSpec:
    return DepartmentSpec(
        id=DeptId(dept.id),
        name=dept.name,
        queues=tuple(QueueId(q.id) for q in dept.queues),
        short_abandon_s=d.short_abandon_s if dept.short_abandon_s is None else dept.short_abandon_s,
    )


def _queue(queue: QueueConfig, dept: DeptId, d: DefaultsConfig) -> QueueSpec:
    return QueueSpec(
        id=QueueId(queue.id),
        dept=dept,
        strategy=d.strategy if queue.strategy is None else queue.strategy,
        ring_timeout_s=d.ring_timeout_s if queue.ring_timeout_s is None else queue.ring_timeout_s,
        wrapup_s=d.wrapup_s if queue.wrapup_s is None else queue.wrapup_s,
        max_length=queue.max_length,
        max_wait_s=queue.max_wait_s,
        join_empty=queue.join_empty,
        leave_empty=queue.leave_empty,
        base_max_penalty=queue.base_max_penalty,
        penalty_steps=tuple(
            PenaltyStep(after_s=s.after_s, max_penalty=s.max_penalty) for s in queue.penalty_steps
        ),
        required_skills=skills(queue.required_skills),
    )


def _agent(agent: AgentConfig, queues_of: Mapping[str, tuple[str, ...]]) -> AgentSpec:
    memberships = tuple(
        Membership(queue=QueueId(queue), penalty=serve.penalty)
        for serve in agent.serves
        for queue in (queues_of[serve.dept] if serve.queues is None else serve.queues)
    )
    return AgentSpec(
        id=AgentId(agent.id),
        name=agent.name,
        endpoint=agent.endpoint,
        memberships=memberships,
        skills=skills(agent.skills),
        wrapup_s=agent.wrapup_s,
    )


def build_overflow(cfg: OverflowConfig, departments: Sequence[str]) -> OverflowSpec:
    """The core's overflow spec: rules in the order of ``departments``, then the file's."""
    return OverflowSpec(
        rules=tuple(_rule(rule, dept) for dept in departments for rule in cfg.rules.get(dept, ())),
        partners=tuple(
            ExternalPartner(
                id=p.id, name=p.name, number=p.number, trunk=p.trunk, accept_blind=p.accept_blind
            )
            for p in cfg.partners
        ),
        evaluate_every_s=cfg.evaluate_every_s,
        partner_load_ttl_s=cfg.partner_load_ttl_s,
        partner_retry_s=cfg.partner_retry_s,
    )


ALWAYS = AllOf(items=())
"""The condition of a rule written without ``when``: always holds."""


def _rule(rule: RuleConfig, dept: str) -> OverflowRule:
    limits = rule.look_ahead
    return OverflowRule(
        id=rule.id,
        dept=DeptId(dept),
        when=ALWAYS if rule.when is None else condition(rule.when),
        partners=rule.partners,
        until=None if rule.until is None else condition(rule.until),
        limits=PartnerLimits(
            max_waiting=limits.max_waiting,
            min_available=limits.min_available,
            max_estimated_wait_s=limits.max_estimated_wait_s,
            better_than_origin=limits.better_than_origin,
        ),
        select=rule.select,
        min_wait_s=rule.min_wait_s,
        max_per_evaluation=rule.max_per_evaluation,
        max_share_of_free=rule.max_share_of_free,
        cooldown_s=rule.cooldown_s,
        priorities=None if rule.priorities is None else frozenset(rule.priorities),
    )


def condition(c: ConditionConfig) -> Condition:
    """The core condition a validated condition mapping stands for."""
    if c.all_ is not None:
        return AllOf(items=tuple(condition(item) for item in c.all_))
    if c.any_ is not None:
        return AnyOf(items=tuple(condition(item) for item in c.any_))
    if c.not_ is not None:
        return NotOf(item=condition(c.not_))
    return _leaf(c)


def _leaf(c: ConditionConfig) -> Condition:
    if c.service_level is not None:
        return ServiceLevelBelow(share=c.service_level.below, window_min=c.service_level.window_min)
    if c.schedule is not None:
        s = c.schedule
        return Schedule(days=s.iso_days, start_min=s.start_min, end_min=s.end_min, tz=s.tz)
    if c.crisis:
        return CrisisOn()
    metric, threshold = threshold_of(c)
    return Threshold(metric=metric, at_least=threshold.at_least, at_most=threshold.at_most)
