"""A real report rendered by headless Chromium: a negative control's violation, a fault window and the summary
table must show on the screenshot."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.chaos.run import ChaosRun
from harness.chaos.spec import RunSpec
from harness.cluster.control import Cluster
from harness.history import read_history
from harness.report.html import ReportInput, write_report
from harness.report.svg import FAULT_FILL, PALETTE
from tests.support import DroppingConsumer, blend, near, rendered_colours, rgb

ARTIFACTS = Path(__file__).resolve().parents[2] / "runs" / "tests" / "artifacts"


@pytest.mark.docker
def test_report_of_a_negative_control_renders_in_headless_chromium(cluster: Cluster) -> None:
    directory = ARTIFACTS / "report"
    shutil.rmtree(directory, ignore_errors=True)
    run = ChaosRun(
        cluster,
        RunSpec("control-report", 5, directory, drain_timeout=10),
        workload_class=DroppingConsumer,
    )
    with run:
        run.load(200)
        run.nemesis.inject("freeze", "live:01")
        run.load(100)
        run.nemesis.heal()
        run.load(100)
    result = run.result
    assert result is not None and "lost" in result.unexpected
    assert any(e["f"] == "depth" for e in read_history(run.history.path)), "queue depth was sampled"
    page = write_report(directory, ReportInput("negative control", 5, [result]))
    html = page.read_text()
    assert "<script" not in html and "http" not in html.replace("http://www.w3.org/2000/svg", "")
    assert f"SEED=5 SCENARIO=control-report DESIGN={result.design} make chaos" in html
    assert result.verdict("lost").evidence["lost"][0]["id"] in html

    colours = rendered_colours(page, "1200,2200")  # kept as runs/tests/artifacts/report/report.png
    # the summary table's header, the failing verdict cell, a fault window, and both throughput series
    assert colours[(0xDD, 0xE6, 0xF0)] > 500, "table header not rendered"
    assert colours[(0xFB, 0xE0, 0xE0)] > 200, "failing verdict cell not rendered"
    assert sum(n for c, n in colours.items() if near(c, blend(FAULT_FILL, 0.25))) > 2000, "no fault window"
    for series in (PALETTE[0], PALETTE[1]):
        assert sum(n for c, n in colours.items() if near(c, rgb(series))) > 50, f"no {series} line"
