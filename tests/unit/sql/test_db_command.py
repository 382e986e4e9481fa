"""``acd db``: the operator's command to bring the journal schema up to date, and to look."""

from __future__ import annotations

from pathlib import Path

import pytest

from acd.cli import main

MINIMAL = Path(__file__).resolve().parents[2] / "data" / "configs" / "minimal.yaml"


def config_with_journal(directory: Path, journal: str) -> Path:
    """The minimal test configuration with its ``journal:`` section replaced."""
    text = MINIMAL.read_text(encoding="utf-8")
    text = text.replace("journal:\n  url: sqlite:///var/acd-test-journal.db\n", journal)
    assert journal in text
    path = directory / "acd.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_db_upgrade_creates_the_schema_of_a_fresh_sqlite_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: current says none and fails; upgrade migrates; after: up to date."""
    db = tmp_path / "var" / "journal.db"
    config = str(config_with_journal(tmp_path, f"journal:\n  url: sqlite:///{db}\n"))
    assert main(["db", "current", "-c", config]) == 1
    assert f"current none, required 0002 (run `acd db upgrade -c {config}`)" in (
        capsys.readouterr().out
    )
    assert main(["db", "upgrade", "-c", config]) == 0
    assert "journal schema upgraded from none to 0002" in capsys.readouterr().out
    assert db.is_file()
    assert main(["db", "upgrade", "-c", config]) == 0
    assert "already at revision 0002" in capsys.readouterr().out
    assert main(["db", "current", "-c", config]) == 0
    assert "current 0002, required 0002 (up to date)" in capsys.readouterr().out


def test_db_upgrade_without_its_password_says_which_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A password reference that cannot be read stops the command before any connection."""
    monkeypatch.delenv("ACD_TEST_JOURNAL_PASSWORD", raising=False)
    section = (
        "journal:\n  url: postgresql://acd@127.0.0.1:1/acd\n"
        "  password: {env: ACD_TEST_JOURNAL_PASSWORD}\n"
    )
    config = str(config_with_journal(tmp_path, section))
    assert main(["db", "upgrade", "-c", config]) == 2
    assert "ACD_TEST_JOURNAL_PASSWORD is not set" in capsys.readouterr().err


def test_db_upgrade_on_an_unreachable_database_fails_without_showing_the_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing listening: exit 1 with the database named and its password hidden."""
    monkeypatch.setenv("ACD_TEST_JOURNAL_PASSWORD", "pw-never-printed")
    section = (
        "journal:\n  url: postgresql://acd@127.0.0.1:1/acd\n"
        "  password: {env: ACD_TEST_JOURNAL_PASSWORD}\n"
    )
    config = str(config_with_journal(tmp_path, section))
    assert main(["db", "upgrade", "-c", config]) == 1
    err = capsys.readouterr().err
    assert "postgresql+asyncpg://acd:***@127.0.0.1:1/acd" in err
    assert "pw-never-printed" not in err
