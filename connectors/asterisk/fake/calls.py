"""Dial, bridge and hang up: what Dial() and the phones do, in the order Asterisk 20 tells it."""

from __future__ import annotations

from collections.abc import Callable

from connectors.asterisk.fake import events as ev
from connectors.asterisk.fake.model import Agent, Caller, Channel, ChanState, Fate, Phase
from connectors.asterisk.fake.state import H_CONTEXTS, PbxState

Unanswered = Callable[[Caller, str], None]

_WAITING_PHASES = frozenset({Phase.INBOUND, Phase.WAITING, Phase.FALLBACK})
_TALKING_PHASES = frozenset({Phase.BRIDGED, Phase.FALLBACK_TALKING})


def channel_base(target: str) -> str:
    """The endpoint part a channel is named after: ``PJSIP/0344@trunk-x`` -> ``PJSIP/trunk-x``."""
    tech, _, rest = target.partition("/")
    endpoint = rest.split("@", 1)[1] if "@" in rest else rest.split("/", 1)[0]
    return f"{tech}/{endpoint}"


class Calls:
    """The outgoing legs of callers: ringing, answer, bridge, and every way a call ends."""

    def __init__(self, st: PbxState, on_unanswered: Unanswered) -> None:
        self.st = st
        self._on_unanswered = on_unanswered

    # --- Dial ----------------------------------------------------------------------
    def dial(self, caller: Caller, target: str, timeout_s: float, *, overflow: bool) -> None:
        """``Dial(target, timeout)``: CHANUNAVAIL at once, BUSY, or ring until answer/timeout."""
        st = self.st
        caller.dial_kind = "overflow" if overflow else "dispatch"
        agent = None if overflow else self._agent(target)
        if not target or (not overflow and (agent is None or not agent.registered)):
            # No DialBegin/DialEnd at all for an unreachable endpoint (seen on Asterisk 20).
            self._on_unanswered(caller, "CHANUNAVAIL")
            return
        peer = self._callee(caller, target)
        caller.peer, caller.agent, caller.phase = peer, agent, Phase.RINGING
        dial_string = target.partition("/")[2]
        st.emit(ev.dial("DialBegin", caller.channel, peer, st.cv, ("DialString", dial_string)))
        if agent is not None and agent.channel is not None:
            st.later(caller, st.config.busy_delay_s, lambda: self.unanswered(caller, "BUSY", 17))
            return
        if agent is not None:
            agent.channel = peer
        st.set_state(peer, ChanState.RINGING)
        st.emit(ev.dial("DialState", caller.channel, peer, st.cv, ("DialStatus", "RINGING")))
        answers, delay = self._behaviour(target, agent, overflow=overflow)
        if answers and delay < timeout_s:
            st.later(caller, delay, lambda: self.answer(caller))
        st.later(caller, timeout_s, lambda: self.unanswered(caller, "NOANSWER", 16))

    def _agent(self, target: str) -> Agent | None:
        agent = self.st.agents.get(target)
        if agent is None and self.st.config.answer_unknown_endpoints:
            agent = self.st.agents[target] = Agent(endpoint=target)
        return agent

    def _callee(self, caller: Caller, target: str) -> Channel:
        ch = caller.channel
        peer = self.st.new_channel(
            channel_base(target),
            context=self.st.config.agent_context,
            exten="s",
            linkedid=ch.linkedid,
            caller_num=ch.caller_num,
        )
        peer.connected_num, peer.connected_name = ch.caller_num, ch.caller_name
        return peer

    def _behaviour(self, target: str, agent: Agent | None, *, overflow: bool) -> tuple[bool, float]:
        st, cfg = self.st, self.st.config
        if overflow:
            partner = st.partners.get(target)
            accepts = partner.accepts if partner and partner.accepts is not None else None
            delay = partner.answer_delay_s if partner else None
            if accepts is None:
                accepts = st.rng.random() < cfg.partner_accept_p
            return accepts, cfg.partner_answer_delay.draw(st.rng) if delay is None else delay
        assert agent is not None
        answers = agent.answers
        if answers is None:
            answers = st.rng.random() >= cfg.no_answer_p
        delay = agent.answer_delay_s
        return answers, cfg.ring_delay.draw(st.rng) if delay is None else delay

    def answer(self, caller: Caller) -> None:
        """The phone answers: DialEnd ANSWER, the U() gosub's UserEvent, then the bridge."""
        st, ch, peer = self.st, caller.channel, caller.peer
        assert peer is not None
        caller.cancel_timers()
        st.set_state(peer, ChanState.UP)
        st.emit(ev.dial("DialEnd", ch, peer, st.cv, ("DialStatus", "ANSWER")))
        st.set_var(ch, "DIALSTATUS", "ANSWER")
        overflow = caller.dial_kind == "overflow"
        context = "acd-overflow-answered" if overflow else "acd-answered"
        body = [("CallerUniqueid", ch.uniqueid), ("RouteId", ch.vars.get("ACD_ROUTE_ID", ""))]
        name = "ACDOverflowAnswered" if overflow else "ACDAnswered"
        st.run_user_event(peer, context, 1, name, body)
        st.step(peer, context, 2, "Return")
        peer.goto(st.config.agent_context)
        bridge = st.ids.bridge_id()
        st.emit(ev.bridge_event("BridgeCreate", bridge, 0, None, st.cv))
        for count, member in enumerate((peer, ch), start=1):
            member.bridge = bridge
            st.emit(ev.bridge_event("BridgeEnter", bridge, count, member, st.cv))
        caller.phase = Phase.BRIDGED
        caller.fate = Fate.OVERFLOWED if overflow else Fate.ANSWERED
        self.stop_patience(caller)
        talk = caller.agent.talk_s if caller.agent and caller.agent.talk_s is not None else None
        talk = talk if talk is not None else caller.talk_s
        talk_s = st.config.talk.draw(st.rng) if talk is None else talk
        by_agent = st.rng.random() < st.config.agent_hangs_up_p
        st.later(caller, talk_s, lambda: self.talk_over(caller, by_agent=by_agent))

    def unanswered(self, caller: Caller, status: str, peer_cause: int) -> None:
        """Ring timeout or busy: DialEnd, the phone's leg hangs up, the dialplan goes on."""
        st, peer = self.st, caller.peer
        caller.cancel_timers()
        if peer is not None:
            st.emit(ev.dial("DialEnd", caller.channel, peer, st.cv, ("DialStatus", status)))
            st.destroy(peer, peer_cause)
        caller.peer = caller.agent = None
        self._on_unanswered(caller, status)

    @staticmethod
    def stop_patience(caller: Caller) -> None:
        """The caller is served: they no longer hang up out of impatience."""
        if caller.patience_timer is not None:
            caller.patience_timer.cancel()
            caller.patience_timer = None

    # --- leaving what the channel does (redirect or hangup) -------------------------
    def interrupt(
        self, caller: Caller, *, peer_first: bool = False, by_redirect: bool = False
    ) -> Channel | None:
        """Stop the current application; returns a bridged peer, still to be hung up.

        ``by_redirect``: a Redirect cut it (counted when it cuts a ringing dispatch Dial;
        a caller hanging up during the ring is not a second redirect).
        """
        st, ch, peer = self.st, caller.channel, caller.peer
        caller.cancel_timers()
        if caller.phase is Phase.WAITING and ch.app == "MusicOnHold":
            st.noise(ev.channel_event("MusicOnHoldStop", ch, st.cv))
        elif caller.phase is Phase.FALLBACK:
            queue, hold = f"acd-fallback-{caller.dept}", st.epoch() - int(ch.created)
            st.emit(ev.queue_abandon(ch, st.cv, queue, hold))
            st.emit(ev.queue_event("QueueCallerLeave", ch, st.cv, queue, 1, self._queued(caller)))
        elif caller.phase is Phase.RINGING and peer is not None:
            if by_redirect and caller.dial_kind == "dispatch":
                caller.interrupted_routes += 1
            st.emit(ev.dial("DialEnd", ch, peer, st.cv, ("DialStatus", "CANCEL")))
            st.set_var(ch, "DIALSTATUS", "CANCEL")
            st.destroy(peer, 16)
            peer = None
        elif caller.phase is Phase.BRIDGED and peer is not None:
            bridge = ch.bridge
            for left, member in enumerate((peer, ch) if peer_first else (ch, peer)):
                member.bridge = ""
                st.emit(ev.bridge_event("BridgeLeave", bridge, 1 - left, member, st.cv))
            st.emit(ev.bridge_event("BridgeDestroy", bridge, 0, None, st.cv))
            caller.peer = caller.agent = None
            return peer
        caller.peer = caller.agent = None
        return None

    def _queued(self, caller: Caller) -> int:
        return sum(
            1
            for other in self.st.callers.values()
            if other is not caller and other.phase is Phase.FALLBACK and other.dept == caller.dept
        )

    # --- the end of a caller --------------------------------------------------------
    def far_end_hangup(self, caller: Caller) -> None:
        """The caller hangs up (BYE); abandonment shows as Hangup Cause 0 while waiting."""
        if caller.phase in (Phase.HANGING_UP, Phase.GONE):
            return
        st, ch = self.st, caller.channel
        talking = caller.phase in _TALKING_PHASES
        st.event("HangupRequest", ch, [("Cause", "16")] if talking else [])
        final = 0 if caller.phase in _WAITING_PHASES else 16
        peer = self.interrupt(caller)
        st.event("SoftHangupRequest", ch, [("Cause", "16")])
        self._finish(caller, final, peer)

    def api_hangup(self, caller: Caller, cause: int) -> None:
        """AMI ``Hangup`` of the caller's channel."""
        if caller.phase in (Phase.HANGING_UP, Phase.GONE):
            return
        self.st.event("SoftHangupRequest", caller.channel, [("Cause", str(cause))])
        peer = self.interrupt(caller)
        self._finish(caller, cause, peer)

    def talk_over(self, caller: Caller, *, by_agent: bool) -> None:
        """The end of a conversation: the caller or the ARM hangs up, Dial takes the other."""
        peer = caller.peer
        if not by_agent or peer is None:
            self.far_end_hangup(caller)
            return
        st = self.st
        st.event("HangupRequest", peer, [("Cause", "16")])
        self.interrupt(caller, peer_first=True)
        st.event("SoftHangupRequest", caller.channel, [("Cause", "16")])
        st.destroy(peer, 16)
        self._finish(caller, 16, None)

    def peer_hangup(self, caller: Caller) -> None:
        """The phone's leg is hung up (AMI Hangup): before answer the Dial fails, after it ends."""
        if caller.phase is Phase.BRIDGED:
            self.talk_over(caller, by_agent=True)
        elif caller.phase is Phase.RINGING:
            self.unanswered(caller, "NOANSWER", 16)

    def _finish(self, caller: Caller, cause: int, peer: Channel | None) -> None:
        """The channel is dying: the h extension and the Hangup come after a short linger."""
        ch = caller.channel
        caller.cancel_timers()
        self.stop_patience(caller)
        if caller.fate is Fate.WAITING:
            caller.fate = Fate.ABANDONED
        caller.phase = Phase.HANGING_UP
        ch.hanging_up = True
        self.st.clock.later(self.st.config.hangup_linger_s, lambda: self._gone(caller, cause, peer))

    def _gone(self, caller: Caller, cause: int, peer: Channel | None) -> None:
        st, ch = self.st, caller.channel
        if caller.phase is Phase.GONE:
            return
        if ch.context in H_CONTEXTS:
            body = [
                ("State", ch.vars.get("ACD_STATE", "")),
                ("RouteId", ch.vars.get("ACD_ROUTE_ID", "")),
                ("DialStatus", ch.vars.get("DIALSTATUS", "")),
            ]
            st.run_user_event(ch, ch.context, 1, "ACDHangup", body, exten="h")
        st.destroy(ch, cause)
        if peer is not None:
            st.destroy(peer, 16)
        caller.phase = Phase.GONE
