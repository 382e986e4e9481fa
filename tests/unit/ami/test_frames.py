"""Frames: ordered lines, repeated keys kept, case-blind lookups, immutable values."""

from __future__ import annotations

import dataclasses

import pytest

from acd.ami.errors import AmiProtocolError
from acd.ami.frames import Frame

USER_EVENT = Frame(
    lines=(
        "Event: UserEvent",
        "Privilege: user,all",
        "Channel: Local/2000@test-in-0000000a;2",
        "Uniqueid: 1795923776.27",
        "UserEvent: ACDRouted",
        "RouteId: r-12",
        "Channel: Local/2000@test-in-0000000a;2",
        "ChanVariable: ACD_STATE=routing:r-12",
        "ChanVariable: ACD_TARGET=SIP/agent1=main",
        "ChanVariable: ACD_STATE=shadowed",
    )
)


def test_lookup_ignores_key_case() -> None:
    """Asterisk keys are case-insensitive: any spelling finds the value."""
    assert USER_EVENT.get("uniqueid") == USER_EVENT.get("UNIQUEID") == "1795923776.27"
    assert "routeid" in USER_EVENT
    assert "RouteID" in USER_EVENT
    assert 42 not in USER_EVENT


def test_missing_key_gives_none_or_default() -> None:
    """An absent key gives None, or the default asked for."""
    assert USER_EVENT.get("Cause") is None
    assert USER_EVENT.get("Cause", "") == ""
    assert USER_EVENT.get_all("Cause") == []


def test_repeated_key_first_value_and_all_values() -> None:
    """``get`` gives the first of a repeated key; ``get_all`` every value in order."""
    assert USER_EVENT.get_all("channel") == ["Local/2000@test-in-0000000a;2"] * 2
    assert USER_EVENT.get("ChanVariable") == "ACD_STATE=routing:r-12"


def test_chan_vars_split_on_the_first_equals_and_first_wins() -> None:
    """``ChanVariable: NAME=value``: values may hold '=', the first of a name wins."""
    assert USER_EVENT.chan_vars == {"ACD_STATE": "routing:r-12", "ACD_TARGET": "SIP/agent1=main"}
    assert USER_EVENT.prefixed_chan_vars("Dest") == {}


def test_kind_of_event_response_and_neither() -> None:
    """``kind`` is the event name or the response status, ``""`` for anything else."""
    assert USER_EVENT.kind == "UserEvent"
    assert USER_EVENT.is_event
    assert not USER_EVENT.is_response
    response = Frame(lines=("Response: Error", "ActionID: a-1", "Message: No such channel"))
    assert response.kind == "Error"
    assert response.is_response
    assert not response.is_event
    assert response.action_id == "a-1"
    action = Frame(lines=("Action: Ping", "ActionID: a-2"))
    assert action.kind == ""
    assert not action.is_event
    assert not action.is_response
    assert USER_EVENT.action_id is None


def test_kind_found_when_not_on_the_first_line() -> None:
    """A frame whose Event line is not first (or differently cased) still has its kind."""
    frame = Frame(lines=("Privilege: call,all", "EVENT: Hangup"))
    assert frame.kind == "Hangup"
    assert frame.is_event


def test_fields_are_the_pairs_in_wire_order() -> None:
    """``fields`` splits each line at its first separator, in order, repeats kept."""
    frame = Frame(lines=("Event: Newexten", "AppData: Redirected,Channel: x", "AccountCode: "))
    assert frame.fields == (
        ("Event", "Newexten"),
        ("AppData", "Redirected,Channel: x"),
        ("AccountCode", ""),
    )
    assert frame.get("AppData") == "Redirected,Channel: x"


def test_from_pairs_builds_the_same_frame_as_its_lines() -> None:
    """A frame built from pairs equals the one built from its lines, and hashes alike."""
    built = Frame.from_pairs([("Event", "Hangup"), ("Cause", "16")])
    assert built == Frame(lines=("Event: Hangup", "Cause: 16"))
    assert hash(built) == hash(Frame(lines=("Event: Hangup", "Cause: 16")))
    assert built.fields == (("Event", "Hangup"), ("Cause", "16"))


def test_lookups_leave_equality_alone() -> None:
    """The lazily built index never takes part in equality."""
    first = Frame(lines=("Event: Hangup", "Cause: 16"))
    second = Frame(lines=("Event: Hangup", "Cause: 16"))
    assert first.get("cause") == "16"
    assert first == second


@pytest.mark.parametrize(
    "lines",
    [(), ("no separator",), ("Event: A\nInjected: b",)],
    ids=["empty", "no-separator", "line-end"],
)
def test_malformed_lines_are_refused(lines: tuple[str, ...]) -> None:
    """A frame is at least one line, each with ``": "`` and no line end."""
    with pytest.raises(AmiProtocolError):
        Frame(lines=lines)


def test_key_with_separator_is_refused() -> None:
    """A key holding ``": "`` could not be read back: refused."""
    with pytest.raises(AmiProtocolError):
        Frame.from_pairs([("Bad: key", "v")])


def test_frames_are_immutable() -> None:
    """Frames are values: no attribute can be reassigned."""
    with pytest.raises(dataclasses.FrozenInstanceError):
        USER_EVENT.lines = ()  # type: ignore[misc]
