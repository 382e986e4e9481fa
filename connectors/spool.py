"""SpoolFile: entries wait on local disk until forwarded; a torn line is skipped, never fatal.

Layout: the live file ``<path>`` takes appends; sealed segments ``<path>.<seq>`` (8 digits,
rising) wait to be forwarded, oldest first. A line is ``<crc32 as 8 hex digits> <encoded
entry>\\n``: a line without its newline or whose checksum does not match (a crash in the
middle of a write, a bad sector) is counted in ``torn`` and skipped; a line that checks
but does not decode is counted in ``bad``.

Durability: ``append`` writes its whole batch, flushes it and ``fsync``s the file before it
returns (``fsync=False`` trades that for speed in tests and benchmarks), and creating or
renaming a file also ``fsync``s the directory, so an entry the spool accepted survives a
power cut. A crash can tear only the last line of the live file.

Forwarding: ``oldest()`` seals the live file when no sealed segment waits, and hands back
the oldest segment's entries; ``release(segment)`` deletes it once every entry is safely
elsewhere. Appends made meanwhile go to a new live file, so releasing never deletes an
entry that was not handed out. A process that opens a spool seals the live file it finds
(its last line may be torn, and appending after a torn line would glue the two).

Not thread-safe: one event loop's tasks use a spool, and never two processes at once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from acd.journal import JournalEntry, JournalEntryError, uuid7_ms

log = logging.getLogger(__name__)

SEGMENT_BYTES = 1024 * 1024
"""The live file is sealed past this size: a segment (~4,000 entries) is read back whole, on
the event loop, so it stays small enough to decode in tens of milliseconds."""
_CRC_LEN = 8


@dataclass(frozen=True, slots=True, kw_only=True)
class Segment:
    """One sealed file of the spool and the entries it held."""

    path: Path
    entries: list[JournalEntry]
    torn: int
    """Lines skipped because they were cut short or failed their checksum."""
    bad: int
    """Lines whose checksum held but that are not journal entries."""


def encode_line(entry: JournalEntry) -> bytes:
    """One spool line: checksum, space, encoded entry, newline."""
    payload = entry.encode()
    return b"%08x %s\n" % (zlib.crc32(payload), payload)


def parse_line(line: bytes) -> bytes | None:
    """The payload of a whole, intact line; ``None`` for a torn or corrupt one."""
    if not line.endswith(b"\n") or len(line) < _CRC_LEN + 2 or line[_CRC_LEN] != 0x20:
        return None
    payload = line[_CRC_LEN + 1 : -1]
    try:
        expected = int(line[:_CRC_LEN], 16)
    except ValueError:
        return None
    return payload if zlib.crc32(payload) == expected else None


class SpoolFile:
    """A local append-only spool of journal entries (see the module docstring)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        fsync: bool = True,
        segment_bytes: int = SEGMENT_BYTES,
    ) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self.segment_bytes = segment_bytes
        self.torn = 0
        """Torn or corrupt lines in the segments released so far."""
        self.bad = 0
        """Intact lines that did not decode, in the segments released so far."""
        self._out: BinaryIO | None = None
        self._live_size = 0
        self._live_count = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._sealed_count = sum(_count_lines(p) for p in self._segments())
        if self.path.exists() and self.path.stat().st_size > 0:
            self._seal()

    # -- writing ----------------------------------------------------------------------------

    def append(self, entries: Iterable[JournalEntry]) -> int:
        """Write entries durably (see the fsync policy); how many were written."""
        data = b"".join(encode_line(e) for e in entries)
        if not data:
            return 0
        out = self._open_live()
        try:
            out.write(data)
            out.flush()
            if self.fsync:
                os.fsync(out.fileno())
        except OSError:
            # A half-written batch must not prefix the next line: cut back to the last
            # whole line, or seal the file so its torn tail stays last.
            self._recover_write(out)
            raise
        count = data.count(b"\n")
        self._live_size += len(data)
        self._live_count += count
        if self._live_size >= self.segment_bytes:
            self._seal()
        return count

    def _open_live(self) -> BinaryIO:
        if self._out is None:
            created = not self.path.exists()
            self._out = self.path.open("ab")
            self._live_size = self._out.tell()
            if created:
                self._sync_dir()
        return self._out

    def _recover_write(self, out: BinaryIO) -> None:
        try:
            out.truncate(self._live_size)
            out.seek(self._live_size)
        except OSError:
            log.exception("spool %s: cannot cut a failed write back; sealing the file", self.path)
            with contextlib.suppress(OSError):
                self._seal()

    def _seal(self) -> None:
        """Close the live file and rename it to the next segment number."""
        if self._out is not None:
            self._out.close()
            self._out = None
        if not self.path.exists():
            return
        if self.path.stat().st_size == 0:
            self.path.unlink()
            return
        count = self._live_count or _count_lines(self.path)
        self.path.rename(self._segment_path(self._next_seq()))
        self._sync_dir()
        self._sealed_count += count
        self._live_size = 0
        self._live_count = 0

    # -- reading and forwarding -----------------------------------------------------------------

    def __len__(self) -> int:
        """Lines held (sealed and live), torn ones included: zero means nothing to forward."""
        return self._sealed_count + self._live_count

    def oldest(self) -> Segment | None:
        """The oldest sealed segment (sealing the live file if none waits); ``None`` if empty."""
        segments = self._segments()
        if not segments and self._live_count:
            self._seal()
            segments = self._segments()
        if not segments:
            return None
        path = segments[0]
        entries, torn, bad = self._read(path)
        return Segment(path=path, entries=entries, torn=torn, bad=bad)

    def release(self, segment: Segment) -> None:
        """Delete a segment whose every entry is now safely elsewhere."""
        if not segment.path.exists():
            return
        lines = _count_lines(segment.path)
        segment.path.unlink()
        self._sync_dir()
        self._sealed_count = max(0, self._sealed_count - lines)
        self.torn += segment.torn
        self.bad += segment.bad

    def replay(self) -> list[JournalEntry]:
        """Every entry held, oldest segment first, live file last; changes nothing."""
        return list(self)

    def __iter__(self) -> Iterator[JournalEntry]:
        files = self._segments()
        if self.path.exists():
            files.append(self.path)
        for path in files:
            entries, _torn, _bad = self._read(path)
            yield from entries

    def oldest_ms(self) -> int | None:
        """The UUIDv7 time of the first readable entry held, if any (for the age metric)."""
        files = self._segments()
        if self.path.exists():
            files.append(self.path)
        for path in files:
            with path.open("rb") as f:
                for line in f:
                    payload = parse_line(line)
                    if payload is None:
                        continue
                    with contextlib.suppress(JournalEntryError, ValueError):
                        return uuid7_ms(JournalEntry.decode(payload).id)
        return None

    def clear(self) -> None:
        """Delete every segment and the live file (everything held is safely elsewhere)."""
        self.close()
        for path in self._segments():
            path.unlink(missing_ok=True)
        self.path.unlink(missing_ok=True)
        self._sync_dir()
        self._sealed_count = self._live_count = self._live_size = 0

    def close(self) -> None:
        """Close the live file (entries stay on disk; a new spool object reads them)."""
        if self._out is not None:
            self._out.close()
            self._out = None

    def __enter__(self) -> SpoolFile:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- files -------------------------------------------------------------------------------

    def _read(self, path: Path) -> tuple[list[JournalEntry], int, int]:
        entries: list[JournalEntry] = []
        torn = bad = 0
        with path.open("rb") as f:
            for line in f:
                payload = parse_line(line)
                if payload is None:
                    torn += 1
                    continue
                try:
                    entries.append(JournalEntry.decode(payload))
                except JournalEntryError as err:
                    bad += 1
                    log.error("spool %s: skipped a line that is not an entry: %s", path, err)
        if torn:
            log.warning("spool %s: skipped %d torn or corrupt line(s)", path, torn)
        return entries, torn, bad

    def _segments(self) -> list[Path]:
        pattern = re.compile(re.escape(self.path.name) + r"\.(\d{8})")
        found = [p for p in self.path.parent.iterdir() if pattern.fullmatch(p.name)]
        return sorted(found, key=lambda p: p.name)

    def _segment_path(self, seq: int) -> Path:
        return self.path.with_name(f"{self.path.name}.{seq:08d}")

    def _next_seq(self) -> int:
        segments = self._segments()
        return int(segments[-1].name.rsplit(".", 1)[1]) + 1 if segments else 1

    def _sync_dir(self) -> None:
        if not self.fsync:
            return
        fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _count_lines(path: Path) -> int:
    """Lines in a file, a torn last line included (it still has to be read and released)."""
    lines, last = 0, b"\n"
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return lines + int(last != b"\n")


def spool_entries(spool: SpoolFile, entries: Sequence[JournalEntry]) -> bool:
    """Append to the spool; ``False`` (logged) when the disk refuses, so the caller keeps them."""
    try:
        spool.append(entries)
    except OSError:
        log.exception(
            "spool %s: cannot write %d entries; keeping them in memory", spool.path, len(entries)
        )
        return False
    return True
