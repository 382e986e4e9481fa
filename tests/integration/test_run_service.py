"""`acd run` as a process: starts on its configuration, runs without a PBX, stops cleanly."""

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


def _spawn(config: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "acd.cli", "run", "-c", str(config), "--status-every", "0.3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
    )


def _read_until(proc: subprocess.Popen[str], needle: str, timeout_s: float) -> str:
    assert proc.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            if needle in line:
                return "".join(seen)
    pytest.fail(f"{needle!r} not printed within {timeout_s} s; got:\n{''.join(seen[-30:])}")


@pytest.mark.slow
def test_service_runs_without_its_pbx_and_stops_on_sigterm(tmp_path: Path) -> None:
    """No Asterisk listening: the service keeps retrying, reports the link down, exits on TERM."""
    config = tmp_path / "acd.yaml"
    text = (ROOT / "tests" / "data" / "configs" / "minimal.yaml").read_text(encoding="utf-8")
    config.write_text(text.replace("host: 127.0.0.1", "host: 127.0.0.1\n    port: 1"), "utf-8")
    proc = _spawn(config, {"ACD_TEST_AMI_SECRET": "s3cret"})
    try:
        out = _read_until(proc, "PBX pbx1:down", 15)
        assert "75 waiting" in _read_until(proc, "  75 waiting", 5) or "75 waiting" in out
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def test_service_refuses_to_start_without_its_secret(tmp_path: Path) -> None:
    """A missing AMI secret stops the start with a clear message, before any connection."""
    config = ROOT / "tests" / "data" / "configs" / "minimal.yaml"
    env = {k: v for k, v in os.environ.items() if k != "ACD_TEST_AMI_SECRET"}
    done = subprocess.run(
        [sys.executable, "-m", "acd.cli", "run", "-c", str(config)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert "ACD_TEST_AMI_SECRET" in done.stderr
