"""Today's figures: counted from local midnight, kept when the journal cannot be read."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import pytest

from acd.console.today import ZONE, DayFigures, midnight


def _at(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def test_midnight_is_local_midnight_on_a_spring_forward_day() -> None:
    """On the day clocks go forward, the day still starts at 00:00 Paris time (UTC+1)."""
    assert midnight(_at("2026-03-29T15:00:00+02:00")) == _at("2026-03-29T00:00:00+01:00")


def test_midnight_just_after_midnight_is_the_same_day() -> None:
    """A minute after midnight, the day began a minute ago."""
    now = _at("2026-11-29T00:01:00+01:00")
    assert midnight(now) == now - 60
    assert datetime.fromtimestamp(midnight(now), ZONE).hour == 0


class _Journal:
    """A journal that answers a fixed day, or fails."""

    def __init__(self) -> None:
        self.fail = False
        self.asked: list[tuple[float, float, float]] = []

    async def day_figures(
        self,
        since_s: float,
        *,
        target_s: float,
        short_abandon_s: float,
        short_abandon_by_dept: Mapping[str, float] | None = None,
    ) -> dict[str, dict[str, int]]:
        self.asked.append((since_s, target_s, short_abandon_s))
        if self.fail:
            raise ConnectionError("journal down")
        return {"75": {"entered": 3, "answered": 2, "within_target": 2, "abandoned": 1,
                       "overflowed_out": 0}}  # fmt: skip


@pytest.mark.asyncio
async def test_day_figures_keep_the_last_reading_when_the_journal_fails() -> None:
    """A failed read says why and keeps the figures already shown."""
    journal = _Journal()
    now = _at("2026-11-29T10:00:00+01:00")
    day = DayFigures(reader=journal, target_s=lambda: 60.0, short_abandon_s=lambda: 5.0,
                     clock=lambda: now)  # fmt: skip
    assert day.of("75") is None
    await day.refresh()
    assert journal.asked == [(_at("2026-11-29T00:00:00+01:00"), 60.0, 5.0)]
    assert day.of("75") == {"since": journal.asked[0][0], "entered": 3, "answered": 2,
                            "within_target": 2, "abandoned": 1, "overflowed_out": 0}  # fmt: skip
    assert day.of("92") == {"since": journal.asked[0][0], "entered": 0, "answered": 0,
                            "within_target": 0, "abandoned": 0, "overflowed_out": 0}  # fmt: skip
    journal.fail = True
    await day.refresh()
    assert day.error == "journal down"
    kept = day.of("75")
    assert kept is not None
    assert kept["answered"] == 2
