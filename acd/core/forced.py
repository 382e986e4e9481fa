"""Forced overflow: a supervisor sends one waiting call to the partner of their choice.

The call leaves exactly as a rule would send it (:meth:`Partners.send_to_partner`). The
look-ahead is read as a rule would read it and recorded in the reason, but it does not
decide: the supervisor overrides it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from acd.core import events as ev
from acd.core.board import Out
from acd.core.commands import Reason, Value
from acd.core.conditions import EWT
from acd.core.entraide import Entraide
from acd.core.errors import CallNotWaiting, UnknownCall, UnknownPartner
from acd.core.ids import CallId, DeptId
from acd.core.lookahead import BLIND, LOAD_UNKNOWN, REFUSED_RECENTLY, LookAhead, words
from acd.core.model import Call
from acd.core.overflow import CrisisOn, OverflowRule
from acd.core.ruleplan import PartnerRef
from acd.core.states import CallState

ACCEPT: Final = "accept"
"""The look-ahead would send the call to this partner now."""
REFUSE: Final = "refuse"
"""The look-ahead would not: a rule would skip this partner now."""
DEPARTMENT: Final = "department"
EXTERNAL: Final = "external"
ALREADY_VISITED: Final = "already-visited"
"""The words a rule gives for a department the call was already queued in."""

# A partner no rule of the department lists is judged with the default look-ahead limits.
_DEFAULT_LOOK: Final = LookAhead(
    OverflowRule(id="forced", dept=DeptId(""), when=CrisisOn(), partners=())
)
_WHY_TEXT: Final = {
    REFUSED_RECENTLY: "it refused or failed a call recently",
    LOAD_UNKNOWN: "its load is unknown (none published recently)",
    ALREADY_VISITED: "the call was already queued there",
}
_PREFIX_TEXT: Final = (
    ("available=", "too few agents available"),
    ("waiting=", "too many calls waiting"),
    ("share-cap=", "its share of free agents is already used"),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class OverflowOption:
    """A partner a waiting call may be forced to, and what the look-ahead says of it now."""

    partner: str
    kind: Literal["department", "external"]
    """``"department"`` (of this platform) or ``"external"`` (another SAMU)."""
    name: str
    verdict: Literal["accept", "refuse"]
    """``"accept"`` or ``"refuse"``: what a rule's look-ahead would decide now."""
    why: str | None
    """The look-ahead's words for a refusal (``available=0<1``); ``None`` when it accepts."""
    text: str
    """The verdict in plain English, for the console."""
    waiting: int | None
    available_agents: int | None
    estimated_wait_s: float | None
    load_age_s: float | None
    """How old the load read is: 0 for a live department, ``None`` when none was published."""
    in_flight: int
    """Calls on their way to this partner now, charged to its load."""
    in_chain: bool
    """Whether the department's overflow rules list this partner in their chains."""

    def values(self) -> tuple[tuple[str, Value], ...]:
        """What a forced overflow's reason records of this option."""
        ewt, age = self.estimated_wait_s, self.load_age_s
        return (
            ("kind", self.kind),
            ("lookahead", self.verdict),
            ("lookahead_why", self.why),
            ("partner_waiting", self.waiting),
            ("partner_available", self.available_agents),
            ("partner_estimated_wait_s", None if ewt is None else round(ewt, 3)),
            ("load_age_s", None if age is None else round(age, 3)),
            ("in_flight", self.in_flight),
            ("in_chain", self.in_chain),
        )


