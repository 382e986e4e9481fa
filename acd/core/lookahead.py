"""Look-ahead: whether a partner's load lets it take a call, and why not.

A refusal is kept as a *code* until its words are needed: either the reason itself (a
``str``) or a pair ``(parts, n)`` that reads ``f"{parts[0]}{n}{parts[1]}"``. Pairs are
made only for whole counts (``int``), so two equal codes always read the same words; an
evaluation whose refusals equal the last held ones has nothing new to say (see
``Entraide``) and never builds the words.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from acd.core.overflow import OverflowRule

Code = str | tuple[tuple[str, str], int]
"""A refusal: its words, or the parts of its words around a count."""

Reading = tuple[int, int, float | None, bool, int, bool, int]
"""A partner as the look-ahead judges it, flat (one unpacking per verdict): its load
(waiting, available agents, estimated wait, whether these counts are ``int``), the calls
already charged to it, whether it refused a call recently, and whether its load is
``KNOWN``, ``UNKNOWN`` or unknown but taken ``BLIND`` (the load's figures then are zeros)."""

KNOWN, UNKNOWN, BLIND = 0, 1, 2

REFUSED_RECENTLY = "refused-recently"
LOAD_UNKNOWN = "load-unknown"
_SHARE_CAP = ("share-cap=", "")


@dataclass(frozen=True, slots=True, kw_only=True)
class PartnerLoad:
    """A partner's load as the look-ahead sees it (``at``: when it was measured)."""

    waiting: int
    available_agents: int
    estimated_wait_s: float | None
    at: float


def words(code: Code) -> str:
    """The reason a refusal code stands for."""
    if isinstance(code, str):
        return code
    (before, after), n = code
    return f"{before}{n}{after}"


class LookAhead:
    """One rule's look-ahead settings, unpacked once when the rules are set."""

    __slots__ = (
        "available_parts",
        "better",
        "max_estimated_wait_s",
        "max_per_evaluation",
        "max_waiting",
        "min_available",
        "share",
        "waiting_parts",
    )

    def __init__(self, rule: OverflowRule) -> None:
        limits = rule.limits
        self.min_available = limits.min_available
        self.max_waiting = limits.max_waiting
        self.max_estimated_wait_s = limits.max_estimated_wait_s
        self.better = limits.better_than_origin
        self.share = rule.max_share_of_free
        self.max_per_evaluation = rule.max_per_evaluation
        self.available_parts = ("available=", f"<{limits.min_available}")
        self.waiting_parts = ("waiting=", f">{limits.max_waiting}")

    def judge(self, reading: Reading, origin_ewt: float | None) -> Code | None:
        """Why the partner cannot take a call now, or ``None`` if it can.

        Refused recently, then an unknown load (taken only blind, at most a batch), then
        the load against the limits, charged with the calls already sent to it. Words are
        built at once only for loads whose counts are not ``int`` (``exact`` false).
        """
        waiting, available_agents, ewt, exact, sent, refused, unknown = reading
        if refused:
            return REFUSED_RECENTLY
        if unknown:
            return None if unknown == BLIND and sent < self.max_per_evaluation else LOAD_UNKNOWN
        available = available_agents - sent
        if available < self.min_available:
            parts = self.available_parts
            return (parts, available) if exact else f"{parts[0]}{available}{parts[1]}"
        max_waiting = self.max_waiting
        if max_waiting is not None and waiting + sent > max_waiting:
            parts = self.waiting_parts
            n = waiting + sent
            return (parts, n) if exact else f"{parts[0]}{n}{parts[1]}"
        return self._on_wait(available_agents, ewt, sent, origin_ewt)

    def _on_wait(
        self, available_agents: int, ewt: float | None, sent: int, origin_ewt: float | None
    ) -> Code | None:
        max_ewt = self.max_estimated_wait_s
        if max_ewt is not None and (ewt is None or ewt > max_ewt):
            return f"estimated_wait={_fmt(ewt)}>{max_ewt}"
        if self.better and not _better(ewt, origin_ewt):
            return f"estimated_wait={_fmt(ewt)}>=origin {_fmt(origin_ewt)}"
        cap = max(1, math.floor(self.share * available_agents))
        if sent >= cap:
            return (_SHARE_CAP, cap)
        return None


def look_ahead(
    rule: OverflowRule, load: PartnerLoad, sent: int, origin_ewt: float | None
) -> str | None:
    """Why a partner's load fails the rule's look-ahead, or ``None`` if it passes.

    ``sent`` calls already went to it in this evaluation and are charged to its load. In
    order: fewer available agents than ``min_available``, more waiting than
    ``max_waiting``, an estimated wait above ``max_estimated_wait_s`` (unknown counts as
    above), not better than the origin's when ``better_than_origin``, and at most
    ``max_share_of_free`` of its available agents (at least one call) per evaluation.
    """
    reading = (
        load.waiting,
        load.available_agents,
        load.estimated_wait_s,
        False,
        sent,
        False,
        KNOWN,
    )
    code = LookAhead(rule).judge(reading, origin_ewt)
    return None if code is None else words(code)


def _better(partner: float | None, origin: float | None) -> bool:
    """Whether a partner's estimated wait beats the origin's (``None`` is unbounded)."""
    if partner is None:
        return False
    return origin is None or partner < origin


def _fmt(ewt: float | None) -> str:
    return "unbounded" if ewt is None else f"{ewt:.0f}s"
