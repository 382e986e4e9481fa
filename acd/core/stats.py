"""Live statistics per department and queue, kept incrementally as the engine decides."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from acd.core.states import AgentState

WINDOW_MINUTES = 60
"""How far back the rolling window reaches (service level over the last hour, and rules)."""


@dataclass(slots=True)
class _Minute:
    minute: int
    answered: int = 0
    within_target: int = 0
    abandoned: int = 0
    """Abandons that count against the service level (short abandons excluded)."""


@dataclass(slots=True)
class Counters:
    """Running totals of one queue or department since the engine started."""

    sl_short_s: float
    sl_target_s: float
    aht_s: float
    entered: int = 0
    answered: int = 0
    answered_short: int = 0
    answered_target: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    overflowed_out: int = 0
    overflowed_in: int = 0
    fallback: int = 0
    answer_wait_sum: float = 0.0
    minutes: deque[_Minute] = field(default_factory=deque)

    def _minute(self, now: float) -> _Minute:
        index = int(now // 60)
        minutes = self.minutes
        if not minutes or minutes[-1].minute != index:
            minutes.append(_Minute(index))
            while minutes[0].minute <= index - WINDOW_MINUTES:
                minutes.popleft()
        return minutes[-1]

    def on_answered(self, wait_s: float, now: float) -> None:
        """A call was answered after waiting ``wait_s`` since its arrival."""
        self.answered += 1
        self.answer_wait_sum += wait_s
        minute = self._minute(now)
        minute.answered += 1
        if wait_s <= self.sl_short_s:
            self.answered_short += 1
        if wait_s <= self.sl_target_s:
            self.answered_target += 1
            minute.within_target += 1

    def on_abandoned(self, *, short: bool, now: float) -> None:
        """A caller hung up before being answered; short abandons are counted apart."""
        if short:
            self.short_abandoned += 1
            return
        self.abandoned += 1
        self._minute(now).abandoned += 1

    def on_handled(self, handle_s: float) -> None:
        """A call's talk plus wrap-up time, folded into the average handle time (EWMA 0.2)."""
        self.aht_s += 0.2 * (handle_s - self.aht_s)

    def window(self, now: float, minutes: int) -> tuple[int, int, int]:
        """(answered, answered within target, long abandons) over the last ``minutes``."""
        first = int(now // 60) - minutes + 1
        answered = within = abandoned = 0
        for m in self.minutes:
            if m.minute >= first:
                answered += m.answered
                within += m.within_target
                abandoned += m.abandoned
        return answered, within, abandoned


def service_level(answered_target: int, answered: int, abandoned: int) -> float | None:
    """Share of calls answered within the target among answered and (long) abandoned calls.

    Short abandons are left out, as misdials are in SAMU reporting; ``None`` with no call.
    """
    total = answered + abandoned
    return None if total == 0 else answered_target / total


def estimated_wait(
    position: int, serving_agents: int, available_agents: int, aht_s: float
) -> float | None:
    """Estimated wait of a call joining at ``position`` (0 = first), in seconds.

    Method: an agent free now takes the call at once, so the first ``available`` positions
    wait 0. Beyond them the queue drains at one call per ``aht / N`` seconds, with N the
    agents logged in and not paused (available, ringing, on a call or in wrap-up) and aht
    the queue's average handle time (talk + wrap-up, exponentially weighted with weight
    0.2 per call, starting from the configured prior): a call at position p waits about
    ``(p - available + 1) * aht / N``. ``None`` when nobody serves: the wait is unbounded.
    """
    if serving_agents <= 0:
        return None
    if position < available_agents:
        return 0.0
    return (position - available_agents + 1) * aht_s / serving_agents


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueStats:
    """A snapshot of one queue or department, as the console and the overflow rules see it."""

    id: str
    waiting: int
    longest_wait_s: float
    estimated_wait_s: float | None
    serving_agents: int
    logged_in_agents: int
    agents_by_state: dict[AgentState, int]
    entered: int
    answered: int
    answered_within_short: int
    answered_within_target: int
    abandoned: int
    short_abandoned: int
    overflowed_out: int
    overflowed_in: int
    fallback: int
    average_speed_of_answer_s: float | None
    service_level: float | None
    """Answered within the target (60 s) / (answered + long abandons), since start."""
    service_level_last_hour: float | None
    average_handle_time_s: float

    @property
    def available_agents(self) -> int:
        """Agents free to take a call now."""
        return self.agents_by_state.get(AgentState.AVAILABLE, 0)


def snapshot(
    *,
    id: str,
    counters: Counters,
    waiting: int,
    oldest_arrival: float | None,
    agents_by_state: dict[AgentState, int],
    now: float,
) -> QueueStats:
    """Freeze the counters and live figures into a :class:`QueueStats`."""
    serving = sum(
        n
        for state, n in agents_by_state.items()
        if state not in (AgentState.LOGGED_OUT, AgentState.PAUSED)
    )
    logged_in = serving + agents_by_state.get(AgentState.PAUSED, 0)
    c = counters
    hour = c.window(now, WINDOW_MINUTES)
    return QueueStats(
        id=id,
        waiting=waiting,
        longest_wait_s=0.0 if oldest_arrival is None else max(0.0, now - oldest_arrival),
        estimated_wait_s=estimated_wait(
            waiting, serving, agents_by_state.get(AgentState.AVAILABLE, 0), c.aht_s
        ),
        serving_agents=serving,
        logged_in_agents=logged_in,
        agents_by_state=dict(agents_by_state),
        entered=c.entered,
        answered=c.answered,
        answered_within_short=c.answered_short,
        answered_within_target=c.answered_target,
        abandoned=c.abandoned,
        short_abandoned=c.short_abandoned,
        overflowed_out=c.overflowed_out,
        overflowed_in=c.overflowed_in,
        fallback=c.fallback,
        average_speed_of_answer_s=c.answer_wait_sum / c.answered if c.answered else None,
        service_level=service_level(c.answered_target, c.answered, c.abandoned),
        service_level_last_hour=service_level(hour[1], hour[0], hour[2]),
        average_handle_time_s=c.aht_s,
    )
