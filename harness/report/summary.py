"""The summary table of a set of scenario results: one row per scenario and topology, as the terminal, the
HTML report and the version matrix print it."""

from __future__ import annotations

from harness.check.checkers import Verdict
from harness.check.result import ScenarioResult

HEADER = (
    "scenario",
    "topology",
    "ack/deliv/indet",
    "lost",
    "dup",
    "unexp",
    "stuck",
    "bridges",
    "recovered",
    "max gap",
    "evidence",
    "verdict",
)
# the number each checker's cell shows
CELL_COUNT = {"lost": "lost", "duplicated": "extra-deliveries", "stuck": "messages", "unexpected": "ids"}


def describe(verdict: Verdict) -> str:
    state = {True: "ok", False: "VIOLATED", None: "UNKNOWN"}[verdict.valid]
    counts = ", ".join(f"{k}={v}" for k, v in verdict.counts.items())
    return f"{state} ({counts}){' - ' + verdict.note if verdict.note else ''}"


def cell(result: ScenarioResult, checker: str) -> str:
    verdict = next((v for v in result.verdicts if v.checker == checker), None)
    if verdict is None:
        return "-"
    if verdict.valid is None:
        text = "?"
    elif checker == "available":  # the longest time no send was acknowledged
        text = f"{verdict.counts.get('longest-gap-ms', 0) / 1000:.1f}s"
    elif checker in ("recovered", "exercised"):
        text = "yes" if verdict.valid else "no"
    else:
        text = str(verdict.counts.get(CELL_COUNT[checker], 0))
    if verdict.valid is not True:
        accepted = verdict.valid is False and verdict.explained and checker in result.expected
        text += " (expected)" if accepted else " !"
    return text


def bridges(result: ScenarioResult) -> str:
    """Slowest bridge recovery after the heal, or why there is none."""
    verdict = next((v for v in result.verdicts if v.checker == "bridges-resumed"), None)
    if verdict is None or verdict.valid is None:
        return "?"
    if verdict.valid is False:
        return f"{verdict.counts['not-resumed']} stalled !"
    if verdict.counts.get("directions") == 0:
        return "none promised"
    if "slowest-ms" not in verdict.counts:
        return "n/a"
    return f"{verdict.counts['slowest-ms'] / 1000:.1f}s"


def row(result: ScenarioResult) -> tuple[str, ...]:
    c = result.counts
    return (
        result.scenario,
        result.topology,
        f"{c['acknowledged']}/{c['delivered']}/{c['indeterminate']}",
        cell(result, "lost"),
        cell(result, "duplicated"),
        cell(result, "unexpected"),
        cell(result, "stuck"),
        bridges(result),
        cell(result, "recovered"),
        cell(result, "available"),
        cell(result, "exercised"),
        "ok" if result.ok else "FAIL",
    )


def rows(results: list[ScenarioResult]) -> list[tuple[str, ...]]:
    return [row(r) for r in results]


def aligned(table: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in table]


def replay_command(result: ScenarioResult) -> str:
    """The one command that replays this result's faults."""
    if result.replay:
        return result.replay
    return f"SEED={result.seed} SCENARIO={result.scenario} TOPOLOGY={result.topology} make chaos"
