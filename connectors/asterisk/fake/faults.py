"""Test faults of the fake's AMI link: a session cut at one chosen action, once.

A cut is armed on the server and fires on the first action that matches it, on
whichever session reads it; the actions written after it in the same read are lost with
the connection, as they would be on a real Asterisk whose link drops.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from acd.ami.frames import Frame


class CutPoint(StrEnum):
    """Where, around the matching action, the connection drops."""

    BEFORE_APPLY = "before-apply"
    """The action is read, then lost: it never takes effect and gets no answer."""
    BEFORE_RESPONSE = "before-response"
    """The action takes effect (its events go to the other sessions), the answer is lost."""


@dataclass(slots=True, kw_only=True)
class LinkCut:
    """Cut the session that reads an action named ``action`` (any case) at ``point``.

    ``variable`` narrows a Setvar or Getvar to the variable it names (``ACD_ROUTE_ID``:
    the last Setvar of an offer, just before its Redirect); ``channel`` to the channel
    it names. ``fired`` says whether the cut happened (it fires once).
    """

    action: str
    point: CutPoint
    variable: str | None = None
    channel: str | None = None
    fired: bool = field(default=False, init=False)

    def matches(self, name: str, frame: Frame) -> bool:
        """Whether this cut, not fired yet, is for this action."""
        if self.fired or name.lower() != self.action.lower():
            return False
        if self.variable is not None and frame.get("Variable") != self.variable:
            return False
        return self.channel is None or frame.get("Channel") == self.channel
