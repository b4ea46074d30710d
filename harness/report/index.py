"""runs/index.html: every run folder side by side, and a trend per scenario and design over the runs.

A nightly series of chaos runs and soaks is only useful if someone can see when something changed: this
page lists every chaos run and soak under the runs folder (date, seed, designs, version, duration, the
verdict of each scenario or window, a link to its report) and, for each scenario and design, its verdict
and recovery time run after run. One self-contained file like the report (no script, nothing fetched),
readable under a strict CSP (the colours are attributes, not only style). Reads only what the runs wrote.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.report.summary import broker_label
from harness.report.svg import escape

STAMP = re.compile(r"^(\d{8}-\d{6})-")
# the trends show this many runs, the newest: a nightly series keeps its recent weeks readable
TREND_RUNS = 30
OK_COLOUR, FAIL_COLOUR, ERROR_COLOUR = "#e3f4e3", "#fbe0e0", "#eeeeee"


@dataclass
class Outcome:
    """One scenario of a chaos run, or one window of a soak."""

    name: str  # scenario, or the soak's window
    design: str
    verdict: str  # ok, FAIL, ERROR
    recovery_seconds: float | None = None
    unexpected: str = ""


@dataclass
class RunEntry:
    kind: str  # chaos, soak
    folder: Path
    started: datetime.datetime
    seed: str
    version: str
    seconds: float | None
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def designs(self) -> list[str]:
        return list(dict.fromkeys(o.design for o in self.outcomes))

    @property
    def verdict(self) -> str:
        verdicts = {o.verdict for o in self.outcomes}
        return "FAIL" if "FAIL" in verdicts else "ERROR" if "ERROR" in verdicts or not verdicts else "ok"


def _started(folder: Path) -> datetime.datetime | None:
    match = STAMP.match(folder.name)
    return datetime.datetime.strptime(match[1], "%Y%m%d-%H%M%S") if match else None


def _version_of(result: dict[str, Any]) -> str:
    history = Path(str(result.get("directory", ""))) / "history.jsonl"
    try:
        with history.open() as lines:
            return broker_label(json.loads(lines.readline()))
    except (OSError, ValueError):
        return "?"


def _tests_ran(folder: Path) -> bool:
    junit = folder / "junit.xml"
    if not junit.exists():
        return False
    return any(int(n) > 0 for n in re.findall(r'tests="(\d+)"', junit.read_text()[:2000]))


def chaos_entry(folder: Path) -> RunEntry | None:
    summary, started = folder / "summary.json", _started(folder)
    if started is None or folder.is_symlink() or not summary.exists():
        return None
    results = json.loads(summary.read_text())
    if not results and not _tests_ran(folder):
        return None  # a session that ran nothing (a usage error, a -k that matched nothing)
    outcomes = [
        Outcome(
            r["scenario"],
            r.get("design", r.get("topology", "")),
            "ok" if not r.get("unexpected") else "FAIL",
            r.get("recovery_seconds"),
            ", ".join(r.get("unexpected", [])),
        )
        for r in results
    ]
    seconds = summary.stat().st_mtime - started.timestamp() if outcomes else None
    seed = str(results[0]["seed"]) if results else folder.name.rsplit("seed", 1)[-1]
    return RunEntry(
        "chaos", folder, started, seed, _version_of(results[0]) if results else "?", seconds, outcomes
    )


def soak_entry(folder: Path) -> RunEntry | None:
    plan_file, started = folder / "soak.json", _started(folder)
    if started is None or folder.is_symlink() or not plan_file.exists():
        return None
    plan = json.loads(plan_file.read_text())
    checkpoints_file = folder / "checkpoints.json"
    checkpoints = json.loads(checkpoints_file.read_text()) if checkpoints_file.exists() else []
    results = {}
    if (folder / "summary.json").exists():
        results = {r["scenario"]: r for r in json.loads((folder / "summary.json").read_text())}
    outcomes = [
        Outcome(
            str(c.get("scenario")),
            str(plan.get("design", "")),
            str(c.get("verdict", "ERROR")) if c.get("verdict") in ("ok", "FAIL") else "ERROR",
            (results.get(str(c.get("scenario"))) or {}).get("recovery_seconds"),
            str(c.get("unexpected") or ""),
        )
        for c in checkpoints
    ]
    seconds = checkpoints_file.stat().st_mtime - started.timestamp() if checkpoints else None
    return RunEntry(
        "soak", folder, started, str(plan.get("seed", "?")), str(plan.get("version", "?")), seconds, outcomes
    )


def collect(runs_dir: Path) -> list[RunEntry]:
    """Every chaos run and soak under `runs_dir`, oldest first; a folder it cannot read is left out."""
    entries: list[RunEntry] = []
    for kind, read in (("chaos", chaos_entry), ("soak", soak_entry)):
        for folder in sorted((runs_dir / kind).glob("*")) if (runs_dir / kind).is_dir() else []:
            try:
                entry = read(folder)
            except (OSError, ValueError, KeyError, TypeError):
                entry = None
            if entry is not None:
                entries.append(entry)
    return sorted(entries, key=lambda e: e.started)


def _duration(seconds: float | None) -> str:
    if seconds is None or seconds < 0:
        return "?"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def _cell(text: str, verdict: str, title: str = "") -> str:
    colour = {"ok": OK_COLOUR, "FAIL": FAIL_COLOUR}.get(verdict, ERROR_COLOUR)
    tip = f' title="{escape(title)}"' if title else ""
    return f'<td bgcolor="{colour}"{tip}>{escape(text)}</td>'


def _link(folder: Path, base: Path) -> str:
    target = folder / "report.html"
    if not target.exists():  # an earlier night restored with its verdicts only (a CI cache)
        return f'<span title="only its verdicts are here: its report is in that night\'s artifact">{escape(folder.name)}</span>'
    try:
        href = target.relative_to(base)
    except ValueError:
        href = target
    return f'<a href="{escape(str(href))}">{escape(folder.name)}</a>'


def _runs_table(entries: list[RunEntry], base: Path) -> list[str]:
    out = [
        "<h2>Runs</h2>",
        '<table border="1" cellpadding="3" cellspacing="0">',
        "<tr><th>run</th><th>kind</th><th>started</th><th>seed</th><th>design</th><th>ActiveMQ</th>"
        "<th>duration</th><th>verdict</th><th>each scenario or window</th></tr>",
    ]
    for entry in reversed(entries):  # newest first
        failing = [
            f"{o.name} [{o.design}]: {o.unexpected or o.verdict}" for o in entry.outcomes if o.verdict != "ok"
        ]
        detail = "; ".join(failing) if failing else f"{len(entry.outcomes)} ok"
        out.append(
            f"<tr><td>{_link(entry.folder, base)}</td><td>{entry.kind}</td>"
            f"<td>{entry.started:%Y-%m-%d %H:%M}</td><td>{escape(entry.seed)}</td>"
            f"<td>{escape(', '.join(entry.designs))}</td><td>{escape(entry.version)}</td>"
            f"<td>{_duration(entry.seconds)}</td>{_cell(entry.verdict, entry.verdict)}"
            f"<td>{escape(detail)}</td></tr>"
        )
    out.append("</table>")
    return out


def trend_rows(entries: Iterable[RunEntry]) -> dict[tuple[str, str], list[tuple[RunEntry, Outcome | None]]]:
    """(scenario, design) -> its outcome in each of the newest TREND_RUNS chaos runs, oldest first (None: not
    run that time)."""
    chaos = [e for e in entries if e.kind == "chaos"][-TREND_RUNS:]
    keys = sorted({(o.name, o.design) for e in chaos for o in e.outcomes})
    rows: dict[tuple[str, str], list[tuple[RunEntry, Outcome | None]]] = {}
    for key in keys:
        rows[key] = [(e, next((o for o in e.outcomes if (o.name, o.design) == key), None)) for e in chaos]
    return rows


def soak_trend(entries: Iterable[RunEntry]) -> dict[str, list[tuple[RunEntry, int, int]]]:
    """Design -> (soak, windows ok, windows) for each of its newest TREND_RUNS soaks, oldest first."""
    found: dict[str, list[tuple[RunEntry, int, int]]] = {}
    for entry in (e for e in entries if e.kind == "soak"):
        design = ", ".join(entry.designs) or "?"
        ok = sum(1 for o in entry.outcomes if o.verdict == "ok")
        found.setdefault(design, []).append((entry, ok, len(entry.outcomes)))
    return {design: soaks[-TREND_RUNS:] for design, soaks in sorted(found.items())}


def _soak_trend_table(entries: list[RunEntry]) -> list[str]:
    trend = soak_trend(entries)
    if not trend:
        return []
    out = [
        "<h2>Trend of the soaks per design</h2>",
        "<p>Each soak, oldest on the left: its windows that passed, of all its windows. A night that turns "
        "red names its failing windows when pointed at.</p>",
        '<table border="1" cellpadding="3" cellspacing="0">',
    ]
    for design, soaks in trend.items():
        cells = "".join(
            _cell(
                f"{e.started:%m-%d} {ok}/{n}",
                e.verdict,
                "; ".join(f"{o.name}: {o.unexpected or o.verdict}" for o in e.outcomes if o.verdict != "ok")
                or f"seed {e.seed}",
            )
            for e, ok, n in soaks
        )
        out.append(f"<tr><td>{escape(design)}</td>{cells}</tr>")
    out.append("</table>")
    return out


def _trend_table(entries: list[RunEntry]) -> list[str]:
    rows = trend_rows(entries)
    chaos = [e for e in entries if e.kind == "chaos"][-TREND_RUNS:]
    out = [
        "<h2>Trend per scenario and design</h2>",
        "<p>Each chaos run, oldest on the left: the verdict and the recovery time after the heal (s). A "
        "scenario that turns red, or whose recovery grows, changed there.</p>",
        '<table border="1" cellpadding="3" cellspacing="0">',
        "<tr><th>scenario</th><th>design</th>"
        + "".join(f"<th>{e.started:%m-%d %H:%M}<br>seed {escape(e.seed)}</th>" for e in chaos)
        + "</tr>",
    ]
    for (scenario, design), cells in rows.items():
        parts = [f"<tr><td>{escape(scenario)}</td><td>{escape(design)}</td>"]
        for _, outcome in cells:
            if outcome is None:
                parts.append("<td></td>")
                continue
            recovery = f" {outcome.recovery_seconds:.1f}" if outcome.recovery_seconds is not None else ""
            parts.append(_cell(f"{outcome.verdict}{recovery}", outcome.verdict, outcome.unexpected))
        out.append("".join(parts) + "</tr>")
    out.append("</table>")
    return out


def write_index(runs_dir: Path) -> Path:
    entries = collect(runs_dir)
    path = runs_dir / "index.html"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>amq-chaos runs</title></head>',
        '<body style="font-family: sans-serif">',
        f"<h1>amq-chaos runs in {escape(str(runs_dir))}</h1>",
        f"<p>{len(entries)} runs; written {datetime.datetime.now():%Y-%m-%d %H:%M}. `make index` rewrites it; "
        "every chaos run and soak does at its end.</p>",
        *_runs_table(entries, runs_dir),
        *_trend_table(entries),
        *_soak_trend_table(entries),
        "</body></html>",
    ]
    path.write_text("\n".join(parts) + "\n")
    return path


def rewrite_index(runs_dir: Path) -> str:
    """Rewrite the index at the end of a run; a line saying where, or why not (a run never fails on it)."""
    try:
        return f"index of runs: {write_index(runs_dir)}"
    except (OSError, ValueError) as exc:
        return f"index of runs not rewritten: {exc!r}"[:200]
