"""Run every benchmark module (``bench/bench_*.py``), or those named on the command line."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time

import bench


def main(argv: list[str]) -> int:
    """Run the selected benchmark modules and print their figures."""
    names = sorted(
        m.name for m in pkgutil.iter_modules(bench.__path__) if m.name.startswith("bench_")
    )
    wanted = [a for a in argv if not a.startswith("-")]
    selected = [n for n in names if not wanted or any(w in n for w in wanted)]
    for name in selected:
        module = importlib.import_module(f"bench.{name}")
        print(f"\n##### {name}", flush=True)
        started = time.perf_counter()
        module.main()
        print(f"##### {name} done in {time.perf_counter() - started:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
