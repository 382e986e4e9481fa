"""Recorded AMI transcripts (``### <seconds> SENT|RECV <n> bytes`` then n bytes) and a feeder."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from acd.ami.codec import DEFAULT_MAX_FRAME_BYTES, AmiDecoder
from acd.ami.frames import Frame

DATA = Path(__file__).resolve().parents[2] / "data"
TRACES = DATA / "asterisk-traces"
FIXTURES = DATA / "ami"

_HEADER = re.compile(rb"### (?P<seconds>\d+\.\d+) (?P<direction>SENT|RECV) (?P<size>\d+) bytes\n")
_NOTE = re.compile(rb"### NOTE [^\n]*\n")


@dataclass(frozen=True, slots=True, kw_only=True)
class Block:
    """One recorded read (RECV) or write (SENT), byte for byte."""

    seconds: float
    direction: str
    data: bytes


def read_transcript(path: Path) -> list[Block]:
    """Every block of a transcript; fails if a block's length disagrees with its header."""
    raw = path.read_bytes()
    blocks: list[Block] = []
    position = 0
    while position < len(raw):
        note = _NOTE.match(raw, position)
        if note is not None:
            position = note.end()
            continue
        header = _HEADER.match(raw, position)
        if header is None:
            raise ValueError(f"{path.name}: no block header at byte {position}")
        size = int(header["size"])
        data = raw[header.end() : header.end() + size]
        position = header.end() + size
        # The recorded length is right only if the next header (or the end) follows at once.
        if len(data) != size or not (position == len(raw) or raw.startswith(b"### ", position)):
            raise ValueError(f"{path.name}: block at byte {header.start()} is not {size} bytes")
        blocks.append(
            Block(
                seconds=float(header["seconds"]),
                direction=header["direction"].decode("ascii"),
                data=data,
            )
        )
    return blocks


def received(path: Path) -> list[bytes]:
    """The reads of a transcript, in order, as the socket returned them."""
    return [block.data for block in read_transcript(path) if block.direction == "RECV"]


def transcript_paths() -> list[Path]:
    """Every recorded transcript of a real Asterisk 20."""
    return sorted(TRACES.glob("*_transcript.txt"))


def decode_reads(
    reads: list[bytes],
    *,
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
    expect_banner: bool = True,
) -> tuple[AmiDecoder, list[Frame]]:
    """Feed each read in turn to a fresh decoder; the decoder and every frame, in order."""
    decoder = AmiDecoder(max_frame_bytes=max_frame_bytes, expect_banner=expect_banner)
    frames: list[Frame] = []
    for data in reads:
        frames.extend(decoder.feed(data))
    return decoder, frames
