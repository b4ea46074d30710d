"""The HTML report of a run folder: one self-contained file (inline CSS and SVG, no script, nothing fetched)
that opens from the folder it sits in.

Contents: how to replay, the summary table, then per scenario its timeline (acknowledged sends and
deliveries per second, latency percentiles, queue depth per broker, fault windows shaded and labelled), the
bridges' recovery, every violation with its evidence, and links to the history, verdicts and broker logs.
A soak adds the harness's memory curve and its checkpoints.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import commands, phases
from harness.check.result import ScenarioResult
from harness.history import read_header, read_history
from harness.report import summary
from harness.report.svg import PALETTE, Band, Series, escape, line_chart
from harness.report.timeline import Timeline, build_timeline

# the page's look; the charts carry theirs as SVG attributes (harness.report.svg), so that a strict CSP
# blocking this inline style leaves them readable
STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; max-width: 1200px; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 36px; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #dde6f0; }
td.ok { background: #e3f4e3; } td.fail { background: #fbe0e0; font-weight: bold; }
td.expected { background: #fff3d6; }
code, pre { background: #f4f4f4; padding: 1px 4px; } pre { padding: 8px; overflow-x: auto; }
.chart { display: block; margin: 6px 0; }
.replay { font-size: 15px; }
.incomplete { background: #fff3d6; border-left: 4px solid #c77c00; padding: 6px 10px; }
td.incomplete { background: #fff3d6; }
"""


@dataclass
class ReportInput:
    title: str
    seed: int | None
    results: list[ScenarioResult]
    replay: str = ""  # the command that replays the whole run
    facts: dict[str, str] = field(default_factory=dict)  # shown under the title
    memory: list[tuple[float, float]] = field(default_factory=list)  # (seconds, RSS MiB) of the harness
    checkpoints: list[dict[str, Any]] = field(default_factory=list)
    detailed: list[ScenarioResult] | None = None  # results given a full section; None: all of them


def write_report(directory: Path, report: ReportInput) -> Path:
    path = directory / "report.html"
    detailed = report.results if report.detailed is None else report.detailed
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(report.title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{escape(report.title)}</h1>",
        *_incomplete(report.results),
        _facts(report),
        _summary_table(directory, report.results, detailed),
    ]
    if report.checkpoints:
        parts.append(_checkpoints(report.checkpoints))
    if report.memory:
        parts.append(_memory(report.memory))
    for result in detailed:
        parts.append(_scenario(directory, result))
    parts.append("</body></html>")
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text("\n".join(parts), encoding="utf-8")
    tmp.replace(path)  # a reader (a browser left open on it, a soak's checkpoint) never sees half a file
    return path


def report_from_folder(directory: Path) -> Path:
    """Rebuild the report of a chaos run folder from its summary.json (`amq-chaos report DIR`)."""
    results = [ScenarioResult.from_json(r) for r in json.loads((directory / "summary.json").read_text())]
    seed = results[0].seed if results else None
    return write_report(
        directory,
        ReportInput(
            f"chaos run {directory.name}",
            seed,
            results,
            replay=commands.chaos(seed) if seed is not None else "",
        ),
    )


# ------------------------------------------------------------------------------------------------ parts
def _incomplete(results: list[ScenarioResult]) -> list[str]:
    """Above everything else: a replay of a history cut short is not the recorded run, whatever its verdict."""
    return [
        f"<p class='incomplete'><b>{escape(summary.INCOMPLETE.capitalize())}</b> ({escape(r.scenario)} "
        f"[{escape(r.design)}]): it {escape(r.source_incomplete)}. Only the faults recorded before the cut were "
        "redone: the verdicts below judge this replay, not the recorded run.</p>"
        for r in results
        if r.source_incomplete
    ]


def _facts(report: ReportInput) -> str:
    rows = []
    if report.seed is not None:
        rows.append(("seed", str(report.seed)))
    rows += list(report.facts.items())
    failing = [r for r in report.results if not r.ok]
    out = [_table(("", ""), rows, header=False)]
    if failing:
        out.append("<p class='replay'><b>Replay the failing runs:</b></p><ul>")
        out += [f"<li><code>{escape(summary.replay_command(r))}</code></li>" for r in failing]
        out.append("</ul>")
    elif report.replay:
        out.append(f"<p class='replay'>Replay: <code>{escape(report.replay)}</code></p>")
    return "\n".join(out)


