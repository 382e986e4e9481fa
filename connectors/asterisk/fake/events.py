"""AMI event and response builders with the field names and orders of Asterisk 20's wire."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from connectors.asterisk.fake.model import Channel

Fields = list[tuple[str, str]]

CALL = "call,all"
DIALPLAN = "dialplan,all"
USER = "user,all"
SYSTEM = "system,all"
AGENT = "agent,all"

CAUSE_TEXT = {
    0: "Unknown",
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    21: "Call Rejected",
    34: "Circuit/channel congestion",
}


def snapshot(ch: Channel, channelvars: Sequence[str], prefix: str = "") -> Fields:
    """The channel block every channel event starts with, ``ChanVariable`` lines last."""
    fields = [
        (f"{prefix}Channel", ch.name),
        (f"{prefix}ChannelState", str(ch.state.value)),
        (f"{prefix}ChannelStateDesc", ch.state.desc),
        (f"{prefix}CallerIDNum", ch.caller_num or "<unknown>"),
        (f"{prefix}CallerIDName", ch.caller_name or "<unknown>"),
        (f"{prefix}ConnectedLineNum", ch.connected_num or "<unknown>"),
        (f"{prefix}ConnectedLineName", ch.connected_name or "<unknown>"),
        (f"{prefix}Language", ch.language),
        (f"{prefix}AccountCode", ""),
        (f"{prefix}Context", ch.context),
        (f"{prefix}Exten", ch.exten),
        (f"{prefix}Priority", str(ch.priority)),
        (f"{prefix}Uniqueid", ch.uniqueid),
        (f"{prefix}Linkedid", ch.linkedid),
    ]
    fields.extend((f"{prefix}ChanVariable", f"{n}={ch.vars.get(n, '')}") for n in channelvars)
    return fields


def channel_event(
    name: str,
    ch: Channel,
    channelvars: Sequence[str],
    extra: Iterable[tuple[str, str]] = (),
    privilege: str = CALL,
) -> Fields:
    """``Event``, ``Privilege``, the snapshot, then the event's own fields."""
    return [("Event", name), ("Privilege", privilege), *snapshot(ch, channelvars), *extra]


def newexten(ch: Channel, cv: Sequence[str], app: str, appdata: str) -> Fields:
    """A dialplan step (filtered out by the contract's manager.conf)."""
    extra = [("Extension", ch.exten), ("Application", app), ("AppData", appdata)]
    return channel_event("Newexten", ch, cv, extra, DIALPLAN)


def varset(ch: Channel | None, cv: Sequence[str], variable: str, value: str) -> Fields:
    """``VarSet``; a global variable has no channel: ``Channel: none``, ``Uniqueid: none``."""
    if ch is None:
        head: Fields = [("Channel", "none"), ("Uniqueid", "none")]
    else:
        head = snapshot(ch, cv)
    return [
        ("Event", "VarSet"),
        ("Privilege", DIALPLAN),
        *head,
        ("Variable", variable),
        ("Value", value),
    ]


def user_event(
    ch: Channel, cv: Sequence[str], name: str, body: Iterable[tuple[str, str]]
) -> Fields:
    """``UserEvent(Name,Key: v,...)``: the snapshot, ``UserEvent: Name``, then the keys."""
    return channel_event("UserEvent", ch, cv, [("UserEvent", name), *body], USER)


def dial(
    name: str, caller: Channel, callee: Channel, cv: Sequence[str], last: tuple[str, str]
) -> Fields:
    """DialBegin/DialState/DialEnd: caller snapshot, ``Dest`` snapshot, then one field."""
    return [
        ("Event", name),
        ("Privilege", CALL),
        *snapshot(caller, cv),
        *snapshot(callee, cv, "Dest"),
        last,
    ]


def hangup(ch: Channel, cv: Sequence[str], cause: int) -> Fields:
    """``Hangup`` with ``Cause`` and ``Cause-txt``."""
    text = CAUSE_TEXT.get(cause, "Unknown")
    return channel_event("Hangup", ch, cv, [("Cause", str(cause)), ("Cause-txt", text)])


def hangup_request(name: str, ch: Channel, cv: Sequence[str], cause: int | None) -> Fields:
    """``HangupRequest`` (far end) or ``SoftHangupRequest`` (API); a BYE may carry no cause."""
    extra = [] if cause is None else [("Cause", str(cause))]
    return channel_event(name, ch, cv, extra)


