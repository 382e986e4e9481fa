"""Fixtures of the AMI codec tests: recorded reads of a real Asterisk 20, decoded once."""

from __future__ import annotations

import pytest

from acd.ami.frames import Frame
from tests.unit.ami.transcripts import FIXTURES, TRACES, decode_reads, received


@pytest.fixture(scope="session")
def sip_call_frames() -> list[Frame]:
    """A real SIP call (sipp caller dialling a sipp agent), decoded read by read."""
    return decode_reads(received(TRACES / "ami_sip_call_transcript.txt"))[1]


@pytest.fixture(scope="session")
def channelvars_frames() -> list[Frame]:
    """The hand-written CoreShowChannels/DialBegin/Hangup frames with channel variables."""
    return decode_reads(received(FIXTURES / "channelvars_transcript.txt"))[1]
