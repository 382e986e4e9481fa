"""The day's figures per department (since local midnight), read from the journal every 30 s.

The engine's counters start at zero with the process; the journal's call records survive
restarts and failovers, so "answered within 60 s today" is read from them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

log = logging.getLogger("acd.console")

ZONE = ZoneInfo("Europe/Paris")
REFRESH_S = 30.0


class DayReader(Protocol):
    """The journal's read of a day's figures (``SqlJournal.day_figures``)."""

    async def day_figures(
        self,
        since_s: float,
        *,
        target_s: float,
        short_abandon_s: float,
        short_abandon_by_dept: Mapping[str, float] | None = None,
    ) -> dict[str, dict[str, int]]: ...


def midnight(now: float, zone: ZoneInfo = ZONE) -> float:
    """The last local midnight before ``now`` (epoch seconds), DST included."""
    local = datetime.fromtimestamp(now, zone)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return start.timestamp()


class DayFigures:
    """Today's figures by department, refreshed in the background."""

    def __init__(
        self,
        *,
        reader: DayReader,
        target_s: Callable[[], float],
        short_abandon_s: Callable[[], float],
        short_abandon_by_dept: Callable[[], Mapping[str, float]] = dict,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.reader = reader
        self.target_s = target_s
        self.short_abandon_s = short_abandon_s
        self.short_abandon_by_dept = short_abandon_by_dept
        self.clock = clock
        self.since: float | None = None
        self.by_dept: dict[str, dict[str, int]] = {}
        self.error: str | None = None

    def of(self, dept: str) -> dict[str, Any] | None:
        """A department's figures (zeros when it had no call), ``None`` before the first read."""
        if self.since is None:
            return None
        zero = {"entered": 0, "answered": 0, "within_target": 0, "abandoned": 0}
        return {"since": self.since, **zero, "overflowed_out": 0, **self.by_dept.get(dept, {})}

    async def refresh(self) -> None:
        """Read the figures once; on failure keep the last ones and say why."""
        since = midnight(self.clock())
        try:
            found = await self.reader.day_figures(
                since,
                target_s=self.target_s(),
                short_abandon_s=self.short_abandon_s(),
                short_abandon_by_dept=self.short_abandon_by_dept(),
            )
        except Exception as err:
            self.error = f"{err or type(err).__name__}"
            log.warning("today's figures not read: %s", self.error)
            return
        self.since, self.by_dept, self.error = since, found, None

    async def run(self, every_s: float = REFRESH_S) -> None:
        """Refresh until cancelled."""
        while True:
            await self.refresh()
            await asyncio.sleep(every_s)
