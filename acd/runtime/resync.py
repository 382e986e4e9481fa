"""After a (re)connect: compare the engine with the PBX's channels and say what changed."""

from __future__ import annotations

from collections.abc import Callable

from acd.ami.translate import channel_of, route_truth
from acd.core import events as ev
from acd.core.ids import CallId, DeptId, call_id
from acd.core.model import CallView
from acd.core.states import CallState
from acd.ports import ChannelSnapshot


def resync_events(
    pbx: str,
    live: list[CallView],
    channels: list[ChannelSnapshot],
    routes_before: frozenset[str] | None = None,
) -> list[ev.Event]:
    """The events that bring the engine in line with the PBX, without any action.

    Calls the PBX no longer has end (hung up, cause unknown); unknown channels waiting in
    the contract's loop are adopted with their original enqueue time; a route or overflow
    whose outcome was missed is settled from ACD_STATE and the bridge. Every event is one
    the engine treats idempotently, so live events replayed after it do no harm.

    ``routes_before``: the routes in force when the channels were read. A route decided
    after that (the snapshot cannot show it yet) is left alone, or a caller being
    redirected right now would be read as still waiting and offered twice.
    """
    present = {c.uniqueid: c for c in channels}
    out: list[ev.Event] = []
    for call in live:
        ch = channel_of(call.id)
        if ch.pbx != pbx:
            continue
        decided_since = routes_before is not None and call.route not in routes_before
        if call.route is not None and decided_since:
            continue
        snap = present.get(ch.uniqueid)
        if snap is None:
            out.append(ev.CallHungUp(call=call.id))
        else:
            out += _settle(call, snap)
    known = {c.id for c in live}
    for snap in channels:
        cid = call_id(pbx, snap.uniqueid)
        if cid not in known and snap.state == "waiting":
            out.append(
                ev.CallArrived(
                    call=cid,
                    dept=DeptId(snap.dept),
                    priority=snap.priority or None,
                    enqueued_at=snap.enqueued_at,
                    caller=snap.caller,
                )
            )
    return out


def _settle(call: CallView, snap: ChannelSnapshot) -> list[ev.Event]:
    """What the channel's state says of a call the engine still holds."""
    if call.state is CallState.CONNECTED:
        return []
    if call.state is CallState.WAITING or call.route is None:
        return [ev.CallFellBack(call=call.id)] if snap.state == "fallback" else []
    overflow = call.state is CallState.OVERFLOWING
    return route_truth(
        call.id, call.route, overflow=overflow, state=snap.state, bridged=snap.bridged
    )


def stranded_fallbacks(
    pbx: str, channels: list[ChannelSnapshot], state_of: Callable[[CallId], CallState | None]
) -> list[CallId]:
    """Callers the engine sent to fallback whose redirect never landed: still waiting.

    The engine ended them as fallback; the PBX still has them in the waiting loop (the
    redirect was lost with the link). Sending them to fallback again is what was decided.
    """
    return [
        cid
        for snap in channels
        if snap.state == "waiting"
        and state_of(cid := call_id(pbx, snap.uniqueid)) is CallState.FALLBACK
    ]
