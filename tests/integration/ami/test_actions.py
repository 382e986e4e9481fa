"""Actions over real TCP: errors are answers, timeouts forget the action, lists complete whole."""

from __future__ import annotations

import asyncio

import pytest

from acd.ami import actions
from acd.ami.errors import AmiActionFailed, AmiActionTimeout
from connectors.asterisk import require_ok
from tests.integration.ami.scripted_server import ListAnswer, Script, ScriptedAmiServer
from tests.integration.ami.support import Clients, Recorder, user_event


@pytest.mark.asyncio
async def test_error_response_comes_back_as_a_failed_completion(clients: Clients) -> None:
    """``Response: Error`` is returned with ``ok`` false and its message; ``require_ok`` raises."""
    script = Script(errors={"Redirect": "Channel does not exist: 1795923776.27"})
    server = await ScriptedAmiServer(script).start()
    try:
        client = clients(server)
        await client.start()
        await client.wait_logged_in(2)
        completion = await client.send(actions.redirect("1795923776.27", "acd-dispatch", "s"))
        assert not completion.ok
        assert completion.message == "Channel does not exist: 1795923776.27"
        with pytest.raises(AmiActionFailed, match="Channel does not exist"):
            require_ok(completion)
        accepted = await client.send(actions.setvar("ACD_HEARTBEAT", "1795923800"))
        assert require_ok(accepted) is accepted
        assert client.logged_in  # an error answer does not hurt the session
    finally:
        await server.close()


@pytest.mark.asyncio
async def test_action_times_out_and_its_late_answer_is_ignored(clients: Clients) -> None:
    """Past its timeout an action raises ``AmiActionTimeout``; the late answer changes nothing."""
    server = await ScriptedAmiServer(Script(late={"Getvar": 0.3})).start()
    try:
        client = clients(server, ping_interval_s=5.0)  # no Ping in flight to count
        await client.start()
        await client.wait_logged_in(2)
        with pytest.raises(AmiActionTimeout, match=r"no answer to Getvar .* within 0.1 s"):
            await client.send(actions.getvar("ACD_STATE", channel="1795923776.27"), timeout=0.1)
        assert client.stats().actions_in_flight == 0
        await asyncio.sleep(0.35)  # the answer arrives now, for an action nobody waits for
        assert client.stats().unmatched_responses == 1
        completion = await client.send(actions.setvar("ACD_HEARTBEAT", "1795923801"))
        assert completion.ok
        assert len(server.connections) == 1  # same session all along
    finally:
        await server.close()


@pytest.mark.asyncio
async def test_list_action_completes_with_all_its_events(
    clients: Clients, recorder: Recorder
) -> None:
    """CoreShowChannels returns every CoreShowChannel; unrelated events still reach the handler."""
    channels = tuple(
        (
            ("Event", "CoreShowChannel"),
            ("Channel", f"PJSIP/caller-0000000{n}"),
            ("Uniqueid", f"1795923776.{n}"),
            ("ChanVariable", "ACD_STATE=waiting"),
        )
        for n in range(3)
    )
    answer = ListAnswer(
        items=channels,
        complete_event="CoreShowChannelsComplete",
        interleaved=user_event("ACDWaiting", ("Uniqueid", "1795923776.9")),
    )
    server = await ScriptedAmiServer(Script(lists={"CoreShowChannels": answer})).start()
    try:
        client = clients(server, recorder)
        await client.start()
        await client.wait_logged_in(2)
        completion = await client.send(actions.core_show_channels())
        assert completion.ok
        assert [frame.get("Uniqueid") for frame in completion.events] == [
            "1795923776.0",
            "1795923776.1",
            "1795923776.2",
        ]
        assert completion.events[0].chan_vars == {"ACD_STATE": "waiting"}
        assert completion.list_end is not None
        assert completion.list_end.kind == "CoreShowChannelsComplete"
        await asyncio.sleep(0.05)
        assert "ACDWaiting" in recorder.kinds()
        assert "CoreShowChannel" not in recorder.kinds()
    finally:
        await server.close()
