"""Leadership: promotion on the lease, self-fencing by the monotonic clock, loss on a rival."""

from __future__ import annotations

import asyncio

import pytest

from acd.ports import LeaseGrant
from acd.runtime.leadership import Leadership, LeaseTiming, Role


class FakeLease:
    """A lease with its own clock, as the database would keep it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.holder: str | None = None
        self.epoch = 0
        self.expires = 0.0
        self.down = False

    async def try_acquire(self, holder: str, ttl_s: float) -> LeaseGrant:
        if self.down:
            raise ConnectionRefusedError("database down")
        if self.holder == holder and self.expires > self.now:
            self.expires = self.now + ttl_s
        elif self.holder is None or self.expires <= self.now:
            self.holder, self.epoch, self.expires = holder, self.epoch + 1, self.now + ttl_s
        return LeaseGrant(
            held=self.holder == holder,
            holder=self.holder,
            epoch=self.epoch,
            expires_in_s=self.expires - self.now,
            db_now_s=self.now,
        )

    async def release(self, holder: str) -> None:
        if self.holder == holder:
            self.expires = self.now


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def _leadership(lease: FakeLease, clock: Clock, name: str = "a") -> tuple[Leadership, list[str]]:
    promoted: list[int] = []
    lost: list[str] = []

    async def on_promoted(epoch: int) -> None:
        promoted.append(epoch)

    lead = Leadership(
        lease=lease,
        holder=name,
        timing=LeaseTiming(ttl_s=3.0, renew_every_s=0.5, margin_s=0.5),
        on_promoted=on_promoted,
        on_lost=lost.append,
        monotonic=clock,
    )
    lead.promoted = promoted  # type: ignore[attr-defined]
    return lead, lost


@pytest.mark.asyncio
async def test_a_free_lease_promotes_the_instance_with_its_epoch() -> None:
    """The first attempt on a free lease makes the instance active, epoch 1, allowed to act."""
    lease, clock = FakeLease(), Clock()
    lead, lost = _leadership(lease, clock)
    assert not lead.may_act()
    await lead.attempt()
    await asyncio.sleep(0)
    assert lead.role is Role.ACTIVE
    assert lead.epoch == 1
    assert lead.may_act()
    assert lead.promoted == [1]  # type: ignore[attr-defined]
    assert lost == []


@pytest.mark.asyncio
async def test_a_held_lease_keeps_the_other_instance_standing_by() -> None:
    """While another holds the lease, an instance stays standby and may not act."""
    lease, clock = FakeLease(), Clock()
    first, _ = _leadership(lease, clock, "a")
    second, lost = _leadership(lease, clock, "b")
    await first.attempt()
    await second.attempt()
    assert second.role is Role.STANDBY
    assert not second.may_act()
    assert second.leader == "a"
    assert lost == []


@pytest.mark.asyncio
async def test_renews_failing_fence_the_leader_before_the_lease_can_expire() -> None:
    """Database down: acting stops once the last renew is older than TTL minus the margin."""
    lease, clock = FakeLease(), Clock()
    lead, lost = _leadership(lease, clock)
    await lead.attempt()
    lease.down = True
    clock.t += 2.4
    await lead.attempt()
    assert lead.may_act()
    clock.t += 0.2  # 2.6 s since the last renew was sent: past 3.0 - 0.5
    assert not lead.may_act()
    assert lead.role is Role.FENCED
    assert len(lost) == 1


@pytest.mark.asyncio
async def test_a_frozen_leader_may_not_act_when_it_wakes() -> None:
    """After a pause longer than the TTL, the very first check refuses, before any renew."""
    lease, clock = FakeLease(), Clock()
    lead, lost = _leadership(lease, clock)
    await lead.attempt()
    clock.t += 10.0
    assert not lead.may_act()
    assert lost


@pytest.mark.asyncio
async def test_a_rival_holding_the_lease_fences_the_old_leader() -> None:
    """When the lease went to another holder, the old leader's next attempt fences it."""
    lease, clock = FakeLease(), Clock()
    old, lost = _leadership(lease, clock, "a")
    new, _ = _leadership(lease, clock, "b")
    await old.attempt()
    lease.now += 5.0  # the database saw the lease expire
    await new.attempt()
    assert new.epoch == 2
    await old.attempt()
    assert old.role is Role.FENCED
    assert "held by b" in lost[0]


@pytest.mark.asyncio
async def test_a_lapsed_lease_taken_again_still_fences() -> None:
    """A leader whose lease lapsed and that gets it back under a new epoch stops all the same."""
    lease, clock = FakeLease(), Clock()
    lead, lost = _leadership(lease, clock)
    await lead.attempt()
    lease.now += 5.0
    await lead.attempt()
    assert lead.role is Role.FENCED
    assert "lapsed" in lost[0]


@pytest.mark.asyncio
async def test_a_release_lets_a_standby_take_over_at_once() -> None:
    """A clean stop releases the lease: the standby's next attempt promotes it."""
    lease, clock = FakeLease(), Clock()
    old, _ = _leadership(lease, clock, "a")
    new, _ = _leadership(lease, clock, "b")
    await old.attempt()
    await new.attempt()
    await old.release()
    await new.attempt()
    assert new.role is Role.ACTIVE
    assert new.epoch == 2


def test_timing_that_cannot_renew_in_time_is_refused() -> None:
    """A renew period not shorter than the TTL minus the margin is a configuration error."""
    with pytest.raises(ValueError, match="renew every"):
        LeaseTiming(ttl_s=2.0, renew_every_s=1.6, margin_s=0.5)


@pytest.mark.asyncio
async def test_a_leader_nobody_asks_is_fenced_by_its_timer_at_the_deadline() -> None:
    """Renews stopped, nothing calls may_act: the fence timer fences it at TTL minus the margin."""
    lease = FakeLease()
    lost: list[str] = []

    async def on_promoted(epoch: int) -> None:
        return None

    lead = Leadership(
        lease=lease,
        holder="a",
        timing=LeaseTiming(ttl_s=0.3, renew_every_s=0.05, margin_s=0.1),
        on_promoted=on_promoted,
        on_lost=lost.append,
    )
    await lead.attempt()
    assert lead.role is Role.ACTIVE
    await asyncio.sleep(0.1)
    assert lost == []
    await asyncio.sleep(0.15)  # 0.25 s since the renew: past 0.3 - 0.1
    assert lead.role is Role.FENCED
    assert len(lost) == 1
