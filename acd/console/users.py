"""The console's users file holds argon2id hashes only, and a running service follows its changes.

Format (YAML)::

    users:
      - {name: alice, role: supervisor, password_hash: "$argon2id$v=19$..."}

``acd users add|remove`` rewrite it atomically (temporary file renamed over it, mode 0600).
``UsersFile.verify`` re-reads it whenever its inode, size or modification time changes, so a
user added on a running service can log in at once. A malformed file never stops the
service: ``verify`` logs what is wrong and refuses every login until the file is fixed, and
``lookup`` keeps answering from the last good reading so that open sessions survive a typo.
"""

from __future__ import annotations

import builtins
import logging
import os
import re
import secrets
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import argon2
import yaml
from argon2.exceptions import InvalidHashError, VerificationError

from acd.console.roles import Role, UnknownRole, parse_role

log = logging.getLogger("acd.console.users")

NAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")
MIN_PASSWORD_LENGTH = 12
"""The SAMU's password policy for the console."""
HEADER = (
    "# Console users of the ACD. Change them with `acd users add|remove`, not by hand.\n"
    "# Hashes only (argon2id), yet keep it private: mode 0600, out of any repository.\n"
)
_FIELDS = ("name", "role", "password_hash")

Signature = tuple[int, int, int]
"""Inode, modification time (ns) and size: a change in any of them means the file changed."""


class UsersError(Exception):
    """Base of the users file's errors; ``slug`` is stable, ``message`` names the file."""

    slug = "users-error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MalformedUsersFile(UsersError):
    """The file is not YAML, or not a list of users with a name, a role and an argon2id hash."""

    slug = "malformed-users-file"


class InvalidUserName(UsersError, ValueError):
    """A user name outside ``[A-Za-z0-9._@-]{1,64}``."""

    slug = "invalid-user-name"


class WeakPassword(UsersError, ValueError):
    """A password shorter than ``MIN_PASSWORD_LENGTH`` characters."""

    slug = "weak-password"


class DuplicateUser(UsersError):
    """``add`` of a name already in the file, without ``replace``."""

    slug = "duplicate-user"


class UnknownUser(UsersError):
    """``remove`` of a name the file does not hold."""

    slug = "unknown-user"


@dataclass(frozen=True, slots=True, kw_only=True)
class User:
    """Who logged in, and what they may do."""

    name: str
    role: Role


@dataclass(frozen=True, slots=True, kw_only=True)
class _Account:
    name: str
    role: Role
    password_hash: str = field(repr=False)  # kept out of logs: it would help offline guessing


def check_name(name: str) -> None:
    """Raise ``InvalidUserName`` unless ``name`` may name a console user."""
    if not NAME.fullmatch(name):
        raise InvalidUserName(
            f"invalid user name {name[:70]!r}: 1 to 64 letters, digits or . _ @ -"
        )


