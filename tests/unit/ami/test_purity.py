"""The AMI package is pure: importing it loads only the standard library and the core."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys
before = set(sys.modules)
import acd.ami, acd.ami.actions, acd.ami.codec, acd.ami.correlate, acd.ami.errors, acd.ami.frames
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def test_codec_imports_only_standard_library_and_core() -> None:
    """A fresh interpreter importing acd.ami loads no third-party or outer-layer module."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, check=True, text=True, timeout=60
    )
    loaded = json.loads(result.stdout)
    foreign = [
        name
        for name in loaded
        if name.split(".")[0] not in sys.stdlib_module_names
        and name.split(".")[0] != "acd"
        and not name.startswith("_")
    ]
    assert foreign == []
    project = {name for name in loaded if name.startswith("acd.")}
    assert all(name.startswith(("acd.ami", "acd.core")) for name in project)
