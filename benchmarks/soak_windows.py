"""A soak's checkpoint windows as one Markdown table: each window's counts and verdicts (the columns of its
checkpoint line), the faults that took effect in it, and the harness's RSS at its checkpoint; then the
memory figures of benchmarks/soak_memory.py. What the soak tables under docs/benchmarks/ are made from.

    python benchmarks/soak_windows.py runs/soak/<stamp>-seed<n>      (default: the newest soak)
"""

from __future__ import annotations

import collections
import json
import sys
from pathlib import Path

from soak_memory import (
    chosen_folder,  # the script beside this one (run as a script, its folder is on the path)
)

from harness.check.result import ScenarioResult
from harness.report import summary


def faults_applied(history: Path) -> str:
    """The faults that took effect in a window, by kind: "kill 3, freeze 2"."""
    kinds: collections.Counter[str] = collections.Counter()
    with history.open() as lines:
        next(lines)  # the header
        for line in lines:
            if '"nemesis"' not in line:
                continue
            event = json.loads(line)
            if event.get("p") == "nemesis" and event.get("type") == "ok" and event.get("f") == "fault":
                kinds[str(event.get("action"))] += 1
    return ", ".join(f"{kind} {n}" for kind, n in kinds.most_common()) or "none"


def main() -> None:
    folder = chosen_folder(sys.argv)
    checkpoints = json.loads((folder / "checkpoints.json").read_text())
    results = {
        r["scenario"]: ScenarioResult.from_json(r) for r in json.loads((folder / "summary.json").read_text())
    }
    columns = ["window", "ended", *summary.HEADER[2:], "faults that took effect", "RSS MiB"]
    rows = []
    for checkpoint in checkpoints:
        name = checkpoint["scenario"]
        result = results.get(name)
        if result is None:  # a window that did not finish: its error instead of verdicts
            cells = [checkpoint["verdict"], checkpoint.get("unexpected", "")] + [""] * (
                len(summary.HEADER) - 4
            )
            faults = "?"
        else:
            cells = list(summary.row(result)[2:])
            faults = faults_applied(Path(result.directory) / "history.jsonl")
        rows.append(
            [
                name.removeprefix("soak-"),
                checkpoint["ended_at"],
                *cells,
                faults,
                f"{checkpoint['rss_mib']:.1f}",
            ]
        )
    # a checker with nothing to say in any window (the durable ones without subscribers) is left out
    kept = [i for i in range(len(columns)) if any(row[i] not in ("-", "") for row in rows)]
    print("| " + " | ".join(columns[i] for i in kept) + " |")
    print("|" + "---|" * len(kept))
    for row in rows:
        print("| " + " | ".join(row[i] for i in kept) + " |")


if __name__ == "__main__":
    main()
