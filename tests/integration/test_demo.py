"""`acd demo`: the real service routes generated calls of a fake Asterisk over loopback TCP."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


@pytest.mark.slow
def test_demo_answers_generated_calls_and_stops_by_itself() -> None:
    """Within seconds the fake's callers are answered by ARM the service routed them to."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "acd.cli",
            "demo",
            "--rate",
            "0.5",
            "--duration",
            "6",
            "--status-every",
            "2",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "PBX pbx1:up" in done.stdout
    match = re.search(r"fake Asterisk callers: \{(.*)\}", done.stdout)
    assert match is not None, done.stdout[-2000:]
    answered = re.search(r"'answered': (\d+)", match.group(1))
    assert answered is not None
    assert int(answered.group(1)) > 0
