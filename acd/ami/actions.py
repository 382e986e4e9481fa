"""The AMI actions the ACD sends, as immutable values; no header name leaves this layer."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from acd.ami.codec import check_action, encode_action


@dataclass(frozen=True, slots=True, kw_only=True)
class Action:
    """One AMI action before it gets its ActionID; ``expects_list`` if it answers with a list."""

    name: str
    fields: tuple[tuple[str, str], ...] = ()
    expects_list: bool = False

    def __post_init__(self) -> None:
        check_action(self.name, self.fields)

    def encode(self, action_id: str) -> bytes:
        """The wire bytes of this action under ``action_id``."""
        return encode_action(self.name, self.fields, action_id)


def _events_value(events: bool | str) -> str:
    if isinstance(events, bool):
        return "on" if events else "off"
    return events


def login(username: str, secret: str, *, events: bool | str | None = None) -> Action:
    """Plain-text ``Login``; ``events`` False for an actions-only session, or an event mask."""
    fields = [("Username", username), ("Secret", secret)]
    if events is not None:
        fields.append(("Events", _events_value(events)))
    return Action(name="Login", fields=tuple(fields))


def challenge() -> Action:
    """``Challenge`` for an MD5 login: the response's ``Challenge`` feeds ``login_md5``."""
    return Action(name="Challenge", fields=(("AuthType", "md5"),))


def md5_key(challenge: str, secret: str) -> str:
    """The MD5 login key Asterisk expects: hex digest of challenge then secret."""
    digest = hashlib.md5((challenge + secret).encode("utf-8"), usedforsecurity=False)
    return digest.hexdigest()


def login_md5(
    username: str, secret: str, challenge: str, *, events: bool | str | None = None
) -> Action:
    """``Login`` answering a ``Challenge``: the secret itself never crosses the wire."""
    fields = [
        ("AuthType", "md5"),
        ("Username", username),
        ("Key", md5_key(challenge, secret)),
    ]
    if events is not None:
        fields.append(("Events", _events_value(events)))
    return Action(name="Login", fields=tuple(fields))


def logoff() -> Action:
    """``Logoff``: Asterisk answers ``Response: Goodbye`` and closes the session."""
    return Action(name="Logoff")


def ping() -> Action:
    """``Ping``: the answer (``Ping: Pong``) proves the peer alive."""
    return Action(name="Ping")


def events(mask: bool | str) -> Action:
    """``Events``: switch this session's events on or off, or set an event mask."""
    return Action(name="Events", fields=(("EventMask", _events_value(mask)),))


def setvar(variable: str, value: str, *, channel: str | None = None) -> Action:
    """``Setvar`` on a channel (a Uniqueid is best), or a global variable without one."""
    fields = [("Variable", variable), ("Value", value)]
    if channel is not None:
        fields.insert(0, ("Channel", channel))
    return Action(name="Setvar", fields=tuple(fields))


def getvar(variable: str, *, channel: str | None = None) -> Action:
    """``Getvar`` of a channel variable, or of a global one without a channel."""
    fields = [("Variable", variable)]
    if channel is not None:
        fields.insert(0, ("Channel", channel))
    return Action(name="Getvar", fields=tuple(fields))


def redirect(
    channel: str,
    context: str,
    exten: str,
    priority: int | str = 1,
    *,
    extra_channel: str | None = None,
    extra_context: str | None = None,
    extra_exten: str | None = None,
    extra_priority: int | str | None = None,
) -> Action:
    """``Redirect`` a channel to ``context,exten,priority``: not idempotent, never resend."""
    fields = [
        ("Channel", channel),
        ("Context", context),
        ("Exten", exten),
        ("Priority", str(priority)),
    ]
    extras = (
        ("ExtraChannel", extra_channel),
        ("ExtraContext", extra_context),
        ("ExtraExten", extra_exten),
        ("ExtraPriority", None if extra_priority is None else str(extra_priority)),
    )
    fields.extend((key, value) for key, value in extras if value is not None)
    return Action(name="Redirect", fields=tuple(fields))


def hangup(channel: str, *, cause: int | None = None) -> Action:
    """``Hangup`` a channel, with an optional Q.850 cause."""
    fields = [("Channel", channel)]
    if cause is not None:
        fields.append(("Cause", str(cause)))
    return Action(name="Hangup", fields=tuple(fields))


def core_show_channels() -> Action:
    """``CoreShowChannels``: one ``CoreShowChannel`` event per channel (the resync snapshot)."""
    return Action(name="CoreShowChannels", expects_list=True)


def status(channel: str | None = None, *, variables: Iterable[str] = ()) -> Action:
    """``Status`` of one channel or of all, with the values of ``variables``."""
    fields: list[tuple[str, str]] = []
    if channel is not None:
        fields.append(("Channel", channel))
    names = ",".join(variables)
    if names:
        fields.append(("Variables", names))
    return Action(name="Status", fields=tuple(fields), expects_list=True)


def user_event(name: str, fields: Iterable[tuple[str, str]] = ()) -> Action:
    """``UserEvent``: Asterisk broadcasts ``Event: UserEvent`` with ``UserEvent: name``."""
    return Action(name="UserEvent", fields=(("UserEvent", name), *fields))
