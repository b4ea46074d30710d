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


def suite(
    folder: Path,
    items: int,
    seconds: float,
    failures: int = 0,
    ended: float | None = None,
    name: str = "junit.xml",
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    body = "".join(f'<testcase name="t{i}" time="1"/>' for i in range(items))
    junit = folder / name
    junit.write_text(
        f'<testsuites><testsuite time="{seconds}" failures="{failures}" errors="0" '
        f'timestamp="2026-12-07T09:00:00">{body}</testsuite></testsuites>'
    )
    if ended is not None:
        import os

        os.utime(junit, (ended, ended))
    return junit


def test_make_test_and_full_chaos_rows_read_the_last_runs_wall_time(bench, tmp_path: Path) -> None:
    suite(tmp_path / "runs" / "tests", 640, 690.0)
    suite(tmp_path / "runs" / "chaos" / "a-seed7", 42, 580.0, ended=1000)
    suite(tmp_path / "runs" / "chaos" / "b-seed7-shard1of2", 21, 300.0, ended=2000)  # a shard is no full run
    suite(tmp_path / "runs" / "chaos" / "c-seed8", 1, 20.0, ended=3000)  # nor is one scenario
    merged = suite(tmp_path / "runs" / "chaos" / "d-seed7", 42, 600.0, ended=4000)  # nor a merge of shards
    merged.write_text(
        merged.read_text().replace(
            "<testcase", '<properties><property name="merged_shards" value="2"/></properties><testcase', 1
        )
    )
    test_row, chaos_row, *_ = bench.suite_rows(42)
    assert (
        test_row.now == "11 min 30 s"
        and test_row.met is False
        and "640 tests, 0 failed" in test_row.reference
    )
    assert (
        chaos_row.now == "9 min 40 s"
        and chaos_row.met is True
        and chaos_row.reference == "42 items, 0 failed"
    )


def test_shards_side_by_side_and_one_after_another_are_told_apart(bench, tmp_path: Path) -> None:
    runs = tmp_path / "runs" / "chaos"
    suite(runs / "x-seed5-shard1of2", 21, 300.0, ended=10_300)  # ran 10,000 to 10,300
    suite(runs / "x-seed5-shard2of2", 21, 280.0, ended=10_290)
    n, shards, wall = bench.newest_shards()
    assert (n, [s.seconds for s in shards], wall) == (2, [300.0, 280.0], 300.0)
    assert "side by side" in bench.suite_rows(None)[2].figure
    # an incomplete newer set is not a measurement; a complete one run one after the other is
    suite(runs / "y-seed6-shard1of3", 14, 200.0, ended=20_200)
    suite(runs / "z-seed9-shard1of2", 21, 300.0, ended=30_300)
    suite(runs / "z-seed9-shard2of2", 21, 290.0, ended=30_600)
    n, _, wall = bench.newest_shards()
    assert (n, wall) == (2, 600.0)
    assert "one after another" in bench.suite_rows(None)[2].figure


def test_make_test_shards_are_read_from_their_own_junit_files_not_as_the_whole_suite(
    bench, tmp_path: Path
) -> None:
    """SHARD=K/N make test writes junit-shardKofN.xml: the make-test row keeps the whole suite's run."""
    tests = tmp_path / "runs" / "tests"
    suite(tests, 748, 1000.0, ended=5_000)
    suite(tests, 380, 470.0, ended=10_470, name="junit-shard1of2.xml")
    suite(tests, 368, 480.0, ended=10_960, name="junit-shard2of2.xml")
    assert bench.newest_shards("tests") == (
        2,
        [bench.SuiteRun.read(tests / f"junit-shard{k}of2.xml") for k in (1, 2)],
        960.0,
    )
    test_row, _, chaos_shards, test_shards = bench.suite_rows(None)
    assert test_row.reference == "748 tests, 0 failed" and chaos_shards.now == "no shards on record"
    assert test_shards.figure == "`make test` in 2 shards, one after another"
    assert "slowest shard 8 min 00 s" in test_shards.now and "unsharded 16 min 40 s" in test_shards.reference
