"""The fenced write's KEYS/ARGV layout, as the Lua script reads it."""

from __future__ import annotations

from connectors.redis.scripts import AGENTS_SLOT, CALLS_SLOT, DELETE, LOADS_SLOT, Op, write_args


def test_write_arguments_follow_the_script_layout() -> None:
    """Epoch key and indexes first, one document key per operation; ARGV in the same order."""
    ops = [
        Op(slot=CALLS_SLOT, member="c1", key="acd:p:call:c1", doc='{"state":"waiting"}'),
        Op(slot=CALLS_SLOT, member="c0", key="acd:p:call:c0", doc=DELETE),
        Op(slot=AGENTS_SLOT, member="a1", key="acd:p:agent:a1", doc='{"state":"idle"}'),
        Op(slot=LOADS_SLOT, member="75", key="acd:load:75", doc='{"waiting":2}'),
    ]
    keys, args = write_args(
        epoch=3,
        epoch_key="acd:p:epoch",
        indexes=("acd:p:calls", "acd:p:agents", "acd:p:loads"),
        ttls_ms=(86_400_000, 604_800_000, 30_000),
        channel="acd:p:notices",
        ops=ops,
        notices=['{"n":1}', '{"n":2}'],
    )
    assert keys == [
        "acd:p:epoch",
        "acd:p:calls",
        "acd:p:agents",
        "acd:p:loads",
        "acd:p:call:c1",
        "acd:p:call:c0",
        "acd:p:agent:a1",
        "acd:load:75",
    ]
    assert args == [
        3, "acd:p:notices", 4, 86_400_000, 604_800_000, 30_000,
        2, "c1", '{"state":"waiting"}',
        2, "c0", "",
        3, "a1", '{"state":"idle"}',
        4, "75", '{"waiting":2}',
        '{"n":1}', '{"n":2}',
    ]  # fmt: skip


def test_index_slots_are_the_index_positions_in_keys() -> None:
    """Slots 2, 3, 4 name KEYS[2..4]: calls, agents, loads (Lua counts from 1)."""
    assert (CALLS_SLOT, AGENTS_SLOT, LOADS_SLOT) == (2, 3, 4)