def bridge_fields(bridge_id: str, count: int) -> Fields:
    """The bridge block of Bridge* events."""
    return [
        ("BridgeUniqueid", bridge_id),
        ("BridgeType", "basic"),
        ("BridgeTechnology", "simple_bridge"),
        ("BridgeCreator", "<unknown>"),
        ("BridgeName", "<unknown>"),
        ("BridgeNumChannels", str(count)),
        ("BridgeVideoSourceMode", "none"),
    ]


def bridge_event(
    name: str, bridge_id: str, count: int, ch: Channel | None, cv: Sequence[str]
) -> Fields:
    """BridgeCreate/Destroy (no channel) or BridgeEnter/Leave (bridge block, then channel)."""
    fields = [("Event", name), ("Privilege", CALL), *bridge_fields(bridge_id, count)]
    if ch is not None:
        fields.extend(snapshot(ch, cv))
    return fields


def queue_event(
    name: str, ch: Channel, cv: Sequence[str], queue: str, position: int, count: int
) -> Fields:
    """QueueCallerJoin/Leave (``agent`` class): the snapshot, Queue, Position, Count."""
    extra = [("Queue", queue), ("Position", str(position)), ("Count", str(count))]
    return channel_event(name, ch, cv, extra, AGENT)


def queue_abandon(ch: Channel, cv: Sequence[str], queue: str, hold_s: int) -> Fields:
    """QueueCallerAbandon: the caller left the queue unanswered."""
    extra = [
        ("Queue", queue),
        ("Position", "1"),
        ("OriginalPosition", "1"),
        ("HoldTime", str(hold_s)),
    ]
    return channel_event("QueueCallerAbandon", ch, cv, extra, AGENT)


def fully_booted(uptime_s: int) -> Fields:
    """Sent to a session that logs in and may read ``system`` events."""
    return [
        ("Event", "FullyBooted"),
        ("Privilege", SYSTEM),
        ("Uptime", str(uptime_s)),
        ("LastReload", str(uptime_s)),
        ("Status", "Fully Booted"),
    ]


def shutdown(*, restart: bool, clean: bool) -> Fields:
    """Sent to every session before the PBX goes away."""
    return [
        ("Event", "Shutdown"),
        ("Privilege", SYSTEM),
        ("Shutdown", "Cleanly" if clean else "Uncleanly"),
        ("Restart", "True" if restart else "False"),
    ]


def core_show_channel(
    ch: Channel, cv: Sequence[str], action_id: str | None, duration_s: int
) -> Fields:
    """One item of CoreShowChannels: ``ActionID`` right after ``Event``, no ``Privilege``."""
    hours, rest = divmod(max(duration_s, 0), 3600)
    minutes, seconds = divmod(rest, 60)
    fields: Fields = [("Event", "CoreShowChannel")]
    if action_id is not None:
        fields.append(("ActionID", action_id))
    fields.extend(snapshot(ch, cv))
    fields.extend(
        [
            ("BridgeId", ch.bridge),
            ("Application", ch.app),
            ("ApplicationData", ch.appdata),
            ("Duration", f"{hours:02d}:{minutes:02d}:{seconds:02d}"),
        ]
    )
    return fields


def list_complete(name: str, action_id: str | None, count: int) -> Fields:
    """The ``...Complete`` event that ends an EventList."""
    fields: Fields = [("Event", name)]
    if action_id is not None:
        fields.append(("ActionID", action_id))
    return [*fields, ("EventList", "Complete"), ("ListItems", str(count))]


def response(status: str, action_id: str | None, *rest: tuple[str, str]) -> Fields:
    """``Response``, ``ActionID`` when the action had one, then the rest."""
    fields: Fields = [("Response", status)]
    if action_id is not None:
        fields.append(("ActionID", action_id))
    fields.extend(rest)
    return fields


def error(action_id: str | None, message: str) -> Fields:
    """``Response: Error`` with its message."""
    return response("Error", action_id, ("Message", message))


def success(action_id: str | None, message: str) -> Fields:
    """``Response: Success`` with its message."""
    return response("Success", action_id, ("Message", message))
