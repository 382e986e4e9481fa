"""Failed logins per user name and per address, in a sliding window, in bounded memory."""

from __future__ import annotations

import pytest

from acd.console.ratelimit import LoginLimiter

WINDOW = 300.0


def limiter(*, max_keys: int = 100_000) -> LoginLimiter:
    """Five failures per five minutes, as configured by default."""
    return LoginLimiter(max_failures=5, window_s=WINDOW, max_keys=max_keys)


def test_attempts_are_allowed_below_the_limit() -> None:
    """Four failures in the window still allow a fifth attempt."""
    rl = limiter()
    for t in range(4):
        rl.failed("user:alice", now=float(t))
    assert rl.retry_after("user:alice", now=4.0) is None


def test_the_limit_blocks_until_the_oldest_failure_leaves_the_window() -> None:
    """After five failures the wait lasts until the first of them is window_s old."""
    rl = limiter()
    for t in (0.0, 10.0, 20.0, 30.0, 40.0):
        rl.failed("user:alice", now=t)
    assert rl.retry_after("user:alice", now=40.0) == pytest.approx(260.0)
    assert rl.retry_after("user:alice", now=299.0) == pytest.approx(1.0)
    assert rl.retry_after("user:alice", now=300.0) is None


def test_the_window_slides_one_failure_at_a_time() -> None:
    """Once one failure leaves the window, one attempt is allowed, and a new failure blocks."""
    rl = limiter()
    for t in (0.0, 100.0, 200.0, 250.0, 260.0):
        rl.failed("ip:10.0.0.1", now=t)
    assert rl.retry_after("ip:10.0.0.1", now=300.0) is None
    rl.failed("ip:10.0.0.1", now=300.0)
    assert rl.retry_after("ip:10.0.0.1", now=300.0) == pytest.approx(100.0)


def test_only_the_latest_failures_count_however_many_there_were() -> None:
    """A thousand failures block no longer than the last five would."""
    rl = limiter()
    for t in range(1000):
        rl.failed("ip:10.0.0.1", now=float(t))
    assert rl.retry_after("ip:10.0.0.1", now=999.0) == pytest.approx(995.0 + WINDOW - 999.0)


def test_a_successful_login_clears_the_count() -> None:
    """A correct password forgets the earlier failures of that key."""
    rl = limiter()
    for t in range(5):
        rl.failed("user:alice", now=float(t))
    rl.succeeded("user:alice")
    assert rl.retry_after("user:alice", now=5.0) is None


def test_keys_are_counted_separately() -> None:
    """A blocked user name does not block another name or the address alone."""
    rl = limiter()
    for t in range(5):
        rl.failed("user:alice", now=float(t))
    assert rl.retry_after("user:alice", now=5.0) is not None
    assert rl.retry_after("user:bob", now=5.0) is None
    assert rl.retry_after("ip:10.0.0.1", now=5.0) is None


def test_keys_whose_failures_left_the_window_are_forgotten() -> None:
    """Old keys are pruned as new failures arrive: memory does not grow with history."""
    rl = limiter()
    for i in range(100):
        rl.failed(f"ip:10.0.{i}.1", now=float(i))
    rl.failed("ip:192.0.2.1", now=1000.0)
    assert len(rl) == 1


def test_the_number_of_keys_is_bounded() -> None:
    """Past max_keys the key with the oldest failure goes; a key still failing stays."""
    rl = limiter(max_keys=3)
    for i in range(10):
        rl.failed("user:alice", now=float(i))
        rl.failed(f"ip:10.0.0.{i}", now=float(i))
    assert len(rl) == 3
    assert rl.retry_after("user:alice", now=10.0) is not None


def test_the_limiter_reads_its_clock_when_no_time_is_given() -> None:
    """Without `now`, the injected clock decides."""
    now = [0.0]
    rl = LoginLimiter(max_failures=1, window_s=WINDOW, clock=lambda: now[0])
    rl.failed("user:alice")
    assert rl.retry_after("user:alice") == pytest.approx(WINDOW)
    now[0] = WINDOW
    assert rl.retry_after("user:alice") is None


def test_the_limiter_refuses_meaningless_limits() -> None:
    """Zero failures allowed or an empty window is a wiring mistake."""
    with pytest.raises(ValueError, match="at least 1"):
        LoginLimiter(max_failures=0, window_s=WINDOW)
    with pytest.raises(ValueError, match="positive"):
        LoginLimiter(max_failures=5, window_s=0.0)


def test_a_refusal_is_reported_once_per_key_and_window() -> None:
    """The first refusal of a key is the one to report; the next only after window_s."""
    rl = limiter()
    assert rl.first_refusal("ip:10.0.0.1", now=0.0)
    assert not rl.first_refusal("ip:10.0.0.1", now=1.0)
    assert not rl.first_refusal("ip:10.0.0.1", now=WINDOW - 1)
    assert rl.first_refusal("ip:10.0.0.2", now=WINDOW - 1)
    assert rl.first_refusal("ip:10.0.0.1", now=WINDOW)


def test_the_memory_of_reported_refusals_is_bounded() -> None:
    """Past max_keys the oldest report is forgotten (reported again if refused again)."""
    rl = limiter(max_keys=3)
    for i in range(10):
        assert rl.first_refusal(f"ip:10.0.0.{i}", now=float(i))
    assert len(rl._reported) == 3
    assert not rl.first_refusal("ip:10.0.0.9", now=10.0)
    assert rl.first_refusal("ip:10.0.0.0", now=10.0)
