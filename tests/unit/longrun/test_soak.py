"""The soak: durations, and windows that add up to the duration (a real soak: tests/docker/test_soak.py)."""

from __future__ import annotations

import pytest

from harness.longrun.soak import SoakPlan
from harness.settings import parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"), [("8h", 28800), ("30m", 1800), ("90s", 90), ("1h30m", 5400), ("600", 600)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "8x", "h", "0", "-5m", "1.5h"])
def test_bad_durations_say_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match="DURATION="):
        parse_duration(text)


def test_windows_add_up_to_the_duration() -> None:
    assert SoakPlan(1, 1800, 300).window_lengths() == [300.0] * 6
    assert SoakPlan(1, 8 * 3600, 300).window_lengths() == [300.0] * 96
    assert SoakPlan(1, 650, 300).window_lengths() == [300.0, 350.0]  # a short remainder joins the last
    assert SoakPlan(1, 60, 300).window_lengths() == [60.0]
