"""Reconnect delays, pure: exponential growth to a cap, full jitter above a floor, no clock."""

from __future__ import annotations

import random

DEFAULT_MIN_S = 0.2
DEFAULT_MAX_S = 10.0
DEFAULT_FACTOR = 2.0


class Backoff:
    """The delay before each retry: ``uniform(min_s, min(max_s, min_s * factor**n))``.

    ``n`` counts the retries since the last ``reset``: the ceiling doubles at each failure
    up to ``max_s``, and the delay is drawn anywhere below it (full jitter), so many
    clients that lost the same Asterisk do not come back in step. The floor ``min_s``
    keeps a flapping peer from being hammered at zero delay. The random source is
    injected, so tests get a fixed sequence.
    """

    __slots__ = ("_attempt", "_rng", "factor", "max_s", "min_s")

    def __init__(
        self,
        *,
        min_s: float = DEFAULT_MIN_S,
        max_s: float = DEFAULT_MAX_S,
        factor: float = DEFAULT_FACTOR,
        rng: random.Random | None = None,
    ) -> None:
        if min_s <= 0 or max_s < min_s:
            raise ValueError(f"backoff needs 0 < min_s <= max_s, got {min_s} and {max_s}")
        if factor < 1:
            raise ValueError(f"backoff factor must be at least 1, got {factor}")
        self.min_s = min_s
        self.max_s = max_s
        self.factor = factor
        # Jitter needs no cryptographic quality; the source is injectable for tests.
        self._rng = rng if rng is not None else random.Random()  # noqa: S311
        self._attempt = 0

    @property
    def attempt(self) -> int:
        """Retries drawn since the last reset."""
        return self._attempt

    def ceiling(self) -> float:
        """The largest delay the next draw can give."""
        # Capped exponent: a long outage must not overflow the float.
        exponent = min(self._attempt, 64)
        return min(self.max_s, self.min_s * self.factor**exponent)

    def next_delay(self) -> float:
        """Draw the delay before the next retry and raise the ceiling for the one after."""
        delay = self._rng.uniform(self.min_s, self.ceiling())
        self._attempt += 1
        return delay

    def reset(self) -> None:
        """A session came up and was usable: the next failure starts from the floor again."""
        self._attempt = 0
