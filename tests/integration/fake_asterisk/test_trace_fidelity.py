"""The fake's frames have the names and key orders of a real Asterisk 20's (the traces)."""

from __future__ import annotations

import itertools

import pytest

from acd.ami.frames import Frame
from connectors.asterisk.fake import FakeAsterisk
from tests.integration.fake_asterisk.support import (
    HAND_WRITTEN,
    TRACES,
    AmiConn,
    keys,
    trace_frames,
)
from tests.integration.fake_asterisk.test_routing import ARM, offer, waiting_caller

COMPARED = (
    "Newchannel", "Newstate", "Newexten", "VarSet", "DialBegin", "DialState", "DialEnd",
    "BridgeCreate", "BridgeEnter", "BridgeLeave", "BridgeDestroy", "HangupRequest",
    "SoftHangupRequest", "Hangup", "MusicOnHoldStart", "MusicOnHoldStop", "QueueCallerJoin",
    "QueueCallerLeave", "FullyBooted", "UserEvent",
)  # fmt: skip


def shape(frame: Frame) -> tuple[str, ...]:
    """The key order that must match: a UserEvent up to its name (the body is the contract's)."""
    names = keys(frame)
    if frame.kind == "UserEvent":
        names = names[: names.index("UserEvent") + 1]
    return tuple(names)


def trace_shapes() -> dict[str, set[tuple[str, ...]]]:
    """Every key order seen per event name in the recorded transcripts."""
    shapes: dict[str, set[tuple[str, ...]]] = {}
    for path in sorted(TRACES.glob("ami_*_transcript.txt")):
        for frame in trace_frames(path.name):
            if frame.is_event:
                shapes.setdefault(frame.kind, set()).add(shape(frame))
    # A caller's BYE while waiting carries no Cause (observed, not in these recordings).
    shapes["HangupRequest"] |= {s[:-1] for s in shapes["HangupRequest"] if s[-1] == "Cause"}
    return shapes


def squeeze(names: list[str]) -> list[str]:
    """Runs of one repeated key (ChanVariable lines) as one key: the count is configuration."""
    return [name for name, _ in itertools.groupby(names)]


async def run_scenario(fake: FakeAsterisk, ami: AmiConn) -> None:
    """An answered call, an unanswered one, an abandon and a refused redirect after fallback."""
    fake.set_agent(ARM, answer_delay_s=0.5, talk_s=1.0)
    fake.set_agent("PJSIP/arm-7502", answers=False)
    fake.set_global("ACD_RING_TIMEOUT", "2")
    answered = await waiting_caller(fake, ami)
    await offer(ami, answered, ARM, "r-1")
    unanswered = await waiting_caller(fake, ami)
    await offer(ami, unanswered, "PJSIP/arm-7502", "r-2")
    await ami.user_event("ACDRouteFailed", unanswered)
    await ami.user_event("ACDHangup", answered)
    abandoning = await waiting_caller(fake, ami, patience_s=3.0)
    await ami.user_event("ACDHangup", abandoning)
    fake.set_global("ACD_HEARTBEAT", "")
    await ami.user_event("ACDFallback", unanswered)
    await offer(ami, unanswered, ARM, "r-3")
    await ami.user_event("ACDRouteRefused", unanswered)


@pytest.mark.asyncio
async def test_event_key_orders_match_the_recorded_asterisk(
    fake: FakeAsterisk, ami: AmiConn
) -> None:
    """Each event the fake sends has a key order a real Asterisk 20 was seen sending."""
    await run_scenario(fake, ami)
    recorded = trace_shapes()
    sent: dict[str, set[tuple[str, ...]]] = {}
    for frame in ami.events():
        sent.setdefault(frame.kind, set()).add(shape(frame))
    assert set(COMPARED) <= set(sent), set(COMPARED) - set(sent)
    for name in COMPARED:
        unknown = sent[name] - recorded[name]
        assert not unknown, (name, unknown, recorded[name])


@pytest.mark.asyncio
async def test_channel_variables_sit_where_asterisk_puts_them(
    fake: FakeAsterisk, ami: AmiConn
) -> None:
    """ChanVariable lines close the channel block, DestChanVariable the callee's block."""
    await run_scenario(fake, ami)
    expected = {
        f.kind: squeeze(keys(f, drop_vars=False))
        for f in trace_frames("channelvars_transcript.txt", HAND_WRITTEN)
        if f.kind in ("DialBegin", "Hangup")
    }
    for kind in ("DialBegin", "Hangup"):
        frame = ami.events(kind)[0]
        assert squeeze(keys(frame, drop_vars=False)) == expected[kind]
        assert len(frame.get_all("ChanVariable")) == 5


@pytest.mark.asyncio
async def test_responses_have_the_recorded_shapes(fake: FakeAsterisk, ami: AmiConn) -> None:
    """Login, Redirect, Setvar and Logoff answers match the recorded ones key for key."""
    recorded: dict[str, tuple[str, ...]] = {}
    for path in sorted(TRACES.glob("ami_*_transcript.txt")):
        for frame in trace_frames(path.name):
            if frame.is_response and frame.get("Message"):
                recorded[frame.get("Message", "")] = tuple(keys(frame))
    await run_scenario(fake, ami)
    goodbye = await ami.request("Logoff")
    mine = [f for f in ami.frames if f.is_response] + [goodbye]
    for message in ("Authentication accepted", "Redirect successful", "Variable Set",
                    "Thanks for all the fish."):  # fmt: skip
        frame = next(f for f in mine if f.get("Message") == message)
        assert tuple(keys(frame)) == recorded[message]
