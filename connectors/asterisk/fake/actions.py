"""The AMI actions the fake answers, with Asterisk 20's response texts and field orders."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from acd.ami.frames import Frame
from connectors.asterisk.fake import events as ev

if TYPE_CHECKING:
    from connectors.asterisk.fake.session import AmiSession

_OPEN = frozenset({"login", "logoff", "challenge"})
ALL_CLASSES = frozenset(
    {
        "system",
        "call",
        "log",
        "verbose",
        "command",
        "agent",
        "user",
        "config",
        "dtmf",
        "reporting",
        "cdr",
        "dialplan",
        "originate",
        "agi",
        "cc",
        "aoc",
        "test",
        "security",
        "message",
    }
)
"""Asterisk's event classes (the ``Privilege`` of an event is its class, then ``all``)."""
_RESERVED = frozenset({"action", "actionid", "userevent"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """What the session logs about its answer; ``close_after`` ends the session."""

    status: str
    message: str = ""
    close_after: bool = False


Aid = str | None
Handler = Callable[["AmiSession", Frame, Aid], Awaitable[Reply]]


def event_mask(value: str) -> frozenset[str]:
    """``Events: on|off|call,user,...`` as the set of classes a session wants."""
    lowered = value.strip().lower()
    if lowered in ("on", "yes", "true", "all", "-1", ""):
        return ALL_CLASSES
    if lowered in ("off", "no", "false", "none", "0"):
        return frozenset()
    return frozenset(part.strip() for part in lowered.split(",") if part.strip())


def _answer(session: AmiSession, fields: ev.Fields) -> Reply:
    session.send(fields)
    status = fields[0][1]
    message = next((v for k, v in fields if k == "Message"), "")
    return Reply(status=status, message=message)


def _error(session: AmiSession, aid: Aid, message: str) -> Reply:
    return _answer(session, ev.error(aid, message))


def _ok(session: AmiSession, aid: Aid, message: str) -> Reply:
    return _answer(session, ev.success(aid, message))


async def dispatch(session: AmiSession, name: str, frame: Frame, aid: Aid) -> Reply:
    """Route an action; before login only Login, Challenge and Logoff are allowed."""
    if not name:
        return _error(session, aid, "Missing action in request")
    if not session.authenticated and name not in _OPEN:
        return _error(session, aid, "Permission denied")
    handler = _HANDLERS.get(name)
    if handler is None:
        return _error(session, aid, "Invalid/unknown command")
    return await handler(session, frame, aid)


async def _login(session: AmiSession, frame: Frame, aid: Aid) -> Reply:
    config = session.host.config
    username = frame.get("Username", "")
    if frame.get("AuthType", "").lower() == "md5":
        good = session.check_key(frame.get("Key", ""))
    else:
        good = frame.get("Secret") == config.secret
    if username != config.username or not good:
        reply = _error(session, aid, "Authentication failed")
        await asyncio.sleep(config.auth_fail_delay_s)
        return Reply(status=reply.status, message=reply.message, close_after=True)
    reply = _ok(session, aid, "Authentication accepted")
    session.login_ok(username, frame.get("Events", "on"))
    return reply


async def _challenge(session: AmiSession, frame: Frame, aid: Aid) -> Reply:
    if frame.get("AuthType", "").lower() != "md5":
        return _error(session, aid, "Must specify AuthType")
    return _answer(session, ev.response("Success", aid, ("Challenge", session.new_challenge())))


async def _logoff(session: AmiSession, _frame: Frame, aid: Aid) -> Reply:
    session.send(ev.response("Goodbye", aid, ("Message", "Thanks for all the fish.")))
    return Reply(status="Goodbye", message="Thanks for all the fish.", close_after=True)


async def _ping(session: AmiSession, _frame: Frame, aid: Aid) -> Reply:
    stamp = f"{session.host.pbx.st.clock.epoch():.6f}"
    return _answer(session, ev.response("Success", aid, ("Ping", "Pong"), ("Timestamp", stamp)))


async def _events(session: AmiSession, frame: Frame, aid: Aid) -> Reply:
    session.mask = event_mask(frame.get("EventMask", "off"))
    state = "On" if session.mask else "Off"
    return _answer(session, ev.response("Success", aid, ("Events", state)))


async def _setvar(session: AmiSession, frame: Frame, aid: Aid) -> Reply:
    variable = frame.get("Variable", "")
    if not variable:
        return _error(session, aid, "No variable specified")
    failure = session.host.pbx.setvar(frame.get("Channel", ""), variable, frame.get("Value", ""))
    if failure is not None:
        return _error(session, aid, failure)
    return _ok(session, aid, "Variable Set")


async def _getvar(session: AmiSession, frame: Frame, aid: Aid) -> Reply:
    variable = frame.get("Variable", "")
    if not variable:
        return _error(session, aid, "No variable specified")
    failure, value = session.host.pbx.getvar(frame.get("Channel", ""), variable)
    if failure is not None:
        return _error(session, aid, failure)
    return _answer(session, ev.response("Success", aid, ("Variable", variable), ("Value", value)))


async def _redirect(session: AmiSession, frame: Frame, aid: Aid) -> Reply:
    channel = frame.get("Channel", "")
    if not channel:
        return _error(session, aid, "Channel not specified")
    priority = frame.get("Priority", "")
    if priority and not priority.strip().isdigit():
        return _error(session, aid, "Invalid priority")
    context, exten = frame.get("Context", ""), frame.get("Exten", "")
    ok, message = session.host.pbx.redirect(channel, context, exten)
    return _ok(session, aid, message) if ok else _error(session, aid, message)


async def _hangup(session: AmiSession, frame: Frame, aid: Aid) -> Reply:
    channel = frame.get("Channel", "")
    if not channel:
        return _error(session, aid, "No channel specified")
    cause_text = frame.get("Cause", "")
    cause = int(cause_text) if cause_text.isdigit() and int(cause_text) <= 127 else 0
    pbx = session.host.pbx
    if len(channel) > 1 and channel.startswith("/") and channel.endswith("/"):
        pattern = re.compile(channel[1:-1])
        session.send(
            ev.response(
                "Success", aid, ("EventList", "start"), ("Message", "Channels hung up will follow")
            )
        )
        names = [c.name for c in pbx.channels() if pattern.search(c.name)]
        for name in names:
            pbx.hangup(name, cause)
            item: ev.Fields = [("Event", "ChannelHungup")]
            item += [("ActionID", aid)] if aid is not None else []
            session.send([*item, ("Channel", name)])
        session.send(ev.list_complete("ChannelsHungupListComplete", aid, len(names)))
        return Reply(status="Success", message="Channels hung up will follow")
    if not pbx.hangup(channel, cause):
        return _error(session, aid, "No such channel")
    return _ok(session, aid, "Channel Hungup")


async def _core_show_channels(session: AmiSession, _frame: Frame, aid: Aid) -> Reply:
    pbx = session.host.pbx
    session.send(
        ev.response("Success", aid, ("EventList", "start"), ("Message", "Channels will follow"))
    )
    channels = pbx.channels()
    now = pbx.st.clock.epoch()
    for ch in channels:
        item = ev.core_show_channel(ch, pbx.config.channelvars, aid, int(now - ch.created))
        session.send(item)
    session.send(ev.list_complete("CoreShowChannelsComplete", aid, len(channels)))
    return Reply(status="Success", message="Channels will follow")


async def _user_event(session: AmiSession, frame: Frame, aid: Aid) -> Reply:
    name = frame.get("UserEvent", "")
    if not name:
        return _error(session, aid, "UserEvent not specified")
    body = [(k, v) for k, v in frame.fields if k.lower() not in _RESERVED]
    session.host.broadcast(
        [("Event", "UserEvent"), ("Privilege", ev.USER), ("UserEvent", name), *body]
    )
    return _ok(session, aid, "Event Sent")


_HANDLERS: dict[str, Handler] = {
    "login": _login,
    "challenge": _challenge,
    "logoff": _logoff,
    "ping": _ping,
    "events": _events,
    "setvar": _setvar,
    "getvar": _getvar,
    "redirect": _redirect,
    "hangup": _hangup,
    "coreshowchannels": _core_show_channels,
    "userevent": _user_event,
}
