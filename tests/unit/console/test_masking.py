"""Caller numbers shown to viewers and written to logs keep at most 4 of their digits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from acd.console.masking import MASK, mask_number


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("0612345678", "06••••••78"),
        ("+33612345678", "+33•••••••78"),
        ("123456", "12••56"),
        ("12345", "•••••"),
        ("15", "••"),
        ("06 12 34 56 78", "06 •• •• •• 78"),
    ],
)
def test_numbers_keep_their_first_and_last_two_digits(number: str, masked: str) -> None:
    """Six digits or more keep the first and last pair; fewer are masked whole."""
    assert mask_number(number) == masked


@pytest.mark.parametrize("number", ["", "anonymous", "<unknown>"])
def test_empty_or_anonymous_callers_stay_as_they_are(number: str) -> None:
    """Without a digit there is nothing to hide."""
    assert mask_number(number) == number


numbers = st.text(alphabet=st.sampled_from("+0123456789 -."), max_size=30) | st.text(max_size=30)


@given(numbers)
def test_masking_never_reveals_more_than_four_digits(number: str) -> None:
    """At most 4 digits survive, each at its own place, and the length is unchanged."""
    masked = mask_number(number)
    assert len(masked) == len(number)
    shown = [i for i, ch in enumerate(masked) if ch.isdigit()]
    assert len(shown) <= 4
    assert all(masked[i] == number[i] for i in shown)


@given(st.text(alphabet="0123456789", max_size=5))
def test_short_numbers_are_masked_whole(number: str) -> None:
    """Fewer than 6 digits: every digit is masked."""
    assert mask_number(number) == MASK * len(number)


@given(st.text(alphabet=st.characters(exclude_categories=["Nd", "No"]), max_size=30))
def test_text_without_digits_is_unchanged(text: str) -> None:
    """Only digits are masked."""
    assert mask_number(text) == text
