"""Read boundaries never change what the decoder returns: same frames however TCP cuts."""

from __future__ import annotations

from itertools import cycle, pairwise

from hypothesis import given
from hypothesis import strategies as st

from acd.ami.codec import AmiDecoder
from acd.ami.frames import Frame
from tests.unit.ami.transcripts import FIXTURES, decode_reads, received, transcript_paths


def whole_stream() -> bytes:
    """One session's worth of bytes: a banner, then every recorded read of every file."""
    reads = [data for path in transcript_paths() for data in received(path)[1:]]
    reads += received(FIXTURES / "channelvars_transcript.txt")[1:]
    return b"Asterisk Call Manager/9.0.0\r\n" + b"".join(reads)


STREAM = whole_stream()
EXPECTED = decode_reads([STREAM])[1]


def cut(stream: bytes, sizes: list[int]) -> list[bytes]:
    """The stream cut into reads of the given sizes, repeated until the end."""
    reads: list[bytes] = []
    position = 0
    for size in cycle(sizes):
        if position >= len(stream):
            return reads
        reads.append(stream[position : position + size])
        position += size
    raise AssertionError("unreachable")


def test_whole_stream_holds_every_recorded_frame() -> None:
    """Fed at once, the stream gives one frame per terminator, none bad."""
    decoder, frames = decode_reads([STREAM])
    assert len(frames) == STREAM.count(b"\r\n\r\n") > 600
    assert decoder.bad_frames == decoder.oversized_frames == 0


def test_one_byte_reads_give_the_same_frames() -> None:
    """A byte at a time (the worst TCP can do) gives the very same frames."""
    decoder = AmiDecoder()
    frames: list[Frame] = []
    for index in range(len(STREAM)):
        frames.extend(decoder.feed(STREAM[index : index + 1]))
    assert frames == EXPECTED
    assert decoder.banner == "Asterisk Call Manager/9.0.0"


@given(sizes=st.lists(st.integers(min_value=1, max_value=9000), min_size=1, max_size=40))
def test_random_read_sizes_give_the_same_frames(sizes: list[int]) -> None:
    """Any sequence of read sizes gives the same frames as one big read."""
    decoder, frames = decode_reads(cut(STREAM, sizes))
    assert frames == EXPECTED
    assert decoder.bad_frames == 0
    assert decoder.buffered == 0


@given(cuts=st.sets(st.integers(min_value=1, max_value=len(STREAM) - 1), max_size=60))
def test_random_cut_points_give_the_same_frames(cuts: set[int]) -> None:
    """Cutting the stream at arbitrary byte offsets gives the same frames."""
    bounds = [0, *sorted(cuts), len(STREAM)]
    reads = [STREAM[start:end] for start, end in pairwise(bounds)]
    assert decode_reads(reads)[1] == EXPECTED


CALLER = "Event: Newchannel\r\nChannel: SIP/caller-00000001\r\nCallerIDName: José\r\n\r\n"


def test_utf8_character_split_across_reads_survives() -> None:
    """``CallerIDName: José`` cut between the two bytes of the é comes out intact."""
    data = CALLER.encode("utf-8")
    split = data.index("é".encode()) + 1
    decoder = AmiDecoder(expect_banner=False)
    assert decoder.feed(data[:split]) == []
    (frame,) = decoder.feed(data[split:])
    assert frame.get("CallerIDName") == "José"


@given(split=st.integers(min_value=1, max_value=len(CALLER.encode()) - 1))
def test_utf8_frame_survives_any_split(split: int) -> None:
    """Wherever the read boundary falls, the multi-byte name survives."""
    data = CALLER.encode("utf-8")
    decoder = AmiDecoder(expect_banner=False)
    frames = decoder.feed(data[:split]) + decoder.feed(data[split:])
    assert [frame.get("CallerIDName") for frame in frames] == ["José"]


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    """A stray non-UTF-8 byte becomes U+FFFD and the next frame still decodes."""
    decoder = AmiDecoder(expect_banner=False)
    frames = decoder.feed(b"Event: Newchannel\r\nCallerIDName: Jos\xe9\r\n\r\nEvent: Ping\r\n\r\n")
    assert [frame.get("CallerIDName") for frame in frames] == ["Jos\ufffd", None]
    assert frames[1].kind == "Ping"
    assert decoder.bad_frames == 0


def test_several_frames_in_one_read_keep_their_order() -> None:
    """Frames sharing one read come out in wire order."""
    data = b"".join(f"Event: E{n}\r\nSeq: {n}\r\n\r\n".encode() for n in range(50))
    frames = AmiDecoder(expect_banner=False).feed(data)
    assert [frame.get("Seq") for frame in frames] == [str(n) for n in range(50)]


def frame_ends(stream: bytes) -> list[int]:
    """The offset just past each frame terminator of the stream."""
    ends: list[int] = []
    position = stream.find(b"\r\n\r\n")
    while position >= 0:
        ends.append(position + 4)
        position = stream.find(b"\r\n\r\n", position + 4)
    return ends


def test_each_frame_comes_out_as_soon_as_its_terminator_arrives() -> None:
    """Feeding up to each terminator yields exactly that frame and holds nothing back."""
    decoder = AmiDecoder()
    position = 0
    for end in frame_ends(STREAM)[:300]:
        assert len(decoder.feed(STREAM[position:end])) == 1
        assert decoder.buffered == 0
        position = end
