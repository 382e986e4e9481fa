"""Event delivery: in order, after the resync hook, robust to garbage, bad handlers and floods."""

from __future__ import annotations

import asyncio
import logging

import pytest

from acd.ami.codec import encode_frame
from acd.ami.frames import Frame
from tests.integration.ami.scripted_server import ScriptedAmiServer, wait_for
from tests.integration.ami.support import Clients, Recorder, user_event


@pytest.mark.asyncio
async def test_events_arrive_in_wire_order(
    server: ScriptedAmiServer, clients: Clients, recorder: Recorder
) -> None:
    """A burst of events reaches the handler whole and in the order they were sent."""
    client = clients(server, recorder)
    await client.start()
    await client.wait_logged_in(2)
    burst = b"".join(encode_frame(user_event(f"E{n}")) for n in range(200))
    await server.send_raw(burst, split_at=(1000, 1001, 5000))
    await wait_for(lambda: len(recorder.frames) == 201, what="200 events")
    assert recorder.kinds() == ["FullyBooted", *(f"E{n}" for n in range(200))]
    assert client.stats().events_received == 201


@pytest.mark.asyncio
async def test_events_received_during_on_connected_wait_until_it_returns(
    server: ScriptedAmiServer, clients: Clients, recorder: Recorder
) -> None:
    """Events that arrive while the resync hook runs are delivered after it, in order."""

    async def resync() -> None:
        recorder.log.append("resync-start")
        await server.send_event(*user_event("DuringResync"))
        await wait_for(lambda: client.stats().events_received >= 2, what="the live event")
        recorder.log.append("resync-end")

    client = clients(server, recorder, on_connected=resync)
    await client.start()
    await client.wait_logged_in(2)
    await wait_for(lambda: len(recorder.frames) == 2, what="the buffered events")
    # FullyBooted came in the same read as the login answer: it waited for the hook too.
    assert recorder.log == ["resync-start", "resync-end", "FullyBooted", "DuringResync"]


@pytest.mark.asyncio
async def test_events_of_a_lost_session_come_before_the_next_resync(
    server: ScriptedAmiServer, clients: Clients, recorder: Recorder
) -> None:
    """A slow handler still gets the old session's events before the new session's hook."""

    async def slow(frame: Frame) -> None:
        await asyncio.sleep(0.03)
        recorder.on_frame(frame)

    client = clients(server, recorder, on_frame=slow)
    await client.start()
    await client.wait_logged_in(2)
    await server.send_raw(b"".join(encode_frame(user_event(f"Old{n}")) for n in range(5)))
    await wait_for(lambda: client.stats().events_received == 6, what="the old events")
    await server.drop()
    await wait_for(lambda: recorder.connects == 2, timeout=3, what="the second resync")
    await wait_for(lambda: len(recorder.frames) == 7, what="the new session's FullyBooted")
    # on_disconnected is told at once, not in the queue: only the events keep their order.
    assert recorder.disconnects == ["connection closed by the peer"]
    assert [entry for entry in recorder.log if entry != "disconnected"] == [
        "connected-1",
        "FullyBooted",
        *(f"Old{n}" for n in range(5)),
        "connected-2",
        "FullyBooted",
    ]


@pytest.mark.asyncio
async def test_garbage_and_oversized_frames_are_counted_and_skipped(
    server: ScriptedAmiServer, clients: Clients, recorder: Recorder
) -> None:
    """A malformed frame and an oversized one are counted; the session lives on."""
    client = clients(server, recorder, max_frame_bytes=1024)
    await client.start()
    await client.wait_logged_in(2)
    garbage = b"this is not AMI at all\r\n\r\n"
    oversized = encode_frame(user_event("Huge", ("Data", "x" * 4000)))
    after = encode_frame(user_event("After"))
    await server.send_raw(garbage + oversized + after, split_at=(10, 900, 2000))
    await wait_for(lambda: "After" in recorder.kinds(), what="the event after the garbage")
    stats = client.stats()
    assert stats.bad_frames == 2
    assert stats.oversized_frames == 1
    assert recorder.kinds() == ["FullyBooted", "After"]
    assert len(server.connections) == 1
    assert client.logged_in


