"""Identifiers of the domain: plain strings given distinct static types."""

from typing import NewType

DeptId = NewType("DeptId", str)
"""A département's SAMU, e.g. ``"75"`` or ``"2A"``."""

QueueId = NewType("QueueId", str)
"""A queue, unique across the platform, e.g. ``"75-general"``."""

AgentId = NewType("AgentId", str)
"""A call-taker (ARM)."""

CallId = NewType("CallId", str)
"""One caller's channel: ``"<pbx>/<uniqueid>"``, unique across PBXs."""

RouteId = NewType("RouteId", str)
"""One routing attempt of one call; confirms or refutes exactly one redirect."""


def call_id(pbx: str, uniqueid: str) -> CallId:
    """Build the identity of a caller's channel from its PBX and Asterisk Uniqueid."""
    return CallId(f"{pbx}/{uniqueid}")
