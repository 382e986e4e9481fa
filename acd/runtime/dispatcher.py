"""One task feeds the engine in order; decisions go to the PBX as tasks that never block it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from acd.ami.errors import AmiConnectionLost
from acd.ami.translate import channel_of
from acd.core import events as ev
from acd.core.commands import (
    Command,
    MoveCall,
    OfferCall,
    OverflowCall,
    Reason,
    SendToFallback,
    VerifyRoute,
)
from acd.core.engine import Engine
from acd.core.errors import CoreError, UnknownQueue
from acd.core.ids import CallId, RouteId
from acd.journal import Journaling, Uuid7Source
from acd.ports import ChannelSnapshot, Journal, Pbx, PbxCommand, WallClock
from acd.runtime.resync import resync_events, stranded_fallbacks

log = logging.getLogger("acd.dispatcher")

Listener = Callable[[ev.Event, list[Command]], None]

RUN_BATCH = 32
"""Events handled back to back before the loop gets a turn (about 1 ms of engine work)."""


@dataclass(slots=True)
class DispatcherStats:
    """What the dispatcher did so far (for /metrics and the console)."""

    events: int = 0
    rejected: int = 0
    errors: int = 0
    unplaced: int = 0
    refallbacks: int = 0
    commands: int = 0
    pbx_actions: int = 0
    pbx_failures: int = 0
    inbox_depth: int = 0
    resyncs: int = 0
    ignored: int = 0
    """Events received while standing by."""
    fenced: int = 0
    """Actions not sent because the lease could not be vouched for."""
    listener_errors: int = 0
    """Listeners (hot-state writer, console) that failed on a decision."""


class NotRouting(Exception):
    """A command reached an instance that does not route (slug ``not-active``)."""

    slug = "not-active"


@dataclass(frozen=True, slots=True)
class _Resync:
    pbx: str
    channels: list[ChannelSnapshot]
    routes_before: frozenset[str] | None


class Dispatcher:
    """Drains a bounded inbox into the engine, ticks its deadlines, runs its commands.

    The engine is only ever touched by this task, so it needs no lock. PBX actions run
    as separate tasks (one per decision, its actions in order) so a slow PBX never holds
    back routing; what they learn comes back through the inbox like any other event.
    """

    def __init__(
        self,
        *,
        engine: Engine,
        pbxs: Mapping[str, Pbx],
        journal: Journal | None = None,
        clock: WallClock = time.time,
        config_version: Callable[[], str] = lambda: "unversioned",
        inbox_size: int = 100_000,
        listeners: tuple[Listener, ...] = (),
    ) -> None:
        self.engine = engine
        self.pbxs = dict(pbxs)
        self.journal = journal
        self.journaling = Journaling(new_id=Uuid7Source(), call_of=engine.call)
        self.clock = clock
        self.config_version = config_version
        self.listeners = listeners
        self.stats = DispatcherStats()
        self.may_act: Callable[[], bool] = lambda: True
        """The self-fence (``Leadership.may_act``): no action, no heartbeat when false."""
        self.standby = False
        """A standby ignores the PBX's events: the takeover resync brings it up to date."""
        self._inbox: asyncio.Queue[ev.Event | _Resync] = asyncio.Queue(inbox_size)
        self._actions: set[asyncio.Task[None]] = set()
        self._accepting = True
        self._run_task: asyncio.Task[None] | None = None
        self._heartbeating = False
        self._unplaced_seq = 0
        self._routes_under_way: set[str] = set()

    # -- inputs --------------------------------------------------------------------------

    def submit(self, event: ev.Event) -> None:
        """Queue an event for the engine; never blocks (the AMI reader must not wait)."""
        if self.standby:
            self.stats.ignored += 1
            return
        try:
            self._inbox.put_nowait(event)
        except asyncio.QueueFull:
            # Losing an event would desynchronise us from the PBX: say so loudly. The
            # offer checks and the next resync bring the engine back in line.
            log.error("dispatcher inbox full (%d): event dropped", self._inbox.maxsize)
            self.stats.rejected += 1

    def submit_resync(
        self,
        pbx: str,
        channels: list[ChannelSnapshot],
        routes_before: frozenset[str] | None = None,
    ) -> None:
        """Queue a resync with a PBX's channels, handled in order with the events."""
        if self.standby:
            return
        self._inbox.put_nowait(_Resync(pbx, channels, routes_before))

    def command(self, event: ev.Event) -> list[Command]:
        """Apply a person's command (console) at once, between two events; returns its commands.

        Unlike :meth:`submit`, the engine's refusal (a ``CoreError``, e.g. the call is no
        longer waiting) reaches the caller, so a supervisor learns at once what happened.
        The loop is single-threaded: the dispatcher task is parked at an ``await`` while
        this runs, so the engine still sees one event at a time.
        """
        if self.standby or not self._accepting:
            raise NotRouting("this instance is not routing calls (standby or stopping)")
        now = self.clock()
        try:
            commands = self.engine.handle(event, now)
        except CoreError:
            self.stats.rejected += 1
            raise
        except Exception:
            self.stats.errors += 1
            raise
        self.stats.events += 1
        self._tell(event, commands)
        self._run(commands, now)
        # The loop sleeps until the deadline it saw before this command: wake it, so a
        # deadline this command made earlier (an offer's check) is kept.
        with contextlib.suppress(asyncio.QueueFull):
            self._inbox.put_nowait(ev.Tick())
        return commands

    def routes_in_force(self) -> frozenset[str]:
        """Routes of the live calls whose actions the PBX has finished (before a snapshot).

        A route whose Setvar/Redirect are still under way is left out: the channels read
        now may not show it yet, and judging it by them would offer the caller twice.
        """
        live = {c.route for c in self.engine.live_calls() if c.route is not None}
        return frozenset(live - self._routes_under_way)

    # -- the loop ------------------------------------------------------------------------

    async def run(self) -> None:
        """Feed the engine until stopped: events as they come, ticks at its deadlines.

        Events already queued are taken back to back, yielding to the loop only every
        ``RUN_BATCH`` of them: a wait per event (``wait_for``: a task, a timer, three
        turns of the loop) made a caller queued behind a burst wait for three turns per
        event ahead of it (docs/decisions/0006-dispatcher-drains-its-inbox.md).
        """
        self._run_task = asyncio.current_task()
        streak = 0
        while self._accepting:
            if streak >= RUN_BATCH:
                streak = 0
                await asyncio.sleep(0)  # let the reader read and the actions be written
                continue
            streak += 1
            deadline = self.engine.next_deadline()
            now = self.clock()
            if deadline is not None and deadline <= now:
                self._apply(ev.Tick(), now)
                continue
            try:
                item = self._inbox.get_nowait()
            except asyncio.QueueEmpty:
                streak = 0
                try:
                    async with asyncio.timeout(None if deadline is None else deadline - now):
                        item = await self._inbox.get()
                except TimeoutError:
                    continue
            self.stats.inbox_depth = self._inbox.qsize()
            if isinstance(item, _Resync):
                self._resync(item)
            else:
                self._apply(item, self.clock())

    async def stop(self, grace_s: float = 5.0) -> None:
        """Stop taking decisions; let actions already under way finish (within ``grace_s``)."""
        self._accepting = False
        self._inbox.put_nowait(ev.Tick())  # wake the loop so it sees the flag
        if self._actions:
            _, pending = await asyncio.wait(set(self._actions), timeout=grace_s)
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def _apply(self, event: ev.Event, now: float) -> None:
        try:
            commands = self.engine.handle(event, now)
        except CoreError as err:
            self.stats.rejected += 1
            if isinstance(event, ev.CallArrived) and isinstance(err, UnknownQueue):
                self._unplaced(event, err)
            else:
                log.debug("event %s rejected: %s (%s)", type(event).__name__, err, err.slug)
            return
        except Exception:
            # A bug must not stop routing (nor leave the heartbeat saying all is well).
            self.stats.errors += 1
            log.exception("engine failed on %s: event skipped", type(event).__name__)
            return
        self.stats.events += 1
        self._tell(event, commands)
        self._run(commands, now)

    def _tell(self, event: ev.Event, commands: list[Command]) -> None:
        """Hand a decision to the listeners; one that fails must not stop its actions."""
        for listener in self.listeners:
            try:
                listener(event, commands)
            except Exception:
                self.stats.listener_errors += 1
                log.exception("listener %r failed on %s", listener, type(event).__name__)

    def _unplaced(self, event: ev.CallArrived, err: CoreError) -> None:
        """A caller the configuration cannot place: straight to the dialplan's fallback."""
        self.stats.unplaced += 1
        self._unplaced_seq += 1
        log.error("caller %s cannot be placed (%s): sent to the fallback", event.call, err)
        reason = Reason(rule="unplaced", values=(("dept", event.dept), ("error", err.slug)))
        self._send_fallback(event.call, f"unplaced-{self._unplaced_seq}", reason)

    def _send_fallback(self, call: CallId, route: str, reason: Reason) -> None:
        cmd = SendToFallback(call=call, route=RouteId(route), reason=reason)
        self._journal([cmd], self.clock())
        self._spawn(cmd)

    def _resync(self, item: _Resync) -> None:
        self.stats.resyncs += 1
        for call in stranded_fallbacks(item.pbx, item.channels, self.engine.call_state):
            self.stats.refallbacks += 1
            log.warning("caller %s still waiting after its fallback: sent again", call)
            self._send_fallback(call, f"refallback-{call}", Reason(rule="resync:fallback"))
        events = resync_events(
            item.pbx, self.engine.live_calls(), item.channels, item.routes_before
        )
        log.info(
            "resync with %s: %d channel(s), %d correction(s)",
            item.pbx,
            len(item.channels),
            len(events),
        )
        now = self.clock()
        for event in events:
            self._apply(event, now)

    # -- outputs -------------------------------------------------------------------------

    def carry_out(self, commands: list[Command]) -> None:
        """Journal and send commands decided outside an event (a restore at start)."""
        self._run(commands, self.clock())

    def _journal(self, commands: list[Command], now: float) -> None:
        if self.journal is not None and commands:
            version = self.config_version()
            self.journal.append(self.journaling.entries(commands, now=now, config_version=version))

    def _run(self, commands: list[Command], now: float) -> None:
        self._journal(commands, now)
        for cmd in commands:
            self.stats.commands += 1
            if isinstance(cmd, OfferCall | OverflowCall | SendToFallback | MoveCall | VerifyRoute):
                self._spawn(cmd)

    def _spawn(self, cmd: PbxCommand | VerifyRoute) -> None:
        if not self.may_act():
            # Not (surely) the leader any more: the next leader resyncs and decides.
            self.stats.fenced += 1
            log.error("%s for call %s not sent: lease not held", type(cmd).__name__, cmd.call)
            return
        pbx = self.pbxs.get(channel_of(cmd.call).pbx)
        if pbx is None:
            log.error("no PBX link for call %s: %s not sent", cmd.call, type(cmd).__name__)
            return
        task = asyncio.create_task(self._act(pbx, cmd))
        self._actions.add(task)
        task.add_done_callback(self._actions.discard)

    async def _act(self, pbx: Pbx, cmd: PbxCommand | VerifyRoute) -> None:
        self.stats.pbx_actions += 1
        route = cmd.route if isinstance(cmd, OfferCall | OverflowCall | SendToFallback) else None
        if route is not None:
            self._routes_under_way.add(route)
        try:
            if isinstance(cmd, VerifyRoute):
                events = await pbx.verify(cmd)
            else:
                events = await pbx.execute(cmd)
        except Exception:
            # Never resent: the offer check will ask the PBX where the call stands.
            self.stats.pbx_failures += 1
            log.exception("%s for call %s failed on %s", type(cmd).__name__, cmd.call, pbx.name)
            return
        finally:
            if route is not None:
                self._routes_under_way.discard(route)
        for event in events:
            self.submit(event)

    async def heartbeat(self, every_s: float = 1.0) -> None:
        """Refresh every PBX's dialplan heartbeat while routing (the active instance only).

        The heartbeat says "calls are being routed": it stops as soon as the dispatcher's
        loop is gone, so the dialplan fails open instead of keeping callers waiting. Each
        PBX is beaten on its own, with a timeout, so a stuck PBX never ages another's.
        """
        self._heartbeating = True
        try:
            while self._accepting:
                if self._routing():
                    await asyncio.gather(*(self._beat(p, every_s) for p in self.pbxs.values()))
                else:
                    log.error("dispatcher not running: heartbeat withheld, callers fail open")
                await asyncio.sleep(every_s)
        finally:
            self._heartbeating = False

    async def beat_now(self, pbx_name: str) -> None:
        """Beat one PBX at once (after its login: a restarted PBX has no heartbeat yet)."""
        pbx = self.pbxs.get(pbx_name)
        if pbx is not None and self._heartbeating and self._routing():
            await self._beat(pbx, 1.0)

    def _routing(self) -> bool:
        running = self._run_task is not None and not self._run_task.done()
        return running and self.may_act()

    async def _beat(self, pbx: Pbx, timeout_s: float) -> None:
        try:
            await asyncio.wait_for(pbx.heartbeat(self.clock()), timeout_s * 0.9)
        except AmiConnectionLost as err:  # the link is down: its client already says so
            log.debug("heartbeat to %s not sent: %s", pbx.name, err)
        except Exception as err:  # one PBX down must not stop the others
            log.warning("heartbeat to %s failed: %s", pbx.name, err or type(err).__name__)
