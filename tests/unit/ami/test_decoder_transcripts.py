"""The decoder on the bytes of a real Asterisk 20: every recorded read, fed as it came."""

from __future__ import annotations

from pathlib import Path

import pytest

from acd.ami.correlate import ActionTracker, Completion
from acd.ami.frames import Frame
from tests.unit.ami.transcripts import (
    FIXTURES,
    TRACES,
    decode_reads,
    read_transcript,
    received,
    transcript_paths,
)

TRANSCRIPTS = transcript_paths()
BANNER = b"Asterisk Call Manager/9.0.0\r\n"


def by_kind(frames: list[Frame], kind: str) -> list[Frame]:
    """The frames of one event name or response status."""
    return [frame for frame in frames if frame.kind == kind]


def test_seven_recorded_transcripts_are_present() -> None:
    """The codec is tested on all seven recordings of the real Asterisk."""
    assert len(TRANSCRIPTS) == 7


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=lambda path: path.stem)
def test_recorded_reads_decode_without_bad_frames(path: Path) -> None:
    """Each read decodes in turn: one frame per blank-line terminator, none bad or held back."""
    reads = received(path)
    decoder, frames = decode_reads(reads)
    stream = b"".join(reads)
    assert decoder.banner == "Asterisk Call Manager/9.0.0"
    assert decoder.protocol_version == "9.0.0"
    assert (decoder.bad_frames, decoder.oversized_frames, decoder.buffered) == (0, 0, 0)
    assert len(frames) == stream.count(b"\r\n\r\n") == decoder.frames_decoded
    assert all(frame.is_event or frame.is_response for frame in frames)


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=lambda path: path.stem)
def test_frames_keep_every_recorded_line_in_order(path: Path) -> None:
    """Writing the frames' lines back gives the recorded bytes after the banner, exactly."""
    reads = received(path)
    _, frames = decode_reads(reads)
    rebuilt = b"".join(("\r\n".join(frame.lines) + "\r\n\r\n").encode() for frame in frames)
    assert BANNER + rebuilt == b"".join(reads)


def test_recorded_reads_hold_several_frames_each_ending_on_a_frame() -> None:
    """On loopback Asterisk wrote whole messages, often several per read: both cases are real."""
    reads = [data for path in TRANSCRIPTS for data in received(path)[1:]]
    assert all(data.endswith(b"\r\n\r\n") for data in reads)
    assert max(data.count(b"\r\n\r\n") for data in reads) >= 5


def test_frame_split_across_reads_inside_a_chan_variable() -> None:
    """The hand-written fixture cuts a CoreShowChannel inside a ChanVariable line."""
    reads = received(FIXTURES / "channelvars_transcript.txt")
    assert not reads[1].endswith(b"\r\n\r\n")
    decoder = decode_reads(reads[:2])[0]
    assert decoder.buffered > 0
    _, frames = decode_reads(reads)
    assert [frame.kind for frame in frames] == [
        "Success",
        "CoreShowChannel",
        "CoreShowChannel",
        "CoreShowChannelsComplete",
        "DialBegin",
        "Hangup",
    ]


def test_sip_call_dials_answered_agent(sip_call_frames: list[Frame]) -> None:
    """A real SIP call: DialBegin to the agent, then DialEnd with DialStatus ANSWER."""
    (begin,) = by_kind(sip_call_frames, "DialBegin")
    (end,) = by_kind(sip_call_frames, "DialEnd")
    assert begin.get("Channel") == "SIP/caller-00000004"
    assert begin.get("DestChannel") == "SIP/agent1-00000005"
    assert begin.get("DialString") == "agent1"
    assert end.get("DialStatus") == "ANSWER"
    assert end.get("Uniqueid") == "1795923798.40"
    assert end.get("DestUniqueid") == "1795923798.41"


def test_sip_call_hangups_carry_normal_clearing_cause(sip_call_frames: list[Frame]) -> None:
    """Both legs of the SIP call hang up with Cause 16 and its text."""
    hangups = by_kind(sip_call_frames, "Hangup")
    assert [frame.get("Uniqueid") for frame in hangups] == ["1795923798.40", "1795923798.41"]
    assert {frame.get("Cause") for frame in hangups} == {"16"}
    assert {frame.get("Cause-txt") for frame in hangups} == {"Normal Clearing"}


def test_sip_call_login_response_and_fully_booted(sip_call_frames: list[Frame]) -> None:
    """The first read holds the login response and FullyBooted, as two frames."""
    response, booted = sip_call_frames[:2]
    assert response.is_response
    assert response.kind == "Success"
    assert response.action_id == "login-1"
    assert response.get("Message") == "Authentication accepted"
    assert booted.kind == "FullyBooted"
    assert booted.get("Status") == "Fully Booted"


