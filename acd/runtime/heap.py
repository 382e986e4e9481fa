"""Start-up objects leave the garbage collector's sight, so its pauses stay short."""

from __future__ import annotations

import gc


def settle_heap() -> None:
    """Collect once, then freeze what lives (``gc.freeze``): config, engine, agents.

    A full collection walks every tracked object; the service's start-up state is large
    and lives as long as the process, so walking it again and again only adds pauses to
    routing. The effect on tail latency is in bench_e2e (docs/benchmarks.md); on this
    shared machine it is smaller than the run-to-run noise.
    """
    gc.collect()
    gc.freeze()
