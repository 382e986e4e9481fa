"""``acd users``: add, list and remove console users in the file the configuration names.

The file is ``console.auth.users_file`` of the configuration (``-c``, ``configs/acd.yaml``
by default) or the one given with ``--file``. A running service picks the change up at the
next login, without a restart. Passwords are asked twice on the terminal, or read as one
line from standard input with ``--password-stdin`` (for provisioning scripts).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from acd.config import ConfigError, load_document
from acd.console.roles import Role
from acd.console.users import DuplicateUser, UsersError, UsersFile, check_name, check_password

if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]

EXIT_OK = 0
EXIT_FAILED = 1
"""The file could not be read or written (permissions, disk)."""
EXIT_INVALID = 2
"""Bad input: unknown name, duplicate, weak password, unreadable configuration or file."""

DEFAULT_CONFIG = "configs/acd.yaml"

_Action = Callable[[UsersFile], int]


class _Refused(Exception):
    """Bad input already explained; the command ends with ``EXIT_INVALID``."""


def users_add(args: argparse.Namespace) -> int:
    """Add a user with a role (``--replace``: change an existing user's role and password)."""

    def add(users: UsersFile) -> int:
        # Mistakes found before the password is typed, not after.
        check_name(args.name)
        if not args.replace and any(name == args.name for name, _role in users.list()):
            raise DuplicateUser(
                f"{users.path}: user {args.name!r} already exists: add --replace to change it"
            )
        password = _read_password(args.name, from_stdin=args.password_stdin)
        user = users.add(args.name, Role(args.role), password, replace=args.replace)
        print(f"{users.path}: {user.name} saved with role {user.role}")
        return EXIT_OK

    return _run(args, add)


def users_list(args: argparse.Namespace) -> int:
    """Print each user and their role, one per line."""

    def show(users: UsersFile) -> int:
        entries = users.list()
        if not entries:
            print(f"{users.path}: no users", file=sys.stderr)
        width = max((len(name) for name, _role in entries), default=0)
        for name, role in entries:
            print(f"{name:<{width}}  {role}")
        return EXIT_OK

    return _run(args, show)


def users_remove(args: argparse.Namespace) -> int:
    """Remove a user: no new login; open sessions end when the console next checks them."""

    def remove(users: UsersFile) -> int:
        users.remove(args.name)
        print(f"{users.path}: {args.name} removed")
        return EXIT_OK

    return _run(args, remove)


def _run(args: argparse.Namespace, action: _Action) -> int:
    try:
        return action(UsersFile(_users_path(args)))
    except _Refused:
        return EXIT_INVALID
    except UsersError as err:
        print(err.message, file=sys.stderr)
        return EXIT_INVALID
    except OSError as err:
        print(f"cannot read or write the users file: {err}", file=sys.stderr)
        return EXIT_FAILED


def _users_path(args: argparse.Namespace) -> str:
    if args.file is not None:
        return str(args.file)
    config = args.config or DEFAULT_CONFIG
    try:
        auth = load_document(config).config.console.auth
    except ConfigError as err:
        for issue in err.issues:
            print(issue, file=sys.stderr)
        raise _Refused from None
    if auth.mode != "users":
        print(
            f"note: {config} sets console.auth.mode to {auth.mode}: the console does not use "
            "this file for logins",
            file=sys.stderr,
        )
    return auth.users_file


def _read_password(name: str, *, from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
        if not password:
            print("no password on standard input", file=sys.stderr)
            raise _Refused
    else:
        try:
            password = getpass.getpass(f"Password for {name}: ")
            check_password(password)  # said before asking again, not after
            again = getpass.getpass("Same password again: ")
        except EOFError:
            print("no password given", file=sys.stderr)
            raise _Refused from None
        if password != again:
            print("the two passwords differ: nothing changed", file=sys.stderr)
            raise _Refused
    return password


def register_users(subparsers: Subparsers) -> None:
    """``acd users add NAME --role ROLE``, ``acd users list``, ``acd users remove NAME``."""
    group = subparsers.add_parser("users", help="console users: add, list, remove")
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="add a console user, or change one with --replace")
    add.add_argument("name", metavar="NAME", help="login name: letters, digits, . _ @ -")
    add.add_argument(
        "--role", required=True, choices=[role.value for role in Role], help="what they may do"
    )
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password as one line from standard input instead of asking",
    )
    add.add_argument(
        "--replace", action="store_true", help="change the role and password of an existing user"
    )
    _where(add)
    add.set_defaults(handler=users_add)
    listing = actions.add_parser("list", help="list console users and their roles")
    _where(listing)
    listing.set_defaults(handler=users_list)
    remove = actions.add_parser("remove", help="remove a console user")
    remove.add_argument("name", metavar="NAME")
    _where(remove)
    remove.set_defaults(handler=users_remove)


def _where(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "-c",
        "--config",
        metavar="FILE",
        help=f"configuration naming the users file (default {DEFAULT_CONFIG})",
    )
    where.add_argument("--file", metavar="PATH", help="the users file itself")
