"""Messages built by the faster constructor behave as frozen dataclasses do."""

from __future__ import annotations

import dataclasses

import pytest

from acd.core.commands import OfferCall, Reason
from acd.core.ids import AgentId, CallId, RouteId
from acd.core.message import builder, message


def _offer(**kw: object) -> OfferCall:
    base: dict[str, object] = {
        "call": CallId("pbx1/1"),
        "route": RouteId("r1"),
        "agent": AgentId("a"),
        "endpoint": "PJSIP/a",
        "ring_timeout_s": 20.0,
        "reason": Reason(rule="x"),
    }
    return OfferCall(**{**base, **kw})  # type: ignore[arg-type]


def test_messages_are_frozen_equal_hashable_and_printable() -> None:
    """Same fields, same message; no field can be changed afterwards."""
    a, b = _offer(), _offer()
    assert a == b
    assert hash(a) == hash(b)
    assert a != _offer(route=RouteId("r2"))
    assert repr(a).startswith("OfferCall(call='pbx1/1', route='r1'")
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.route = RouteId("r9")  # type: ignore[misc]
    assert not hasattr(a, "__dict__")


def test_defaults_apply_and_arguments_are_keyword_only() -> None:
    """A field with a default may be left out; positional arguments are refused."""
    assert Reason(rule="x").values == ()
    with pytest.raises(TypeError):
        Reason("x")  # type: ignore[misc]
    with pytest.raises(TypeError):
        Reason()  # type: ignore[call-arg]


def test_default_factories_are_refused_at_class_creation() -> None:
    """A mutable default needs a factory, which this constructor does not run: refused."""

    class Bad:
        items: list[int] = dataclasses.field(default_factory=list)

    with pytest.raises(TypeError, match="default factories"):
        message(Bad)


def test_a_builder_makes_the_same_frozen_message_as_the_class() -> None:
    """A message from its builder equals, hashes and prints as one built by the class."""
    build = builder(OfferCall)
    fields = {
        "call": CallId("pbx1/1"),
        "route": RouteId("r1"),
        "agent": AgentId("a"),
        "endpoint": "PJSIP/a",
        "ring_timeout_s": 20.0,
        "reason": Reason(rule="x"),
    }
    built = build(**fields)  # type: ignore[arg-type]
    assert type(built) is OfferCall
    assert built == _offer()
    assert hash(built) == hash(_offer())
    assert repr(built) == repr(_offer())
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.route = RouteId("r9")  # type: ignore[misc]
    assert builder(Reason)(rule="y").values == ()


def test_a_builder_refuses_what_it_cannot_build_faithfully() -> None:
    """Classes without slots, or with a post-init step, get no builder."""

    @dataclasses.dataclass
    class Loose:
        x: int

    @dataclasses.dataclass(slots=True)
    class Checked:
        x: int

        def __post_init__(self) -> None:
            pass

    with pytest.raises(TypeError, match="slotted"):
        builder(Loose)
    with pytest.raises(TypeError, match="post_init"):
        builder(Checked)