def _summary_table(directory: Path, results: list[ScenarioResult], detailed: list[ScenarioResult]) -> str:
    out = ["<h2>Summary</h2><table id='summary'><tr>"]
    out += [f"<th>{escape(h)}</th>" for h in summary.HEADER]
    out.append("</tr>")
    for result in results:
        cells = summary.row(result)
        out.append("<tr>")
        for i, text in enumerate(cells):
            if i == 0:
                own = Path(result.directory) / "report.html"
                link = f"#{_anchor(result)}" if result in detailed else _rel(own, directory)
                body = f"<a href='{escape(link)}'>{escape(text)}</a>"
            else:
                body = escape(text)
            out.append(f"<td class='{_cell_class(text)}'>{body}</td>")
        out.append("</tr>")
    out.append("</table>")
    out.append(
        "<p>Cells: count of the property's violations; <i>(expected)</i> marks a weakness the design is known to "
        "have (reason below) whose every witness shows its mechanism; <b>!</b> an undeclared violation, a declared "
        "one with a witness lacking the mechanism, or <b>?</b> a property the evidence could not decide. "
        "bridges: the slowest direction's recovery after the heal. evidence: the run did the minimum work its "
        "verdict needs.</p>"
    )
    return "\n".join(out)


def _cell_class(text: str) -> str:
    if text.startswith("FAIL") or text.endswith("!") or text == "?":
        return "fail"
    if text.endswith(f"({summary.INCOMPLETE})"):
        return "incomplete"
    if text.endswith("(expected)"):
        return "expected"
    return "ok" if text == "ok" else ""


def _scenario(directory: Path, result: ScenarioResult) -> str:
    folder = Path(result.directory)
    history = folder / "history.jsonl"
    out = [f"<h2 id='{_anchor(result)}'>{escape(result.scenario)} [{escape(result.design)}]: "]
    out.append(f"{escape(summary.verdict_cell(result))}</h2>")
    if not result.ok:
        out.append(f"<p class='replay'>Replay: <code>{escape(summary.replay_command(result))}</code></p>")
    links = [("history", history), ("verdicts", folder / "verdicts.json")]
    # a chaos scenario's cluster lives in its folder; a soak's one cluster beside its windows
    logs = sorted(folder.glob("*/logs/*.log")) or sorted(folder.parent.glob("*/logs/*.log"))
    links += [(log.stem, log) for log in logs]
    out.append(
        "<p>Files: "
        + " · ".join(
            f"<a href='{escape(_rel(p, directory))}'>{escape(name)}</a>" for name, p in links if p.exists()
        )
        + "</p>"
    )
    if history.exists():
        header = read_header(history)
        timeline = build_timeline(read_history(history))
        out.append(_timeline_facts(result, header, timeline))
        out += _charts(timeline)
    else:
        out.append("<p>(no history file)</p>")
    out.append(_bridge_table(result))
    out.append(_violations(result))
    if result.notes:
        out.append("<p>Notes:</p><ul>" + "".join(f"<li>{escape(n)}</li>" for n in result.notes) + "</ul>")
    return "\n".join(out)


def _timeline_facts(result: ScenarioResult, header: dict[str, Any], timeline: Timeline) -> str:
    c = result.counts
    rows = [
        ("ActiveMQ", summary.broker_label(header)),
        ("workload", summary.workload_line(header["workload"]) if "workload" in header else "?"),
        ("duration", f"{timeline.duration:.1f} s"),
        (
            "sends",
            f"{c.get('invoked', '?')} invoked, {c['acknowledged']} acknowledged, {c['indeterminate']} indeterminate, "
            f"{c['failed']} failed",
        ),
        ("deliveries", str(c["delivered"])),
    ]
    if "published" in c:
        rows.append(
            (
                "topic",
                f"{c['published']} published and acknowledged, {c['received']} received by its durable subscribers",
            )
        )
    if timeline.overall_latency:
        rows.append(
            (
                "end-to-end latency",
                ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in timeline.overall_latency.items()),
            )
        )
    if result.recovery_seconds is not None:
        rows.append(("recovered after the heal", f"{result.recovery_seconds:.1f} s"))
    faults = "; ".join(
        f"{w.label} {w.start:.1f}-{w.end:.1f}s{'' if w.healed else ' (never healed)'}"
        for w in timeline.faults
    )
    rows.append(("faults", faults or "none"))
    return _table(("", ""), rows, header=False)


