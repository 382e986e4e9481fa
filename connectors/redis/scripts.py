"""The fenced write as one Lua script: a stale epoch writes nothing, a current one writes all.

Redis runs a script atomically, so the epoch check and the batch cannot be split by another
writer, and no reader sees half a batch. Every key the script touches comes in ``KEYS``
(the scripting contract); the script never builds a key name.

Layout of one call (see ``write_args``):

- ``KEYS``: the epoch key, then the three index sets (calls, agents, loads), then one
  document key per operation, in operation order.
- ``ARGV``: the writer's epoch, the notices channel, the number of operations, the TTL in
  milliseconds of each index's documents (calls, agents, loads); then three values per
  operation (index slot 2, 3 or 4; member id; JSON document, or ``""`` to delete); then
  the notices to publish, in order.

It returns ``{1, epoch}`` when the batch was written, ``{0, stored}`` when refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

FENCED_WRITE = """
local epoch = tonumber(ARGV[1])
local stored = tonumber(redis.call('GET', KEYS[1]) or '0')
if stored > epoch then
  return {0, stored}
end
if epoch > stored then
  redis.call('SET', KEYS[1], ARGV[1])
end
local ttl = {[2] = ARGV[4], [3] = ARGV[5], [4] = ARGV[6]}
local touched = {}
local a = 7
for i = 1, tonumber(ARGV[3]) do
  local slot, member, doc = tonumber(ARGV[a]), ARGV[a + 1], ARGV[a + 2]
  if doc == '' then
    redis.call('DEL', KEYS[4 + i])
    redis.call('SREM', KEYS[slot], member)
  else
    redis.call('SET', KEYS[4 + i], doc, 'PX', ttl[slot])
    redis.call('SADD', KEYS[slot], member)
  end
  touched[slot] = true
  a = a + 3
end
-- An index outlives its members: refreshed whenever one of them is written.
for slot, _ in pairs(touched) do
  redis.call('PEXPIRE', KEYS[slot], ttl[slot])
end
for i = a, #ARGV do
  redis.call('PUBLISH', ARGV[2], ARGV[i])
end
return {1, epoch}
"""

CALLS_SLOT = 2
AGENTS_SLOT = 3
LOADS_SLOT = 4
DELETE = ""
"""The document of an operation that deletes (a JSON document is never empty)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Op:
    """One document to set (``doc``, JSON) or delete (``doc == DELETE``)."""

    slot: int
    member: str
    key: str
    doc: str


def write_args(
    *,
    epoch: int,
    epoch_key: str,
    indexes: tuple[str, str, str],
    ttls_ms: tuple[int, int, int],
    channel: str,
    ops: Sequence[Op],
    notices: Sequence[str],
) -> tuple[list[str], list[str | int]]:
    """``KEYS`` and ``ARGV`` of one fenced write, in the layout the script reads."""
    keys = [epoch_key, *indexes]
    args: list[str | int] = [epoch, channel, len(ops), *ttls_ms]
    for op in ops:
        keys.append(op.key)
        args += (op.slot, op.member, op.doc)
    args += notices
    return keys, args
