"""Rule conditions compiled once, when the rules are set, into plain tests on a figures tuple.

A compiled test answers exactly what :func:`acd.core.overflow.holds` answers for the same
department figures and time, without recording the values it read: those are needed only
when a decision, a change of state or a changed held reason is said, and are then
recorded by ``holds`` itself (see :func:`figures_load`), so the reasons never depend on
the compiled form.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

from acd.core.overflow import (
    AllOf,
    AnyOf,
    Condition,
    CrisisOn,
    DeptLoad,
    Metric,
    NotOf,
    Schedule,
    ServiceLevelBelow,
    Threshold,
    in_schedule,
    zone,
)

Figures = tuple[int, float, float | None, float, int, int, dict[int, float | None], bool]
"""A department's figures as the tests read them, in the order of the indexes below."""

WAITING: Final = 0
OLDEST: Final = 1
EWT: Final = 2
"""The estimated wait; ``None`` when nobody serves (unbounded)."""
EWT_OR_INF: Final = 3
"""The same as a number: infinite when unbounded, as a threshold reads it."""
AVAILABLE: Final = 4
LOGGED_IN: Final = 5
LEVELS: Final = 6
CRISIS: Final = 7

_INDEX = {
    Metric.WAITING: WAITING,
    Metric.OLDEST_WAIT_S: OLDEST,
    Metric.ESTIMATED_WAIT_S: EWT_OR_INF,  # a threshold reads an unknown estimate as infinite
    Metric.AVAILABLE_AGENTS: AVAILABLE,
    Metric.LOGGED_IN_AGENTS: LOGGED_IN,
}

Test = Callable[[Figures, float], bool]


def figures_load(f: Figures) -> DeptLoad:
    """The same figures as the :class:`DeptLoad` that ``holds`` and the reasons read."""
    return DeptLoad(
        waiting=f[WAITING],
        oldest_wait_s=f[OLDEST],
        estimated_wait_s=f[EWT],
        available_agents=f[AVAILABLE],
        logged_in_agents=f[LOGGED_IN],
        service_level=f[LEVELS],
        crisis=f[CRISIS],
    )


def compile_condition(cond: Condition) -> tuple[Test, bool]:
    """The test of ``cond``, and whether evaluating it may raise (an unknown time zone).

    A test that may raise is evaluated in full, like ``holds`` (every item of a list);
    the others stop at the first item that decides.
    """
    if isinstance(cond, Threshold):
        return _threshold(_INDEX[cond.metric], cond.at_least, cond.at_most), False
    if isinstance(cond, ServiceLevelBelow):
        return _service_level_below(cond.window_min, cond.share), False
    if isinstance(cond, Schedule):
        return _schedule(cond)
    if isinstance(cond, CrisisOn):
        return _crisis, False
    return _composite(cond)


def _composite(cond: AllOf | AnyOf | NotOf) -> tuple[Test, bool]:
    """``not``, ``all`` and ``any`` over compiled items."""
    if isinstance(cond, NotOf):
        test, raises = compile_condition(cond.item)
        return (lambda f, now: not test(f, now)), raises
    compiled = [compile_condition(c) for c in cond.items]
    tests = [t for t, _ in compiled]
    raises = any(r for _, r in compiled)
    if isinstance(cond, AllOf):
        if raises:
            return (lambda f, now: all([t(f, now) for t in tests])), True
        return _all_of(tests), False
    if raises:
        return (lambda f, now: any([t(f, now) for t in tests])), True
    return _any_of(tests), False


def _threshold(i: int, at_least: float | None, at_most: float | None) -> Test:
    # ``i`` indexes a number (see _INDEX). Counts compare with the bounds exactly as their
    # float values do in ``holds``.
    if at_least is not None and at_most is not None:
        lo, hi = at_least, at_most

        def both(f: Figures, _now: float) -> bool:
            value = f[i]
            return value >= lo and value <= hi  # type: ignore[operator]

        return both
    if at_least is not None:
        lo = at_least
        return lambda f, _now: f[i] >= lo  # type: ignore[operator]
    if at_most is not None:
        hi = at_most
        return lambda f, _now: f[i] <= hi  # type: ignore[operator]
    return lambda _f, _now: True


def _service_level_below(window: int, share: float) -> Test:
    def below(f: Figures, _now: float) -> bool:
        level = f[LEVELS].get(window)
        return level is not None and level < share

    return below


def _crisis(f: Figures, _now: float) -> bool:
    return f[CRISIS]


def _schedule(s: Schedule) -> tuple[Test, bool]:
    """The window test of :func:`acd.core.overflow.in_schedule`, its zone resolved once."""
    try:
        tz: ZoneInfo = zone(s.tz)
    except Exception:  # ``in_schedule`` raises the same error at each evaluation
        return (lambda _f, now: in_schedule(s, now)), True
    days, start, end = s.days, s.start_min, s.end_min
    if start <= end:

        def same_day(_f: Figures, now: float) -> bool:
            local = datetime.fromtimestamp(now, tz)
            return local.isoweekday() in days and start <= local.hour * 60 + local.minute < end

        return same_day, False

    def overnight(_f: Figures, now: float) -> bool:
        local = datetime.fromtimestamp(now, tz)
        weekday = local.isoweekday()
        if local.hour * 60 + local.minute >= start:
            return weekday in days
        yesterday = 7 if weekday == 1 else weekday - 1
        return local.hour * 60 + local.minute < end and yesterday in days

    return overnight, False


def _all_of(tests: list[Test]) -> Test:
    # Stops at the first false item: tests record nothing, so the rest need not run.
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:
        a, b = tests
        return lambda f, now: a(f, now) and b(f, now)
    return lambda f, now: all(t(f, now) for t in tests)


def _any_of(tests: list[Test]) -> Test:
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:
        a, b = tests
        return lambda f, now: a(f, now) or b(f, now)
    return lambda f, now: any(t(f, now) for t in tests)
