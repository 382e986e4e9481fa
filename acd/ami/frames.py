"""AMI frames: immutable ``Key: Value`` lines in wire order, parsed on demand, keys case-blind."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import overload

from acd.ami.errors import AmiProtocolError

_partition = str.partition
_SEPARATORS = repeat(": ")  # endless and stateless: shared by every map() below
_FOLLOWS = "Response: Follows"
_FOLLOWS_HEADERS = frozenset({"response", "privilege", "actionid", "message"})
_END_COMMAND = "--END COMMAND--"


@dataclass(frozen=True, slots=True, kw_only=True)
class Frame:
    """One AMI message (an event, a response or an action): its ``Key: Value`` lines.

    Every line is kept in wire order, repeated keys included (``ChanVariable``, ``Output``,
    the two ``Channel`` of a ``UserEvent``). Most events are filtered by ``kind`` alone, so
    the lines are split into pairs only when asked; lookups are case-insensitive through
    an index of lower-cased keys built once, on the first lookup.
    """

    lines: tuple[str, ...]
    _index: dict[str, str] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        if not self.lines:
            raise AmiProtocolError("an AMI frame has at least one line")
        for line in self.lines:
            if ": " not in line or "\n" in line:
                raise AmiProtocolError(f"not an AMI header line: {line!r}")

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]]) -> Frame:
        """Build a frame from (key, value) pairs, e.g. in a test or a fake Asterisk."""
        lines: list[str] = []
        for key, value in pairs:
            if ": " in key:
                raise AmiProtocolError(f"an AMI key cannot hold ': ': {key!r}")
            lines.append(f"{key}: {value}")
        return cls(lines=tuple(lines))

    @property
    def fields(self) -> tuple[tuple[str, str], ...]:
        """The (key, value) pairs, in wire order, repeated keys kept."""
        return tuple([(key, value) for key, _, value in map(_partition, self.lines, _SEPARATORS)])

    def _lookup(self) -> dict[str, str]:
        index = self._index
        if not index:
            # Reversed so that the first occurrence of a repeated key wins.
            for key, _, value in map(_partition, reversed(self.lines), _SEPARATORS):
                index[key.lower()] = value
        return index

    @overload
    def get(self, key: str) -> str | None: ...

    @overload
    def get(self, key: str, default: str) -> str: ...

    def get(self, key: str, default: str | None = None) -> str | None:
        """The first value of ``key`` (any case), or ``default``."""
        return self._lookup().get(key.lower(), default)

    def get_all(self, key: str) -> list[str]:
        """Every value of ``key`` (any case), in wire order."""
        wanted = key.lower()
        return [
            value
            for name, _, value in map(_partition, self.lines, _SEPARATORS)
            if name.lower() == wanted
        ]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._lookup()

    @property
    def kind(self) -> str:
        """The event name (``Hangup``) or the response status (``Success``); ``""`` if neither."""
        first = self.lines[0]
        if first.startswith("Event: "):
            return first[7:]
        if first.startswith("Response: "):
            return first[10:]
        index = self._lookup()
        return index.get("event") or index.get("response") or ""

    @property
    def is_event(self) -> bool:
        """Whether this frame is an ``Event``."""
        return self.lines[0].startswith("Event: ") or "event" in self._lookup()

    @property
    def is_response(self) -> bool:
        """Whether this frame answers an action (``Response: ...``)."""
        return self.lines[0].startswith("Response: ") or "response" in self._lookup()

    @property
    def action_id(self) -> str | None:
        """The ``ActionID`` this frame carries, if any."""
        return self._lookup().get("actionid")

    @property
    def chan_vars(self) -> dict[str, str]:
        """The channel variables of ``ChanVariable: NAME=value`` lines (``channelvars``)."""
        return self.prefixed_chan_vars("")

    def prefixed_chan_vars(self, prefix: str) -> dict[str, str]:
        """The variables of another snapshot in the frame, e.g. ``Dest`` for a Dial's callee."""
        result: dict[str, str] = {}
        for item in self.get_all(f"{prefix}ChanVariable"):
            name, _, value = item.partition("=")
            result.setdefault(name, value)
        return result


_new_object = object.__new__
_set_attribute = object.__setattr__


def trusted_frame(lines: tuple[str, ...]) -> Frame:
    """A frame from lines the decoder already checked, skipping the dataclass checks."""
    frame = _new_object(Frame)
    _set_attribute(frame, "lines", lines)
    _set_attribute(frame, "_index", {})
    return frame


def well_formed(lines: Sequence[str]) -> bool:
    """Whether every line holds the ``": "`` separator."""
    return all(": " in line for line in lines)


def parse_lines(lines: Sequence[str]) -> tuple[str, ...] | None:
    """A frame's lines as kept (``Output: ...`` for raw command output), None if malformed."""
    if not lines:
        return None
    if lines[0] == _FOLLOWS:
        return _parse_follows(lines)
    return tuple(lines) if well_formed(lines) else None


def _parse_follows(lines: Sequence[str]) -> tuple[str, ...]:
    """Old ``Command`` answers: headers, raw output lines, then ``--END COMMAND--``."""
    kept: list[str] = []
    position = 0
    while position < len(lines):
        key, separator, _ = lines[position].partition(": ")
        if not separator or key.lower() not in _FOLLOWS_HEADERS:
            break
        kept.append(lines[position])
        position += 1
    output = list(lines[position:])
    if output and output[-1].endswith(_END_COMMAND):
        last = output.pop().removesuffix(_END_COMMAND)
        if last:
            output.append(last)
    kept.extend(f"Output: {line}" for line in output)
    return tuple(kept)
