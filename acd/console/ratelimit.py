"""Failed logins are counted per key in a sliding window; a key at the limit waits its turn.

The console counts each attempt (as a failure until it succeeds) under the user name and
address together, under the address, and, with a much higher ceiling, under the user name
alone (``acd.console.security``): guessing from one address is slowed at once, and nobody
can lock a supervisor out from another address. Memory stays bounded: a key keeps at most
``max_failures`` times, keys whose failures left the window are pruned, and past
``max_keys`` the key with the oldest failure goes first. Refusals are reported once per key
and window (:meth:`LoginLimiter.first_refusal`) so that a flood of attempts cannot flood
the audit trail.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable

MAX_KEYS = 100_000


class LoginLimiter:
    """Allows ``max_failures`` failed logins per key within any ``window_s`` seconds.

    ``now`` arguments come from the same clock as ``clock`` (read when they are left out).
    """

    def __init__(
        self,
        *,
        max_failures: int,
        window_s: float,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_KEYS,
    ) -> None:
        if max_failures < 1 or window_s <= 0 or max_keys < 1:
            raise ValueError("max_failures and max_keys must be at least 1, window_s positive")
        self.max_failures = max_failures
        self.window_s = window_s
        self.max_keys = max_keys
        self._clock = clock
        # Ordered by latest failure, so that pruning only ever looks at the front.
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        # When each key's refusal was last reported, oldest first.
        self._reported: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._failures)

    def retry_after(self, key: str, now: float | None = None) -> float | None:
        """Seconds until ``key`` may try again, or ``None`` if it may try now."""
        at = self._now(now)
        times = self._failures.get(key)
        if times is None:
            return None
        cutoff = at - self.window_s
        while times and times[0] <= cutoff:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        if len(times) < self.max_failures:
            return None
        # Only the last max_failures are kept: the oldest of them leaving the window frees a try.
        return times[0] - cutoff

    def failed(self, key: str, now: float | None = None) -> None:
        """Count a failed login for ``key``."""
        at = self._now(now)
        times = self._failures.get(key)
        if times is None:
            times = self._failures[key] = deque(maxlen=self.max_failures)
        times.append(at)
        self._failures.move_to_end(key)
        self._prune(at)

    def succeeded(self, key: str) -> None:
        """Forget the failures of ``key`` (a correct password ends the count)."""
        self._failures.pop(key, None)

    def first_refusal(self, key: str, now: float | None = None) -> bool:
        """Whether a refusal of ``key`` is the first within ``window_s`` (the one to report).

        Later refusals of the same key answer ``False`` until ``window_s`` has passed since
        the reported one; the memory of reports is bounded like the failures.
        """
        at = self._now(now)
        cutoff = at - self.window_s
        while self._reported and next(iter(self._reported.values())) <= cutoff:
            self._reported.popitem(last=False)
        if key in self._reported:
            return False
        while len(self._reported) >= self.max_keys:
            self._reported.popitem(last=False)
        self._reported[key] = at
        return True

    def _prune(self, now: float) -> None:
        cutoff = now - self.window_s
        while self._failures:
            oldest, times = next(iter(self._failures.items()))
            if times[-1] > cutoff and len(self._failures) <= self.max_keys:
                return
            del self._failures[oldest]

    def _now(self, now: float | None) -> float:
        return self._clock() if now is None else now
