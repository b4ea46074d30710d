"""The summary table of a set of scenario results: one row per scenario and design, as the terminal, the
HTML report and the version matrix print it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from harness import commands
from harness.check.registry import CHECKERS, Checker
from harness.check.result import ScenarioResult
from harness.check.verdict import Verdict

# one column per registered checker, in its order, between the run's counts and its verdict
HEADER = ("scenario", "design", "ack/deliv/indet", *(c.column for c in CHECKERS.values()), "verdict")
QUIET = frozenset({"0", "-", "yes"})  # cells that say nothing happened; the matrix leaves them out
# beside the verdict of a replay of a history cut short: its ok is not the recorded run's
INCOMPLETE = "replayed an incomplete history"


def broker_label(header: dict[str, Any]) -> str:
    """The broker version a history ran on, and the user's tarball it came from (ACTIVEMQ_DIST) if any."""
    version = str(header.get("activemq_version", "?"))
    return f"{version} ({header['activemq_dist']})" if header.get("activemq_dist") else version


def describe(verdict: Verdict) -> str:
    state = {True: "ok", False: "VIOLATED", None: "UNKNOWN"}[verdict.valid]
    counts = ", ".join(f"{k}={v}" for k, v in verdict.counts.items())
    return f"{state} ({counts}){' - ' + verdict.note if verdict.note else ''}"


def cell(result: ScenarioResult, checker: Checker) -> str:
    verdict = next((v for v in result.verdicts if v.checker == checker.name), None)
    if verdict is None:
        return "-"
    text = "?" if verdict.valid is None else checker.cell(verdict)
    if verdict.valid is not True:
        accepted = verdict.valid is False and verdict.explained and checker.name in result.expected
        text += " (expected)" if accepted else " !"
    return text


def row(result: ScenarioResult) -> tuple[str, ...]:
    c = result.counts
    return (
        result.scenario,
        result.design,
        f"{c['acknowledged']}/{c['delivered']}/{c['indeterminate']}",
        *(cell(result, checker) for checker in CHECKERS.values()),
        verdict_cell(result),
    )


def verdict_cell(result: ScenarioResult) -> str:
    verdict = "ok" if result.ok else "FAIL"
    return f"{verdict} ({INCOMPLETE})" if result.source_incomplete else verdict


def rows(results: list[ScenarioResult]) -> list[tuple[str, ...]]:
    return [row(r) for r in results]


def aligned(table: Sequence[tuple[str, ...]]) -> list[str]:
    """Columns padded to their widest cell, two spaces apart: every text table the harness prints."""
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in table]


def replay_command(result: ScenarioResult) -> str:
    """The one command that replays this result's faults."""
    if result.replay:
        return result.replay
    return commands.chaos(result.seed, scenario=result.scenario, design=result.design)


def workload_line(workload: Mapping[str, Any]) -> str:
    """A history header's workload in one line: who sends what where."""
    rate = float(workload.get("rate", 0))
    size = workload.get("size") or ""
    queues = int(workload.get("queues", 1))
    return ", ".join(
        [
            f"{workload.get('producers', '?')} producers x {f'{rate:g}/s' if rate > 0 else 'unthrottled'}",
            f"{workload.get('consumers', '?')} consumers",
            "1 queue" if queues == 1 else f"{queues} queues",
            f"{size} bytes" if size else "body = id",
            "persistent" if workload.get("persistent", True) else "non-persistent",
            *([f"{workload['subscribers']} durable subscribers"] if workload.get("subscribers") else []),
            *([f"consumers churn every ~{float(workload['churn']):g} s"] if workload.get("churn") else []),
        ]
    )
