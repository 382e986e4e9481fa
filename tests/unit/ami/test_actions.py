"""Encoding actions: exact wire bytes, round trip through the decoder, injection refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from acd.ami import actions
from acd.ami.codec import AmiDecoder, encode_action, encode_frame
from acd.ami.errors import AmiProtocolError, HeaderInjection
from acd.ami.frames import Frame


def decode_one(data: bytes) -> Frame:
    """The single frame the bytes hold."""
    decoder = AmiDecoder(expect_banner=False)
    (frame,) = decoder.feed(data)
    assert decoder.buffered == 0
    return frame


def test_encode_action_writes_action_then_action_id_then_fields() -> None:
    """The wire form: Action, ActionID, the fields in order, a blank line, CRLF throughout."""
    data = encode_action("Setvar", [("Variable", "ACD_HEARTBEAT"), ("Value", "1795923800")], "a-1")
    assert data == (
        b"Action: Setvar\r\nActionID: a-1\r\nVariable: ACD_HEARTBEAT\r\nValue: 1795923800\r\n\r\n"
    )


def test_login_matches_the_recorded_login_bytes() -> None:
    """Our Login is byte for byte the one the real Asterisk accepted in the recordings."""
    data = actions.login("acd", "acdsecret", events=True).encode("login-1")
    assert data == (
        b"Action: Login\r\nActionID: login-1\r\nUsername: acd\r\nSecret: acdsecret\r\n"
        b"Events: on\r\n\r\n"
    )


def test_encoded_action_round_trips_through_the_decoder() -> None:
    """What we write, our decoder reads back as the same pairs (UTF-8 and empty values too)."""
    fields = [("Variable", "CALLERID(name)"), ("Value", "José: urgent"), ("Extra", "")]
    frame = decode_one(encode_action("Setvar", fields, "acd-n1-1795923800-3"))
    assert frame.fields == (
        ("Action", "Setvar"),
        ("ActionID", "acd-n1-1795923800-3"),
        *fields,
    )
    assert frame.action_id == "acd-n1-1795923800-3"


_KEYS = st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,15}", fullmatch=True)
_VALUES = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\r\n\x00"), max_size=40
)


@given(fields=st.lists(st.tuples(_KEYS, _VALUES), max_size=12))
def test_any_valid_fields_round_trip(fields: list[tuple[str, str]]) -> None:
    """Any header names and single-line values come back unchanged, in order."""
    fields = [(key, value) for key, value in fields if key.lower() not in {"action", "actionid"}]
    frame = decode_one(encode_action("UserEvent", fields, "id-1"))
    assert frame.fields[2:] == tuple(fields)


@pytest.mark.parametrize(
    "value", ["x\r\nAction: Hangup", "x\nAction: Hangup", "line\r", "nul\x00byte"]
)
def test_line_end_in_a_value_is_refused(value: str) -> None:
    """A value smuggling a line end (a second action) or a NUL is refused, nothing encoded."""
    with pytest.raises(HeaderInjection) as caught:
        encode_action("Setvar", [("Value", value)], "a-1")
    assert caught.value.slug == "ami-header-injection"


@pytest.mark.parametrize("key", ["", "Two words", "Colon:", "Line\r\nEnd", "Tab\t"])
def test_bad_header_name_is_refused(key: str) -> None:
    """A header name must be a single printable token without a colon."""
    with pytest.raises(HeaderInjection):
        encode_action("Setvar", [(key, "v")], "a-1")


def test_line_end_in_action_id_or_name_is_refused() -> None:
    """The ActionID and the action name are checked like any header."""
    with pytest.raises(HeaderInjection):
        encode_action("Ping", [], "a-1\r\nAction: Hangup")
    with pytest.raises(HeaderInjection):
        encode_action("Ping\r\nChannel: x", [], "a-1")


def test_fields_cannot_override_action_or_action_id() -> None:
    """The correlation headers are the encoder's alone."""
    with pytest.raises(AmiProtocolError):
        encode_action("Ping", [("ActionID", "other")], "a-1")
    with pytest.raises(AmiProtocolError):
        encode_action("Ping", [], "")