def check_password(password: str) -> None:
    """Raise ``WeakPassword`` unless ``password`` meets the console's policy."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(
            f"a console password has at least {MIN_PASSWORD_LENGTH} characters "
            f"(this one has {len(password)})"
        )


class UsersFile:
    """The users file at ``path``; ``hasher`` defaults to argon2-cffi's recommended settings.

    Safe to share between threads (the console verifies passwords off its event loop).
    """

    def __init__(
        self, path: str | os.PathLike[str], *, hasher: argon2.PasswordHasher | None = None
    ) -> None:
        self.path = Path(path)
        self._hasher = hasher or argon2.PasswordHasher()
        self._lock = threading.Lock()
        self._dummy: str | None = None
        self._seen: Signature | None = None
        self._read_once = False
        self._usable = False
        self._accounts: dict[str, _Account] = {}
        self._reported: str | None = None

    def add(self, name: str, role: Role | str, password: str, *, replace: bool = False) -> User:
        """Add a user (or, with ``replace``, change their role and password)."""
        check_name(name)
        user = User(name=name, role=role if isinstance(role, Role) else parse_role(role))
        check_password(password)
        password_hash = self._hasher.hash(password)
        with self._lock:
            accounts = self._read()
            if name in accounts and not replace:
                raise DuplicateUser(f"{self.path}: user {name!r} already exists")
            accounts[name] = _Account(name=name, role=user.role, password_hash=password_hash)
            self._write(accounts)
        return user

    def remove(self, name: str) -> None:
        """Remove a user; their open console sessions are the console's to end."""
        with self._lock:
            accounts = self._read()
            if accounts.pop(name, None) is None:
                raise UnknownUser(f"{self.path}: no user {name[:70]!r}")
            self._write(accounts)

    def list(self) -> builtins.list[tuple[str, Role]]:
        """Every user and their role, by name; an absent file has none."""
        with self._lock:
            accounts = self._read()
        return [(a.name, a.role) for a in sorted(accounts.values(), key=lambda a: a.name)]

    def verify(self, name: str, password: str) -> User | None:
        """The user if ``password`` is theirs, else ``None``; as slow for unknown names.

        A hash made with older settings is replaced by one made with the current ones.
        Never raises on a bad file: a malformed or unreadable file is logged (once per
        problem) and every login is refused until it is fixed; no restart is needed.
        """
        dummy = self._dummy_hash()
        with self._lock:
            self._refresh()
            account = self._accounts.get(name) if self._usable else None
        try:
            # Unknown names are checked against a throwaway hash: the time taken must not
            # tell which names exist.
            self._hasher.verify(account.password_hash if account else dummy, password)
        except (VerificationError, InvalidHashError):
            return None
        if account is None:
            return None
        if self._hasher.check_needs_rehash(account.password_hash):
            self._rehash(account, password)
        return User(name=account.name, role=account.role)

    def lookup(self, name: str) -> User | None:
        """The user's current role, or ``None`` once removed: sessions follow file changes.

        Answers from the last good reading while the file is malformed.
        """
        with self._lock:
            self._refresh()
            account = self._accounts.get(name)
        return None if account is None else User(name=account.name, role=account.role)

    def _dummy_hash(self) -> str:
        if self._dummy is None:
            self._dummy = self._hasher.hash(secrets.token_urlsafe(16))
        return self._dummy

    def _refresh(self) -> None:
        """Re-read the file if it changed since the last reading; never raises."""
        try:
            seen = _signature(self.path)
            if self._read_once and seen == self._seen:
                return
            accounts = self._read()
        except (MalformedUsersFile, OSError) as err:
            self._usable, self._read_once = False, False  # so that the next call reads again
            self._report(f"{err}: console logins refused until the file is fixed", logging.ERROR)
            return
        self._seen, self._read_once, self._usable = seen, True, True
        self._accounts = accounts
        if seen is None:
            self._report(f"{self.path}: no users file, nobody can log in (acd users add)")
        else:
            self._reported = None

    def _report(self, problem: str, level: int = logging.WARNING) -> None:
        # Said once per problem: a login attempt every second must not flood the log.
        if problem != self._reported:
            self._reported = problem
            log.log(level, "%s", problem)

    def _rehash(self, account: _Account, password: str) -> None:
        new = _Account(
            name=account.name, role=account.role, password_hash=self._hasher.hash(password)
        )
        with self._lock:
            try:
                accounts = self._read()
                # Written back only if nobody changed this user since it was read.
                if accounts.get(account.name) == account:
                    accounts[account.name] = new
                    self._write(accounts)
            except (UsersError, OSError) as err:
                log.warning(
                    "%s: password hash of %s not upgraded: %s", self.path, account.name, err
                )

    def _read(self) -> dict[str, _Account]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except UnicodeDecodeError:
            raise MalformedUsersFile(f"{self.path}: not UTF-8 text") from None
        return _parse_users(text, source=str(self.path))

    def _write(self, accounts: dict[str, _Account]) -> None:
        users = [
            {"name": a.name, "role": a.role.value, "password_hash": a.password_hash}
            for a in sorted(accounts.values(), key=lambda a: a.name)
        ]
        body = yaml.safe_dump({"users": users}, sort_keys=False, width=1000)
        _write_atomically(self.path, HEADER + body)


def _parse_users(text: str, *, source: str) -> dict[str, _Account]:
    """The accounts in a users file's text, or ``MalformedUsersFile`` naming what is wrong."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(err, "problem", None) or "unreadable"
        raise MalformedUsersFile(f"{source}: not valid YAML: {problem}{where}") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict) or set(doc) != {"users"}:
        raise MalformedUsersFile(f"{source}: expected a single key `users` holding a list")
    entries = doc["users"] or []
    if not isinstance(entries, list):
        raise MalformedUsersFile(f"{source}: `users` must be a list")
    accounts: dict[str, _Account] = {}
    for index, entry in enumerate(entries):
        account = _parse_entry(entry, f"{source}: users[{index}]")
        if account.name in accounts:
            raise MalformedUsersFile(f"{source}: users[{index}]: {account.name!r} appears twice")
        accounts[account.name] = account
    return accounts


def _parse_entry(entry: Any, where: str) -> _Account:
    if not isinstance(entry, dict):
        raise MalformedUsersFile(f"{where}: expected name, role and password_hash")
    missing = [f for f in _FIELDS if f not in entry]
    unknown = sorted(str(k) for k in entry if k not in _FIELDS)
    if missing or unknown:
        wrong = [f"missing {', '.join(missing)}"] if missing else []
        wrong += [f"unknown key {', '.join(unknown)}"] if unknown else []
        raise MalformedUsersFile(f"{where}: {'; '.join(wrong)}")
    name, role, password_hash = (entry[f] for f in _FIELDS)
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise MalformedUsersFile(f"{where}.name: 1 to 64 letters, digits or . _ @ -")
    where = f"{where} ({name})"
    try:
        parsed_role = parse_role(role if isinstance(role, str) else "")
    except UnknownRole as err:
        raise MalformedUsersFile(f"{where}.role: {err.message}") from None
    if not isinstance(password_hash, str) or not _is_argon2id(password_hash):
        raise MalformedUsersFile(f"{where}.password_hash: not an argon2id hash")
    return _Account(name=name, role=parsed_role, password_hash=password_hash)


def _is_argon2id(password_hash: str) -> bool:
    try:
        return argon2.extract_parameters(password_hash).type is argon2.Type.ID
    except InvalidHashError:
        return False


def _signature(path: Path) -> Signature | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _write_atomically(path: Path, text: str) -> None:
    """Readers see the old file or the new one, never half of one; only the owner can read it."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            os.fchmod(out.fileno(), 0o600)
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    # The rename itself must reach the disk, or a power cut could bring the old file back.
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
