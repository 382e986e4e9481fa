"""Caller numbers shown to viewers or written to logs keep at most their first and last 2 digits."""

from __future__ import annotations

MASK = "•"
KEPT = 2
"""Digits kept at each end: the operator or country code, and the last pair."""
SHORTEST_PARTLY_SHOWN = 6
"""Numbers with fewer digits are masked whole: 4 kept digits would give most of them away."""


def mask_number(number: str) -> str:
    """``0612345678`` → ``06••••••78``, ``+33612345678`` → ``+33•••••••78``, ``15`` → ``••``.

    Only digits are masked, so the length, a leading ``+`` and separators stay; a number
    without any digit (empty, ``anonymous``) has nothing to hide and is returned as is.
    """
    digits = sum(1 for ch in number if ch.isdigit())
    if digits == 0:
        return number
    shown = KEPT if digits >= SHORTEST_PARTLY_SHOWN else 0
    out = []
    seen = 0
    for ch in number:
        if ch.isdigit():
            seen += 1
            out.append(ch if seen <= shown or seen > digits - shown else MASK)
        else:
            out.append(ch)
    return "".join(out)