def _charts(timeline: Timeline) -> list[str]:
    bands = [Band(w.start, w.end, w.label) for w in timeline.faults]
    markers = [
        (t, p) for t, p in timeline.phases if p in (phases.HEALED, phases.RECOVERED, phases.DRAIN_DEADLINE)
    ]
    seconds = range(len(timeline.acknowledged))
    x_max = max(timeline.duration, 1.0)
    charts = [
        line_chart(
            "throughput",
            [
                Series(
                    "acknowledged/s",
                    [(s + 0.5, n) for s, n in zip(seconds, timeline.acknowledged, strict=True)],
                    PALETTE[0],
                ),
                Series(
                    "delivered/s",
                    [(s + 0.5, n) for s, n in zip(seconds, timeline.delivered, strict=True)],
                    PALETTE[1],
                ),
            ],
            x_max=x_max,
            y_label="messages per second",
            bands=bands,
            markers=markers,
        ),
        line_chart(
            "end-to-end latency (send to delivery), per second",
            [
                Series(name, [(s + 0.5, v) for s, v in zip(seconds, values, strict=True)], PALETTE[2 + i])
                for i, (name, values) in enumerate(timeline.latency.items())
            ],
            x_max=x_max,
            y_label="seconds",
            bands=bands,
            markers=markers,
        ),
    ]
    if timeline.depth:
        charts.append(
            line_chart(
                "workload queue depth per broker (statistics plugin; gaps: broker not answering)",
                [
                    Series(broker, points, PALETTE[i % len(PALETTE)])
                    for i, (broker, points) in enumerate(sorted(timeline.depth.items()))
                ],
                x_max=x_max,
                y_label="messages",
                bands=bands,
                markers=markers,
            )
        )
    return charts


def _bridge_table(result: ScenarioResult) -> str:
    verdict = next((v for v in result.verdicts if v.checker == "bridges-resumed"), None)
    if verdict is None:
        return ""
    rows = [(d, f"{s:.2f} s") for d, s in verdict.evidence.get("recovery_seconds", {}).items()]
    rows += [(d, "NOT RESUMED") for d in verdict.evidence.get("not_resumed", [])]
    rows = rows or [("(none probed)", "")]
    text = "<h3>Bridges after the heal</h3>" + _table(("direction", "first probe forwarded after"), rows)
    if verdict.note:
        text += f"<p>{escape(verdict.note)}</p>"
    return text


def _violations(result: ScenarioResult) -> str:
    bad = [v for v in result.verdicts if v.valid is not True]
    if not bad:
        return "<h3>Violations</h3><p>none</p>"
    out = ["<h3>Violations</h3>"]
    for verdict in bad:
        if verdict.checker in result.expected and verdict.valid is False and verdict.explained:
            status = f"expected for {result.design}: {result.expected[verdict.checker]}"
        elif verdict.checker in result.expected and verdict.valid is False:
            status = "UNEXPECTED: declared, but not every witness shows the declared mechanism"
        else:
            status = "UNEXPECTED" if verdict.valid is False else "UNKNOWN (never a pass)"
        out.append(
            f"<h4>{escape(verdict.checker)}: {escape(summary.describe(verdict))}</h4><p>{escape(status)}</p>"
        )
        for key, value in verdict.evidence.items():
            if value:
                out.append(f"<p>{escape(key)}:</p>{_evidence(value)}")
    return "\n".join(out)


def _evidence(value: Any) -> str:
    """Lists of records become tables (id, time, broker...); anything else is shown as JSON."""
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        keys = list(dict.fromkeys(k for v in value for k in v))
        return _table(tuple(keys), [tuple(_short(v.get(k, "")) for k in keys) for v in value])
    return f"<pre>{escape(json.dumps(value, indent=1))}</pre>"


def _short(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _checkpoints(checkpoints: list[dict[str, Any]]) -> str:
    keys = (
        "window",
        "ended_at",
        "scenario",
        "acknowledged",
        "verdict",
        "unexpected",
        "rss_mib",
        "python_objects",
    )
    rows = [tuple(str(c.get(k, "")) for k in keys) for c in checkpoints]
    return "<h2>Checkpoints</h2>" + _table(keys, rows)


def _memory(samples: list[tuple[float, float]]) -> str:
    peak = max(rss for _, rss in samples)
    chart = line_chart(
        f"harness process memory (RSS), peak {peak:.1f} MiB",
        [Series("RSS MiB", [(t / 60, rss) for t, rss in samples], PALETTE[3])],
        x_max=max(samples[-1][0] / 60, 1.0),
        y_label="MiB",
        x_label="minutes since the soak started",
    )
    return f"<h2>Memory</h2>{chart}"


def _table(columns: Sequence[str], rows: Sequence[Sequence[str]], *, header: bool = True) -> str:
    out = ["<table>"]
    if header:
        out.append("<tr>" + "".join(f"<th>{escape(h)}</th>" for h in columns) + "</tr>")
    for r in rows:
        out.append("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in r) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def _anchor(result: ScenarioResult) -> str:
    return f"{result.scenario}-{result.design}"


def _rel(target: Path, start: Path) -> str:
    return os.path.relpath(target.resolve(), start.resolve())
