"""runs/index.html on a made-up runs folder: every run listed newest first with its verdicts, a trend per
scenario and design, sessions that ran nothing and unreadable folders left out, and the page readable in
headless Chromium under a CSP that forbids every inline style."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.report import index
from harness.report.index import FAIL_COLOUR, collect, soak_trend, trend_rows, write_index
from tests.support import near, rendered_colours, rgb


def chaos_run(runs: Path, stamp: str, results: list[dict], tests: int | None = None) -> Path:
    folder = runs / "chaos" / f"{stamp}-seed7"
    folder.mkdir(parents=True)
    for result in results:
        run = folder / f"{result['scenario']}-{result['design']}"
        run.mkdir()
        header = {"type": "header", "activemq_version": "5.17.6"}
        (run / "history.jsonl").write_text(json.dumps(header) + "\n")
        result["directory"] = str(run)
    (folder / "summary.json").write_text(json.dumps(results))
    count = len(results) if tests is None else tests
    (folder / "junit.xml").write_text(f'<testsuites><testsuite tests="{count}"/></testsuites>')
    return folder


def result(scenario: str, design: str, unexpected: list[str], recovery: float | None) -> dict:
    return {
        "scenario": scenario,
        "design": design,
        "seed": 7,
        "unexpected": unexpected,
        "recovery_seconds": recovery,
    }


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    runs = tmp_path / "runs"
    chaos_run(runs, "20261126-010000", [result("kill-live-master", "seed", [], 1.5)])
    chaos_run(runs, "20261127-010000", [result("kill-live-master", "seed", ["lost"], 2.5)])
    chaos_run(runs, "20261127-020000", [], tests=0)  # SCENARIO=typo: nothing ran
    broken = runs / "chaos" / "20261127-030000-seed7"
    broken.mkdir()
    (broken / "summary.json").write_text("{not json")
    soak = runs / "soak" / "20261127-040000-seed2026"
    soak.mkdir(parents=True)
    (soak / "soak.json").write_text(json.dumps({"seed": 2026, "design": "hardened", "version": "5.17.2"}))
    windows = [
        {"scenario": "soak-w000", "verdict": "ok"},
        {"scenario": "soak-w001", "verdict": "FAIL", "unexpected": "stuck"},
    ]
    (soak / "checkpoints.json").write_text(json.dumps(windows))
    (soak / "report.html").write_text("<html></html>")
    return runs


def restored_soak(runs: Path, stamp: str, verdicts: list[str], design: str = "hardened") -> Path:
    """An earlier night as the CI examples' cache brings it back: its plan and its checkpoints, nothing else."""
    soak = runs / "soak" / f"{stamp}-seed{stamp[:8]}"
    soak.mkdir(parents=True)
    (soak / "soak.json").write_text(
        json.dumps({"seed": int(stamp[:8]), "design": design, "version": "5.17.2"})
    )
    windows = [
        {"scenario": f"soak-w{n:03d}", "verdict": v, "unexpected": "lost" if v == "FAIL" else ""}
        for n, v in enumerate(verdicts)
    ]
    (soak / "checkpoints.json").write_text(json.dumps(windows))
    return soak


def test_every_run_is_listed_with_its_verdicts_and_a_trend_per_scenario(runs: Path) -> None:
    entries = collect(runs)
    assert [(e.kind, e.folder.name, e.verdict) for e in entries] == [
        ("chaos", "20261126-010000-seed7", "ok"),
        ("chaos", "20261127-010000-seed7", "FAIL"),
        ("soak", "20261127-040000-seed2026", "FAIL"),
    ]
    assert entries[0].version == "5.17.6" and entries[2].version == "5.17.2"
    trend = trend_rows(entries)
    assert [(o.verdict, o.recovery_seconds) for _, o in trend[("kill-live-master", "seed")]] == [
        ("ok", 1.5),
        ("FAIL", 2.5),
    ]
    page = write_index(runs).read_text()
    assert page.index("20261127-040000-seed2026") < page.index("20261126-010000-seed7")  # newest first
    assert 'href="soak/20261127-040000-seed2026/report.html"' in page
    assert "soak-w001 [hardened]: stuck" in page and "kill-live-master [seed]: lost" in page
    assert "<script" not in page and "http" not in page


def test_the_index_reads_under_a_csp_that_forbids_inline_styles(runs: Path) -> None:
    page = write_index(runs)
    csp = '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'">'
    page.write_text(page.read_text().replace("<head>", f"<head>{csp}", 1))
    colours = rendered_colours(page, "1200,700")
    assert sum(n for c, n in colours.items() if near(c, rgb(FAIL_COLOUR))) > 500, "failing cells not coloured"


def test_earlier_nights_restored_with_their_verdicts_only_join_the_soaks_trend(
    runs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    restored_soak(runs, "20261125-011700", ["ok", "ok", "ok"])
    restored_soak(runs, "20261126-011700", ["ok", "FAIL", "ok"])
    restored_soak(runs, "20261126-011800", ["ok"], design="seed")
    trend = soak_trend(collect(runs))
    assert {d: [(e.folder.name[:8], ok, n) for e, ok, n in soaks] for d, soaks in trend.items()} == {
        "hardened": [("20261125", 3, 3), ("20261126", 2, 3), ("20261127", 1, 2)],
        "seed": [("20261126", 1, 1)],
    }
    page = write_index(runs).read_text()
    assert "Trend of the soaks per design" in page and "11-26 2/3" in page
    assert 'title="soak-w001: lost"' in page  # a red night names its failing windows
    # no report beside a restored night: its name, and where its report is, instead of a dead link
    assert 'href="soak/20261125-011700-seed20261125/report.html"' not in page
    assert (
        "its report is in that night&#x27;s artifact" in page
        or "its report is in that night's artifact" in page
    )
    # the trends keep the newest nights only
    monkeypatch.setattr(index, "TREND_RUNS", 2)
    assert [e.folder.name[:8] for e, _, _ in soak_trend(collect(runs))["hardened"]] == [
        "20261126",
        "20261127",
    ]
