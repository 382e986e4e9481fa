"""`acd run` refuses a shared journal database whose schema is behind, naming the fix."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.services import POSTGRES_HOST, POSTGRES_PORT, POSTGRES_USER, postgres_url, unique_name

ROOT = Path(__file__).parents[2]


def _psql(sql: str) -> None:
    server = ["-h", POSTGRES_HOST, "-p", str(POSTGRES_PORT), "-U", POSTGRES_USER, "-d", "test"]
    subprocess.run(
        ["psql", *server, "-v", "ON_ERROR_STOP=1", "-qc", sql], check=True, capture_output=True
    )


def _acd(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "acd.cli", *args],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


@pytest.mark.slow
def test_run_refuses_an_empty_postgresql_journal_and_upgrade_fixes_it(tmp_path: Path) -> None:
    """No schema: `acd run` exits 2 naming `acd db upgrade`; after it, the check passes."""
    postgres_url()  # skips, or fails under CI, when PostgreSQL is down
    database = unique_name("acd_run")
    _psql(f"CREATE DATABASE {database}")
    try:
        url = f"postgresql://{POSTGRES_USER}@{POSTGRES_HOST}:{POSTGRES_PORT}/{database}"
        text = (ROOT / "tests" / "data" / "configs" / "minimal.yaml").read_text(encoding="utf-8")
        text = text.replace("sqlite:///var/acd-test-journal.db", url)
        text = text.replace("host: 127.0.0.1", "host: 127.0.0.1\n    port: 1")
        config = tmp_path / "acd.yaml"
        config.write_text(
            text.replace(f"url: {url}", f"url: {url}\n  spool: {tmp_path}/spool"), "utf-8"
        )
        env = {**os.environ, "ACD_TEST_AMI_SECRET": "s3cret"}
        refused = _acd("run", "-c", str(config), env=env)
        assert refused.returncode == 2, refused.stderr
        assert "acd db upgrade" in refused.stderr
        upgraded = _acd("db", "upgrade", "-c", str(config), env=env)
        assert upgraded.returncode == 0, upgraded.stderr
        current = _acd("db", "current", "-c", str(config), env=env)
        assert current.returncode == 0, current.stdout + current.stderr
    finally:
        _psql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
