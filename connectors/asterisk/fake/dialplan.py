"""The contract of configs/asterisk/extensions.conf, context by context, as the fake runs it."""

from __future__ import annotations

from connectors.asterisk.fake import events as ev
from connectors.asterisk.fake.calls import Calls
from connectors.asterisk.fake.model import Caller, ChanState, Fate, Phase
from connectors.asterisk.fake.state import PbxState

CONTRACT_CONTEXTS = frozenset(
    {"acd-did", "acd-inbound", "acd-wait", "acd-fallback", "acd-dispatch", "acd-overflow"}
)


def did_of(dept: str) -> str:
    """The DID of a department in the contract's ``[acd-did]`` (``75`` -> ``15075``)."""
    return f"150{dept}"


def _exceeds(now: int, since: str, limit: str) -> bool:
    """``$[${EPOCH} - since > limit]``: a non-number is a syntax error, which is 0 (false)."""
    try:
        return now - float(since) > float(limit)
    except ValueError:
        return False


class Dialplan:
    """Runs a caller's channel through acd-did, acd-inbound, acd-wait, fallback and dispatch."""

    def __init__(self, st: PbxState) -> None:
        self.st = st
        self.calls = Calls(st, self._unanswered)

    # --- [acd-did] and [acd-inbound] -------------------------------------------------
    def arrive(self, caller: Caller, priority: str | None) -> None:
        """A 15 call reaches the DID: Newstate Ring, Set(ACD_DEPT), then acd-inbound."""
        st, ch = self.st, caller.channel
        if ch.state is ChanState.DOWN:
            st.set_state(ch, ChanState.RING)
        did = did_of(caller.dept)
        st.step(ch, "acd-did", 1, "Set", f"ACD_DEPT={caller.dept}", exten=did)
        st.set_var(ch, "ACD_DEPT", caller.dept)
        if priority is not None:
            st.set_var(ch, "ACD_PRIO", priority)
        st.step(ch, "acd-did", 2, "Goto", "acd-inbound,s,1", exten=did)
        self.inbound(caller)

    def inbound(self, caller: Caller) -> None:
        """Set the contract's variables, answer, then ACDWaiting once media is up (~0.5 s)."""
        st, ch = self.st, caller.channel
        caller.phase = Phase.INBOUND
        st.step(ch, "acd-inbound", 1, "NoOp", f"15 call for SAMU {caller.dept}")
        st.step(ch, "acd-inbound", 2, "Set", "ACD_PRIO=...")
        st.set_var(ch, "ACD_PRIO", ch.vars.get("ACD_PRIO") or "normal")
        st.step(ch, "acd-inbound", 3, "Set", "ACD_ENQ_TS=${EPOCH}")
        st.set_var(ch, "ACD_ENQ_TS", str(st.epoch()))
        st.step(ch, "acd-inbound", 4, "Answer")
        if ch.state is not ChanState.UP:
            st.set_state(ch, ChanState.UP)
        st.later(caller, st.config.answer_media_s, lambda: self._welcome(caller))

    def _welcome(self, caller: Caller) -> None:
        st = self.st
        st.step(caller.channel, "acd-inbound", 5, "Playback", "acd15/accueil")
        if st.config.welcome_s > 0:
            st.later(caller, st.config.welcome_s, lambda: self._announce(caller))
        else:
            self._announce(caller)

    def _announce(self, caller: Caller) -> None:
        st, ch = self.st, caller.channel
        # Waiting only from here, as in the contract: a resync during the welcome message
        # must not adopt a caller who may still hang up before ever waiting.
        st.step(ch, "acd-inbound", 6, "Set", "ACD_STATE=waiting")
        st.set_var(ch, "ACD_STATE", "waiting")
        body = [
            ("Dept", ch.vars.get("ACD_DEPT", "")),
            ("Queue", ch.vars.get("ACD_QUEUE", "")),
            ("Prio", ch.vars.get("ACD_PRIO", "")),
            ("EnqTs", ch.vars.get("ACD_ENQ_TS", "")),
            ("CallerNum", ch.caller_num),
        ]
        st.run_user_event(ch, "acd-inbound", 7, "ACDWaiting", body)
        st.step(ch, "acd-inbound", 8, "Goto", "acd-wait,s,1")
        self.wait_turn(caller)

    # --- [acd-wait] -----------------------------------------------------------------
    def wait_turn(self, caller: Caller) -> None:
        """One turn of the loop: heartbeat missing or stale, or the ceiling -> fallback."""
        st, ch, now = self.st, caller.channel, self.st.epoch()
        caller.phase = Phase.WAITING
        beat = st.globals.get("ACD_HEARTBEAT", "")
        st.step(ch, "acd-wait", 1, "GotoIf", f'$["{beat}" = ""]?nobeat')
        if beat == "":
            self._fail_open(caller, "heartbeat-missing", 6)
            return
        st.step(ch, "acd-wait", 2, "GotoIf", "$[${EPOCH} - ${GLOBAL(ACD_HEARTBEAT)} > ...]?stale")
        if _exceeds(now, beat, st.globals.get("ACD_HEARTBEAT_MAX", "")):
            self._fail_open(caller, "heartbeat-stale", 8)
            return
        st.step(ch, "acd-wait", 3, "GotoIf", "$[${EPOCH} - ${ACD_ENQ_TS} > ...]?ceiling")
        if _exceeds(now, ch.vars.get("ACD_ENQ_TS", ""), st.globals.get("ACD_MAX_WAIT", "")):
            self._fail_open(caller, "max-wait", 10)
            return
        st.step(ch, "acd-wait", 4, "MusicOnHold", "default,2")
        st.noise(ev.channel_event("MusicOnHoldStart", ch, st.cv, [("Class", "default")]))
        st.later(caller, st.config.loop_turn_s, lambda: self._turn_over(caller))

    def _turn_over(self, caller: Caller) -> None:
        st, ch = self.st, caller.channel
        st.noise(ev.channel_event("MusicOnHoldStop", ch, st.cv))
        st.step(ch, "acd-wait", 5, "Goto", "s,1")
        self.wait_turn(caller)

    def _fail_open(self, caller: Caller, reason: str, priority: int) -> None:
        st, ch = self.st, caller.channel
        st.step(ch, "acd-wait", priority, "Set", f"ACD_FALLBACK_REASON={reason}")
        st.set_var(ch, "ACD_FALLBACK_REASON", reason)
        st.step(ch, "acd-wait", priority + 1, "Goto", "acd-fallback,s,1")
        self.fallback(caller)

    # --- [acd-fallback] -------------------------------------------------------------
    def fallback(self, caller: Caller) -> None:
        """ACD_STATE=fallback, ACDFallback, then the department's fallback queue answers."""
        st, ch = self.st, caller.channel
        caller.cancel_timers()
        st.step(ch, "acd-fallback", 1, "Set", "ACD_STATE=fallback")
        st.set_var(ch, "ACD_STATE", "fallback")
        reason = ch.vars.get("ACD_FALLBACK_REASON", "")
        body = [("Dept", ch.vars.get("ACD_DEPT", "")), ("Reason", reason)]
        st.run_user_event(ch, "acd-fallback", 2, "ACDFallback", body)
        queue = f"acd-fallback-{ch.vars.get('ACD_DEPT', '')}"
        st.step(ch, "acd-fallback", 3, "Queue", f"{queue},t,,,{st.globals.get('ACD_MAX_WAIT', '')}")
        if caller.fate is Fate.WAITING:
            caller.fate = Fate.FALLBACK
        caller.phase = Phase.FALLBACK
        count = sum(1 for c in st.callers.values() if c.phase is Phase.FALLBACK)
        st.emit(ev.queue_event("QueueCallerJoin", ch, st.cv, queue, count, count))
        delay = st.config.fallback_answer_delay.draw(st.rng)
        st.later(caller, delay, lambda: self._fallback_answered(caller, queue))

    def _fallback_answered(self, caller: Caller, queue: str) -> None:
        st, ch = self.st, caller.channel
        caller.cancel_timers()
        caller.phase = Phase.FALLBACK_TALKING
        count = sum(1 for c in st.callers.values() if c.phase is Phase.FALLBACK)
        st.emit(ev.queue_event("QueueCallerLeave", ch, st.cv, queue, 1, count))
        self.calls.stop_patience(caller)
        talk = caller.talk_s if caller.talk_s is not None else st.config.talk.draw(st.rng)
        st.later(caller, talk, lambda: self.calls.far_end_hangup(caller))

    # --- [acd-dispatch] and [acd-overflow] ------------------------------------------
    def dispatch(self, caller: Caller, *, overflow: bool) -> None:
        """Refuse after fallback; else ACD_STATE=routing:<id>, ACDRouted, Dial(ACD_TARGET)."""
        st, ch = self.st, caller.channel
        context = "acd-overflow" if overflow else "acd-dispatch"
        route = ch.vars.get("ACD_ROUTE_ID", "")
        st.step(ch, context, 1, "GotoIf", '$["${ACD_STATE}" = "fallback"]?refuse')
        if ch.vars.get("ACD_STATE") == "fallback":
            body = [("RouteId", route), ("State", "fallback")]
            st.run_user_event(ch, context, 8, "ACDRouteRefused", body)
            st.step(ch, context, 9, "Goto", "acd-fallback,s,1")
            self.fallback(caller)
            return
        st.step(ch, context, 2, "Set", "ACD_STATE=...")
        st.set_var(ch, "ACD_STATE", f"{'overflow' if overflow else 'routing'}:{route}")
        target = ch.vars.get("ACD_TARGET", "")
        if overflow:
            body = [("RouteId", route), ("Partner", ch.vars.get("ACD_PARTNER", ""))]
            st.run_user_event(ch, context, 3, "ACDOverflowing", body)
        else:
            body = [("RouteId", route), ("Target", target)]
            st.run_user_event(ch, context, 3, "ACDRouted", body)
        name = "ACD_OVERFLOW_TIMEOUT" if overflow else "ACD_RING_TIMEOUT"
        # ${ACD_RING_TIMEOUT}: the channel's own value (set per offer) before the global.
        own = ch.vars.get(name, "")
        timeout = float(own) if own else st.global_number(name, 30.0 if overflow else 20.0)
        gosub = f"U(acd-{'overflow-' if overflow else ''}answered^{ch.uniqueid}^{route})"
        st.step(ch, context, 4, "Dial", f"{target},{timeout:g},{gosub}")
        st.set_var(ch, "DIALSTATUS", "")
        self.calls.dial(caller, target, timeout, overflow=overflow)

    def _unanswered(self, caller: Caller, status: str) -> None:
        """The line after Dial: back to waiting, ACDRouteFailed, the same channel loops again."""
        st, ch = self.st, caller.channel
        overflow = caller.dial_kind == "overflow"
        context = "acd-overflow" if overflow else "acd-dispatch"
        st.set_var(ch, "DIALSTATUS", status)
        st.step(ch, context, 5, "Set", "ACD_STATE=waiting")
        st.set_var(ch, "ACD_STATE", "waiting")
        body = [("RouteId", ch.vars.get("ACD_ROUTE_ID", "")), ("DialStatus", status)]
        name = "ACDOverflowFailed" if overflow else "ACDRouteFailed"
        st.run_user_event(ch, context, 6, name, body)
        st.step(ch, context, 7, "Goto", "acd-wait,s,1")
        self.wait_turn(caller)

    # --- where a Redirect lands -----------------------------------------------------
    def goto(self, caller: Caller, context: str, exten: str) -> None:
        """Run the target of a Redirect; an extension the contract lacks ends the call."""
        if caller.phase in (Phase.HANGING_UP, Phase.GONE):
            return
        peer = self.calls.interrupt(caller, by_redirect=True)
        if peer is not None:
            self.st.destroy(peer, 16)
        if context == "acd-dispatch":
            self.dispatch(caller, overflow=False)
        elif context == "acd-overflow":
            self.dispatch(caller, overflow=True)
        elif context == "acd-fallback":
            self.fallback(caller)
        elif context == "acd-wait":
            self.wait_turn(caller)
        elif context == "acd-inbound":
            self.inbound(caller)
        elif context == "acd-did" and exten.startswith("150"):
            caller.dept = exten[3:]
            self.arrive(caller, None)
        else:
            caller.channel.goto(context, exten, 1)
            self.calls.api_hangup(caller, 0)

    def abandon(self, caller: Caller) -> None:
        """The caller's patience is over: they hang up unless already served."""
        caller.patience_timer = None
        if caller.phase not in (Phase.BRIDGED, Phase.FALLBACK_TALKING):
            self.calls.far_end_hangup(caller)
