"""How close a chaos run's items came to the bounds of the excuses the checkers grant (harness.check.redelivery,
`answered`'s nearness to a cause, `available`'s limit): the figures that show a bound is no false alarm
waiting to happen, and not so loose that it hides a bug.

    .venv/bin/python benchmarks/verdict_margins.py [RUN_FOLDER] [--recheck]

RUN_FOLDER defaults to runs/chaos/latest. With --recheck the history-only checkers (duplicated, answered,
available, one-live) run again with the current rules over each item's history (the final state is taken
from the history's final-state phase: what needs the browsed ids is not rechecked); without it the figures
come from each item's verdicts.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from harness import phases
from harness.check.facts import RunFacts
from harness.check.ledger import Ledger
from harness.check.registry import CHECKERS
from harness.check.verdict import FinalState, Verdict
from harness.history import read_header, read_history

HISTORY_ONLY = ("duplicated", "answered", "available", "one-live")  # stuck needs the browsed ids


def final_from_history(path: Path) -> FinalState:
    event = next(
        (e for e in read_history(path) if e["f"] == "phase" and e.get("phase") == phases.FINAL_STATE), {}
    )
    return FinalState(queues=event.get("queues", {}), states=event.get("states", {}))


def verdicts_of(item: Path, recheck: bool) -> dict[str, Verdict]:
    if not recheck:
        record = json.loads((item / "verdicts.json").read_text())
        return {v["checker"]: Verdict.from_json(v) for v in record["verdicts"]}
    history = item / "history.jsonl"
    ledger = Ledger.from_path(history, RunFacts.from_json(read_header(history).get("facts")))
    final = final_from_history(history)
    return {name: CHECKERS[name].check(ledger, final) for name in HISTORY_ONLY}


def row(item: Path, verdicts: dict[str, Verdict]) -> dict[str, Any]:
    duplicated = verdicts.get("duplicated")
    answered = verdicts.get("answered")
    available = verdicts.get("available")
    one_live = verdicts.get("one-live")
    stuck = verdicts.get("stuck")
    margins = (duplicated.evidence.get("fault_margins") or {}) if duplicated else {}
    return {
        "item": item.name,
        "dup": f"{duplicated.counts.get('extra-deliveries', 0)}/{duplicated.counts.get('unexplained', 0)}"
        if duplicated
        else "-",
        "by": ",".join(f"{k}:{n}" for k, n in (duplicated.evidence.get("explained_by") or {}).items())
        if duplicated
        else "",
        "before-fault": margins.get("earliest_before_fault_s", ""),
        "slack": margins.get("least_slack_s", ""),
        "indet/unans": f"{answered.counts.get('indeterminate', 0)}/{answered.counts.get('unanswered', 0)}"
        if answered
        else "-",
        "farthest-cause": answered.evidence.get("farthest_cause_s", "") if answered else "",
        "gap/limit": f"{available.counts.get('longest-gap-ms', 0) / 1000:.1f}/{available.evidence.get('limit_s', '?')}"
        if available
        else "-",
        "available": _valid(available),
        "stranded": f"{stuck.counts.get('stranded', 0)}/{stuck.counts.get('messages', 0)}" if stuck else "-",
        "stranded-slack": stuck.evidence.get("stranded_least_slack_s", "") if stuck else "",
        "one-live": _valid(one_live),
    }


def _valid(verdict: Verdict | None) -> str:
    if verdict is None:
        return "-"
    return {True: "ok", False: "VIOLATED", None: "unknown"}[verdict.valid] + (
        "*" if verdict.explained else ""
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default="runs/chaos/latest")
    parser.add_argument("--recheck", action="store_true", help="run the history-only checkers again")
    args = parser.parse_args()
    items = sorted(p.parent for p in Path(args.folder).glob("*/history.jsonl"))
    rows = [row(item, verdicts_of(item, args.recheck)) for item in items]
    if not rows:
        raise SystemExit(f"error: no item with a history under {args.folder}")
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for r in rows:
        print("  ".join(str(r[c]).ljust(widths[c]) for c in columns))
    print("(* explained: every witness shows a declared mechanism; dup: extra copies/unexplained)")


if __name__ == "__main__":
    main()
