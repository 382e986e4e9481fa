"""The fake Asterisk: an asyncio AMI server on loopback around the fake PBX, with test controls."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import deque
from collections.abc import Iterable

from acd.ami.codec import encode_frame
from acd.ami.frames import Frame
from connectors.asterisk.fake import events as ev
from connectors.asterisk.fake.clock import LoopScheduler, Timer
from connectors.asterisk.fake.config import FakeConfig
from connectors.asterisk.fake.faults import CutPoint, LinkCut
from connectors.asterisk.fake.model import Agent, Caller
from connectors.asterisk.fake.pbx import FakePbx, FakeStats
from connectors.asterisk.fake.session import ActionRecord, AmiSession
from connectors.asterisk.fake.traffic import Arrival, DeptStream, TrafficSpec


class FakeAsterisk:
    """Real TCP AMI sessions, the dialplan contract simulated, everything controllable.

    ``await FakeAsterisk(config).start()`` listens (port 0 picks a free port: read
    ``.port``); the PBX runs on the loop's clock, ``config.scale`` speeds it up.
    """

    def __init__(
        self,
        config: FakeConfig | None = None,
        *,
        traffic: TrafficSpec | None = None,
        history: int = 20_000,
    ) -> None:
        self.config = config or FakeConfig()
        self.traffic = traffic
        self.host = self.config.host
        self.port = self.config.port
        self.events_paused = False
        self.responses_paused = False
        self.action_log: list[ActionRecord] = []
        self.history: deque[ev.Fields] = deque(maxlen=history)
        self.missed_arrivals = 0
        self._pbx: FakePbx | None = None
        self._clock: LoopScheduler | None = None
        self._server: asyncio.Server | None = None
        self._sessions: dict[int, AmiSession] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._sids = itertools.count(1)
        self._traffic_timers: dict[str, Timer] = {}
        self._cuts: list[LinkCut] = []
        self._up = False

    # --- lifecycle ------------------------------------------------------------------
    async def start(self) -> FakeAsterisk:
        """Create the PBX on the running loop and listen."""
        if self._pbx is None:
            self._clock = LoopScheduler(scale=self.config.scale, epoch0=self.config.epoch0)
            self._pbx = FakePbx(self.config, self._clock, self.broadcast)
        await self._listen()
        return self

    async def stop(self) -> None:
        """Stop traffic, cut every session, stop listening, forget the calls."""
        self.stop_traffic()
        await self._close_listener()
        for session in list(self._sessions.values()):
            session.abort()
        await self._reap()
        if self._pbx is not None:
            self._pbx.wipe()

    async def restart(self, downtime_s: float = 0.0) -> None:
        """``core restart now``: Shutdown to every session, all calls gone, then a fresh boot."""
        pbx = self.pbx
        self.broadcast(ev.shutdown(restart=True, clean=not pbx.st.channels))
        await self._close_listener()
        for session in list(self._sessions.values()):
            session.close()
        await self._reap()
        pbx.wipe()
        await asyncio.sleep(downtime_s * self.config.scale)
        await self._listen()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self._up = True

    async def _close_listener(self) -> None:
        self._up = False
        if self._server is not None:
            self._server.close()
            self._server = None

    async def _reap(self) -> None:
        """Wait for the session tasks; a peer that never reads its last bytes is cut."""
        tasks = list(self._tasks)
        if tasks:
            await asyncio.wait(tasks, timeout=2.0)
        for session in list(self._sessions.values()):
            session.abort()
        tasks = list(self._tasks)
        if tasks:
            await asyncio.wait(tasks, timeout=2.0)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sid = next(self._sids)
        session = AmiSession(self, sid, writer)
        self._sessions[sid] = session
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await session.run(reader)
        finally:
            self._sessions.pop(sid, None)
            if task is not None:
                self._tasks.discard(task)
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    # --- what sessions need ---------------------------------------------------------
    @property
    def pbx(self) -> FakePbx:
        """The simulated PBX (after ``start``)."""
        if self._pbx is None:
            raise RuntimeError("the fake Asterisk is not started")
        return self._pbx

    @property
    def clock(self) -> LoopScheduler:
        """The PBX's clock (after ``start``)."""
        if self._clock is None:
            raise RuntimeError("the fake Asterisk is not started")
        return self._clock

    def record(self, record: ActionRecord) -> None:
        """Log an action a session received."""
        self.action_log.append(record)

    def loop_time(self) -> float:
        """The loop clock."""
        return self.clock.loop_time()

    def uptime(self) -> int:
        """Seconds since the last (re)start."""
        return int(self.clock.epoch() - self.pbx.st.booted_at)

    def broadcast(self, fields: ev.Fields) -> None:
        """Encode an event once and offer it to every session."""
        self.history.append(fields)
        data = encode_frame(fields)
        name, privilege = fields[0][1], fields[1][1] if len(fields) > 1 else ""
        for session in list(self._sessions.values()):
            session.deliver(name, privilege, data)

    # --- test controls: calls -------------------------------------------------------
    def epoch(self) -> int:
        """The PBX's ``${EPOCH}`` now (what a heartbeat must carry)."""
        return self.pbx.st.epoch()

    def add_caller(
        self,
        dept: str,
        *,
        priority: str | None = None,
        caller_num: str = "0600000000",
        caller_name: str = "",
        patience_s: float | None = None,
        talk_s: float | None = None,
    ) -> str:
        """A 15 call arrives for ``dept``; returns its channel's Uniqueid."""
        return self.pbx.add_caller(
            dept,
            priority=priority,
            caller_num=caller_num,
            caller_name=caller_name,
            patience_s=patience_s,
            talk_s=talk_s,
        )

    def set_agent(
        self,
        endpoint: str,
        *,
        registered: bool = True,
        answer_delay_s: float | None = None,
        answers: bool | None = True,
        talk_s: float | None = None,
    ) -> Agent:
        """The ARM phone behind ``endpoint``; ``answers=None`` uses ``config.no_answer_p``."""
        return self.pbx.set_agent(
            endpoint,
            registered=registered,
            answers=answers,
            answer_delay_s=answer_delay_s,
            talk_s=talk_s,
        )

    def set_partner(
        self, target: str, *, accepts: bool | None = True, answer_delay_s: float | None = None
    ) -> None:
        """How the partner behind the overflow dial string ``target`` answers."""
        self.pbx.set_partner(target, accepts=accepts, delay_s=answer_delay_s)

    def hangup_caller(self, uniqueid: str) -> bool:
        """The caller hangs up now; False if the call is already over."""
        return self.pbx.hangup_caller(uniqueid)

    def caller(self, uniqueid: str) -> Caller | None:
        """What the fake knows of one caller."""
        return self.pbx.caller(uniqueid)

    def set_global(self, name: str, value: str) -> None:
        """Set a global variable without AMI (no VarSet is sent)."""
        self.pbx.st.globals[name] = value

    def global_var(self, name: str) -> str:
        """A global variable's value ("" if unset)."""
        return self.pbx.st.globals.get(name, "")

    def stats(self) -> FakeStats:
        """Callers by fate and Redirects per caller."""
        return self.pbx.stats()

    def actions(self, name: str | None = None) -> list[ActionRecord]:
        """The logged actions, all or of one name (any case)."""
        if name is None:
            return list(self.action_log)
        return [r for r in self.action_log if r.name.lower() == name.lower()]

    # --- test controls: the AMI link ------------------------------------------------
    @property
    def session_count(self) -> int:
        """Open AMI sessions."""
        return len(self._sessions)

    def drop_sessions(self) -> None:
        """Cut every AMI connection now (the PBX and its calls go on)."""
        for session in list(self._sessions.values()):
            session.abort()

    async def cut_link(self, down_s: float) -> None:
        """Cut every AMI session and refuse new ones for ``down_s`` loop seconds.

        The network between middleware and PBX fails, not the PBX: calls go on arriving,
        waiting and ringing, and their events are lost to the middleware meanwhile.
        """
        server, self._server = self._server, None
        if server is not None:
            server.close()
        self.drop_sessions()
        await asyncio.sleep(down_s)
        await self._listen()

    def inject_raw(self, data: bytes, *, logged_in_only: bool = True) -> None:
        """Write raw bytes (garbage, a partial frame) to the sessions."""
        for session in list(self._sessions.values()):
            if session.authenticated or not logged_in_only:
                session.write(data, event=True)

    def cut_link_at(
        self,
        action: str,
        point: CutPoint | str,
        *,
        variable: str | None = None,
        channel: str | None = None,
    ) -> LinkCut:
        """Arm a one-shot cut of the session that reads the next matching action.

        ``CutPoint.BEFORE_APPLY``: the action is lost; ``BEFORE_RESPONSE``: it takes
        effect and only its answer is lost. ``variable`` and ``channel`` narrow the match.
        """
        cut = LinkCut(action=action, point=CutPoint(point), variable=variable, channel=channel)
        self._cuts.append(cut)
        return cut

    def take_cut(self, name: str, frame: Frame) -> CutPoint | None:
        """Session hook: the point of the first armed cut this action matches (it fires)."""
        for cut in self._cuts:
            if cut.matches(name, frame):
                cut.fired = True
                self._cuts.remove(cut)
                return cut.point
        return None

    def pause_event_stream(self, *, responses: bool = False) -> None:
        """Hold events (and responses too if asked) until ``resume_event_stream``."""
        self.events_paused = True
        self.responses_paused = responses

    def resume_event_stream(self) -> None:
        """Write what was held, in order, and go on."""
        self.events_paused = self.responses_paused = False
        for session in list(self._sessions.values()):
            session.flush_held()

    # --- traffic --------------------------------------------------------------------
    def start_traffic(self, spec: TrafficSpec | None = None) -> None:
        """Poisson callers per department from ``spec`` (or ``self.traffic``)."""
        self.stop_traffic()
        if spec is not None:
            self.traffic = spec
        if self.traffic is None:
            raise ValueError("no traffic spec")
        for dept in sorted(self.traffic.rates):
            stream = DeptStream(self.traffic, dept)
            self._next_arrival(stream, 0.0)

    def stop_traffic(self) -> None:
        """No more generated callers (those in the PBX carry on)."""
        for timer in self._traffic_timers.values():
            timer.cancel()
        self._traffic_timers.clear()

    def _next_arrival(self, stream: DeptStream, now_s: float) -> None:
        arrival = next(stream, None)
        if arrival is None:
            return
        timer = self.clock.later(arrival.at_s - now_s, lambda: self._arrive(stream, arrival))
        self._traffic_timers[stream.dept] = timer

    def _arrive(self, stream: DeptStream, arrival: Arrival) -> None:
        if self._up:
            self.pbx.add_caller(
                arrival.dept,
                priority=arrival.priority,
                caller_num=arrival.caller_num,
                patience_s=arrival.patience_s,
                talk_s=arrival.talk_s,
            )
        else:
            self.missed_arrivals += 1
        self._next_arrival(stream, arrival.at_s)

    def register_agents(self, endpoints: Iterable[str]) -> None:
        """Registered phones with the config's default behaviour (ring delay, no-answer odds)."""
        for endpoint in endpoints:
            self.pbx.set_agent(endpoint, registered=True)
