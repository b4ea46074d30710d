"""The soak: durations, and windows that add up to the duration (a real soak: tests/docker/test_soak.py)."""

from __future__ import annotations

import pytest

from harness.longrun.soak import SoakPlan
from harness.report.junit import soak_markdown
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


def test_the_job_summary_has_every_windows_verdict_and_replays_what_did_not_pass() -> None:
    checkpoints = [
        {"window": 0, "scenario": "soak-w000", "verdict": "ok", "seconds": 290.5, "acknowledged": 29000,
         "replay": "make replay HISTORY=a"},
        {"window": 1, "scenario": "soak-w001", "verdict": "FAIL", "unexpected": "lost, stuck", "seconds": 300,
         "acknowledged": 28000, "replay": "make replay HISTORY=b"},
        {"window": 2, "scenario": "soak-w002", "verdict": "ERROR", "unexpected": "HarnessError: a|b",
         "replay": "make replay HISTORY=c"},
    ]  # fmt: skip
    text = soak_markdown(checkpoints, 2026, "hardened", "5.17.2", "SEED=2026 DURATION=900s make soak")
    lines = text.splitlines()
    assert lines[0] == "### soak hardened, ActiveMQ 5.17.2, seed 2026: FAILED (3 windows, 2 not ok)"
    assert "| soak-w000 | ok | - | 29000 | 290.5 |" in lines
    assert "| soak-w001 | FAIL | lost, stuck | 28000 | 300 |" in lines
    assert (
        "| soak-w002 | ERROR | HarnessError: a\\|b | - | - |" in lines
    )  # a | kept out of the table's columns
    assert "- soak-w001: `make replay HISTORY=b`" in lines and "- soak-w002: `make replay HISTORY=c`" in lines
    assert not any("HISTORY=a" in line for line in lines)
    assert lines[-1] == "The whole soak again: `SEED=2026 DURATION=900s make soak`"
    passing = soak_markdown(checkpoints[:1], 2026, "seed", "5.17.2", "SEED=2026 make soak")
    assert passing.startswith("### soak seed, ActiveMQ 5.17.2, seed 2026: ok (1 windows, 0 not ok)")
    assert "Replay a window" not in passing
