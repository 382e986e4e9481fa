"""panoramisk as an oracle: on well-formed recorded frames both parsers read the same fields."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from acd.ami.frames import Frame
from tests.unit.ami.transcripts import FIXTURES, decode_reads, received, transcript_paths

ami_protocol = pytest.importorskip("panoramisk.ami_protocol")

SOURCES = [*transcript_paths(), FIXTURES / "channelvars_transcript.txt"]


class _Transport:
    def write(self, data: bytes) -> None:
        """Nothing is sent: only the parsing is compared."""

    def close(self) -> None:
        """Nothing to close."""


def panoramisk_messages(reads: list[bytes]) -> list[Any]:
    """panoramisk 1.4's own path (``AMIProtocol.data_received``), messages captured in order."""
    protocol = ami_protocol.AMIProtocol()
    protocol.connection_made(_Transport())
    protocol.encoding = "utf8"  # what its Manager sets
    captured: list[Any] = []
    protocol.handle_message = captured.append
    for data in reads:
        protocol.data_received(data)
    return captured


def single_keys(frame: Frame) -> set[str]:
    """The keys that occur once in the frame (panoramisk turns repeated keys into lists)."""
    names = [key.lower() for key, _ in frame.fields]
    return {key for key, _ in frame.fields if names.count(key.lower()) == 1}


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: path.stem)
def test_same_fields_as_panoramisk_on_recorded_frames(path: Path) -> None:
    """Same frame count and order; every single-occurrence key has the same value."""
    reads = received(path)
    _, frames = decode_reads(reads)
    messages = panoramisk_messages(reads)
    assert len(messages) == len(frames)
    for frame, message in zip(frames, messages, strict=True):
        theirs = {key.lower(): value for key, value in message.items()}
        for key in single_keys(frame):
            if key.lower() in theirs:
                assert theirs[key.lower()] == frame.get(key), (frame.kind, key)
            else:
                # panoramisk strips the whole message first, so an empty last value is lost.
                assert frame.fields[-1] == (key, "")


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: path.stem)
def test_repeated_keys_match_panoramisk_lists(path: Path) -> None:
    """Where a key repeats, panoramisk's list holds the same values as ``get_all``."""
    reads = received(path)
    _, frames = decode_reads(reads)
    for frame, message in zip(frames, panoramisk_messages(reads), strict=True):
        for key, value in message.items():
            if isinstance(value, list):
                assert frame.get_all(key) == value


def test_panoramisk_loses_a_character_split_across_reads() -> None:
    """The flaw that motivated our codec: panoramisk drops a split é, the decoder keeps it."""
    data = "Event: Newchannel\r\nCallerIDName: José\r\n\r\n".encode()
    split = data.index("é".encode()) + 1
    (message,) = panoramisk_messages([data[:split], data[split:]])
    _, (frame,) = decode_reads([data[:split], data[split:]], expect_banner=False)
    assert message["CallerIDName"] == "Jos"
    assert frame.get("CallerIDName") == "José"
