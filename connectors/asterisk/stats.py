"""What one AMI client reports about its link: a frozen snapshot, read by metrics and pages."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class AmiClientStats:
    """A snapshot of one client's health, for metrics and the supervision page."""

    name: str
    connected: bool
    logged_in: bool
    reconnects: int
    connect_failures: int
    login_failures: int
    bad_frames: int
    oversized_frames: int
    events_received: int
    events_dropped: int
    handler_errors: int
    resync_needed: bool
    queue_depth: int
    consumer_lag_s: float
    last_pong_age_s: float | None
    actions_in_flight: int
    unmatched_responses: int
    retry_delay_s: float | None
    keepalive: bool
