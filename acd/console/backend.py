"""What the console reads and does, over the running service: every change is audited.

Changes are the engine's own events (a pause, crisis mode, a forced overflow) applied at
once through the dispatcher, so the supervisor learns the engine's answer; callback
statuses and audit entries go to the durable journal like every other entry.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from acd.config.models import ConsoleConfig
from acd.console import views
from acd.console.errors import ApiError
from acd.console.masking import mask_number
from acd.console.models import (
    AuditItem,
    CallbackItem,
    ConfigOut,
    DecisionOut,
    DepartmentView,
    InstanceOut,
    JournalBacklog,
    LinkOut,
    ReloadResult,
    StoreHealth,
    SystemView,
    Wallboard,
)
from acd.console.roles import Role
from acd.console.security import Identity
from acd.console.today import DayFigures
from acd.core import events as ev
from acd.core.engine import Engine
from acd.core.errors import CoreError
from acd.core.ids import AgentId, DeptId
from acd.journal import EntryKind
from acd.runtime.dispatcher import NotRouting

if TYPE_CHECKING:
    from acd.lifecycle import Service

log = logging.getLogger("acd.console")

CORE_SLUGS = {
    "unknown-call": "unknown-call",
    "unknown-agent": "unknown-agent",
    "unknown-queue": "unknown-department",
    "illegal-transition": "illegal-transition",
    "call-not-waiting": "call-not-waiting",
    "unknown-partner": "unknown-partner",
}
"""The engine's refusals as the API's (anything else is a bug: logged, answered 409)."""

CALLBACKS_SHOWN = 1000
"""The most callback items a list shows (the oldest first: they wait the longest)."""

READ_TIMEOUT_S = 2.0
"""A journal read the console waits for, at most (the pages show what is missing)."""


class Backend:
    """The console's view of one running service."""

    def __init__(self, service: Service, *, clock: Callable[[], float] = time.time) -> None:
        self.service = service
        self.clock = clock
        self._agent_depts: dict[AgentId, list[str]] | None = None
        self.today = DayFigures(
            reader=service.storage.sql,
            target_s=lambda: service.reloader.current.config.defaults.sl_target_s,
            short_abandon_s=lambda: service.reloader.current.config.defaults.short_abandon_s,
            short_abandon_by_dept=lambda: {
                d.id: d.short_abandon_s for d in service.engine.spec.departments
            },
            clock=clock,
        )

    def agent_depts(self) -> dict[AgentId, list[str]]:
        """Each agent's departments, computed once (they change only at a restart)."""
        if self._agent_depts is None:
            self._agent_depts = views.agent_depts(self.engine)
        return self._agent_depts

    @property
    def engine(self) -> Engine:
        return self.service.engine

    @property
    def config(self) -> ConsoleConfig:
        """The console section in force (thresholds follow a reload)."""
        return self.service.reloader.current.config.console

    # -- audit -----------------------------------------------------------------------------

    def audit(self, who: Identity, action: str, target: str, details: dict[str, Any]) -> None:
        """One audit entry in the journal: who did what to what, from where."""
        journaling = self.service.dispatcher.journaling
        entry = journaling.entry(
            EntryKind.AUDIT,
            self.clock(),
            actor=who.user,
            role=who.role.value,
            action=action,
            target=target,
            details=json.dumps(details, ensure_ascii=False, sort_keys=True) if details else None,
            source=who.source,
        )
        self.service.storage.append([entry])
        log.info("audit: %s (%s) %s %s", who.user, who.role.value, action, target)

    # -- reads -----------------------------------------------------------------------------

    def instance(self) -> InstanceOut:
        lead = self.service.leadership
        return InstanceOut(
            name=self.service.reloader.current.config.instance.name,
            role=lead.role.value,
            epoch=lead.epoch,
            leader=lead.leader,
        )

    def dept(self, dept: str) -> DeptId:
        """A department id of this service, or ``unknown-department``."""
        if dept not in self.engine.depts:
            raise ApiError("unknown-department", f"no department {dept!r} here")
        return DeptId(dept)

    def wallboard(self) -> Wallboard:
        now, cfg = self.clock(), self.config
        defaults = self.service.reloader.current.config.defaults
        return Wallboard(
            at=now,
            instance=self.instance(),
            wait_amber_s=cfg.wait_amber_s,
            wait_red_s=cfg.wait_red_s,
            target_s=defaults.sl_target_s,
            service_level_target=cfg.service_level_target,
            tiles=[views.tile(self.engine, d, now, cfg, self.today) for d in self.engine.depts],
        )

    async def department(self, dept: str, who: Identity) -> DepartmentView:
        d = self.dept(dept)
        now = self.clock()
        decisions: list[DecisionOut] = []
        problem = None
        try:
            rows = await asyncio.wait_for(
                self.service.storage.sql.decisions(dept=d, limit=30), READ_TIMEOUT_S
            )
            decisions = [_decision(r) for r in rows]
        except Exception as err:  # the live part of the page stands without the journal
            problem = f"journal unreadable: {err or type(err).__name__}"
        return DepartmentView(
            at=now,
            tile=views.tile(self.engine, d, now, self.config, self.today),
            calls=views.waiting_calls(
                self.engine, d, now, unmasked=who.role.allows(Role.SUPERVISOR)
            ),
            agents=views.agents(self.engine, now, self.agent_depts(), dept),
            decisions=decisions,
            decisions_error=problem,
        )

    async def callbacks(
        self, who: Identity, dept: str | None, status: str | None
    ) -> list[CallbackItem]:
        if dept is not None:
            self.dept(dept)
        since = self.clock() - 3600 * self.config.callbacks_window_h
        rows = await self._read(
            self.service.storage.sql.callbacks(
                dept, since_s=since, status=status, limit=CALLBACKS_SHOWN
            )
        )
        unmasked = who.role.allows(Role.SUPERVISOR)
        return [_callback(r, unmasked) for r in rows]

    async def audit_items(self, **filters: Any) -> list[AuditItem]:
        rows = await self._read(self.service.storage.sql.audit(**filters))
        return [
            AuditItem(**{k: r.get(k) for k in AuditItem.model_fields if k != "at"}, at=r["at_s"])
            for r in rows
        ]

    async def _read(self, coro: Any) -> Any:
        try:
            return await asyncio.wait_for(coro, READ_TIMEOUT_S)
        except Exception as err:
            raise ApiError(
                "journal-unavailable",
                f"the journal cannot be read now: {err or type(err).__name__}",
            ) from None

    def config_out(self) -> ConfigOut:
        r = self.service.reloader
        return ConfigOut(
            version=r.current.version,
            label=r.current.label,
            path=str(r.path),
            loaded_at=r.current.loaded_at,
            last_reload=r.last.status,
            last_errors=list(r.last.errors),
        )

    async def system(self) -> SystemView:
        s = self.service
        metrics = await s.storage.metrics()
        stats = s.dispatcher.stats
        return SystemView(
            at=self.clock(),
            instance=self.instance(),
            lease_age_s=s.leadership.lease_age_s,
            config_version=s.reloader.current.label,
            links=[_link(c.stats()) for c in s.clients],
            hot_state=await self._health("hot state", self._ping_hot()),
            journal=await self._health("journal", s.storage.sql.ping()),
            outbox=JournalBacklog(
                backlog=metrics.backlog,
                oldest_age_s=metrics.oldest_age_s,
                written=metrics.written,
                spooled=metrics.spooled,
            ),
            events=stats.events,
            rejected=stats.rejected,
            errors=stats.errors,
            fenced_actions=stats.fenced,
        )

    async def _ping_hot(self) -> float:
        started = time.perf_counter()
        await self.service.storage.hot.loads_of([])
        return time.perf_counter() - started

    async def _health(self, what: str, probe: Any) -> StoreHealth:
        try:
            took = await asyncio.wait_for(probe, READ_TIMEOUT_S)
        except Exception as err:
            return StoreHealth(
                ok=False, latency_ms=None, detail=f"{what}: {err or type(err).__name__}"
            )
        return StoreHealth(ok=True, latency_ms=round(1000 * took, 2), detail="ok")

    # -- changes ---------------------------------------------------------------------------

    def act(
        self, who: Identity, event: ev.Event, action: str, target: str, details: dict[str, Any]
    ) -> int:
        """Apply a supervisor's event now; audited once applied. Returns the commands count."""
        try:
            commands = self.service.dispatcher.command(event)
        except NotRouting as err:
            raise ApiError("not-active", f"{err}: use the active instance") from None
        except CoreError as err:
            slug = CORE_SLUGS.get(err.slug)
            if slug is None:
                log.error("console command %s refused by the engine: %s", action, err)
                slug = "illegal-transition"
            raise ApiError(slug, str(err)) from None
        self.audit(who, action, target, details)
        return len(commands)

    async def set_callback(
        self, who: Identity, call_ids: list[str], status: str, note: str
    ) -> bool:
        """Journal a callback status for every call of a worklist item (audited).

        Written to the journal database at once, so the list the supervisor reloads shows
        it; if the database cannot take it now, the entries go the usual way (outbox,
        spool) and show when it is back. ``True``: already in the database.
        """
        journaling = self.service.dispatcher.journaling
        now = self.clock()
        entries = [
            journaling.entry(
                EntryKind.CALLBACK, now, call=c, status=status, actor=who.user, note=note or None
            )
            for c in call_ids
        ]
        written = True
        try:
            await asyncio.wait_for(self.service.storage.sql.write(entries), READ_TIMEOUT_S)
        except Exception as err:  # the outbox delivers them (the same ids: written once)
            log.warning("callback status not written at once (%s): sent through the outbox", err)
            self.service.storage.append(entries)
            written = False
        self.audit(who, "callback-status", call_ids[-1], {"status": status, "calls": call_ids})
        return written

    def reload(self, who: Identity) -> ReloadResult:
        outcome = self.service.reloader.reload()
        self.audit(
            who,
            "config-reload",
            str(self.service.reloader.path),
            {"status": outcome.status, "version": outcome.version, "errors": list(outcome.errors)},
        )
        return ReloadResult(
            status=outcome.status,  # type: ignore[arg-type]
            version=outcome.version,
            errors=list(outcome.errors),
        )


