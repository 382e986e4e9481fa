"""The fake PBX behind the AMI: the actions' effects, the test controls, and the tallies."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from connectors.asterisk.fake import events as ev
from connectors.asterisk.fake.clock import Scheduler
from connectors.asterisk.fake.config import FakeConfig
from connectors.asterisk.fake.dialplan import Dialplan
from connectors.asterisk.fake.model import Agent, Caller, Channel, Fate, Partner, Phase
from connectors.asterisk.fake.state import Emit, PbxState

_GLOBAL_FN = re.compile(r"GLOBAL\((?P<name>[^)]*)\)", re.IGNORECASE)
NO_SUCH_CHANNEL = "No such channel"


@dataclass(frozen=True, slots=True, kw_only=True)
class FakeStats:
    """Callers by fate, and the Redirects each caller took (what HA checks count)."""

    callers: int
    fates: Mapping[str, int]
    active_channels: int
    redirects: Mapping[str, int]
    """Successful Redirects to acd-dispatch, per caller Uniqueid."""
    dispatch_routes: Mapping[str, tuple[str, ...]]
    """The ACD_ROUTE_ID each of those Redirects found, per caller Uniqueid, in order."""
    interrupted_routes: int
    """Redirects that cut a ringing dispatch Dial (a second redirect while one was live)."""

    def count(self, fate: Fate | str) -> int:
        """How many callers have this fate."""
        return self.fates.get(str(fate), 0)

    @property
    def answered(self) -> int:
        """Callers an ARM answered."""
        return self.count(Fate.ANSWERED)

    @property
    def abandoned(self) -> int:
        """Callers who hung up before any answer (outside the fallback)."""
        return self.count(Fate.ABANDONED)

    @property
    def fallback(self) -> int:
        """Callers the dialplan's static fallback took."""
        return self.count(Fate.FALLBACK)

    @property
    def overflowed(self) -> int:
        """Callers a partner SAMU answered."""
        return self.count(Fate.OVERFLOWED)

    @property
    def waiting(self) -> int:
        """Callers still waiting or ringing."""
        return self.count(Fate.WAITING)

    def repeated_routes(self) -> dict[str, list[str]]:
        """Route ids dispatched more than once for the same caller (a replayed Redirect)."""
        repeated: dict[str, list[str]] = {}
        for uniqueid, routes in self.dispatch_routes.items():
            twice = sorted(r for r, n in Counter(routes).items() if n > 1)
            if twice:
                repeated[uniqueid] = twice
        return repeated


