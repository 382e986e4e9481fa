"""Entraide over real TCP: to a department of the platform, and to an external SAMU."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from acd.core.ids import AgentId, DeptId
from acd.core.overflow import (
    ExternalPartner,
    Metric,
    OverflowRule,
    OverflowSpec,
    PartnerLimits,
    Threshold,
)
from acd.core.states import AgentState, CallState
from acd.core.testing import simple_spec
from connectors.asterisk.fake import FakeAsterisk
from tests.e2e.test_routing_over_ami import FAST, running, until

SAMU60 = ExternalPartner(
    id="samu-60", name="SAMU 60", number="0344000000", trunk="PJSIP/trunk", accept_blind=True
)


def _spec(partners: tuple[str, ...]) -> object:
    rule = OverflowRule(
        id="75-saturation",
        dept=DeptId("75"),
        when=Threshold(metric=Metric.WAITING, at_least=1),
        partners=partners,
        limits=PartnerLimits(better_than_origin=False),
    )
    overflow = OverflowSpec(rules=(rule,), partners=(SAMU60,), evaluate_every_s=0.2)
    return dataclasses.replace(simple_spec(depts=("75", "92")), overflow=overflow)


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeAsterisk]:
    server = await FakeAsterisk(FAST).start()
    server.set_agent("PJSIP/92-a0", answers=True)
    yield server
    await server.stop()


@pytest.mark.asyncio
async def test_saturated_samu_overflows_to_a_partner_of_the_platform(fake: FakeAsterisk) -> None:
    """Nobody in 75, an ARM free in 92: the 75 caller is answered by 92, counted both sides."""
    async with running(fake, spec=_spec(("92",))) as acd:  # type: ignore[arg-type]
        acd.login("92-a0")
        await until(lambda: acd.engine.agent(AgentId("92-a0")).state is AgentState.AVAILABLE)
        uid = fake.add_caller("75", talk_s=60.0)
        await until(lambda: acd.state(uid) is CallState.CONNECTED)
        assert acd.engine.call(acd.call(uid)).dept == DeptId("92")  # type: ignore[union-attr]
        assert acd.engine.dept_stats(DeptId("75"), 0).overflowed_out == 1
        assert acd.engine.dept_stats(DeptId("92"), 0).overflowed_in == 1
        assert fake.stats().redirects[uid] == 1
        caller = fake.caller(uid)
        assert caller is not None
        assert caller.channel.vars["ACD_DEPT"] == "92"  # its fail-open now rings 92


@pytest.mark.asyncio
async def test_saturated_samu_overflows_to_an_external_samu_by_its_trunk(
    fake: FakeAsterisk,
) -> None:
    """No partner inside: the caller is redirected to the overflow context and dials 0344…"""
    fake.set_partner("PJSIP/trunk/0344000000", accepts=True)
    async with running(fake, spec=_spec(("samu-60",))) as acd:  # type: ignore[arg-type]
        uid = fake.add_caller("75", talk_s=60.0)
        await until(lambda: acd.state(uid) is CallState.OVERFLOWED)
        assert acd.engine.dept_stats(DeptId("75"), 0).overflowed_out == 1
        assert fake.stats().fates.get("overflowed") == 1


@pytest.mark.asyncio
async def test_an_external_samu_that_refuses_gives_the_caller_back_its_place(
    fake: FakeAsterisk,
) -> None:
    """The partner's line fails: the caller is back waiting in 75, never lost."""
    fake.set_partner("PJSIP/trunk/0344000000", accepts=False)
    async with running(fake, spec=_spec(("samu-60",))) as acd:  # type: ignore[arg-type]
        uid = fake.add_caller("75", talk_s=60.0, patience_s=600.0)
        await until(lambda: acd.state(uid) is CallState.OVERFLOWING)
        await until(lambda: acd.state(uid) is CallState.WAITING, timeout_s=8)
        assert acd.engine.in_flight["samu-60"] == 0
