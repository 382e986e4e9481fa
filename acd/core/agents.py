"""Agents' moves: login, logout, pauses, phone state, and release after a failed route."""

from __future__ import annotations

from acd.core import events as ev
from acd.core.board import Out
from acd.core.commands import Reason
from acd.core.entraide import Entraide
from acd.core.errors import IllegalTransition, UnknownAgent
from acd.core.ids import AgentId
from acd.core.model import Agent
from acd.core.states import AgentState
from acd.core.timers import Due

# Reasons that carry no value are built once (messages are immutable).
_NO_ANSWER = Reason(rule="agent:ring-no-answer")
_LOGIN = Reason(rule="agent:login")
_LOGOUT = Reason(rule="agent:logout")
_UNPAUSE = Reason(rule="agent:unpause")


class AgentFlow(Entraide):
    """Handlers of the agent events; pending pause and logout wait for the call's end."""

    def _agent(self, aid: AgentId) -> Agent:
        """The agent, or raise unknown-agent."""
        agent = self.agents.get(aid)
        if agent is None:
            raise UnknownAgent(f"unknown agent {aid!r}")
        return agent

    def release_after_failure(
        self, agent: Agent, cause: ev.RouteFailure, now: float, out: Out
    ) -> None:
        """Free the agent a route failed to reach; pause or hold back as the cause says."""
        if cause is ev.RouteFailure.NO_ANSWER and self.spec.no_answer_pause:
            agent.call = None
            if agent.pending_logout or agent.pending_pause is not None:
                # A pause or logout the ARM asked for wins over the automatic pause.
                self.make_available(agent, now, _NO_ANSWER, out)
                return
            agent.pause_reason = "no-answer"
            self.agent_to(agent, AgentState.PAUSED, now, _NO_ANSWER, out)
            if self.spec.no_answer_pause_s is not None:
                at = now + self.spec.no_answer_pause_s
                self.deadlines.add(at, Due.UNPAUSE, agent.id, agent.token)
            return
        # Busy, unreachable, refused or unanswered: the phone is held back before it rings
        # again, so the caller goes to someone else rather than back to the same phone.
        agent.backoff = True
        agent.backoff_until = now + self.spec.busy_retry_s
        self.deadlines.add(agent.backoff_until, Due.BACKOFF_END, agent.id, 0)
        self.make_available(agent, now, Reason(rule=f"route-failed:{cause}"), out)

    def _logged_in(self, e: ev.AgentLoggedIn, now: float, out: Out) -> None:
        agent = self._agent(e.agent)
        if agent.state is not AgentState.LOGGED_OUT:
            agent.pending_logout = False
            return
        agent.idle_since = now
        self.make_available(agent, now, _LOGIN, out)

    def _logged_out(self, e: ev.AgentLoggedOut, now: float, out: Out) -> None:
        agent = self._agent(e.agent)
        if agent.state is AgentState.LOGGED_OUT:
            return
        if agent.state in (AgentState.OFFERED, AgentState.ON_CALL):
            agent.pending_logout = True
            return
        self.agent_to(agent, AgentState.LOGGED_OUT, now, _LOGOUT, out)
        agent.pending_pause = None
        self.after_logout(agent, now, out)

    def _paused(self, e: ev.AgentPaused, now: float, out: Out) -> None:
        agent = self._agent(e.agent)
        state = agent.state
        reason = Reason(rule="agent:pause", values=(("pause_reason", e.reason),))
        if state in (AgentState.OFFERED, AgentState.ON_CALL):
            agent.pending_pause = e.reason
        elif state is AgentState.PAUSED:
            agent.pause_reason = e.reason
            agent.token += 1  # a chosen pause cancels the no-answer pause's automatic end
        else:
            check_logged_in(agent)
            agent.pause_reason = e.reason
            self.agent_to(agent, AgentState.PAUSED, now, reason, out)

    def _unpaused(self, e: ev.AgentUnpaused, now: float, out: Out) -> None:
        agent = self._agent(e.agent)
        agent.pending_pause = None
        if agent.state is AgentState.PAUSED:
            agent.idle_since = now
            self.make_available(agent, now, _UNPAUSE, out)

    def _device_changed(self, e: ev.AgentDeviceChanged, now: float, out: Out) -> None:
        agent = self._agent(e.agent)
        if agent.device_busy == e.busy:
            return
        agent.device_busy = e.busy
        self.routability_changed(agent)
        if agent.routable:
            self.dispatch_agent(agent, now, out)


def check_logged_in(agent: Agent) -> None:
    """Raise unless the agent is logged in (a logged-out agent cannot pause)."""
    if agent.state is AgentState.LOGGED_OUT:
        raise IllegalTransition(f"agent {agent.id}: cannot pause while logged out")
