"""Decision reasons as the department view shows them."""

from __future__ import annotations

from acd.console.backend import readable


def test_reason_values_are_shown_to_a_tenth() -> None:
    """Long measured values are cut to a tenth; short ones and dotted names stay as they are."""
    reason = "longest-idle (wait_s=19.10335278510474, s=0.65, ip=10.0.12.345, v=1.234.5)"
    assert readable(reason) == "longest-idle (wait_s=19.1, s=0.65, ip=10.0.12.345, v=1.234.5)"
    assert readable(None) is None
