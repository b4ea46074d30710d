"""The report's parts on made-up histories (timeline folding, charts, a report redrawn from a run folder), and
a chart rendered by headless Chromium (a real run's report: tests/docker/test_report.py)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from harness.history import History, read_history
from harness.progress import Progress
from harness.report.svg import FAULT_FILL, PALETTE, Band, Series, line_chart
from harness.report.timeline import build_timeline, percentile
from tests.support import blend, near, rendered_colours, rgb


def event(t: float, p: str, type_: str, f: str, **value: object) -> dict[str, object]:
    return {"t": t, "p": p, "type": type_, "f": f, **value}


def test_timeline_bins_sends_deliveries_latency_and_fault_windows() -> None:
    events = [
        event(0.1, "producer-0", "invoke", "send", id="p0-1"),
        event(0.2, "producer-0", "ok", "send", id="p0-1"),
        event(0.3, "producer-0", "invoke", "send", id="p0-2"),
        event(0.4, "producer-0", "ok", "send", id="p0-2"),
        event(0.5, "consumer-0", "ok", "deliver", id="p0-1"),
        event(1.3, "consumer-0", "ok", "deliver", id="p0-2"),
        event(1.5, "nemesis", "invoke", "fault", action="kill", target="chaos-mq01-a"),
        event(1.6, "nemesis", "ok", "fault", action="kill", target="chaos-mq01-a"),
        event(1.7, "nemesis", "invoke", "fault", action="restart", target="chaos-mq02-b"),
        event(2.9, "nemesis", "ok", "fault", action="restart", target="chaos-mq02-b"),
        event(2.0, "sampler", "ok", "depth", broker="chaos-mq01-a", size=4),
        event(3.5, "nemesis", "invoke", "heal", action="start", target="chaos-mq01-a"),
        event(3.8, "nemesis", "ok", "heal", action="start", target="chaos-mq01-a"),
        event(4.0, "nemesis", "invoke", "fault", action="partition", target="between the pairs"),
        event(4.2, "harness", "ok", "phase", phase="healed"),
    ]
    timeline = build_timeline(events)
    assert timeline.acknowledged == [2, 0, 0, 0, 0]
    assert timeline.delivered == [1, 1, 0, 0, 0]
    assert timeline.latency["p50"][0] == pytest.approx(0.4)
    assert timeline.latency["p99"][1] == pytest.approx(1.0)
    assert timeline.latency["p50"][2] is None
    assert timeline.overall_latency["max"] == pytest.approx(1.0)
    assert timeline.depth == {"chaos-mq01-a": [(2.0, 4)]}
    windows = [(w.label, w.start, w.end, w.healed) for w in timeline.faults]
    assert windows == [
        ("kill chaos-mq01-a", 1.5, 3.8, True),
        ("restart chaos-mq02-b", 1.7, 2.9, True),
        ("partition between the pairs", 4.0, 4.2, False),
    ]
    assert timeline.phases == [(4.2, "healed")]


def test_percentile_is_nearest_rank() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 99) == 4.0
    assert percentile([7.0], 95) == 7.0


def test_chart_draws_bands_and_breaks_lines_at_gaps() -> None:
    svg = line_chart(
        "depth",
        [Series("a", [(0, 1), (1, None), (2, 3), (3, 4)], PALETTE[0])],
        x_max=3,
        y_label="messages",
        bands=[Band(1, 2, "freeze chaos-mq01-a")],
    )
    assert svg.count("<polyline") == 1 and svg.count("<circle") == 1  # a lone point before the gap: a dot
    assert f'fill="{FAULT_FILL}"' in svg and "freeze chaos-mq01-a" in svg
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")


def test_charts_render_under_a_csp_that_blocks_inline_styles(tmp_path: Path) -> None:
    """Jenkins serves artifacts with a CSP that forbids inline styles: the charts must not need the page's
    <style> (a rect with no fill attribute renders black over the fault bands)."""
    chart = line_chart(
        "throughput",
        [Series("acknowledged", [(t, 50.0 + t % 7) for t in range(60)], PALETTE[0])],
        x_max=60,
        y_label="per second",
        bands=[Band(20, 35, "freeze chaos-mq01-a")],
        markers=[(40, "healed")],
    )
    assert "style=" not in chart
    csp = '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'">'
    page = tmp_path / "chart.html"
    page.write_text(f"<!doctype html><html><head>{csp}</head><body style='margin:0'>{chart}</body></html>")
    colours = rendered_colours(page, "960,240")
    dark = sum(n for c, n in colours.items() if max(c) < 60)
    assert dark < 3000, f"{dark} dark pixels: the plot frame rendered filled"  # text and ticks only
    assert sum(n for c, n in colours.items() if near(c, blend(FAULT_FILL, 0.25))) > 5000, "no fault band"
    assert sum(n for c, n in colours.items() if near(c, rgb(PALETTE[0]))) > 50, "no series line"


def test_progress_is_silent_without_a_terminal_and_redraws_one_line_on_one() -> None:
    assert Progress.for_stdout().quiet  # pytest's captured stdout is no terminal
    stream = io.StringIO()
    with Progress(stream, interval=0.05).showing(lambda: "[x] fault: none"):
        import time

        time.sleep(0.3)
    text = stream.getvalue()
    assert "[x] fault: none" in text and "\n" not in text
    assert text.endswith("\r\x1b[K")  # the line is cleared when the run ends


def test_history_written_then_folded_round_trip(tmp_path: Path) -> None:
    with History(tmp_path / "h.jsonl", {"seed": 1}) as history:
        history.append("producer-0", "invoke", "send", id="p0-1")
        history.append("producer-0", "ok", "send", id="p0-1")
    timeline = build_timeline(read_history(tmp_path / "h.jsonl"))
    assert sum(timeline.acknowledged) == 1


def test_report_is_redrawn_from_a_run_folder(tmp_path: Path) -> None:
    from harness.check.result import ScenarioResult
    from harness.check.verdict import Verdict
    from harness.report.html import report_from_folder

    scenario_dir = tmp_path / "kill-live-master-seed"
    header = {
        "seed": 4,
        "activemq_version": "5.17.2",
        "workload": {"producers": 2, "consumers": 2, "rate": 50.0, "subscribers": 2},
    }
    with History(scenario_dir / "history.jsonl", header) as history:
        history.append("producer-0", "invoke", "send", id="p0-1")
        history.append("producer-0", "ok", "send", id="p0-1")
        history.append("nemesis", "invoke", "fault", action="kill", target="chaos-mq01-a")
    lost = Verdict("lost", False, {"lost": 1}, {"lost": [{"id": "p0-1", "acknowledged_at": 0.1, "by": "a"}]})
    result = ScenarioResult(
        "kill-live-master",
        "seed",
        4,
        str(scenario_dir),
        {
            "acknowledged": 1,
            "delivered": 0,
            "indeterminate": 0,
            "failed": 0,
            "invoked": 1,
            "published": 7,
            "received": 13,
        },
        [lost],
    )
    (tmp_path / "summary.json").write_text(json.dumps([result.to_json()]))
    html = report_from_folder(tmp_path).read_text()
    assert "SEED=4 SCENARIO=kill-live-master DESIGN=seed make chaos" in html
    assert "kill chaos-mq01-a" in html and "(never healed)" in html
    assert html.count("<svg") == 2  # throughput and latency; no depth was sampled
    assert "<td>p0-1</td>" in html and "UNEXPECTED" in html
    assert "href='kill-live-master-seed/history.jsonl'" in html
    assert "2 producers x 50/s, 2 consumers, 1 queue, body = id, persistent, 2 durable subscribers" in html
    assert "7 published and acknowledged, 13 received by its durable subscribers" in html