@pytest.mark.parametrize(
    "name", ["ami_redirect_wait_transcript.txt", "ami_redirect_moh_transcript.txt"]
)
def test_user_event_keeps_both_channel_lines(name: str) -> None:
    """A dialplan UserEvent whose body has Channel carries Channel twice: both are kept."""
    _, frames = decode_reads(received(TRACES / name))
    (event,) = by_kind(frames, "UserEvent")
    assert event.get("UserEvent") == "Redirected"
    channels = event.get_all("Channel")
    assert len(channels) == 2
    assert channels[0] == channels[1]
    assert channels[0].startswith("Local/200")
    assert event.get("Context") == "redirected"


def test_core_show_channels_chan_variables(channelvars_frames: list[Frame]) -> None:
    """With channelvars, each CoreShowChannel entry carries its ACD variables in order."""
    entries = by_kind(channelvars_frames, "CoreShowChannel")
    assert [entry.chan_vars for entry in entries] == [
        {"ACD_STATE": "waiting", "ACD_DEPT": "75", "ACD_ENQ_TS": "1795923801"},
        {"ACD_STATE": "routing:r-12", "ACD_DEPT": "75", "ACD_ENQ_TS": "1795923805"},
    ]
    assert entries[0].get_all("ChanVariable")[0] == "ACD_STATE=waiting"
    assert entries[0].get("CallerIDName") == "José Martin"
    assert entries[1].get("CallerIDName") == "Zoé Petit"


def test_dial_begin_dest_chan_variables(channelvars_frames: list[Frame]) -> None:
    """A DialBegin carries the caller's ChanVariable and the callee's DestChanVariable."""
    (dial,) = by_kind(channelvars_frames, "DialBegin")
    assert dial.chan_vars["ACD_STATE"] == "routing:r-12"
    assert dial.prefixed_chan_vars("Dest") == {"ACD_STATE": "", "ACD_DEPT": "", "ACD_ENQ_TS": ""}


def test_hangup_of_waiting_caller_reads_state_from_chan_variable(
    channelvars_frames: list[Frame],
) -> None:
    """Abandonment is classified by ACD_STATE on the Hangup, whatever the cause says."""
    (hangup,) = by_kind(channelvars_frames, "Hangup")
    assert hangup.chan_vars["ACD_STATE"] == "waiting"
    assert (hangup.get("Cause"), hangup.get("Cause-txt")) == ("0", "Unknown")


def replay_with_tracker(path: Path) -> tuple[ActionTracker, list[Completion]]:
    """Register every recorded action, feed every recorded read; the completions, in order."""
    tracker = ActionTracker()
    decoder = decode_reads([])[0]
    completions: list[Completion] = []
    for block in read_transcript(path):
        if block.direction == "SENT":
            (action,) = decode_reads([block.data], expect_banner=False)[1]
            assert action.action_id is not None
            tracker.register(action.action_id)
            continue
        for frame in decoder.feed(block.data):
            completion = tracker.on_frame(frame)
            if completion is not None:
                completions.append(completion)
    return tracker, completions


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=lambda path: path.stem)
def test_every_recorded_action_completes(path: Path) -> None:
    """Every action sent in a recording completes, each list with ListItems entries."""
    tracker, completions = replay_with_tracker(path)
    assert len(tracker) == 0
    assert all(completion.ok for completion in completions)
    for completion in completions:
        if completion.list_end is not None:
            assert len(completion.events) == int(completion.list_end.get("ListItems", "-1"))


def test_queue_status_list_completes_with_params_and_member() -> None:
    """QueueStatus answers with a list: QueueParams and QueueMember, then the Complete event."""
    _, completions = replay_with_tracker(TRACES / "ami_queue_local_transcript.txt")
    (status,) = [c for c in completions if c.action_id == "qstat-1"]
    assert [event.kind for event in status.events] == ["QueueParams", "QueueMember"]
    assert status.list_end is not None
    assert status.list_end.kind == "QueueStatusComplete"
    assert status.message == "Queue status will follow"


def test_sip_peers_list_completes_with_four_entries() -> None:
    """SIPpeers lists the four recorded peers, spread over several reads."""
    _, completions = replay_with_tracker(TRACES / "ami_sip_call_transcript.txt")
    (peers,) = [c for c in completions if c.action_id == "sippeers-1"]
    names = [event.get("ObjectName") for event in peers.events]
    assert names == ["agent1", "agent2", "agent3", "caller"]


def test_core_show_channels_resync_completes_via_tracker() -> None:
    """The CoreShowChannels snapshot completes with its two entries and their variables."""
    tracker = ActionTracker()
    tracker.register("acd-node1-1795923800-7", expects_list=True)
    _, frames = decode_reads(received(FIXTURES / "channelvars_transcript.txt"))
    completions = [c for c in map(tracker.on_frame, frames) if c is not None]
    (snapshot,) = completions
    assert [event.get("Uniqueid") for event in snapshot.events] == [
        "1795923801.40",
        "1795923805.42",
    ]
    assert snapshot.list_end is not None
    assert snapshot.list_end.get("ListItems") == "2"
