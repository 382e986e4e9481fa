"""Between the dialplan contract and the core: AMI frames to core events, commands to actions."""

from __future__ import annotations

from dataclasses import dataclass

from acd.ami import actions as act
from acd.ami.frames import Frame
from acd.core import events as ev
from acd.core.commands import MoveCall, OfferCall, OverflowCall, SendToFallback
from acd.core.ids import CallId, DeptId, QueueId, RouteId, call_id

DISPATCH_CONTEXT = "acd-dispatch"
OVERFLOW_CONTEXT = "acd-overflow"
FALLBACK_CONTEXT = "acd-fallback"
HEARTBEAT_VAR = "ACD_HEARTBEAT"

DIAL_STATUS: dict[str, ev.RouteFailure] = {
    "NOANSWER": ev.RouteFailure.NO_ANSWER,
    "BUSY": ev.RouteFailure.BUSY,
    "CHANUNAVAIL": ev.RouteFailure.UNAVAILABLE,
    "CONGESTION": ev.RouteFailure.CONGESTION,
}
"""DIALSTATUS values that send the caller back to the waiting loop. CANCEL is absent: the
caller hung up during the ring, and the hangup that follows says so."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Channel:
    """Where a core call lives: its PBX and the Uniqueid actions are addressed to."""

    pbx: str
    uniqueid: str


def channel_of(call: CallId) -> Channel:
    """The PBX and Uniqueid of a call id built by :func:`acd.core.ids.call_id`."""
    pbx, _, uniqueid = call.partition("/")
    return Channel(pbx=pbx, uniqueid=uniqueid)


class Translator:
    """Reads one PBX's frames as core events; unknown or foreign frames give nothing."""

    def __init__(self, pbx: str) -> None:
        self.pbx = pbx
        self.unreadable = 0
        """Contract events with a missing or malformed field (counted, never raised)."""

    def events(self, frame: Frame) -> list[ev.Event]:
        """The core events a frame stands for (most frames stand for none)."""
        kind = frame.kind
        if kind == "UserEvent":
            return self._user_event(frame)
        if kind == "Hangup" and frame.chan_vars.get("ACD_DEPT"):
            return [ev.CallHungUp(call=call_id(self.pbx, frame.get("Uniqueid", "")))]
        return []

    def _call(self, frame: Frame, key: str = "Uniqueid") -> CallId:
        uniqueid = frame.get(key)
        if not uniqueid:
            raise ValueError(f"no {key}")
        return call_id(self.pbx, uniqueid)

    def _user_event(self, frame: Frame) -> list[ev.Event]:
        name = frame.get("UserEvent", "")
        reader = _USER_EVENTS.get(name)
        if reader is None:
            return []
        try:
            event = reader(self, frame)
        except (ValueError, KeyError):
            self.unreadable += 1
            return []
        if event is None:
            return []
        return event if isinstance(event, list) else [event]

    def _waiting(self, f: Frame) -> ev.Event:
        dept = f.get("Dept")
        if not dept:
            raise ValueError("no Dept")
        enq = f.get("EnqTs")
        queue = f.get("Queue")
        return ev.CallArrived(
            call=self._call(f),
            dept=DeptId(dept),
            queue=QueueId(queue) if queue else None,
            priority=f.get("Prio") or None,
            enqueued_at=float(enq) if enq else None,
            caller=f.get("CallerNum", ""),
        )

    def _routed(self, f: Frame) -> ev.Event:
        return ev.RouteConfirmed(call=self._call(f), route=_route(f))

    def _answered(self, f: Frame) -> ev.Event:
        return ev.CallAnswered(call=self._call(f, "CallerUniqueid"), route=_route(f))

    def _route_failed(self, f: Frame) -> ev.Event | None:
        status = f.get("DialStatus", "")
        if status == "CANCEL":
            return None  # the caller hung up during the ring: the hangup settles it
        # Any other status (INVALIDARGS, DONTCALL, empty, ...) means this phone could not
        # be reached: treated as unavailable, so the ARM is held back before a retry.
        cause = DIAL_STATUS.get(status, ev.RouteFailure.UNAVAILABLE)
        return ev.RouteFailed(call=self._call(f), route=_route(f), cause=cause)

    def _overflow_answered(self, f: Frame) -> ev.Event:
        return ev.OverflowConfirmed(call=self._call(f, "CallerUniqueid"), route=_route(f))

    def _overflow_failed(self, f: Frame) -> ev.Event:
        cause = DIAL_STATUS.get(f.get("DialStatus", ""), ev.RouteFailure.NO_ANSWER)
        return ev.OverflowFailed(call=self._call(f), route=_route(f), cause=cause)

    def _fallback(self, f: Frame) -> ev.Event:
        return ev.CallFellBack(call=self._call(f))

    def _hangup(self, f: Frame) -> list[ev.Event]:
        """The h extension's last word; an answer it proves comes first if it was missed.

        With ``State: routing:<route>`` and ``DialStatus: ANSWER`` the caller talked to
        the ARM: if ACDAnswered was lost (a link cut), the engine still counts an answer,
        not an abandon (a duplicate answer is ignored as stale).
        """
        call = self._call(f)
        state = f.get("State", "")
        if state.startswith("routing:") and f.get("DialStatus") == "ANSWER":
            route = RouteId(state.removeprefix("routing:"))
            return [ev.CallAnswered(call=call, route=route), ev.CallHungUp(call=call)]
        return [ev.CallHungUp(call=call)]