def test_injection_is_refused_when_the_action_is_built() -> None:
    """A bad value is caught where the action is made, not later at send time."""
    with pytest.raises(HeaderInjection):
        actions.setvar("ACD_TARGET", "SIP/agent1\r\nAction: Hangup", channel="1795923798.40")


def test_encode_frame_needs_a_header() -> None:
    """An empty message would be a bare blank line: refused."""
    with pytest.raises(AmiProtocolError):
        encode_frame([])


def test_md5_key_matches_rfc_1321_digests() -> None:
    """The MD5 login key is the digest of challenge then secret (RFC 1321 test vectors)."""
    assert actions.md5_key("a", "bc") == "900150983cd24fb0d6963f7d28e17f72"
    assert actions.md5_key("message ", "digest") == "f96b697d7cb7938d525a2f31aaf161d0"


def test_challenge_then_md5_login() -> None:
    """Challenge asks for MD5; the Login that answers it carries the key, never the secret."""
    assert actions.challenge().fields == (("AuthType", "md5"),)
    login = actions.login_md5("acd", "acdsecret", "123456789", events=False)
    assert login.name == "Login"
    assert dict(login.fields) == {
        "AuthType": "md5",
        "Username": "acd",
        "Key": actions.md5_key("123456789", "acdsecret"),
        "Events": "off",
    }
    assert b"acdsecret" not in login.encode("login-2")


def test_setvar_without_channel_sets_a_global() -> None:
    """Setvar without Channel is the heartbeat's global variable; with one, the channel's."""
    assert actions.setvar("ACD_HEARTBEAT", "1795923800").fields == (
        ("Variable", "ACD_HEARTBEAT"),
        ("Value", "1795923800"),
    )
    assert actions.setvar("ACD_ROUTE_ID", "r-12", channel="1795923798.40").fields[0] == (
        "Channel",
        "1795923798.40",
    )


def test_getvar_with_and_without_channel() -> None:
    """Getvar reads a channel variable, or a global one without a channel."""
    assert actions.getvar("ACD_STATE", channel="1795923798.40").fields == (
        ("Channel", "1795923798.40"),
        ("Variable", "ACD_STATE"),
    )
    assert actions.getvar("ACD_HEARTBEAT").fields == (("Variable", "ACD_HEARTBEAT"),)


def test_redirect_to_dispatch_with_and_without_extra_channel() -> None:
    """Redirect names channel, context, exten and priority; the extra leg is optional."""
    plain = actions.redirect("1795923798.40", "acd-dispatch", "s", 1)
    assert plain.fields == (
        ("Channel", "1795923798.40"),
        ("Context", "acd-dispatch"),
        ("Exten", "s"),
        ("Priority", "1"),
    )
    both = actions.redirect("a", "ctx", "s", extra_channel="b", extra_priority=2)
    assert both.fields[4:] == (("ExtraChannel", "b"), ("ExtraPriority", "2"))


def test_list_actions_expect_lists() -> None:
    """CoreShowChannels and Status answer with event lists; Ping and Redirect do not."""
    assert actions.core_show_channels().expects_list
    assert actions.status("1795923798.40", variables=["ACD_STATE", "ACD_DEPT"]).fields == (
        ("Channel", "1795923798.40"),
        ("Variables", "ACD_STATE,ACD_DEPT"),
    )
    assert actions.status().expects_list
    assert actions.status().fields == ()
    assert not actions.ping().expects_list
    assert not actions.redirect("a", "b", "c").expects_list


def test_small_actions() -> None:
    """Logoff, Ping, Hangup with a cause, Events with a mask, a UserEvent with its keys."""
    assert actions.logoff().encode("x-1") == b"Action: Logoff\r\nActionID: x-1\r\n\r\n"
    assert actions.ping().name == "Ping"
    assert actions.hangup("1795923798.40", cause=16).fields[1] == ("Cause", "16")
    assert actions.hangup("1795923798.40").fields == (("Channel", "1795923798.40"),)
    assert actions.events("call,user").fields == (("EventMask", "call,user"),)
    assert actions.events(False).fields == (("EventMask", "off"),)
    event = actions.user_event("ACDHeartbeat", [("Node", "n1")])
    assert event.fields == (("UserEvent", "ACDHeartbeat"), ("Node", "n1"))
    assert actions.login("u", "s").fields == (("Username", "u"), ("Secret", "s"))
