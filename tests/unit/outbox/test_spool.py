"""The local spool: entries survive on disk, a torn or corrupt line is skipped, never fatal."""

from __future__ import annotations

import zlib
from pathlib import Path

from connectors.spool import SpoolFile, encode_line, parse_line
from tests.unit.outbox.fakes import make_entries, unreadable_entry


def _ids(spool: SpoolFile) -> list[str]:
    return [e.id for e in spool.replay()]


def test_spool_gives_back_appended_entries_in_order(tmp_path: Path) -> None:
    """Entries appended in several batches are replayed whole and in order."""
    entries = make_entries(30)
    with SpoolFile(tmp_path / "journal.spool") as spool:
        spool.append(entries[:10])
        spool.append(entries[10:])
        assert len(spool) == 30
        assert spool.replay() == entries


def test_spooled_entries_survive_a_new_process(tmp_path: Path) -> None:
    """A spool opened again (after a restart) holds what the last one wrote."""
    entries = make_entries(5)
    with SpoolFile(tmp_path / "journal.spool") as spool:
        spool.append(entries)
    with SpoolFile(tmp_path / "journal.spool") as reopened:
        assert len(reopened) == 5
        assert reopened.replay() == entries


def test_torn_last_line_after_a_crash_is_skipped_and_counted(tmp_path: Path) -> None:
    """A crash in the middle of a write leaves a cut line: the whole ones are read, it is not."""
    path = tmp_path / "journal.spool"
    entries = make_entries(3)
    with SpoolFile(path) as spool:
        spool.append(entries)
    torn = encode_line(make_entries(1)[0])[:40]
    with path.open("ab") as f:
        f.write(torn)
    with SpoolFile(path) as spool:
        segment = spool.oldest()
        assert segment is not None
        assert segment.entries == entries
        assert segment.torn == 1
        spool.release(segment)
        assert spool.torn == 1
        assert len(spool) == 0


def test_appends_after_a_torn_tail_are_not_glued_to_it(tmp_path: Path) -> None:
    """A spool reopened over a torn tail writes new entries to a fresh file, all readable."""
    path = tmp_path / "journal.spool"
    before, after = make_entries(2), make_entries(2, tag="after")
    with SpoolFile(path) as spool:
        spool.append(before)
    with path.open("ab") as f:
        f.write(b'0badc0de {"id":')
    with SpoolFile(path) as spool:
        spool.append(after)
        assert spool.replay() == before + after


def test_corrupt_line_in_the_middle_is_skipped(tmp_path: Path) -> None:
    """A line whose checksum fails (a flipped byte) is skipped; its neighbours are kept."""
    path = tmp_path / "journal.spool"
    entries = make_entries(3)
    with SpoolFile(path) as spool:
        spool.append(entries)
    lines = path.read_bytes().split(b"\n")
    lines[1] = lines[1].replace(b"waiting", b"waitinG")
    path.write_bytes(b"\n".join(lines))
    with SpoolFile(path) as spool:
        segment = spool.oldest()
        assert segment is not None
        assert segment.entries == [entries[0], entries[2]]
        assert segment.torn == 1


def test_intact_line_that_is_no_entry_counts_as_bad(tmp_path: Path) -> None:
    """A line with a good checksum that does not decode is counted as bad and skipped."""
    entries = make_entries(2)
    with SpoolFile(tmp_path / "journal.spool") as spool:
        spool.append([entries[0], unreadable_entry(), entries[1]])
        segment = spool.oldest()
        assert segment is not None
        assert segment.entries == entries
        assert segment.bad == 1
        spool.release(segment)
        assert spool.bad == 1


def test_release_keeps_entries_appended_while_forwarding(tmp_path: Path) -> None:
    """Entries spooled after a segment was handed out stay when that segment is released."""
    first, later = make_entries(4), make_entries(3, tag="later")
    with SpoolFile(tmp_path / "journal.spool") as spool:
        spool.append(first)
        segment = spool.oldest()
        assert segment is not None
        spool.append(later)
        spool.release(segment)
        assert spool.replay() == later
        assert len(spool) == 3


def test_live_file_is_sealed_past_the_segment_size(tmp_path: Path) -> None:
    """A large spool is forwarded segment by segment, oldest first, none lost."""
    entries = make_entries(50)
    with SpoolFile(tmp_path / "journal.spool", segment_bytes=2000) as spool:
        for i in range(0, 50, 5):
            spool.append(entries[i : i + 5])
        seen = []
        while (segment := spool.oldest()) is not None:
            seen.extend(segment.entries)
            spool.release(segment)
        assert seen == entries
        assert len(spool) == 0


def test_clear_removes_every_file(tmp_path: Path) -> None:
    """Once everything is forwarded, clear leaves no file behind."""
    with SpoolFile(tmp_path / "journal.spool", segment_bytes=500) as spool:
        spool.append(make_entries(20))
        spool.clear()
        assert len(spool) == 0
        assert spool.replay() == []
    assert list(tmp_path.iterdir()) == []


def test_oldest_time_comes_from_the_first_readable_entry(tmp_path: Path) -> None:
    """The age metric reads the UUIDv7 of the oldest readable entry held."""
    entries = make_entries(2)
    with SpoolFile(tmp_path / "journal.spool") as spool:
        assert spool.oldest_ms() is None
        spool.append([unreadable_entry(), *entries])
        assert spool.oldest_ms() == int(entries[0].id.replace("-", "")[:12], 16)


def test_a_line_is_checked_before_it_is_trusted() -> None:
    """Only a whole line whose checksum matches gives its payload back."""
    line = encode_line(make_entries(1)[0])
    assert parse_line(line) == line[9:-1]
    assert parse_line(line[:-1]) is None
    assert parse_line(b"zzzzzzzz {}\n") is None
    assert parse_line(b"%08x {}\n" % (zlib.crc32(b"{}") ^ 1)) is None
    assert parse_line(b"\n") is None


def test_unsynced_spool_still_keeps_entries(tmp_path: Path) -> None:
    """With fsync off (tests, benchmarks) the entries are still written and read back."""
    entries = make_entries(3)
    with SpoolFile(tmp_path / "journal.spool", fsync=False) as spool:
        spool.append(entries)
        assert _ids(spool) == [e.id for e in entries]
