"""A running service's life: stand by warm, take over on the lease, stop cleanly or fence.

Every instance starts as a standby: journal schema checked, PBX links up, the journal
writer draining the outbox, nothing decided. The instance that gets the lease takes
over — hot state restored, every PBX resynced, then routing, heartbeat and hot-state
writes — and loses everything the moment its lease cannot be vouched for: it stops
acting at once and the process ends, to come back as a standby.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

from acd.core import events as ev
from acd.core.engine import Engine
from acd.runtime.dispatcher import Dispatcher
from acd.runtime.heap import settle_heap
from acd.runtime.hot import HotStateWriter, PartnerLoadReader
from acd.runtime.leadership import Leadership, Role
from acd.runtime.reload import ConfigReloader
from acd.storage import Storage, embedded_journal
from connectors.asterisk.client import AmiClient
from connectors.asterisk.pbx import AmiPbx
from connectors.sql import JournalUnavailable

if TYPE_CHECKING:
    from acd.console.server import ConsoleServer

log = logging.getLogger("acd.service")


@dataclass
class Service:
    """Everything ``acd run`` starts, in the order it starts them."""

    reloader: ConfigReloader
    engine: Engine
    dispatcher: Dispatcher
    pbxs: dict[str, AmiPbx]
    clients: list[AmiClient]
    storage: Storage
    hot_writer: HotStateWriter
    partner_loads: PartnerLoadReader
    leadership: Leadership
    action_prefix: str
    """ActionID prefix before the epoch is known (``<prefix>-e<epoch>-<pbx>`` once active)."""
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    lost: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the lease was lost: the process stops (and comes back as a standby)."""
    login_all: bool = False
    lost_reason: str = ""
    console: ConsoleServer | None = None
    """The supervisors' console, when the configuration enables it."""

    def on_lost(self, why: str) -> None:
        """Leadership's callback: stop routing now; the main task winds the rest down."""
        self.dispatcher.standby = True
        # What the links still send (keep-alive, the closing Logoff) claims no epoch: an
        # ActionID with the epoch means "sent by the leader of that epoch".
        for name, pbx in self.pbxs.items():
            pbx.client.set_action_id_prefix(f"{self.action_prefix}-{name}")
        self.lost_reason = why
        self.lost.set()


async def run_service(
    service: Service,
    *,
    login_all: bool = False,
    status_every_s: float = 5.0,
    out: TextIO | None = None,
    stop: asyncio.Event | None = None,
    create_schema: bool | None = None,
) -> None:
    """Run until SIGTERM/SIGINT (or ``stop``), or until the lease is lost.

    ``create_schema``: create the journal's tables if missing (default: only for an
    embedded SQLite journal; a shared database is upgraded with ``acd db upgrade``).
    """
    loop = asyncio.get_running_loop()
    stop = stop or asyncio.Event()
    if create_schema is None:
        create_schema = embedded_journal(service.reloader.current.config.journal.url)
    try:
        opened = await _open_storage(service.storage, create_schema=create_schema, stop=stop)
    except BaseException:
        await service.storage.close(0.0)  # e.g. SchemaOutdated: nothing was started
        raise
    if not opened:
        await service.storage.close(0.0)
        return
    log.info("storage: %s", service.storage.description)
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    service.reloader.install_sighup(loop)
    service.login_all = login_all
    service.dispatcher.standby = True
    service.dispatcher.may_act = service.leadership.may_act
    service.tasks = [
        asyncio.create_task(service.reloader.watch(), name="config-watch"),
        asyncio.create_task(service.leadership.run(), name="leadership"),
    ]
    if out is not None:
        service.tasks.append(asyncio.create_task(_status(service, out, status_every_s)))
    await _start_console(service)
    for client in service.clients:
        await client.start()
    settle_heap()
    stopped = asyncio.create_task(stop.wait())
    lost = asyncio.create_task(service.lost.wait())
    try:
        await asyncio.wait({stopped, lost}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        lost.cancel()
        await _wind_down(service)
        service.reloader.remove_sighup(loop)
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)


async def _start_console(service: Service) -> None:
    """Serve the console; routing goes on without it if it cannot listen."""
    console = service.console
    if console is None:
        return
    try:
        await console.start()
    except Exception:  # a port taken, a missing file: the console is not worth a caller
        log.exception("console not started, routing goes on without it")
        service.console = None
        return
    service.tasks.append(asyncio.create_task(console.feed.run(), name="console-feed"))
    service.tasks.append(asyncio.create_task(console.backend.today.run(), name="console-today"))


async def _open_storage(storage: Storage, *, create_schema: bool, stop: asyncio.Event) -> bool:
    """Open the storage, waiting while the journal database cannot be reached.

    An instance restarted during a database outage (a fenced leader comes back as a
    standby) must wait for the database like the standby it is, not crash at every start
    until its service manager gives up on it. ``False``: stopped while waiting.
    """
    delay = 0.5
    while True:
        try:
            await storage.open(create_schema=create_schema)
        except JournalUnavailable as err:
            log.warning("journal database unreachable (%s): waiting %.1f s", err, delay)
        else:
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
            return False
        delay = min(delay * 2, 5.0)


