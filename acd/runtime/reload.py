"""Configuration hot reload: a valid file replaces the running one at once, a bad one never does."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from acd.config import AcdConfig, ConfigError, build_engine_spec, load_config
from acd.core.engine import Engine
from acd.core.errors import CoreError

log = logging.getLogger("acd.reload")


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadedConfig:
    """A configuration in force: its content hash and when it was loaded (epoch seconds)."""

    config: AcdConfig
    version: str
    loaded_at: float

    @property
    def label(self) -> str:
        """``<hash>@<UTC time>``: what every decision records as its configuration version."""
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.loaded_at))
        return f"{self.version}@{stamp}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReloadOutcome:
    """What one reload attempt did: ``applied``, ``unchanged`` or ``rejected`` (with why)."""

    status: str
    version: str | None
    errors: tuple[str, ...] = ()


Apply = Callable[[LoadedConfig, LoadedConfig], None]
"""Called with (new, old) when a valid, different configuration is loaded."""


class ConfigReloader:
    """Re-reads one configuration file on demand, on SIGHUP, or when the file changes.

    Only a file that loads and validates completely is handed to ``apply``; otherwise each
    problem is logged as ``FILE:LINE path: reason`` and the running configuration stays.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        apply: Apply | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.apply = apply
        """Called with (new, old) for a valid, different file; ``None``: versions only."""
        self._clock = clock
        self.current = LoadedConfig(
            config=(cfg := load_config(self.path)), version=cfg.version, loaded_at=clock()
        )
        self.last: ReloadOutcome = ReloadOutcome(status="applied", version=cfg.version)
        self._stamp = self._file_stamp()

    def reload(self) -> ReloadOutcome:
        """Load the file now; apply it if valid and different, else keep the running one."""
        try:
            cfg = load_config(self.path)
        except ConfigError as err:
            lines = tuple(str(issue) for issue in err.issues)
            for line in lines:
                log.error("configuration rejected, the running one stays: %s", line)
            self.last = ReloadOutcome(status="rejected", version=None, errors=lines)
            return self.last
        except OSError as err:
            message = f"{self.path}: cannot read: {err.strerror or err}"
            log.error("configuration rejected, the running one stays: %s", message)
            self.last = ReloadOutcome(status="rejected", version=None, errors=(message,))
            return self.last
        if cfg.version == self.current.version:
            self.last = ReloadOutcome(status="unchanged", version=cfg.version)
            return self.last
        new = LoadedConfig(config=cfg, version=cfg.version, loaded_at=self._clock())
        if self.apply is not None:
            try:
                self.apply(new, self.current)
            except CoreError as err:
                message = f"{self.path}: cannot apply to the running service: {err}"
                log.error("configuration rejected, the running one stays: %s", message)
                self.last = ReloadOutcome(status="rejected", version=None, errors=(message,))
                return self.last
        old, self.current = self.current, new
        log.info("configuration %s applied (was %s)", new.label, old.label)
        self.last = ReloadOutcome(status="applied", version=new.version)
        return self.last

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def changed_on_disk(self) -> bool:
        """Whether the file's modification time or size moved since the last look."""
        stamp = self._file_stamp()
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        return True

    def install_sighup(self, loop: asyncio.AbstractEventLoop) -> None:
        """Reload on SIGHUP (the usual ``systemctl reload`` / ``kill -HUP``)."""
        loop.add_signal_handler(signal.SIGHUP, self.reload)

    def remove_sighup(self, loop: asyncio.AbstractEventLoop) -> None:
        """Stop reacting to SIGHUP."""
        with contextlib.suppress(ValueError, RuntimeError):
            loop.remove_signal_handler(signal.SIGHUP)

    async def watch(self, every_s: float = 1.0) -> None:
        """Poll the file and reload when it changes; runs until cancelled."""
        while True:
            await asyncio.sleep(every_s)
            if self.changed_on_disk():
                self.reload()


def engine_applier(engine: Engine, *, clock: Callable[[], float] = time.time) -> Apply:
    """An ``apply`` that hands new overflow rules to a running engine.

    Overflow rules and partners change at once (calls in flight keep their state). Other
    sections (departments, queues, agents, links) are read at start: a change to them is
    logged as waiting for a restart, never half-applied.
    """

    def apply(new: LoadedConfig, old: LoadedConfig) -> None:
        spec = build_engine_spec(new.config)
        engine.reconfigure_overflow(spec.overflow, clock())
        for section in restart_sections(new.config, old.config):
            log.warning(
                "configuration %s: section %r changed; it takes effect at the next restart",
                new.label,
                section,
            )

    return apply


def restart_sections(new: AcdConfig, old: AcdConfig) -> list[str]:
    """Top-level sections other than ``overflow`` that differ between two configurations."""
    a = new.model_dump(exclude={"overflow"})
    b = old.model_dump(exclude={"overflow"})
    return sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
