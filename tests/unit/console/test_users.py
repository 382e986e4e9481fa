"""The console users file: argon2id hashes, atomic rewrites, changes seen by a running service."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import Literal

import pytest
from argon2 import PasswordHasher, extract_parameters

from acd.console.roles import Role
from acd.console.users import (
    DuplicateUser,
    InvalidUserName,
    MalformedUsersFile,
    UnknownUser,
    User,
    UsersFile,
    WeakPassword,
)

PASSWORD = "correct horse battery"


def fast_hasher(time_cost: int = 1) -> PasswordHasher:
    """Cheap argon2id settings: the tests check behaviour, not hashing strength."""
    return PasswordHasher(time_cost=time_cost, memory_cost=8, parallelism=1)


class CountingHasher(PasswordHasher):
    """A real hasher that counts how many hashes it checked."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.verified = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        self.verified += 1
        return super().verify(hash, password)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    """Where the users file goes, in a directory that does not exist yet."""
    return tmp_path / "var" / "users.yaml"


@pytest.fixture
def users(path: Path) -> UsersFile:
    """A users file with cheap hashing."""
    return UsersFile(path, hasher=fast_hasher())


def bump(path: Path) -> None:
    """Make a hand edit visible even on a file system with coarse timestamps."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))


def test_an_added_user_logs_in_with_their_role(users: UsersFile) -> None:
    """The right password returns the user and their role."""
    assert users.add("alice", Role.SUPERVISOR, PASSWORD) == User(name="alice", role=Role.SUPERVISOR)
    assert users.verify("alice", PASSWORD) == User(name="alice", role=Role.SUPERVISOR)


def test_a_wrong_password_is_refused(users: UsersFile) -> None:
    """Any other password returns None."""
    users.add("alice", Role.SUPERVISOR, PASSWORD)
    assert users.verify("alice", PASSWORD + "!") is None
    assert users.verify("alice", "") is None


def test_an_unknown_name_costs_one_hash_check_like_a_known_one(path: Path) -> None:
    """Unknown names are checked against a throwaway hash, so timing tells nothing."""
    hasher = CountingHasher()
    users = UsersFile(path, hasher=hasher)
    users.add("alice", Role.VIEWER, PASSWORD)
    assert users.verify("alice", "wrong password!") is None
    assert hasher.verified == 1
    assert users.verify("mallory", PASSWORD) is None
    assert hasher.verified == 2


def test_nobody_logs_in_while_the_file_does_not_exist(users: UsersFile, path: Path) -> None:
    """No file: no users, every login refused."""
    assert users.verify("alice", PASSWORD) is None
    assert users.list() == []
    assert not path.exists()


def test_the_file_holds_hashes_only_and_is_private(users: UsersFile, path: Path) -> None:
    """The password never reaches the disk; the file is 0600 in a directory it created."""
    users.add("alice", Role.ADMIN, PASSWORD)
    text = path.read_text(encoding="utf-8")
    assert PASSWORD not in text
    assert "$argon2id$" in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["users.yaml"]


def test_adding_an_existing_name_is_refused_unless_replacing(users: UsersFile) -> None:
    """A duplicate raises; with replace the role and password change."""
    users.add("alice", Role.VIEWER, PASSWORD)
    with pytest.raises(DuplicateUser) as caught:
        users.add("alice", Role.ADMIN, "another long password")
    assert caught.value.slug == "duplicate-user"
    users.add("alice", Role.ADMIN, "another long password", replace=True)
    assert users.verify("alice", PASSWORD) is None
    assert users.verify("alice", "another long password") == User(name="alice", role=Role.ADMIN)


@pytest.mark.parametrize("name", ["", "bad name", "a/b", "x" * 65, "alice\n", "é"])
def test_names_outside_the_allowed_characters_are_refused(users: UsersFile, name: str) -> None:
    """Names are 1 to 64 of letters, digits, dot, underscore, at sign and hyphen."""
    with pytest.raises(InvalidUserName) as caught:
        users.add(name, Role.VIEWER, PASSWORD)
    assert caught.value.slug == "invalid-user-name"


def test_names_like_email_addresses_are_accepted(users: UsersFile) -> None:
    """Directory-style names such as first.last@samu.fr are fine."""
    users.add("jean-marie.dupont_2@samu75.fr", "viewer", PASSWORD)
    assert users.list() == [("jean-marie.dupont_2@samu75.fr", Role.VIEWER)]


def test_passwords_shorter_than_twelve_characters_are_refused(users: UsersFile) -> None:
    """The SAMU policy: at least 12 characters; nothing is written otherwise."""
    with pytest.raises(WeakPassword) as caught:
        users.add("alice", Role.VIEWER, "elevenchars")
    assert caught.value.slug == "weak-password"
    assert users.list() == []


def test_remove_takes_a_user_out(users: UsersFile) -> None:
    """A removed user can no longer log in; removing an unknown name raises."""
    users.add("alice", Role.VIEWER, PASSWORD)
    users.add("bob", Role.ADMIN, PASSWORD)
    users.remove("alice")
    assert users.verify("alice", PASSWORD) is None
    assert users.list() == [("bob", Role.ADMIN)]
    with pytest.raises(UnknownUser) as caught:
        users.remove("alice")
    assert caught.value.slug == "unknown-user"


def test_list_gives_names_and_roles_by_name(users: UsersFile) -> None:
    """Users come back sorted by name with their roles."""
    users.add("zoe", Role.VIEWER, PASSWORD)
    users.add("alice", Role.ADMIN, PASSWORD)
    assert users.list() == [("alice", Role.ADMIN), ("zoe", Role.VIEWER)]


def test_a_running_service_sees_users_added_by_the_command(path: Path) -> None:
    """The service's instance picks up another process's add and remove without restart."""
    service = UsersFile(path, hasher=fast_hasher())
    assert service.verify("alice", PASSWORD) is None
    UsersFile(path, hasher=fast_hasher()).add("alice", Role.SUPERVISOR, PASSWORD)
    assert service.verify("alice", PASSWORD) == User(name="alice", role=Role.SUPERVISOR)
    UsersFile(path, hasher=fast_hasher()).remove("alice")
    assert service.verify("alice", PASSWORD) is None
    assert service.lookup("alice") is None


def test_lookup_follows_role_changes(path: Path) -> None:
    """An open session can ask for the user's current role after an edit."""
    service = UsersFile(path, hasher=fast_hasher())
    admin = UsersFile(path, hasher=fast_hasher())
    admin.add("alice", Role.ADMIN, PASSWORD)
    assert service.lookup("alice") == User(name="alice", role=Role.ADMIN)
    admin.add("alice", Role.VIEWER, PASSWORD, replace=True)
    assert service.lookup("alice") == User(name="alice", role=Role.VIEWER)


