"""A running `acd simulate` re-reads its rules on SIGHUP: bad files are refused, good ones apply."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


def _read_until(proc: subprocess.Popen[str], needle: str, timeout_s: float) -> str:
    """Lines of the process's output up to the one containing ``needle``."""
    assert proc.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            line = proc.stdout.readline()
            seen.append(line)
            if needle in line:
                return "".join(seen)
    pytest.fail(f"{needle!r} not printed within {timeout_s} s; got:\n{''.join(seen[-20:])}")


@pytest.mark.slow
def test_running_simulation_reloads_rules_on_sighup(tmp_path: Path) -> None:
    """An invalid edit is rejected with its line while routing goes on; a valid one applies."""
    config = tmp_path / "acd.yaml"
    original = (ROOT / "configs" / "acd.yaml").read_text(encoding="utf-8")
    config.write_text(original, encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "acd.cli", "simulate", "-c", str(config), "--speed", "30"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        _read_until(proc, "events handled", 20)
        bad = original.replace('partners: ["92", "93", "94"]', 'partners: ["92", "99"]', 1)
        assert bad != original
        line = next(
            n for n, text in enumerate(bad.splitlines(), 1) if 'partners: ["92", "99"]' in text
        )
        config.write_text(bad, encoding="utf-8")
        os.kill(proc.pid, signal.SIGHUP)
        out = _read_until(proc, f"{config}:{line} ", 10)
        assert "rejected, the running one stays" in out
        _read_until(proc, "events handled", 10)  # still routing
        good = original.replace("waiting: {at_least: 8}", "waiting: {at_least: 6}", 1)
        assert good != original
        config.write_text(good, encoding="utf-8")
        os.kill(proc.pid, signal.SIGHUP)
        _read_until(proc, "applied", 10)
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