class Forcing(Entraide):
    """Adds the supervisor's forced overflow and the options it chooses from."""

    def force_overflow(self, e: ev.OverflowForced, now: float, out: Out) -> None:
        """Send the waiting call to the chosen partner, the look-ahead recorded, not obeyed."""
        call = self.waiting_call(e.call)
        refs = self._partner_refs(call.dept)
        found = refs.get(e.partner)
        if found is None:
            raise UnknownPartner(f"{e.partner!r} is not a partner call {e.call!r} can overflow to")
        ref, look, in_chain = found
        option = self._option(call, ref, look, in_chain, self._origin_ewt(call, now), now)
        wait = round(now - call.arrived_at, 3)
        values: tuple[tuple[str, Value], ...] = (
            ("by", e.by),
            ("partner", e.partner),
            ("wait_s", wait),
            *option.values(),
        )
        self.send_to_partner(call, e.partner, now, Reason(rule="forced", values=values), out)

    def overflow_options(self, call: CallId, now: float) -> list[OverflowOption]:
        """Every partner the waiting call could be forced to: its rules' chains first."""
        live = self.waiting_call(call)
        origin_ewt = self._origin_ewt(live, now)
        return [
            self._option(live, ref, look, in_chain, origin_ewt, now)
            for ref, look, in_chain in self._partner_refs(live.dept).values()
        ]

    def waiting_call(self, cid: CallId) -> Call:
        """The call if it waits in its queue; else raise unknown-call or call-not-waiting."""
        call = self.calls.get(cid)
        if call is None:
            ended = self.ended.get(cid)
            if ended is None:
                raise UnknownCall(f"unknown call {cid!r}")
            raise CallNotWaiting(f"call {cid!r} is not waiting: {ended.value}")
        if call.state is not CallState.WAITING:
            raise CallNotWaiting(f"call {cid!r} is not waiting: {call.state.value}")
        return call

    # -- partners and their verdicts -----------------------------------------------------

    def _partner_refs(self, dept: DeptId) -> dict[str, tuple[PartnerRef, LookAhead, bool]]:
        """The department's partners in order: its chains, then departments, then externals.

        A chain's partner is judged with the look-ahead of the first rule listing it.
        """
        refs: dict[str, tuple[PartnerRef, LookAhead, bool]] = {}
        plan = self.plans.get(dept)
        for rule in plan.rules if plan is not None else ():
            for ref in rule.chain:
                if ref.id not in refs and self._may_take(ref.id, dept):
                    refs[ref.id] = (ref, rule.look, True)
        for other in self.depts.values():
            # An id that is also an external partner's is sent out, as send_to_partner does.
            if other.id not in refs and other.id not in self.externals and other.id != dept:
                ref = PartnerRef(id=other.id, dept=other.id, queues=other.queues, external=None)
                refs[other.id] = (ref, _DEFAULT_LOOK, False)
        for partner in self.overflow.partners:
            if partner.id not in refs:
                ref = PartnerRef(
                    id=partner.id,
                    dept=None,
                    queues=(),
                    external=partner,
                    blind=partner.accept_blind,
                )
                refs[partner.id] = (ref, _DEFAULT_LOOK, False)
        return refs

    def _may_take(self, pid: str, dept: DeptId) -> bool:
        """Whether a call of ``dept`` can be sent to ``pid`` (never to its own department)."""
        return pid in self.externals or (pid in self.depts and pid != dept)

    def _origin_ewt(self, call: Call, now: float) -> float | None:
        """The estimated wait of the call's department, which the look-ahead compares."""
        return self._figures(call.dept, self.depts[call.dept].queues, (), now)[EWT]

    def _option(
        self,
        call: Call,
        ref: PartnerRef,
        look: LookAhead,
        in_chain: bool,
        origin_ewt: float | None,
        now: float,
    ) -> OverflowOption:
        """One partner as the look-ahead of a rule would judge it for this call, now."""
        external = self.externals.get(ref.id)
        kind: Literal["department", "external"]
        reading = self._read(ref, now)
        waiting: int | None
        available: int | None
        ewt: float | None
        age: float | None
        if ref.id in call.path:
            why: str | None = ALREADY_VISITED  # as a rule's choice says (see ``_choose``)
        else:
            code = look.judge(reading, origin_ewt)
            why = None if code is None else words(code)
        if external is None:
            dept = self.depts[DeptId(ref.id)]
            name, kind = dept.name, DEPARTMENT
            waiting, available, ewt = reading[0], reading[1], reading[2]
            age = 0.0  # read live from this platform's own figures
        else:
            name, kind = external.name, EXTERNAL
            load = self.partner_loads.get(ref.id)
            # The last published load is shown even when stale: its age tells the supervisor.
            waiting = available = ewt = age = None
            if load is not None:
                waiting, available = load.waiting, load.available_agents
                ewt, age = load.estimated_wait_s, max(0.0, now - load.at)
        return OverflowOption(
            partner=ref.id,
            kind=kind,
            name=name,
            verdict=ACCEPT if why is None else REFUSE,
            why=why,
            text=_text(why, blind=reading[6] == BLIND),
            waiting=waiting,
            available_agents=available,
            estimated_wait_s=ewt,
            load_age_s=age,
            in_flight=self.in_flight.get(ref.id, 0) if external is not None else 0,
            in_chain=in_chain,
        )


def _text(why: str | None, *, blind: bool) -> str:
    """The look-ahead's verdict as a supervisor reads it."""
    if why is None:
        if blind:
            return "Look-ahead accepts blind: load unknown, but this partner takes calls anyway"
        return "Look-ahead accepts: this partner can take a call now"
    phrase = _WHY_TEXT.get(why)
    if phrase is None:
        phrase = next((t for p, t in _PREFIX_TEXT if why.startswith(p)), None)
    if phrase is None:
        if why.startswith("estimated_wait="):
            longer = "not shorter than here" if "origin" in why else "too long"
            phrase = f"estimated wait {longer}"
        else:
            phrase = "its load fails the limits"
    return f"Look-ahead refuses: {phrase} ({why})"