_LONG_DECIMALS = re.compile(r"(?<![\d.])(\d+\.\d)\d{2,}(?![\d.])")


def readable(reason: str | None) -> str | None:
    """A journal reason for people: its measured values to a tenth (``wait_s=19.1``)."""
    return None if reason is None else _LONG_DECIMALS.sub(r"\1", reason)


def _decision(row: dict[str, Any]) -> DecisionOut:
    return DecisionOut(
        at=row["at_s"],
        call=row.get("call_id"),
        action=row.get("action"),
        route=row.get("route"),
        agent=row.get("agent"),
        target=row.get("target"),
        rule=row.get("rule"),
        reason=readable(row.get("reason")),
    )


def _callback(row: dict[str, Any], unmasked: bool) -> CallbackItem:
    caller = row.get("caller")
    return CallbackItem(
        call=row["call_id"],
        call_ids=list(row.get("call_ids") or [row["call_id"]]),
        dept=row.get("dept"),
        caller=caller if unmasked or caller is None else mask_number(caller),
        abandoned_at=row.get("abandoned_s"),
        first_abandoned_at=row.get("first_abandoned_s"),
        wait_s=row.get("wait_s"),
        repeats=int(row.get("repeats") or 1),
        status=row.get("status") or "to-call-back",
        updated_at=row.get("updated_s"),
        updated_by=row.get("updated_by"),
    )


def _link(stats: Any) -> LinkOut:
    return LinkOut(
        name=stats.name,
        connected=stats.connected,
        logged_in=stats.logged_in,
        reconnects=stats.reconnects,
        bad_frames=stats.bad_frames,
        last_pong_age_s=stats.last_pong_age_s,
        actions_in_flight=stats.actions_in_flight,
    )