def _route(frame: Frame) -> RouteId:
    route = frame.get("RouteId")
    if not route:
        raise ValueError("no RouteId")
    return RouteId(route)


_USER_EVENTS = {
    "ACDWaiting": Translator._waiting,
    "ACDRouted": Translator._routed,
    "ACDAnswered": Translator._answered,
    "ACDRouteFailed": Translator._route_failed,
    "ACDOverflowAnswered": Translator._overflow_answered,
    "ACDOverflowFailed": Translator._overflow_failed,
    "ACDFallback": Translator._fallback,
    "ACDHangup": Translator._hangup,
}
"""Contract UserEvents read by the translator. ACDRouteRefused (a redirect reaching a caller
already in fallback) and ACDOverflowing need no core event: ACDFallback already stopped the
routing, and only the partner's answer confirms an overflow."""


def offer_actions(cmd: OfferCall) -> list[act.Action]:
    """Setvar target, ring timeout and route id, then Redirect to dispatch, in order."""
    ch = channel_of(cmd.call).uniqueid
    return [
        act.setvar("ACD_TARGET", cmd.endpoint, channel=ch),
        act.setvar("ACD_RING_TIMEOUT", f"{max(1, round(cmd.ring_timeout_s))}", channel=ch),
        act.setvar("ACD_ROUTE_ID", cmd.route, channel=ch),
        act.redirect(ch, DISPATCH_CONTEXT, "s", 1),
    ]


def overflow_actions(cmd: OverflowCall) -> list[act.Action]:
    """The partner's dial string (``{number}`` in the trunk, or ``trunk/number``) and Redirect."""
    ch = channel_of(cmd.call).uniqueid
    target = (
        cmd.trunk.replace("{number}", cmd.number)
        if "{number}" in cmd.trunk
        else f"{cmd.trunk}/{cmd.number}"
    )
    return [
        act.setvar("ACD_TARGET", target, channel=ch),
        act.setvar("ACD_PARTNER", cmd.partner, channel=ch),
        act.setvar("ACD_ROUTE_ID", cmd.route, channel=ch),
        act.redirect(ch, OVERFLOW_CONTEXT, "s", 1),
    ]


def fallback_actions(cmd: SendToFallback) -> list[act.Action]:
    """Tell the dialplan why, then Redirect to its static fallback."""
    ch = channel_of(cmd.call).uniqueid
    return [
        act.setvar("ACD_FALLBACK_REASON", cmd.reason.rule, channel=ch),
        act.setvar("ACD_ROUTE_ID", cmd.route, channel=ch),
        act.redirect(ch, FALLBACK_CONTEXT, "s", 1),
    ]


def heartbeat_action(epoch_s: float, variable: str = HEARTBEAT_VAR) -> act.Action:
    """The global heartbeat the waiting loop checks (whole epoch seconds, like ${EPOCH})."""
    return act.setvar(variable, str(int(epoch_s)))


def route_truth(
    call: CallId, route: RouteId, *, overflow: bool, state: str, bridged: bool
) -> list[ev.Event]:
    """What a caller channel's ACD_STATE and bridge prove about a route in doubt.

    Used after a missed confirmation (offer check) and after a reconnect (resync): the
    answer settles the route without ever sending it again.
    """
    if state == "fallback":
        return [ev.CallFellBack(call=call)]
    if state == "waiting":  # the route failed while we were not looking: back to its place
        if overflow:
            return [ev.OverflowFailed(call=call, route=route, cause=ev.RouteFailure.NO_ANSWER)]
        return [ev.RouteFailed(call=call, route=route, cause=ev.RouteFailure.REFUSED)]
    if overflow:
        confirmed = state == f"overflow:{route}" and bridged
        return [ev.OverflowConfirmed(call=call, route=route)] if confirmed else []
    if state != f"routing:{route}":
        return []
    answered = ev.CallAnswered(call=call, route=route)
    return [answered if bridged else ev.RouteConfirmed(call=call, route=route)]


def move_actions(cmd: MoveCall) -> list[act.Action]:
    """Relabel the channel with its new department (its fallback and resync follow it)."""
    return [act.setvar("ACD_DEPT", cmd.dept, channel=channel_of(cmd.call).uniqueid)]
