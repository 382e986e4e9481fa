"""`acd users add|list|remove`: the users file named by the configuration or --file."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from acd.cli import main
from acd.console.roles import Role
from acd.console.users import User, UsersFile

PASSWORD = "correct horse battery"
MINIMAL = Path(__file__).parents[2] / "data" / "configs" / "minimal.yaml"


@pytest.fixture
def users_path(tmp_path: Path) -> Path:
    """Where the users file goes."""
    return tmp_path / "var" / "users.yaml"


def stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    """Feed standard input."""
    monkeypatch.setattr("sys.stdin", io.StringIO(text))


def prompts(monkeypatch: pytest.MonkeyPatch, *answers: str) -> list[str]:
    """Answer the password prompts in order; the prompts shown are returned."""
    shown: list[str] = []
    replies: Iterator[str] = iter(answers)

    def getpass(prompt: str = "") -> str:
        shown.append(prompt)
        return next(replies)

    monkeypatch.setattr("getpass.getpass", getpass)
    return shown


def add(users_path: Path, name: str, role: str, *more: str) -> int:
    """`acd users add NAME --role ROLE --file PATH ...`."""
    return main(["users", "add", name, "--role", role, "--file", str(users_path), *more])


def test_add_reads_the_password_from_stdin_and_list_shows_the_user(
    users_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A provisioning script adds a user; list prints name and role."""
    stdin(monkeypatch, PASSWORD + "\n")
    assert add(users_path, "alice", "supervisor", "--password-stdin") == 0
    assert main(["users", "list", "--file", str(users_path)]) == 0
    out = capsys.readouterr().out
    assert "alice saved with role supervisor" in out
    assert "alice  supervisor" in out
    assert UsersFile(users_path).verify("alice", PASSWORD) == User(
        name="alice", role=Role.SUPERVISOR
    )


def test_add_asks_the_password_twice(users_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a terminal the password is typed twice, never echoed."""
    shown = prompts(monkeypatch, PASSWORD, PASSWORD)
    assert add(users_path, "bob", "viewer") == 0
    assert shown == ["Password for bob: ", "Same password again: "]


def test_two_different_passwords_change_nothing(
    users_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A typing mistake exits 2 and writes no file."""
    prompts(monkeypatch, PASSWORD, PASSWORD + "x")
    assert add(users_path, "bob", "viewer") == 2
    assert "differ" in capsys.readouterr().err
    assert not users_path.exists()


def test_a_short_password_is_refused_before_the_second_prompt(
    users_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The policy is checked at once: exit 2, with the minimum length."""
    shown = prompts(monkeypatch, "short")
    assert add(users_path, "bob", "viewer") == 2
    assert len(shown) == 1
    assert "at least 12 characters" in capsys.readouterr().err


def test_an_existing_user_is_refused_unless_replace_is_given(
    users_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A duplicate exits 2 before any prompt; --replace changes the role."""
    stdin(monkeypatch, PASSWORD + "\n")
    assert add(users_path, "alice", "viewer", "--password-stdin") == 0
    shown = prompts(monkeypatch)
    assert add(users_path, "alice", "admin") == 2
    assert shown == []
    assert "--replace" in capsys.readouterr().err
    stdin(monkeypatch, PASSWORD + "\n")
    assert add(users_path, "alice", "admin", "--password-stdin", "--replace") == 0
    assert UsersFile(users_path).list() == [("alice", Role.ADMIN)]


def test_an_invalid_name_exits_2(
    users_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A name with a space is refused with the allowed characters."""
    prompts(monkeypatch)
    assert add(users_path, "bad name", "viewer") == 2
    assert "invalid user name" in capsys.readouterr().err


def test_an_empty_stdin_exits_2(users_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--password-stdin with nothing to read is bad input."""
    stdin(monkeypatch, "")
    assert add(users_path, "alice", "viewer", "--password-stdin") == 2
    assert not users_path.exists()


def test_an_unknown_role_is_a_usage_error(users_path: Path) -> None:
    """--role takes viewer, supervisor or admin only."""
    with pytest.raises(SystemExit) as caught:
        add(users_path, "alice", "boss")
    assert caught.value.code == 2


def test_remove_takes_the_user_out_and_refuses_unknown_names(
    users_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Remove exits 0 for a user in the file, 2 for a name that is not."""
    stdin(monkeypatch, PASSWORD + "\n")
    assert add(users_path, "alice", "viewer", "--password-stdin") == 0
    assert main(["users", "remove", "alice", "--file", str(users_path)]) == 0
    assert main(["users", "remove", "alice", "--file", str(users_path)]) == 2
    assert "no user 'alice'" in capsys.readouterr().err


def test_a_malformed_file_exits_2_naming_it(
    users_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """List of an unreadable file says which file and what is wrong."""
    users_path.parent.mkdir(parents=True)
    users_path.write_text("users: [unclosed", encoding="utf-8")
    assert main(["users", "list", "--file", str(users_path)]) == 2
    err = capsys.readouterr().err
    assert str(users_path) in err
    assert "not valid YAML" in err


def test_the_configuration_names_the_users_file(
    tmp_path: Path, users_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With -c the file is console.auth.users_file of that configuration."""
    doc = yaml.safe_load(MINIMAL.read_text(encoding="utf-8"))
    doc["console"] = {"auth": {"users_file": str(users_path)}}
    config = tmp_path / "acd.yaml"
    config.write_text(yaml.safe_dump(doc), encoding="utf-8")
    stdin(monkeypatch, PASSWORD + "\n")
    assert (
        main(["users", "add", "carol", "--role", "admin", "-c", str(config), "--password-stdin"])
        == 0
    )
    assert UsersFile(users_path).list() == [("carol", Role.ADMIN)]


def test_a_bad_configuration_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An unreadable configuration is reported as FILE: reason."""
    config = tmp_path / "missing.yaml"
    assert main(["users", "list", "-c", str(config)]) == 2
    assert str(config) in capsys.readouterr().err


def test_config_and_file_are_exclusive(users_path: Path) -> None:
    """-c and --file together is a usage error."""
    with pytest.raises(SystemExit) as caught:
        main(["users", "list", "-c", "configs/acd.yaml", "--file", str(users_path)])
    assert caught.value.code == 2
