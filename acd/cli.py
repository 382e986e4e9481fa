"""The ``acd`` command: one handler per subcommand, each group registered in ``COMMAND_GROUPS``.

To add a subcommand group, write a ``register_<group>(subparsers)`` function that adds its
parsers and sets ``handler`` on each leaf with ``set_defaults``, then list it in
``COMMAND_GROUPS``. A handler takes the parsed arguments and returns the exit status.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from acd import __version__
from acd.bootstrap import register_run
from acd.config import (
    AcdConfig,
    ConfigError,
    ConfigIssue,
    SecretError,
    build_engine_spec,
    load_document,
    resolve_secret,
    secret_refs,
)
from acd.console.users_cli import register_users
from acd.db import register_db
from acd.demo import register_demo
from acd.rules_explain import register_rules
from acd.sim.cli import register_simulate

if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]

Handler = Callable[[argparse.Namespace], int]

EXIT_OK = 0
EXIT_INVALID = 2
"""Same status as a usage error: the command could not do its job with what it was given."""

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def config_check(args: argparse.Namespace) -> int:
    """Validate a configuration file; print a summary, or every mistake on stderr."""
    try:
        doc = load_document(args.file)
    except ConfigError as exc:
        _print_issues(exc.issues)
        return EXIT_INVALID
    cfg = doc.config
    spec = build_engine_spec(cfg)
    rules = sum(len(chain) for chain in cfg.overflow.rules.values())
    pbx = ", ".join(
        f"{p.name} {p.host}:{p.port}{' tls' if p.tls else ''} (secret from {p.secret.describe()})"
        for p in cfg.pbx
    )
    lines = [
        f"{doc.source}: valid configuration, version {cfg.version}",
        f"  instance     {cfg.instance.name}",
        f"  departments  {len(spec.departments)} ({', '.join(d.id for d in spec.departments)})",
        f"  queues       {len(spec.queues)}",
        f"  agents       {len(spec.agents)}",
        f"  overflow     {rules} rules, {len(cfg.overflow.partners)} external partner(s)",
        f"  pbx          {pbx}",
    ]
    if args.secrets:
        problems = []
        for loc, ref in secret_refs(cfg):
            try:
                resolve_secret(ref)
            except SecretError as exc:
                problems.append(doc.issue(loc, exc.message))
        if problems:
            _print_issues(problems)
            return EXIT_INVALID
        lines.append(f"  secrets      {len(secret_refs(cfg))} resolved (values not shown)")
    print("\n".join(lines))
    return EXIT_OK


def config_schema(args: argparse.Namespace) -> int:  # noqa: ARG001 - the handler signature
    """Print the configuration's JSON Schema, for editor completion and validation."""
    schema = {"$schema": JSON_SCHEMA_DIALECT, **AcdConfig.model_json_schema()}
    print(json.dumps(schema, indent=2, ensure_ascii=False))
    return EXIT_OK


def register_config(subparsers: Subparsers) -> None:
    """``acd config check FILE`` and ``acd config schema``."""
    group = subparsers.add_parser("config", help="check a configuration, print its schema")
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = actions.add_parser("check", help="validate a YAML configuration file")
    check.add_argument("file", help="the YAML configuration, e.g. configs/acd.yaml")
    check.add_argument(
        "--secrets",
        action="store_true",
        help="also check that every secret reference can be read (values are never shown)",
    )
    check.set_defaults(handler=config_check)
    schema = actions.add_parser("schema", help="print the JSON Schema of the configuration")
    schema.set_defaults(handler=config_schema)


COMMAND_GROUPS: list[Callable[[Subparsers], None]] = [
    register_config,
    register_rules,
    register_simulate,
    register_run,
    register_demo,
    register_db,
    register_users,
]
"""Every subcommand group of ``acd``, in the order ``--help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="acd", description="ACD middleware for the emergency number 15 (SAMU)."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for register in COMMAND_GROUPS:
        register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``acd`` command line; return the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_INVALID
    return handler(args)


def _print_issues(issues: tuple[ConfigIssue, ...] | list[ConfigIssue]) -> None:
    for issue in issues:
        print(issue, file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
