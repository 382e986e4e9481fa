"""Cross-reference checks: every id a configuration names must exist, once, where it belongs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from acd.config.errors import Loc, Problem, duplicates
from acd.config.overflow_checks import overflow_problems

if TYPE_CHECKING:
    from acd.config.models import AcdConfig, AgentConfig, QueueConfig


def cross_check(cfg: AcdConfig) -> list[Problem]:
    """Every cross-reference problem of an otherwise well-formed configuration."""
    return [
        *_pbx(cfg),
        *_redis(cfg),
        *_priorities(cfg),
        *_defaults(cfg),
        *_departments(cfg),
        *_agents(cfg),
        *_skills_reachable(cfg),
        *overflow_problems(cfg),
    ]


def _pbx(cfg: AcdConfig) -> list[Problem]:
    return duplicates(
        ((("pbx", i, "name"), p.name) for i, p in enumerate(cfg.pbx)),
        "duplicate PBX endpoint name '{key}'",
    )


def _redis(cfg: AcdConfig) -> list[Problem]:
    redis = cfg.redis
    if redis.sentinels and redis.master_name is None:
        return [Problem(loc=("redis",), message="'master_name' is required with 'sentinels'")]
    if redis.master_name is not None and not redis.sentinels:
        return [Problem(loc=("redis", "master_name"), message="only meaningful with 'sentinels'")]
    return []


def _priorities(cfg: AcdConfig) -> list[Problem]:
    classes = cfg.priorities.classes
    problems = duplicates(
        ((("priorities", "classes", i, "name"), c.name) for i, c in enumerate(classes)),
        "duplicate priority class '{key}'",
    )
    names = [c.name for c in classes]
    if cfg.priorities.default not in names:
        problems.append(
            Problem(
                loc=("priorities", "default"),
                message=f"unknown priority class '{cfg.priorities.default}' "
                f"(classes: {', '.join(names)})",
            )
        )
    return problems


def _defaults(cfg: AcdConfig) -> list[Problem]:
    d = cfg.defaults
    if d.sl_short_s > d.sl_target_s:
        return [
            Problem(
                loc=("defaults", "sl_short_s"),
                message=f"{d.sl_short_s:g} s is longer than sl_target_s ({d.sl_target_s:g} s)",
            )
        ]
    return []


def _departments(cfg: AcdConfig) -> list[Problem]:
    problems = duplicates(
        ((("departments", i, "id"), d.id) for i, d in enumerate(cfg.departments)),
        "duplicate department '{key}'",
    )
    problems += duplicates(
        (
            (("departments", i, "queues", j, "id"), q.id)
            for i, d in enumerate(cfg.departments)
            for j, q in enumerate(d.queues)
        ),
        "duplicate queue id '{key}': queue ids are unique across the platform",
    )
    for i, dept in enumerate(cfg.departments):
        for j, queue in enumerate(dept.queues):
            problems += _penalty_steps(("departments", i, "queues", j), queue)
    return problems


def _penalty_steps(loc: Loc, queue: QueueConfig) -> list[Problem]:
    problems = []
    prev_after: float | None = None
    prev_max = queue.base_max_penalty
    for k, step in enumerate(queue.penalty_steps):
        here = (*loc, "penalty_steps", k)
        if prev_after is not None and step.after_s <= prev_after:
            problems.append(
                Problem(
                    loc=(*here, "after_s"),
                    message=f"penalty steps must come in increasing wait order: "
                    f"{step.after_s:g} s is not after the previous step's {prev_after:g} s",
                )
            )
        if step.max_penalty <= prev_max:
            problems.append(
                Problem(
                    loc=(*here, "max_penalty"),
                    message=f"each penalty step must widen the call's reach: "
                    f"{step.max_penalty} does not exceed the previous {prev_max}",
                )
            )
        prev_after, prev_max = step.after_s, max(prev_max, step.max_penalty)
    return problems


def _agents(cfg: AcdConfig) -> list[Problem]:
    agents = cfg.agents
    problems = duplicates(
        ((("agents", i, "id"), a.id) for i, a in enumerate(agents)), "duplicate agent id '{key}'"
    )
    problems += duplicates(
        ((("agents", i, "endpoint"), a.endpoint) for i, a in enumerate(agents)),
        "phone '{key}' is already given to another agent",
    )
    queues_of = {d.id: tuple(q.id for q in d.queues) for d in cfg.departments}
    dept_of_queue = {q: dept for dept, queues in queues_of.items() for q in queues}
    for i, agent in enumerate(agents):
        problems += _serves(("agents", i), agent, queues_of, dept_of_queue)
    return problems


def _skills_reachable(cfg: AcdConfig) -> list[Problem]:
    """A queue's required skills must be held by at least one agent serving it."""
    problems = []
    for i, dept in enumerate(cfg.departments):
        for j, queue in enumerate(dept.queues):
            need = queue.required_skills
            if not need:
                continue
            members = [
                a
                for a in cfg.agents
                for s in a.serves
                if s.dept == dept.id and (s.queues is None or queue.id in s.queues)
            ]
            if not any(all(a.skills.get(k, -1) >= v for k, v in need.items()) for a in members):
                wanted = ", ".join(f"{k} ≥ {v}" for k, v in sorted(need.items()))
                problems.append(
                    Problem(
                        loc=("departments", i, "queues", j, "required_skills"),
                        message=f"no agent serving queue '{queue.id}' has {wanted}: "
                        "its calls could never be offered",
                    )
                )
    return problems


def _serves(
    loc: Loc,
    agent: AgentConfig,
    queues_of: dict[str, tuple[str, ...]],
    dept_of_queue: dict[str, str],
) -> list[Problem]:
    problems = []
    served: list[tuple[Loc, str]] = []
    for k, serve in enumerate(agent.serves):
        here = (*loc, "serves", k)
        if serve.dept not in queues_of:
            problems.append(
                Problem(loc=(*here, "dept"), message=f"unknown department '{serve.dept}'")
            )
            continue
        if serve.queues is None:
            served += [(here, q) for q in queues_of[serve.dept]]
            continue
        for m, queue in enumerate(serve.queues):
            owner = dept_of_queue.get(queue)
            if owner is None:
                message = f"unknown queue '{queue}'"
            elif owner != serve.dept:
                message = f"queue '{queue}' belongs to department {owner}, not {serve.dept}"
            else:
                served.append(((*here, "queues", m), queue))
                continue
            problems.append(Problem(loc=(*here, "queues", m), message=message))
    return problems + duplicates(served, "the agent already serves queue '{key}'")
