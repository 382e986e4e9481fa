"""The simulation is pure: only its command module loads the configuration or reads a clock."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import acd.sim

PURE = ("__init__", "actors", "agenda", "outcome", "report", "traffic", "world")
PROBE = f"""
import json, sys
before = set(sys.modules)
import {", ".join(f"acd.sim.{name}" for name in PURE if name != "__init__")}
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def test_pure_modules_import_only_standard_library_core_and_sim() -> None:
    """A fresh interpreter importing the simulation loads no third-party or outer module."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, check=True, text=True, timeout=60
    )
    loaded = json.loads(result.stdout)
    foreign = [
        name
        for name in loaded
        if name.split(".")[0] not in {*sys.stdlib_module_names, "acd"} and not name.startswith("_")
    ]
    assert foreign == []
    project = {name for name in loaded if name.startswith("acd.")}
    assert all(name.startswith(("acd.core", "acd.sim")) for name in project)


def test_pure_modules_neither_read_the_clock_nor_sleep() -> None:
    """No pure module imports ``time``, ``datetime`` or ``asyncio``."""
    package = Path(acd.sim.__file__).parent
    clocks = {"time", "datetime", "asyncio"}
    for name in PURE:
        tree = ast.parse((package / f"{name}.py").read_text(encoding="utf-8"))
        imported = {
            alias.name.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        } | {
            (node.module or "").split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom)
        }
        assert not imported & clocks, name