def test_hashes_made_with_older_settings_are_upgraded_at_login(path: Path) -> None:
    """A successful login rewrites a hash whose settings are below the current ones."""
    UsersFile(path, hasher=fast_hasher(time_cost=1)).add("alice", Role.VIEWER, PASSWORD)
    stronger = UsersFile(path, hasher=fast_hasher(time_cost=2))
    assert stronger.verify("alice", PASSWORD) is not None
    stored = path.read_text(encoding="utf-8").split("password_hash: ")[1].strip()
    assert extract_parameters(stored).time_cost == 2
    assert stronger.verify("alice", PASSWORD) is not None


MALFORMED = {
    "users: [unclosed": ("not valid YAML", "line 1"),
    "- alice": ("single key `users`",),
    "users: {alice: admin}": ("`users` must be a list",),
    "users:\n  - alice": ("users[0]", "expected name, role and password_hash"),
    "users:\n  - {name: alice, role: admin}": ("users[0]", "missing password_hash"),
    "users:\n  - {name: alice, role: boss, password_hash: x}": ("users[0] (alice).role", "boss"),
    "users:\n  - {name: alice, role: admin, password_hash: secret}": ("not an argon2id hash",),
    "users:\n  - {name: a b, role: admin, password_hash: x}": ("users[0].name",),
    "users:\n  - {name: al, role: admin, password_hash: x, pass: y}": ("unknown key pass",),
}


@pytest.mark.parametrize(("text", "expected"), list(MALFORMED.items()), ids=list(MALFORMED))
def test_a_malformed_file_is_reported_with_its_path_and_fault(
    users: UsersFile, path: Path, text: str, expected: tuple[str, ...]
) -> None:
    """Reading a malformed file raises an error naming the file and what is wrong."""
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(MalformedUsersFile) as caught:
        users.list()
    assert caught.value.slug == "malformed-users-file"
    assert str(path) in caught.value.message
    for part in expected:
        assert part in caught.value.message


def test_a_name_twice_makes_the_file_malformed(users: UsersFile, path: Path) -> None:
    """Two entries for one name: which password counts would be a guess."""
    users.add("alice", Role.VIEWER, PASSWORD)
    text = path.read_text(encoding="utf-8")
    entry = text.split("users:\n")[1]
    path.write_text(text + entry, encoding="utf-8")
    with pytest.raises(MalformedUsersFile, match="'alice' appears twice"):
        users.list()


def test_a_malformed_file_refuses_logins_without_crashing_and_says_so_once(
    users: UsersFile, path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """While the file is broken every login is refused and one error logged; fixing it heals."""
    users.add("alice", Role.ADMIN, PASSWORD)
    assert users.verify("alice", PASSWORD) is not None
    good = path.read_text(encoding="utf-8")
    path.write_text(good.replace("role: admin", "role: boss"), encoding="utf-8")
    bump(path)
    with caplog.at_level(logging.ERROR, logger="acd.console.users"):
        assert users.verify("alice", PASSWORD) is None
        assert users.verify("alice", PASSWORD) is None
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert str(path) in errors[0].getMessage()
    assert "logins refused" in errors[0].getMessage()
    path.write_text(good, encoding="utf-8")
    bump(path)
    assert users.verify("alice", PASSWORD) == User(name="alice", role=Role.ADMIN)


def test_lookup_keeps_the_last_good_reading_while_the_file_is_malformed(
    users: UsersFile, path: Path
) -> None:
    """A typo in the file does not throw the logged-in supervisors out."""
    users.add("alice", Role.SUPERVISOR, PASSWORD)
    assert users.lookup("alice") == User(name="alice", role=Role.SUPERVISOR)
    path.write_text("users: [unclosed", encoding="utf-8")
    assert users.lookup("alice") == User(name="alice", role=Role.SUPERVISOR)


def test_adding_to_a_malformed_file_changes_nothing(users: UsersFile, path: Path) -> None:
    """The command refuses to rewrite a file it cannot read: users would be lost."""
    path.parent.mkdir(parents=True)
    path.write_text("users: [unclosed", encoding="utf-8")
    with pytest.raises(MalformedUsersFile):
        users.add("alice", Role.VIEWER, PASSWORD)
    assert path.read_text(encoding="utf-8") == "users: [unclosed"