class FakePbx:
    """One fake Asterisk's calls: the dialplan contract, driven by AMI actions and tests."""

    def __init__(self, config: FakeConfig, clock: Scheduler, emit: Emit) -> None:
        self.config = config
        self.st = PbxState(config, clock, emit)
        self.plan = Dialplan(self.st)

    # --- AMI: variables -------------------------------------------------------------
    def setvar(self, channel: str, variable: str, value: str) -> str | None:
        """Setvar; a global without a channel (broadcast as VarSet). An error text, or None."""
        st = self.st
        match = _GLOBAL_FN.fullmatch(variable)
        ch = st.find(channel) if channel else None
        if channel and ch is None:
            return NO_SUCH_CHANNEL
        if ch is None or match is not None:
            name = match.group("name") if match is not None else variable
            st.globals[name] = value
            st.emit(ev.varset(None, st.cv, name, value))
            return None
        ch.vars[variable] = value
        st.emit(ev.varset(ch, st.cv, variable, value))
        return None

    def getvar(self, channel: str, variable: str) -> tuple[str | None, str]:
        """Getvar: (error text or None, value); GLOBAL(), EPOCH, UNIQUEID and CHANNEL work."""
        st = self.st
        ch = st.find(channel) if channel else None
        if channel and ch is None:
            return NO_SUCH_CHANNEL, ""
        match = _GLOBAL_FN.fullmatch(variable)
        if match is not None:
            return None, st.globals.get(match.group("name"), "")
        if variable == "EPOCH":
            return None, str(st.epoch())
        if ch is None:
            return None, st.globals.get(variable, "")
        builtins = {"UNIQUEID": ch.uniqueid, "CHANNEL": ch.name}
        if variable in builtins:
            return None, builtins[variable]
        return None, ch.vars.get(variable, st.globals.get(variable, ""))

    # --- AMI: Redirect and Hangup ---------------------------------------------------
    def redirect(self, channel: str, context: str, exten: str) -> tuple[bool, str]:
        """Redirect: the answer now, the dialplan jump right after (``Redirect successful``)."""
        st = self.st
        ch = st.find(channel)
        if ch is None:
            return False, f"Channel does not exist: {channel}"
        if ch.hanging_up:
            return False, "Redirect failed, channel not up."
        caller = st.callers.get(ch.uniqueid)
        if caller is not None:
            target = context or ch.context
            caller.redirects[target] += 1
            if target == "acd-dispatch":
                caller.dispatch_routes.append(ch.vars.get("ACD_ROUTE_ID", ""))
            st.clock.later(0.0, lambda: self.plan.goto(caller, target, exten or "s"))
        return True, "Redirect successful"

    def hangup(self, channel: str, cause: int) -> bool:
        """Hangup of a caller or of a phone's leg; False if there is no such channel."""
        st = self.st
        ch = st.find(channel)
        if ch is None:
            return False
        caller = st.callers.get(ch.uniqueid)
        if caller is not None:
            self.plan.calls.api_hangup(caller, cause or 16)
            return True
        for other in st.callers.values():
            if other.peer is ch:
                self.plan.calls.peer_hangup(other)
                return True
        st.event("SoftHangupRequest", ch, [("Cause", str(cause or 16))])
        st.destroy(ch, cause or 16)
        return True

    def channels(self) -> list[Channel]:
        """Every live channel, oldest first (what CoreShowChannels lists)."""
        return sorted(self.st.channels.values(), key=lambda c: (c.created, c.uniqueid))

    # --- test controls --------------------------------------------------------------
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
        """A 15 call for ``dept`` enters the DID; returns the caller channel's Uniqueid."""
        st = self.st
        ch = st.new_channel(
            st.config.trunk,
            context="acd-did",
            exten=f"150{dept}",
            caller_num=caller_num,
            caller_name=caller_name,
        )
        caller = Caller(channel=ch, dept=dept, patience_s=patience_s, talk_s=talk_s)
        st.callers[ch.uniqueid] = caller
        if patience_s is not None:
            caller.patience_timer = st.clock.later(patience_s, lambda: self.plan.abandon(caller))
        self.plan.arrive(caller, priority)
        return ch.uniqueid

    def set_agent(
        self,
        endpoint: str,
        *,
        registered: bool = True,
        answer_delay_s: float | None = None,
        answers: bool | None = None,
        talk_s: float | None = None,
    ) -> Agent:
        """Create or redefine the phone behind ``endpoint``; ``None`` keeps the config's law."""
        agent = self.st.agents.setdefault(endpoint, Agent(endpoint=endpoint))
        agent.registered, agent.answers = registered, answers
        agent.answer_delay_s, agent.talk_s = answer_delay_s, talk_s
        return agent

    def set_partner(self, target: str, *, accepts: bool | None, delay_s: float | None) -> None:
        """How the partner behind the dial string ``target`` answers an overflow."""
        self.st.partners[target] = Partner(target=target, accepts=accepts, answer_delay_s=delay_s)

    def hangup_caller(self, uniqueid: str) -> bool:
        """The caller hangs up now (a BYE from their side); False if already gone."""
        caller = self.st.callers.get(uniqueid)
        if caller is None or caller.phase in (Phase.HANGING_UP, Phase.GONE):
            return False
        self.plan.calls.far_end_hangup(caller)
        return True

    def caller(self, uniqueid: str) -> Caller | None:
        """What the fake knows of a caller, live or ended."""
        return self.st.callers.get(uniqueid)

    def wipe(self) -> None:
        """A restart: every channel vanishes without events, globals back to extensions.conf."""
        st = self.st
        for caller in st.callers.values():
            caller.cancel_timers()
            self.plan.calls.stop_patience(caller)
            if caller.phase is not Phase.GONE:
                caller.phase = Phase.GONE
                if caller.fate is Fate.WAITING:
                    caller.fate = Fate.LOST
        st.channels.clear()
        for agent in st.agents.values():
            agent.channel = None
        st.globals = dict(self.config.globals)
        st.booted_at = st.clock.epoch()

    def stats(self) -> FakeStats:
        """The tallies so far."""
        callers = self.st.callers.values()
        fates = Counter(str(c.fate) for c in callers)
        return FakeStats(
            callers=len(self.st.callers),
            fates=dict(fates),
            active_channels=len(self.st.channels),
            redirects={c.uniqueid: c.redirects["acd-dispatch"] for c in callers},
            dispatch_routes={c.uniqueid: tuple(c.dispatch_routes) for c in callers},
            interrupted_routes=sum(c.interrupted_routes for c in callers),
        )
