"""``acd rules explain``: a dry run of the overflow rules on a snapshot of the platform.

For each department with rules, in order, it tells which rule would fire and why (every
figure a condition read), then walks the partner chain: each partner would take the call
or is skipped, with the look-ahead check that failed. Nothing is sent anywhere.

The snapshot is a JSON file::

    {
      "at": "2026-07-14T23:30:00+02:00",
      "departments": {
        "75": {"waiting": 12, "oldest_wait_s": 140, "estimated_wait_s": 300,
               "available_agents": 0, "logged_in_agents": 6,
               "service_level": {"15": 0.72}, "crisis": false}
      },
      "partners": {
        "samu-60": {"waiting": 0, "available_agents": 3, "estimated_wait_s": 20, "age_s": 4}
      }
    }

``at`` (optional) is when the snapshot was taken; ``--at`` overrides it; without either,
now. A time without an offset is Europe/Paris local time. Under ``departments`` (this
platform's SAMU, by department id), every field is optional: ``waiting`` 0,
``oldest_wait_s`` 0, ``estimated_wait_s`` null (unknown: counts as endless),
``available_agents`` 0, ``logged_in_agents`` as many as available, ``service_level`` by
window in minutes (share 0–1 answered within the target; a window not given is unknown),
``crisis`` false. A department missing from the snapshot is not evaluated, and as a
partner its load is unknown. Under ``partners`` (external SAMU, by partner id):
``waiting`` and ``available_agents`` are required, ``estimated_wait_s`` defaults to null and
``age_s`` (seconds since the partner published its load) to 0; a load older than
``partner_load_ttl_s`` is unknown, as is a partner missing from the snapshot.

:func:`look_ahead` decides with the engine's own look-ahead function and only words the
verdict; the tests still hold the dry run against a real engine's decisions.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from acd.config import ConfigError, build_engine_spec, load_document
from acd.explain_report import Verdict, describe, explain, look_ahead, render
from acd.explain_snapshot import Snapshot, SnapshotError, parse_snapshot, parse_time

if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]

EXIT_OK = 0
EXIT_INVALID = 2


# -- command --------------------------------------------------------------------------------


def explain_command(
    config_path: str,
    state_path: str,
    *,
    at: str | None,
    out: TextIO,
    err: TextIO,
    clock: Callable[[], float] = time.time,
) -> int:
    """Run the dry run; print the report on ``out`` or the problems on ``err``."""
    try:
        doc = load_document(config_path)
    except ConfigError as exc:
        for issue in exc.issues:
            print(issue, file=err)
        return EXIT_INVALID
    spec = build_engine_spec(doc.config)
    try:
        data = json.loads(Path(state_path).read_text(encoding="utf-8"))
        snapshot = parse_snapshot(
            data,
            departments={d.id for d in spec.departments},
            partners={p.id for p in spec.overflow.partners},
        )
        now = parse_time(at, "--at") if at is not None else snapshot.at
    except OSError as exc:
        print(f"{state_path}: cannot read the snapshot: {exc.strerror}", file=err)
        return EXIT_INVALID
    except json.JSONDecodeError as exc:
        print(f"{state_path}:{exc.lineno}: not valid JSON: {exc.msg}", file=err)
        return EXIT_INVALID
    except SnapshotError as exc:
        print(f"{state_path}: {exc}", file=err)
        return EXIT_INVALID
    lines = explain(spec, snapshot, clock() if now is None else now)
    print(f"{doc.source} (version {doc.config.version}), snapshot {state_path}", file=out)
    print("\n".join(lines), file=out)
    return EXIT_OK


def rules_explain(args: argparse.Namespace) -> int:
    """``acd rules explain FILE --state SNAPSHOT.json [--at ISO-TIME]``."""
    return explain_command(args.file, args.state, at=args.at, out=sys.stdout, err=sys.stderr)


def register_rules(subparsers: Subparsers) -> None:
    """``acd rules explain``: what the overflow rules would do on a snapshot."""
    group = subparsers.add_parser("rules", help="dry-run the overflow rules on a snapshot")
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)
    intro, _, rest = (__doc__ or "").partition("The snapshot is a JSON file::")
    snapshot_format = rest.partition("The engine's look-ahead")[0]
    explain_parser = actions.add_parser(
        "explain",
        help="which overflow rule would fire and where the calls would go",
        description=intro.strip().replace("``", "'"),
        epilog=("The snapshot is a JSON file:" + snapshot_format).replace("``", "'"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    explain_parser.add_argument("file", help="the YAML configuration, e.g. configs/acd.yaml")
    explain_parser.add_argument(
        "--state", required=True, metavar="SNAPSHOT.json", help="the platform's figures (JSON)"
    )
    explain_parser.add_argument(
        "--at",
        metavar="ISO-TIME",
        help="evaluate at this time, e.g. 2026-07-14T23:30 (Europe/Paris unless an offset "
        "is given); default: the snapshot's 'at', else now",
    )
    explain_parser.set_defaults(handler=rules_explain)


__all__ = [
    "Snapshot",
    "SnapshotError",
    "Verdict",
    "describe",
    "explain",
    "look_ahead",
    "parse_snapshot",
    "parse_time",
    "register_rules",
    "render",
]
