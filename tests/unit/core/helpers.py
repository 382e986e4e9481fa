"""Small helpers shared by the engine tests: build events and pick commands."""

from __future__ import annotations

from acd.core import events as ev
from acd.core.commands import AgentRecord, CallRecord, Command, OfferCall, SendToFallback
from acd.core.ids import AgentId, CallId, DeptId
from acd.core.testing import Driver


def cid(n: int | str) -> CallId:
    """The call id of test call ``n``."""
    return CallId(f"pbx1/{n}")


def aid(name: str) -> AgentId:
    """An agent id."""
    return AgentId(name)


def login(d: Driver, *agents: str) -> list[Command]:
    """Log the agents in, one after the other, a second apart."""
    out: list[Command] = []
    for a in agents:
        out += d.send(ev.AgentLoggedIn(agent=AgentId(a)), after=1)
    return out


def arrive(
    d: Driver, n: int | str, dept: str = "75", after: float = 0.0, **kw: object
) -> list[Command]:
    """Call ``n`` arrives in ``dept``."""
    return d.send(ev.CallArrived(call=cid(n), dept=DeptId(dept), **kw), after=after)  # type: ignore[arg-type]


def only_offer(out: list[Command]) -> OfferCall:
    """The single offer among ``out``."""
    offers = [c for c in out if isinstance(c, OfferCall)]
    assert len(offers) == 1, out
    return offers[0]


def no_offer(out: list[Command]) -> None:
    """Assert that ``out`` offers nothing."""
    assert not [c for c in out if isinstance(c, OfferCall)], out


def fallbacks(out: list[Command]) -> list[SendToFallback]:
    """The fallback commands among ``out``."""
    return [c for c in out if isinstance(c, SendToFallback)]


def call_records(out: list[Command]) -> list[CallRecord]:
    """The call records among ``out``."""
    return [c for c in out if isinstance(c, CallRecord)]


def agent_records(out: list[Command]) -> list[AgentRecord]:
    """The agent records among ``out``."""
    return [c for c in out if isinstance(c, AgentRecord)]


def answer(d: Driver, offer: OfferCall, after: float = 2.0) -> list[Command]:
    """The agent picks up the offered call."""
    return d.send(ev.CallAnswered(call=offer.call, route=offer.route), after=after)


def hang_up(d: Driver, n: int | str, after: float = 0.0) -> list[Command]:
    """Caller ``n`` hangs up."""
    return d.send(ev.CallHungUp(call=cid(n)), after=after)
