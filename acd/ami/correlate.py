"""ActionID correlation, pure: frames in, completed actions out; time is passed in, never read."""

from __future__ import annotations

from dataclasses import dataclass, field

from acd.ami.errors import AmiProtocolError, DuplicateActionId, HeaderInjection
from acd.ami.frames import Frame

_SUCCESS = frozenset({"success", "goodbye", "follows"})


def action_id_prefix(instance: str, epoch: int) -> str:
    """``acd-<instance>-<epoch>``: unique per process start, so ActionIDs never collide."""
    return f"acd-{instance}-{epoch}"


class ActionIdGenerator:
    """Globally unique ActionIDs: the caller's prefix (instance, start time) plus a counter.

    Other AMI clients of the same Asterisk see every ActionID, so the prefix must say who
    we are and when we started; the codec takes it as given and never reads the clock.
    """

    __slots__ = ("_counter", "prefix")

    def __init__(self, prefix: str) -> None:
        if not prefix or not prefix.isprintable() or any(c.isspace() for c in prefix):
            raise HeaderInjection(f"invalid ActionID prefix {prefix!r}")
        self.prefix = prefix
        self._counter = 0

    def next_id(self) -> str:
        """A fresh ActionID, ``<prefix>-<n>``."""
        self._counter += 1
        return f"{self.prefix}-{self._counter}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Completion:
    """An action's whole answer: its response, and for a list action every event of the list."""

    action_id: str
    response: Frame
    events: tuple[Frame, ...] = ()
    list_end: Frame | None = None

    @property
    def ok(self) -> bool:
        """Whether Asterisk accepted the action (``Success``, ``Goodbye`` or ``Follows``)."""
        return self.response.kind.lower() in _SUCCESS

    @property
    def message(self) -> str | None:
        """The response's ``Message`` (the reason, for an error)."""
        return self.response.get("Message")


@dataclass(slots=True, kw_only=True)
class _Pending:
    expects_list: bool
    deadline: float | None
    response: Frame | None = None
    listing_legacy: bool = False
    events: list[Frame] = field(default_factory=list)


class ActionTracker:
    """Pending actions by ActionID, with explicit completion rules and a deadline each.

    - ``Response: Error`` completes at once (``ok`` is false, ``message`` says why);
    - a response with ``EventList: start`` opens a list that the event with
      ``EventList: Complete`` closes; every event in between with the ActionID is kept;
    - ``expects_list`` also opens a list on a success without ``EventList`` (Asterisk
      versions that did not announce lists), closed then by the ``...Complete`` event;
    - any other response completes at once. Frames with an unknown ActionID are ignored.
    """

    __slots__ = ("_pending", "last_failure")

    def __init__(self) -> None:
        self._pending: dict[str, _Pending] = {}
        self.last_failure: str | None = None

    def __len__(self) -> int:
        return len(self._pending)

    def __contains__(self, action_id: object) -> bool:
        return action_id in self._pending

    def register(
        self, action_id: str, *, expects_list: bool = False, deadline: float | None = None
    ) -> None:
        """Expect an answer to ``action_id``, by ``deadline`` (same clock as ``expire``)."""
        if not action_id:
            raise AmiProtocolError("an action needs a non-empty ActionID")
        if action_id in self._pending:
            raise DuplicateActionId(f"ActionID {action_id!r} is already pending")
        self._pending[action_id] = _Pending(expects_list=expects_list, deadline=deadline)

    def discard(self, action_id: str) -> bool:
        """Stop waiting for ``action_id`` (its caller gave up); whether it was pending."""
        return self._pending.pop(action_id, None) is not None

    def on_frame(self, frame: Frame) -> Completion | None:
        """Account for one received frame; the completion it brings, if any."""
        if not self._pending:
            return None
        action_id = frame.action_id
        if action_id is None:
            return None
        pending = self._pending.get(action_id)
        if pending is None:
            return None
        if frame.is_response:
            return self._on_response(action_id, pending, frame)
        if frame.is_event:
            return self._on_event(action_id, pending, frame)
        return None

    def _on_response(self, action_id: str, pending: _Pending, frame: Frame) -> Completion | None:
        if pending.response is not None:
            return None  # a second response to one action: Asterisk never sends one
        success = frame.kind.lower() in _SUCCESS
        announced = frame.get("EventList", "").lower() == "start"
        if success and (announced or pending.expects_list):
            pending.response = frame
            pending.listing_legacy = not announced
            return None
        return self._complete(action_id, frame, pending.events, None)

    def _on_event(self, action_id: str, pending: _Pending, frame: Frame) -> Completion | None:
        if pending.response is None:
            pending.events.append(frame)  # early event; kept in order, never lost
            return None
        ends = frame.get("EventList", "").lower() == "complete" or (
            pending.listing_legacy and frame.kind.endswith("Complete")
        )
        if ends:
            return self._complete(action_id, pending.response, pending.events, frame)
        pending.events.append(frame)
        return None

    def _complete(
        self, action_id: str, response: Frame, events: list[Frame], list_end: Frame | None
    ) -> Completion:
        del self._pending[action_id]
        return Completion(
            action_id=action_id, response=response, events=tuple(events), list_end=list_end
        )

    def next_deadline(self) -> float | None:
        """The earliest deadline among pending actions, for the caller's timer."""
        deadlines = [p.deadline for p in self._pending.values() if p.deadline is not None]
        return min(deadlines, default=None)

    def expire(self, now: float) -> list[str]:
        """Drop and return the actions whose deadline is at or before ``now``, earliest first."""
        late = [
            (p.deadline, action_id)
            for action_id, p in self._pending.items()
            if p.deadline is not None and p.deadline <= now
        ]
        late.sort()
        for _, action_id in late:
            del self._pending[action_id]
        return [action_id for _, action_id in late]

    def fail_all(self, reason: str) -> list[str]:
        """The session is gone: drop and return every pending ActionID; never replay them."""
        failed = list(self._pending)
        self._pending.clear()
        self.last_failure = reason
        return failed
