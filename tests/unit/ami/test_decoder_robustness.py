"""Hostile or broken input: counted, skipped, bounded; the decoder never stops decoding."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from acd.ami.codec import MIN_MAX_FRAME_BYTES, AmiDecoder
from acd.ami.errors import AmiProtocolError, InvalidCodecSetting
from acd.ami.frames import Frame, parse_lines
from tests.unit.ami.transcripts import decode_reads, received, transcript_paths

GOOD = b"Event: Hangup\r\nUniqueid: 1795923798.40\r\nCause: 16\r\n\r\n"
GOOD_LINES = ("Event: Hangup", "Uniqueid: 1795923798.40", "Cause: 16")
SAMPLE = b"".join(received(transcript_paths()[0])[1:])


def test_oversized_frame_is_counted_and_skipped() -> None:
    """A frame over the limit is dropped whole, counted, and the next frame still decodes."""
    decoder = AmiDecoder(max_frame_bytes=1024, expect_banner=False)
    huge = b"Event: Big\r\nData: " + b"x" * 5000 + b"\r\n\r\n"
    frames = decoder.feed(huge + GOOD)
    assert [frame.lines for frame in frames] == [GOOD_LINES]
    assert decoder.oversized_frames == 1
    assert decoder.bad_frames == 0


def test_oversized_frame_arriving_in_small_reads_keeps_memory_bounded() -> None:
    """A frame that never ends is discarded as it grows: the buffer stays under the limit."""
    decoder = AmiDecoder(max_frame_bytes=1024, expect_banner=False)
    assert decoder.feed(b"Event: Endless\r\nData: ") == []
    for _ in range(200):
        assert decoder.feed(b"y" * 300) == []
        assert decoder.buffered <= decoder.buffer_limit
    assert decoder.oversized_frames == 1
    frames = decoder.feed(b"\r\n\r\n" + GOOD)
    assert [frame.lines for frame in frames] == [GOOD_LINES]
    assert decoder.oversized_frames == 1


def test_terminator_split_across_reads_ends_the_skipped_frame() -> None:
    """While skipping, a terminator cut across two reads is still found."""
    decoder = AmiDecoder(max_frame_bytes=MIN_MAX_FRAME_BYTES, expect_banner=False)
    decoder.feed(b"Event: Big\r\nData: " + b"z" * 1000 + b"\r\n\r")
    frames = decoder.feed(b"\n" + GOOD)
    assert [frame.lines for frame in frames] == [GOOD_LINES]


def test_frame_of_exactly_the_limit_with_split_terminator_is_kept() -> None:
    """A frame as big as the limit is not oversized when its terminator arrives late."""
    decoder = AmiDecoder(max_frame_bytes=MIN_MAX_FRAME_BYTES, expect_banner=False)
    head = b"Event: Big\r\nData: "
    body = head + b"d" * (MIN_MAX_FRAME_BYTES - len(head))
    assert decoder.feed(body + b"\r\n\r") == []
    assert decoder.buffered == decoder.buffer_limit == MIN_MAX_FRAME_BYTES + 3
    (frame,) = decoder.feed(b"\n")
    assert frame.kind == "Big"
    assert decoder.oversized_frames == 0


def test_frame_one_byte_over_the_limit_is_oversized() -> None:
    """One byte more than the limit and the frame is dropped, in one read or in two."""
    head = b"Event: Big\r\nData: "
    body = head + b"d" * (MIN_MAX_FRAME_BYTES + 1 - len(head))
    for reads in ([body + b"\r\n\r\n" + GOOD], [body, b"\r\n\r\n" + GOOD]):
        decoder = AmiDecoder(max_frame_bytes=MIN_MAX_FRAME_BYTES, expect_banner=False)
        frames = [frame for data in reads for frame in decoder.feed(data)]
        assert [frame.lines for frame in frames] == [GOOD_LINES]
        assert decoder.oversized_frames == 1


def test_line_without_separator_counts_a_bad_frame_and_decoding_goes_on() -> None:
    """A frame with a line lacking ``": "`` is counted and skipped, the neighbours survive."""
    decoder = AmiDecoder(expect_banner=False)
    frames = decoder.feed(GOOD + b"Event: Broken\r\nno separator here\r\n\r\n" + GOOD)
    assert [frame.lines for frame in frames] == [GOOD_LINES, GOOD_LINES]
    assert decoder.bad_frames == 1


def test_extra_blank_lines_between_frames_are_not_errors() -> None:
    """Blank lines between messages are ignored, not counted as bad frames."""
    decoder = AmiDecoder(expect_banner=False)
    frames = decoder.feed(b"\r\n\r\n" + GOOD + b"\r\n\r\n\r\n" + GOOD + b"\r\n")
    assert [frame.lines for frame in frames] == [GOOD_LINES, GOOD_LINES]
    assert decoder.bad_frames == 0


def test_bare_lf_peer_is_tolerated() -> None:
    """A peer ending lines with a bare LF still gives frames (banner included)."""
    decoder = AmiDecoder()
    data = GOOD.replace(b"\r\n", b"\n")
    frames = decoder.feed(b"Asterisk Call Manager/9.0.0\n" + data + data[:10])
    frames += decoder.feed(data[10:] + b"Event: Mixed\r\nKey: v\r\n\r\n")
    assert [frame.kind for frame in frames] == ["Hangup", "Hangup", "Mixed"]
    assert frames[2].lines == ("Event: Mixed", "Key: v")
    assert decoder.banner == "Asterisk Call Manager/9.0.0"


def test_bare_lf_mode_joins_cr_and_lf_split_across_reads() -> None:
    """In bare-LF mode a CRLF cut between two reads is still one line end."""
    decoder = AmiDecoder(expect_banner=False)
    decoder.feed(b"Event: A\nK: v\n\n")
    frames = decoder.feed(b"Event: B\r") + decoder.feed(b"\nK: w\r\n\r\n")
    assert [frame.lines for frame in frames] == [("Event: B", "K: w")]


def test_stray_bare_lf_inside_crlf_frame_is_a_line_end() -> None:
    """In a CRLF stream, a line ended by a bare LF is still split into its own field."""
    decoder = AmiDecoder(expect_banner=False)
    (frame,) = decoder.feed(b"Event: Newexten\r\nContext: acd-wait\nExten: 75\r\n\r\n")
    assert frame.fields == (("Event", "Newexten"), ("Context", "acd-wait"), ("Exten", "75"))


def test_run_of_bare_lf_blank_lines_inside_crlf_stream_separates_frames() -> None:
    """Several bare-LF blank lines in a CRLF stream separate frames and are not errors."""
    decoder = AmiDecoder(expect_banner=False)
    frames = decoder.feed(b"Event: A\r\nK: v\n\n\n\nEvent: B\r\nK: w\r\n\r\n")
    assert [frame.lines for frame in frames] == [("Event: A", "K: v"), ("Event: B", "K: w")]
    assert decoder.bad_frames == 0


def test_parse_lines_of_nothing_is_malformed() -> None:
    """No line at all is not a frame."""
    assert parse_lines([]) is None


def test_old_command_output_becomes_output_lines() -> None:
    """``Response: Follows`` raw output (old Asterisk) is kept as ``Output`` lines."""
    decoder = AmiDecoder(expect_banner=False)
    data = (
        b"Response: Follows\r\nPrivilege: Command\r\nActionID: cmd-1\r\n"
        b"Channel              Location\nSIP/a: up\n\nthe end\n--END COMMAND--\r\n\r\n"
    )
    (frame,) = decoder.feed(data)
    assert frame.kind == "Follows"
    assert frame.action_id == "cmd-1"
    assert frame.get_all("Output") == ["Channel              Location", "SIP/a: up", "", "the end"]
    assert decoder.bad_frames == 0


def test_output_glued_to_end_command_marker_is_kept() -> None:
    """Output without a final newline, glued to ``--END COMMAND--``, is kept as a line."""
    decoder = AmiDecoder(expect_banner=False)
    (frame,) = decoder.feed(
        b"Response: Follows\r\nPrivilege: Command\r\nNo: such--END COMMAND--\r\n\r\n"
    )
    assert frame.get_all("Output") == ["No: such"]


def test_stream_without_banner_still_decodes() -> None:
    """No banner (a proxy, a fake server): the first line is a frame line, not swallowed."""
    decoder = AmiDecoder()
    frames = decoder.feed(GOOD)
    assert [frame.lines for frame in frames] == [GOOD_LINES]
    assert decoder.banner is None
    assert decoder.protocol_version is None


def test_banner_split_across_reads() -> None:
    """A banner cut in two reads is recognised once its line end arrives."""
    decoder = AmiDecoder()
    assert decoder.feed(b"Asterisk Call") == []
    assert decoder.feed(b" Manager/9.0.0\r") == []
    frames = decoder.feed(b"\n" + GOOD)
    assert decoder.banner == "Asterisk Call Manager/9.0.0"
    assert [frame.lines for frame in frames] == [GOOD_LINES]


def test_bytearray_and_memoryview_reads_are_accepted() -> None:
    """Reads may come as bytearray or memoryview (e.g. from a buffered protocol)."""
    decoder = AmiDecoder(expect_banner=False)
    frames = decoder.feed(bytearray(GOOD[:20])) + decoder.feed(memoryview(GOOD[20:]))  # type: ignore[arg-type]
    assert [frame.lines for frame in frames] == [GOOD_LINES]


def test_empty_read_returns_nothing() -> None:
    """An empty read (EOF as seen by the caller) is harmless."""
    assert AmiDecoder().feed(b"") == []


def test_text_instead_of_bytes_is_a_protocol_error() -> None:
    """Feeding ``str`` is misuse: the decoder says so with its own error."""
    with pytest.raises(AmiProtocolError) as caught:
        AmiDecoder().feed("Event: Hangup\r\n\r\n")  # type: ignore[arg-type]
    assert caught.value.slug == "ami-protocol-error"


def test_tiny_frame_limit_is_refused() -> None:
    """A frame limit too small for real events is refused at construction."""
    with pytest.raises(InvalidCodecSetting) as caught:
        AmiDecoder(max_frame_bytes=MIN_MAX_FRAME_BYTES - 1)
    assert caught.value.slug == "ami-invalid-setting"


def assert_recovers(decoder: AmiDecoder) -> None:
    """After whatever came before, a terminator then a good frame gives that frame last."""
    frames = decoder.feed(b"\r\n\r\n" + GOOD)
    assert frames
    assert frames[-1].lines == GOOD_LINES
    assert decoder.buffered <= decoder.buffer_limit


def assert_valid(frames: list[Frame]) -> None:
    """Every frame out of the decoder passes the checks of a hand-built frame."""
    for frame in frames:
        assert Frame(lines=frame.lines) == frame


@given(reads=st.lists(st.binary(max_size=700), max_size=12))
def test_arbitrary_bytes_never_raise_and_stay_bounded(reads: list[bytes]) -> None:
    """Random reads: no exception, buffer bounded after every read, then recovery."""
    limit = MIN_MAX_FRAME_BYTES
    decoder = AmiDecoder(max_frame_bytes=limit)
    for data in reads:
        assert_valid(decoder.feed(data))
        assert decoder.buffered <= decoder.buffer_limit
    assert_recovers(decoder)


_PIECES = st.sampled_from(
    [
        b"\r\n",
        b"\n",
        b"\r",
        b": ",
        b":",
        b"\r\n\r\n",
        b"\n\n",
        b"\xc3",
        b"\xa9",
        b"\x00",
        b"Event: X",
    ]
)


_SOUP = st.lists(
    _PIECES
    | st.sampled_from([b"Response: Follows", b"--END COMMAND--", b"Asterisk Call Manager/9.0.0"])
    | st.binary(max_size=8),
    max_size=40,
).map(b"".join)


@given(reads=st.lists(_SOUP, max_size=10), banner=st.booleans())
def test_line_end_soup_never_raises(reads: list[bytes], banner: bool) -> None:
    """Reads made of CR, LF, separators and markers in any order: same guarantees."""
    limit = MIN_MAX_FRAME_BYTES
    decoder = AmiDecoder(max_frame_bytes=limit, expect_banner=banner)
    for data in reads:
        assert_valid(decoder.feed(data))
        assert decoder.buffered <= decoder.buffer_limit
    assert_recovers(decoder)


@st.composite
def mutated_trace(draw: st.DrawFn) -> list[bytes]:
    """A slice of recorded bytes, mutated: truncated, garbage inserted, separators removed."""
    start = draw(st.integers(min_value=0, max_value=len(SAMPLE) - 1))
    data = bytearray(SAMPLE[start : start + draw(st.integers(min_value=0, max_value=4000))])
    for _ in range(draw(st.integers(min_value=0, max_value=8))):
        position = draw(st.integers(min_value=0, max_value=len(data)))
        mutation = draw(st.sampled_from(["insert", "delete", "huge", "unseparate"]))
        if mutation == "insert":
            data[position:position] = draw(_PIECES | st.binary(max_size=20))
        elif mutation == "delete":
            del data[position : position + draw(st.integers(min_value=1, max_value=50))]
        elif mutation == "huge":
            data[position:position] = b"H" * draw(st.integers(min_value=200, max_value=3000))
        else:
            found = data.find(b": ", position)
            if found >= 0:
                del data[found : found + 2]
    sizes = draw(st.lists(st.integers(min_value=1, max_value=1500), min_size=1, max_size=8))
    reads: list[bytes] = []
    position = 0
    index = 0
    while position < len(data):
        size = sizes[index % len(sizes)]
        reads.append(bytes(data[position : position + size]))
        position += size
        index += 1
    return reads


@given(reads=mutated_trace())
def test_mutated_trace_bytes_never_raise_and_recover(reads: list[bytes]) -> None:
    """Damaged real traffic: no exception, bounded buffer, valid frames, then recovery."""
    limit = 1024
    decoder = AmiDecoder(max_frame_bytes=limit, expect_banner=False)
    for data in reads:
        assert_valid(decoder.feed(data))
        assert decoder.buffered <= decoder.buffer_limit
    assert_recovers(decoder)


@given(data=st.lists(_PIECES | st.binary(max_size=6), max_size=60).map(b"".join))
def test_text_and_bytes_split_alike_on_terminators(data: bytes) -> None:
    """Decoding with replacement never eats a CR or LF: text and bytes pieces line up."""
    text = data.decode("utf-8", "replace")
    assert len(text.split("\r\n\r\n")) == len(data.split(b"\r\n\r\n"))
    assert len(text.split("\n\n")) == len(data.split(b"\n\n"))


def test_bytes_subclass_is_accepted() -> None:
    """A subclass of bytes is still bytes to the decoder."""

    class Chunk(bytes):
        """A bytes subclass, as some stream wrappers return."""

    frames = AmiDecoder(expect_banner=False).feed(Chunk(GOOD))
    assert [frame.lines for frame in frames] == [GOOD_LINES]


def test_undamaged_trace_slice_has_no_bad_frames() -> None:
    """The fuzzing baseline: the sample itself decodes cleanly."""
    decoder, frames = decode_reads([SAMPLE], expect_banner=False)
    assert decoder.bad_frames == 0
    assert len(frames) == SAMPLE.count(b"\r\n\r\n")