async def take_over(service: Service, epoch: int) -> None:
    """Leadership's promotion: restore the hot state, resync every PBX, then route."""
    started = time.monotonic()
    d = service.dispatcher
    d.journaling.epoch = lambda: epoch
    service.hot_writer.epoch = lambda: epoch
    for name, pbx in service.pbxs.items():
        pbx.client.set_action_id_prefix(f"{service.action_prefix}-e{epoch}-{name}")
    cfg = service.reloader.current
    service.storage.record_config(
        d.journaling, version=cfg.label, path=str(service.reloader.path), at=d.clock()
    )
    await _restore(service)
    d.standby = False
    if service.login_all:
        for agent in service.engine.spec.agents:
            d.submit(ev.AgentLoggedIn(agent=agent.id))
    service.tasks += [
        asyncio.create_task(d.run(), name="dispatcher"),
        asyncio.create_task(d.heartbeat(), name="heartbeat"),
        asyncio.create_task(service.hot_writer.run(), name="hot-state-writer"),
        asyncio.create_task(service.partner_loads.run(), name="partner-loads"),
    ]
    # What happened while we stood by is read from the PBX itself, as after a reconnect:
    # calls that ended meanwhile end, new callers are adopted, routes in doubt settled.
    for pbx in service.pbxs.values():
        if pbx.client.logged_in:
            try:
                await pbx.on_connected()
            except Exception as err:  # the link's next login resyncs it
                log.warning("takeover resync with %s failed: %s", pbx.name, err)
    log.warning(
        "active (epoch %d): took over in %.0f ms", epoch, 1000 * (time.monotonic() - started)
    )


async def _restore(service: Service) -> None:
    """Pick up where the hot state left off (if it can be read)."""
    try:
        snapshot = await service.storage.hot.load()
    except Exception as err:  # the PBX resync adopts the waiting callers all the same
        log.warning("hot state unreadable at takeover (%s): resuming from the PBX alone", err)
    else:
        done = service.engine.restore(
            list(snapshot.calls.values()),
            list(snapshot.agents.values()),
            service.dispatcher.clock(),
        )
        for ident, why in done.skipped:
            log.warning("hot state: %s not restored: %s", ident, why)
        if done.calls or done.agents:
            log.info("hot state: %d call(s), %d agent(s) restored", done.calls, done.agents)
        service.dispatcher.carry_out(done.commands)
    service.hot_writer.mark_everything()


async def _wind_down(service: Service, timeout_s: float = 5.0) -> None:
    """Stop deciding, let actions under way finish (if still leader), release, close."""
    d = service.dispatcher
    active = service.leadership.role is Role.ACTIVE
    log.info("stopping (%s): no new decision", service.leadership.status())
    if service.console is not None:
        try:
            await asyncio.wait_for(service.console.stop(), timeout_s)
        except Exception as err:
            log.warning("console did not stop cleanly: %s", err)
    await d.stop(grace_s=timeout_s if active else 0.0)
    await _cancel_all(service.tasks, timeout_s)
    if active:
        batch = service.hot_writer.take()
        if batch:
            try:
                epoch = service.leadership.epoch
                await asyncio.wait_for(service.storage.hot.write(batch, epoch=epoch), timeout_s)
            except Exception as err:
                log.warning("last hot-state write failed: %s", err)
        await service.leadership.release()
    for client in service.clients:
        await client.close()
    await service.storage.close(timeout_s)


async def _cancel_all(tasks: list[asyncio.Task[None]], timeout_s: float) -> None:
    """Cancel the tasks and wait for them, cancelling again any that carries on.

    Python 3.11's ``asyncio.wait_for`` (redis-py's socket timeouts, the lease's budget)
    loses a cancellation that lands just as the awaited operation completes: the task
    goes on as if never cancelled, and awaiting it once would wait forever (a fenced
    instance that never exits, so never comes back as a standby).
    """
    loop = asyncio.get_running_loop()
    until = loop.time() + timeout_s
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.1)
        if pending and loop.time() > until:
            names = ", ".join(sorted(task.get_name() for task in pending))
            log.error("tasks still running after %.0f s, left behind: %s", timeout_s, names)
            break
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            log.error("task %s had failed", task.get_name(), exc_info=task.exception())


async def _status(service: Service, out: TextIO, every_s: float) -> None:
    """Print one line per department: waiting, longest wait, agents free, answered."""
    while True:
        await asyncio.sleep(every_s)
        now = service.dispatcher.clock()
        links = " ".join(f"{c.name}:{'up' if c.logged_in else 'down'}" for c in service.clients)
        journal = await service.storage.metrics()
        age = "" if journal.oldest_age_s is None else f", oldest {journal.oldest_age_s:.0f}s"
        lines = [
            f"-- {time.strftime('%H:%M:%S')}  {service.leadership.status()}  PBX {links}  "
            f"config {service.reloader.current.label}  journal backlog {journal.backlog}{age}"
        ]
        for dept in service.engine.spec.departments:
            s = service.engine.dept_stats(dept.id, now)
            sl = "-" if s.service_level is None else f"{100 * s.service_level:.0f}%"
            lines.append(
                f"{dept.id:>4} waiting {s.waiting:>3}  longest {s.longest_wait_s:>5.0f}s  "
                f"free {s.available_agents:>2}/{s.logged_in_agents:<2}  answered {s.answered:>4} "
                f"(≤60s {sl})  abandoned {s.abandoned:>3}  overflow out {s.overflowed_out:>3} "
                f"in {s.overflowed_in:>3}  fallback {s.fallback:>3}"
            )
        print("\n".join(lines), file=out, flush=True)
