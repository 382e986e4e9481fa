"""AMI decoding throughput: our codec against panoramisk's parser on the same recorded bytes."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

from acd.ami.codec import AmiDecoder
from acd.ami.correlate import ActionTracker

try:
    from panoramisk.ami_protocol import AMIProtocol
except ImportError:  # a dev dependency: the comparison is skipped without it
    AMIProtocol = None

TRACES = Path(__file__).resolve().parent.parent / "tests" / "data" / "asterisk-traces"
TARGET_EVENTS = 200_000
READ_SIZE = 4096
ROUNDS = 2
Runner = Callable[[list[bytes]], int]
_HEADER = re.compile(rb"### (\S+) (SENT|RECV) (\d+) bytes\n")


def recorded_reads() -> list[bytes]:
    """Every RECV block of every transcript but the banners, as the socket read them."""
    reads: list[bytes] = []
    for path in sorted(TRACES.glob("*.txt")):
        data = path.read_bytes()
        position = 0
        while position < len(data):
            newline = data.index(b"\n", position)
            match = _HEADER.fullmatch(data, position, newline + 1)
            if match is None:  # a ### NOTE line
                position = newline + 1
                continue
            size = int(match.group(3))
            block = data[newline + 1 : newline + 1 + size]
            if match.group(2) == b"RECV" and not block.startswith(b"Asterisk Call Manager/"):
                reads.append(block)
            position = newline + 1 + size
    return reads


def build_stream() -> tuple[list[bytes], int]:
    """About TARGET_EVENTS frames of real traffic, cut into READ_SIZE reads."""
    one_pass = b"".join(recorded_reads())
    frames_per_pass = one_pass.count(b"\r\n\r\n")
    stream = one_pass * (TARGET_EVENTS // frames_per_pass + 1)
    reads = [stream[i : i + READ_SIZE] for i in range(0, len(stream), READ_SIZE)]
    return reads, stream.count(b"\r\n\r\n")


def run_ours(reads: list[bytes]) -> int:
    """Our decoder, plus what a consumer does first with each frame (kind, correlation)."""
    decoder = AmiDecoder(expect_banner=False)
    tracker = ActionTracker()
    seen = 0
    for data in reads:
        for frame in decoder.feed(data):
            if frame.kind:
                seen += 1
            tracker.on_frame(frame)
    assert decoder.bad_frames == 0, decoder.bad_frames
    return seen


def run_ours_parsed(reads: list[bytes]) -> int:
    """Our decoder with every frame split into its (key, value) pairs, as panoramisk does."""
    decoder = AmiDecoder(expect_banner=False)
    seen = 0
    for data in reads:
        for frame in decoder.feed(data):
            seen += len(frame.fields)
    return seen


def run_panoramisk(reads: list[bytes]) -> int:
    """panoramisk 1.4's own path: ``AMIProtocol.data_received`` with a counting manager."""

    class Transport:
        def write(self, data: bytes) -> None:
            pass

        def close(self) -> None:
            pass

    class Factory:
        save_stream = None
        dispatched = 0

        def dispatch(self, _message: object) -> None:
            self.dispatched += 1

    protocol = AMIProtocol()
    protocol.connection_made(Transport())
    factory = Factory()
    protocol.factory = factory
    protocol.encoding = "utf8"  # what panoramisk's Manager sets by default
    for data in reads:
        protocol.data_received(data)
    return factory.dispatched


def best_rates(runs: dict[str, Runner], reads: list[bytes], frames: int) -> dict[str, float]:
    """Best of ROUNDS interleaved rounds, in frames per second: on a shared machine the load
    drifts, and interleaving exposes every contender to the same drift."""
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(ROUNDS):
        for name, run in runs.items():
            started = time.perf_counter()
            run(reads)
            best[name] = min(best[name], time.perf_counter() - started)
    return {name: frames / elapsed for name, elapsed in best.items()}


OURS = "acd.ami: frames, kind, correlation"
OURS_PARSED = "acd.ami: every frame split into pairs"
THEIRS = "panoramisk 1.4: AMIProtocol.data_received"


def main() -> None:
    """Print the throughputs and their ratios (goal: at least 3x panoramisk)."""
    reads, frames = build_stream()
    size = sum(map(len, reads))
    print(f"stream: {frames:,} frames, {size / 1e6:.1f} MB, {len(reads):,} reads of {READ_SIZE} B")
    runs: dict[str, Runner] = {OURS: run_ours, OURS_PARSED: run_ours_parsed}
    if AMIProtocol is not None:
        runs[THEIRS] = run_panoramisk
    rates = best_rates(runs, reads, frames)
    for name, rate in rates.items():
        print(f"{name:42s} {rate:10,.0f} frames/s")
    if AMIProtocol is None:
        print("panoramisk is not installed: no comparison")
        return
    for name in (OURS, OURS_PARSED):
        ratio = rates[name] / rates[THEIRS]
        verdict = "meets" if ratio >= 3 else "below"
        print(f"ratio, {name:37s}{ratio:9.1f}x ({verdict} the 3x goal)")


if __name__ == "__main__":
    main()
