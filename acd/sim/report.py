"""Plain-text tables of a simulation: what a terminal shows; no caller number is ever printed."""

from __future__ import annotations

from collections.abc import Sequence

from acd.core.states import AgentState
from acd.core.stats import QueueStats
from acd.sim.outcome import DeptOutcome, SimulationResult, Snapshot

_BUSY = (AgentState.OFFERED, AgentState.ON_CALL, AgentState.WRAPUP)


def clock(seconds: float) -> str:
    """A duration as ``h:mm:ss`` (or ``m:ss`` under an hour)."""
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def percent(share: float | None) -> str:
    """A share as a whole percentage; an em dash when there is nothing to measure."""
    return "—" if share is None else f"{100 * share:.0f}%"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Right-aligned columns, the first one left-aligned."""
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    lines = []
    for row in (header, *rows):
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        lines.append("  ".join(cells).rstrip())
    return lines


def _agents(by_state: dict[AgentState, int]) -> list[str]:
    busy = sum(by_state.get(s, 0) for s in _BUSY)
    return [
        str(by_state.get(AgentState.AVAILABLE, 0)),
        str(busy),
        str(by_state.get(AgentState.PAUSED, 0)),
    ]


def live_table(snapshot: Snapshot, *, target_s: float = 60.0) -> str:
    """The compact table printed while a simulation runs: one line per department.

    Waiting, longest wait and agents are the engine's view (an agent serving two
    departments counts in both, not in the total); the other columns are the fates of
    each department's callers: ``moved`` went to another SAMU of the platform by
    entraide, ``overflowed`` was taken by a partner outside it.
    """
    header = ["dept", "waiting", "longest", "avail", "on call", "paused"]
    header += ["answered", f"≤{target_s:g}s", "abandoned", "fallback", "moved", "overflowed"]
    rows = []
    for dept, outcome in snapshot.outcomes.items():
        stats = snapshot.dept_stats[dept]
        queue = (stats.waiting, stats.longest_wait_s)
        rows.append(_live_row(outcome, queue, dict(stats.agents_by_state)))
    every = tuple(snapshot.dept_stats.values())
    queue = (sum(s.waiting for s in every), max((s.longest_wait_s for s in every), default=0.0))
    rows.append(_live_row(snapshot.total, queue, dict(snapshot.agents_by_state)))
    title = f"t={clock(snapshot.elapsed_s)}  events handled: {snapshot.events_handled}"
    return "\n".join([title, *_table(header, rows)])


def _live_row(
    outcome: DeptOutcome, queue: tuple[int, float], by_state: dict[AgentState, int]
) -> list[str]:
    waiting, longest = queue
    return [
        outcome.dept,
        str(waiting),
        clock(longest) if waiting else "-",
        *_agents(by_state),
        str(outcome.answered),
        percent(outcome.service_level),
        str(outcome.abandoned),
        str(outcome.fallback),
        str(outcome.moved),
        str(outcome.overflowed),
    ]


def summary(result: SimulationResult, *, title: str, target_s: float = 60.0) -> str:
    """The final summary of a run: every caller's fate per department, and the totals.

    ``≤60s %`` is the share of decided callers (answered, abandoned or sent to fallback)
    an agent answered within the target; ``SL engine`` is the engine's own service level,
    which leaves short abandons and fallbacks out; ``ASA`` is the average speed of answer.
    The engine counts a call moved by entraide where it was taken, the world where it
    was dialled.
    """
    header = ["dept", "arrived", "answered", f"≤{target_s:g}s", f"≤{target_s:g}s %"]
    header += ["abandoned", "fallback", "overflowed", "waiting", "talking", "moved"]
    header += ["SL engine", "ASA"]
    rows = [_summary_row(o, result.dept_stats.get(o.dept)) for o in result.outcomes.values()]
    rows.append(_summary_row(result.total, None))
    lines = [
        title,
        f"simulated {clock(result.final.elapsed_s)}, {result.events_handled} events handled, "
        f"seed {result.seed}",
        *_table(header, rows),
    ]
    return "\n".join(lines)


def _summary_row(o: DeptOutcome, stats: QueueStats | None) -> list[str]:
    asa = None if stats is None else stats.average_speed_of_answer_s
    return [
        o.dept,
        str(o.arrived),
        str(o.answered),
        str(o.answered_within_target),
        percent(o.service_level),
        str(o.abandoned),
        str(o.fallback),
        str(o.overflowed),
        str(o.waiting),
        str(o.talking),
        str(o.moved),
        "" if stats is None else percent(stats.service_level),
        "" if asa is None else f"{asa:.0f}s",
    ]
