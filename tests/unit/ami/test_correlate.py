"""ActionID correlation: explicit completion rules, deadlines passed in, never a replay."""

from __future__ import annotations

import pytest

from acd.ami.correlate import ActionIdGenerator, ActionTracker, Completion, action_id_prefix
from acd.ami.errors import AmiProtocolError, DuplicateActionId, HeaderInjection
from acd.ami.frames import Frame


def frame(*pairs: tuple[str, str]) -> Frame:
    """A frame from its pairs."""
    return Frame.from_pairs(pairs)


def response(action_id: str, status: str = "Success", **extra: str) -> Frame:
    """A response to ``action_id``."""
    return frame(("Response", status), ("ActionID", action_id), *extra.items())


def event(name: str, action_id: str | None = None, **extra: str) -> Frame:
    """An event, optionally carrying an ActionID."""
    pairs = [("Event", name)]
    if action_id is not None:
        pairs.append(("ActionID", action_id))
    return frame(*pairs, *extra.items())


def test_action_ids_carry_instance_and_start_then_count() -> None:
    """ActionIDs are ``acd-<instance>-<epoch>-<n>``: unique across nodes and restarts."""
    ids = ActionIdGenerator(action_id_prefix("node1", 1795923800))
    assert [ids.next_id() for _ in range(3)] == [
        "acd-node1-1795923800-1",
        "acd-node1-1795923800-2",
        "acd-node1-1795923800-3",
    ]
    assert ids.prefix == "acd-node1-1795923800"


@pytest.mark.parametrize("prefix", ["", "has space", "line\r\nend"])
def test_action_id_prefix_must_be_one_printable_token(prefix: str) -> None:
    """A prefix that would break the ActionID header is refused."""
    with pytest.raises(HeaderInjection):
        ActionIdGenerator(prefix)


def test_simple_action_completes_on_its_response() -> None:
    """A Ping completes on its Success response, with no events."""
    tracker = ActionTracker()
    tracker.register("a-1")
    completion = tracker.on_frame(response("a-1", Ping="Pong"))
    assert completion == Completion(action_id="a-1", response=response("a-1", Ping="Pong"))
    assert completion.ok
    assert completion.events == ()
    assert completion.list_end is None
    assert len(tracker) == 0
    assert "a-1" not in tracker


def test_error_response_completes_at_once_with_its_message() -> None:
    """``Response: Error`` completes immediately, even for a list action, with the reason."""
    tracker = ActionTracker()
    tracker.register("r-1", expects_list=True)
    completion = tracker.on_frame(
        response("r-1", "Error", Message="Channel does not exist: 1795923798.40")
    )
    assert completion is not None
    assert not completion.ok
    assert completion.message == "Channel does not exist: 1795923798.40"


def test_list_action_collects_events_until_complete() -> None:
    """CoreShowChannels: response with EventList start, entries, then the Complete event."""
    tracker = ActionTracker()
    tracker.register("c-1", expects_list=True)
    assert (
        tracker.on_frame(response("c-1", EventList="start", Message="Channels will follow")) is None
    )
    first = event("CoreShowChannel", "c-1", Uniqueid="1.1")
    assert tracker.on_frame(first) is None
    assert tracker.on_frame(event("Newexten", Uniqueid="1.1")) is None  # live traffic between
    second = event("CoreShowChannel", "c-1", Uniqueid="1.2")
    assert tracker.on_frame(second) is None
    end = event("CoreShowChannelsComplete", "c-1", EventList="Complete", ListItems="2")
    completion = tracker.on_frame(end)
    assert completion is not None
    assert completion.ok
    assert completion.events == (first, second)
    assert completion.list_end == end
    assert completion.message == "Channels will follow"


def test_announced_list_is_followed_even_if_not_expected() -> None:
    """The wire decides: a Hangup by regex answers with a list, and the tracker follows it."""
    tracker = ActionTracker()
    tracker.register("h-1")
    assert tracker.on_frame(response("h-1", EventList="start")) is None
    completion = tracker.on_frame(
        event("ChannelsHungupListComplete", "h-1", EventList="Complete", ListItems="0")
    )
    assert completion is not None
    assert completion.events == ()


