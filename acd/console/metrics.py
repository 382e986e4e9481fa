"""``/metrics``: the service's figures in the Prometheus text format (no caller data)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from acd.core.states import AgentState

if TYPE_CHECKING:
    from acd.console.stream import Feed
    from acd.lifecycle import Service


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class _Out:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def metric(
        self,
        name: str,
        kind: str,
        help_text: str,
        samples: Iterable[tuple[dict[str, str], float | int | None]],
    ) -> None:
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            if value is None:
                continue
            shown = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
            self.lines.append(
                f"{name}{{{shown}}} {float(value):g}" if shown else f"{name} {float(value):g}"
            )

    def one(self, name: str, kind: str, help_text: str, value: float | int | None) -> None:
        self.metric(name, kind, help_text, [({}, value)])


async def render(service: Service, feed: Feed | None, now: float) -> str:
    """Every figure, one scrape."""
    out = _Out()
    engine = service.engine
    stats = {d: engine.dept_stats(d, now) for d in engine.depts}
    per = [({"dept": str(d)}, s) for d, s in stats.items()]
    out.metric(
        "acd_calls_waiting",
        "gauge",
        "Calls waiting per department.",
        [(lab, s.waiting) for lab, s in per],
    )
    out.metric(
        "acd_longest_wait_seconds",
        "gauge",
        "Longest current wait per department.",
        [(lab, round(s.longest_wait_s, 3)) for lab, s in per],
    )
    out.metric(
        "acd_estimated_wait_seconds",
        "gauge",
        "Estimated wait of a new call.",
        [(lab, s.estimated_wait_s) for lab, s in per],
    )
    out.metric(
        "acd_service_level",
        "gauge",
        "Answered within target since start (0-1).",
        [(lab, s.service_level) for lab, s in per],
    )
    out.metric(
        "acd_service_level_last_hour",
        "gauge",
        "Answered within target, last hour.",
        [(lab, s.service_level_last_hour) for lab, s in per],
    )
    for name, attr, text in (
        ("acd_calls_entered_total", "entered", "Calls that entered the department."),
        ("acd_calls_answered_total", "answered", "Calls answered."),
        ("acd_calls_abandoned_total", "abandoned", "Calls abandoned (short ones apart)."),
        ("acd_calls_short_abandoned_total", "short_abandoned", "Short abandons."),
        ("acd_calls_overflowed_out_total", "overflowed_out", "Calls sent to a partner."),
        ("acd_calls_overflowed_in_total", "overflowed_in", "Calls taken from a partner."),
        ("acd_calls_fallback_total", "fallback", "Calls sent to the dialplan's fallback."),
    ):
        out.metric(name, "counter", text, [(lab, getattr(s, attr)) for lab, s in per])
    out.metric(
        "acd_agents",
        "gauge",
        "Agents per department and state.",
        [
            ({"dept": str(d), "state": st.value}, s.agents_by_state.get(st, 0))
            for d, s in stats.items()
            for st in AgentState
        ],
    )
    d = service.dispatcher.stats
    out.one("acd_decisions_total", "counter", "Events the engine decided on.", d.events)
    out.one("acd_events_rejected_total", "counter", "Events the engine refused.", d.rejected)
    out.one("acd_engine_errors_total", "counter", "Events that failed in the engine.", d.errors)
    out.one("acd_pbx_actions_total", "counter", "Actions sent to the PBX.", d.pbx_actions)
    out.one("acd_pbx_action_failures_total", "counter", "PBX actions that failed.", d.pbx_failures)
    out.one("acd_actions_fenced_total", "counter", "Actions withheld: lease not held.", d.fenced)
    out.one("acd_inbox_depth", "gauge", "Events queued for the engine.", d.inbox_depth)
    links = [c.stats() for c in service.clients]
    out.metric(
        "acd_ami_up",
        "gauge",
        "AMI link logged in (1) or not (0).",
        [({"pbx": s.name}, int(s.logged_in)) for s in links],
    )
    out.metric(
        "acd_ami_reconnects_total",
        "counter",
        "AMI reconnections.",
        [({"pbx": s.name}, s.reconnects) for s in links],
    )
    out.metric(
        "acd_ami_bad_frames_total",
        "counter",
        "AMI frames skipped as malformed.",
        [({"pbx": s.name}, s.bad_frames) for s in links],
    )
    out.metric(
        "acd_ami_lag_seconds",
        "gauge",
        "Age of the oldest AMI event not yet handled.",
        [({"pbx": s.name}, s.consumer_lag_s) for s in links],
    )
    out.metric(
        "acd_ami_events_total",
        "counter",
        "AMI events received.",
        [({"pbx": s.name}, s.events_received) for s in links],
    )
    journal = await service.storage.metrics()
    out.one("acd_journal_backlog", "gauge", "Journal entries not yet in SQL.", journal.backlog)
    out.one(
        "acd_journal_oldest_seconds",
        "gauge",
        "Age of the oldest entry not in SQL.",
        journal.oldest_age_s,
    )
    out.one(
        "acd_journal_spooled_total",
        "counter",
        "Entries spooled to the local file.",
        journal.spooled,
    )
    lead = service.leadership
    out.metric(
        "acd_leader",
        "gauge",
        "This instance's role (1 for the one it has).",
        [({"role": r}, int(lead.role.value == r)) for r in ("active", "standby", "fenced")],
    )
    out.one("acd_leader_epoch", "gauge", "Leadership epoch held (0: none).", lead.epoch)
    out.one("acd_lease_age_seconds", "gauge", "Since the last successful renew.", lead.lease_age_s)
    hot = service.hot_writer.stats
    out.one(
        "acd_hot_state_write_failures_total", "counter", "Failed hot-state writes.", hot.failures
    )
    if feed is not None:
        out.one("acd_console_clients", "gauge", "Open live streams.", len(feed.clients))
        out.one(
            "acd_console_push_lag_seconds",
            "gauge",
            "Engine change to push, last push.",
            feed.stats.last_push_lag_s,
        )
    return "\n".join(out.lines) + "\n"
