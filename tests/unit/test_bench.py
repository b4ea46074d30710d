"""`make bench`'s own logic (no Docker): the chaos suite's time read from a JUnit file, and its table."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from harness.settings import ROOT


@pytest.fixture
def bench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    spec = importlib.util.spec_from_file_location("bench", ROOT / "benchmarks" / "bench.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench", module)  # its dataclass looks itself up there
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "ROOT", tmp_path)
    return module


def write_junit(folder: Path, cases: dict[str, float], total: float) -> None:
    folder.mkdir(parents=True)
    body = "".join(f'<testcase name="{name}" time="{seconds}"/>' for name, seconds in cases.items())
    (folder / "junit.xml").write_text(
        f'<testsuites><testsuite time="{total}" timestamp="2026-11-28T03:00:00">{body}</testsuite></testsuites>'
    )


def test_the_suite_time_is_that_of_the_newest_run_with_every_issue_item(bench, tmp_path: Path) -> None:
    every = {f"test_{s}[{d}]": 20.0 for s in bench.ISSUE_SCENARIOS for d in ("seed", "hardened")}
    write_junit(tmp_path / "runs" / "chaos" / "full", {**every, "test_durable_topic[seed]": 50.0}, 460.0)
    # a newer run of one scenario is not a full run
    write_junit(tmp_path / "runs" / "chaos" / "one", {"test_kill_live_master[seed]": 10.0}, 10.0)
    (tmp_path / "runs" / "chaos" / "one" / "junit.xml").touch()
    assert bench.last_full_chaos() == ("2026-11-28T03:00", 400.0, 460.0, 21)


def test_no_full_run_is_said_so(bench, tmp_path: Path) -> None:
    write_junit(tmp_path / "runs" / "chaos" / "one", {"test_kill_live_master[seed]": 10.0}, 10.0)
    assert bench.last_full_chaos() is None
    assert bench.Row("f", "no full run on record", "<= 10 min", "-", "-", None).cells()[-1] == "-"
    assert bench.minutes(614.5) == "10 min 14 s"