def test_expected_list_without_event_list_header_ends_on_complete_event() -> None:
    """Older Asterisk: no EventList header; an expected list ends on its ``...Complete``."""
    tracker = ActionTracker()
    tracker.register("s-1", expects_list=True)
    assert tracker.on_frame(response("s-1", Message="Channel status will follow")) is None
    entry = event("Status", "s-1", Uniqueid="1.1")
    assert tracker.on_frame(entry) is None
    completion = tracker.on_frame(event("StatusComplete", "s-1", Items="1"))
    assert completion is not None
    assert completion.events == (entry,)


def test_unexpected_list_status_completes_a_plain_action_at_once() -> None:
    """Without EventList start and not expected, a success is the whole answer."""
    tracker = ActionTracker()
    tracker.register("g-1")
    completion = tracker.on_frame(response("g-1", Variable="ACD_STATE", Value="waiting"))
    assert completion is not None
    assert completion.response.get("Value") == "waiting"


def test_unknown_action_id_and_plain_events_are_ignored() -> None:
    """Frames for other clients' actions, late events, plain events: no effect."""
    tracker = ActionTracker()
    tracker.register("a-1")
    assert tracker.on_frame(response("someone-else-7")) is None
    assert tracker.on_frame(event("Hangup", Uniqueid="1.1")) is None
    assert tracker.on_frame(frame(("Action", "Ping"), ("ActionID", "a-1"))) is None
    assert "a-1" in tracker
    assert ActionTracker().on_frame(response("a-1")) is None


def test_second_response_to_a_list_is_ignored() -> None:
    """A duplicate response while a list is open changes nothing."""
    tracker = ActionTracker()
    tracker.register("c-1")
    tracker.on_frame(response("c-1", EventList="start"))
    assert tracker.on_frame(response("c-1")) is None
    assert "c-1" in tracker


def test_event_before_its_response_is_kept() -> None:
    """An event with the ActionID seen before the response is kept, in order."""
    tracker = ActionTracker()
    tracker.register("o-1", expects_list=True)
    early = event("Item", "o-1")
    assert tracker.on_frame(early) is None
    tracker.on_frame(response("o-1", EventList="start"))
    completion = tracker.on_frame(event("ItemsComplete", "o-1", EventList="Complete"))
    assert completion is not None
    assert completion.events == (early,)


def test_duplicate_or_empty_action_id_is_refused() -> None:
    """Registering a pending ActionID again, or an empty one, is misuse."""
    tracker = ActionTracker()
    tracker.register("a-1")
    with pytest.raises(DuplicateActionId) as caught:
        tracker.register("a-1")
    assert caught.value.slug == "ami-duplicate-action-id"
    with pytest.raises(AmiProtocolError):
        tracker.register("")


def test_fail_all_returns_pending_ids_and_forgets_them() -> None:
    """On disconnect every pending action fails: returned once, never kept for a replay."""
    tracker = ActionTracker()
    for action_id in ("a-1", "a-2", "a-3"):
        tracker.register(action_id)
    tracker.on_frame(response("a-2"))
    assert tracker.fail_all("connection lost") == ["a-1", "a-3"]
    assert tracker.last_failure == "connection lost"
    assert len(tracker) == 0
    assert tracker.fail_all("again") == []
    assert tracker.on_frame(response("a-1")) is None


def test_expire_drops_late_actions_earliest_first() -> None:
    """Deadlines are data: ``expire(now)`` returns the overdue ids, earliest first."""
    tracker = ActionTracker()
    tracker.register("slow", deadline=10.0)
    tracker.register("slower", deadline=5.0)
    tracker.register("patient", deadline=30.0)
    tracker.register("forever")
    assert tracker.next_deadline() == 5.0
    assert tracker.expire(4.9) == []
    assert tracker.expire(10.0) == ["slower", "slow"]
    assert tracker.next_deadline() == 30.0
    assert set(tracker.fail_all("closing")) == {"patient", "forever"}
    assert tracker.next_deadline() is None


def test_discard_stops_waiting() -> None:
    """A caller that gives up discards its action; a late answer is then ignored."""
    tracker = ActionTracker()
    tracker.register("a-1")
    assert tracker.discard("a-1")
    assert not tracker.discard("a-1")
    assert tracker.on_frame(response("a-1")) is None


def test_goodbye_completes_logoff() -> None:
    """Logoff's ``Response: Goodbye`` is a success."""
    tracker = ActionTracker()
    tracker.register("bye")
    completion = tracker.on_frame(response("bye", "Goodbye", Message="Thanks for all the fish."))
    assert completion is not None
    assert completion.ok