@pytest.mark.asyncio
async def test_failing_handler_is_logged_and_skipped(
    server: ScriptedAmiServer,
    clients: Clients,
    recorder: Recorder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A handler that raises on one event is logged with the event kind; the next ones follow."""

    def fragile(frame: Frame) -> None:
        recorder.on_frame(frame)
        if frame.get("UserEvent") == "E2":
            raise RuntimeError("handler bug")

    client = clients(server, recorder, on_frame=fragile)
    await client.start()
    await client.wait_logged_in(2)
    with caplog.at_level(logging.ERROR, logger="connectors.asterisk"):
        await server.send_raw(b"".join(encode_frame(user_event(f"E{n}")) for n in range(1, 5)))
        await wait_for(lambda: len(recorder.frames) == 5, what="4 events")
    assert recorder.kinds() == ["FullyBooted", "E1", "E2", "E3", "E4"]
    assert client.stats().handler_errors == 1
    assert "handler failed on a UserEvent event" in caplog.text
    assert "handler bug" in caplog.text
    assert client.logged_in


@pytest.mark.asyncio
async def test_utf8_character_split_across_writes_arrives_intact(
    server: ScriptedAmiServer, clients: Clients, recorder: Recorder
) -> None:
    """``José`` cut between the two bytes of ``é`` by TCP still arrives as ``José``."""
    client = clients(server, recorder)
    await client.start()
    await client.wait_logged_in(2)
    data = encode_frame(
        (("Event", "Newchannel"), ("CallerIDName", "José"), ("Uniqueid", "1795923776.26"))
    )
    cut = data.index("é".encode()) + 1
    await server.send_raw(data, split_at=(cut,))
    await wait_for(lambda: len(recorder.frames) == 2, what="the Newchannel")
    assert recorder.frames[1].get("CallerIDName") == "José"


@pytest.mark.asyncio
async def test_full_queue_drops_events_loudly_and_schedules_a_resync(
    server: ScriptedAmiServer,
    clients: Clients,
    recorder: Recorder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A stuck handler never stalls the reader: overflow is counted, logged, then resynced."""
    release = asyncio.Event()

    async def stuck(frame: Frame) -> None:
        recorder.on_frame(frame)
        if frame.get("UserEvent") == "First":
            await release.wait()

    client = clients(server, recorder, on_frame=stuck, queue_size=4)
    await client.start()
    await client.wait_logged_in(2)
    with caplog.at_level(logging.ERROR, logger="connectors.asterisk"):
        await server.send_event(*user_event("First"))
        await wait_for(lambda: "First" in recorder.kinds(), what="the stuck handler")
        await server.send_raw(b"".join(encode_frame(user_event(f"B{n}")) for n in range(20)))
        await wait_for(lambda: client.stats().events_received == 22, what="the flood")
    stats = client.stats()
    assert stats.events_dropped == 16
    assert stats.queue_depth == 4
    assert stats.resync_needed
    assert stats.consumer_lag_s > 0
    assert "event queue full" in caplog.text
    await asyncio.sleep(0.3)  # pings go on while the handler is stuck
    assert len(server.connections) == 1
    assert client.logged_in
    release.set()
    await wait_for(lambda: recorder.connects == 2, what="the resync after the overflow")
    await server.send_event(*user_event("After"))
    await wait_for(lambda: "After" in recorder.kinds(), what="the event after the resync")
    assert recorder.log[1:] == [
        "FullyBooted",
        "First",
        "B0",
        "B1",
        "B2",
        "B3",
        "connected-2",
        "After",
    ]
    assert not client.stats().resync_needed
