"""Prints how often one seed's outcome recurs: the scenario run N times with the seed, and its first run's
history replayed N times, each with where every client was placed and what the checkers said.

    .venv/bin/python benchmarks/outcome_recurrence.py SCENARIO DESIGN SEED OUTCOME [--runs N]
        [--placement seeded|vip] [--repo DIR] [--history H]

OUTCOME is the checker whose violation is the outcome, e.g. `stuck` (messages stranded) or `duplicated`.
`--history H` skips the seed runs and replays H N times.
`--repo` runs another checkout's `make chaos` / `make replay` (the same command line), so a commit from
before seeded placement can be measured the same way; its PLACEMENT is then ignored. Every run's folder is
kept under runs/recurrence/.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def verdicts(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "verdicts.json").read_text())


def sessions(history: Path) -> str:
    """Where each client's sessions landed, in order, e.g. `c0 1a,2a` (consumer-0: mq01-a, then mq02-a); a
    session the seed sent to a pair other than the one it landed on shows the pair asked for: `2a(01)`."""
    seen: dict[str, list[str]] = {}
    with history.open() as lines:
        for line in lines:
            event = json.loads(line)
            process = str(event.get("p", ""))
            if event.get("f") != "connect" or event.get("type") != "ok" or "-" not in process:
                continue
            broker = str(event.get("broker", "?")).rsplit("-mq", 1)[-1].replace("-", "").lstrip("0")
            route = event.get("route")
            asked = f"({route})" if route and not broker.startswith(route.lstrip("0")) else ""
            seen.setdefault(process[0] + process.rsplit("-", 1)[1], []).append(broker + asked)
    return " ".join(f"{p} {','.join(w)}" for p, w in sorted(seen.items()))


def describe(result: dict[str, Any], outcome: str) -> tuple[bool, str]:
    by_checker = {v["checker"]: v for v in result["verdicts"]}
    verdict = by_checker[outcome]
    shown = verdict["valid"] is False
    return shown, f"{outcome}={'violated' if shown else verdict['valid']}: {verdict.get('note', '')[:40]}"


def run(command: list[str], repo: Path, env: dict[str, str]) -> None:
    started = time.monotonic()
    done = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True)
    print(
        f"  ({' '.join(command[-2:])}: exit {done.returncode}, {time.monotonic() - started:.0f} s)",
        file=sys.stderr,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario")
    parser.add_argument("design")
    parser.add_argument("seed", type=int)
    parser.add_argument("outcome")
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--placement", default="seeded")
    parser.add_argument("--repo", type=Path, default=ROOT)
    parser.add_argument("--history", type=Path, help="replay this history N times; no seed runs")
    args = parser.parse_args()
    label = f"{args.scenario}-{args.design}-{args.seed}-{args.placement}-{args.repo.name}"
    runs_dir = ROOT / "runs" / "recurrence" / f"{time.strftime('%Y%m%d-%H%M%S')}-{label}"
    env = {
        **os.environ,
        "RUNS_DIR": str(runs_dir),
        "SEED": str(args.seed),
        "SCENARIO": args.scenario,
        "DESIGN": args.design,
        "PLACEMENT": args.placement,
    }
    if args.history is None:
        run(["make", "chaos", f"PYTEST_ARGS=--count {args.runs} -p no:randomly"], args.repo, env)
    chaos = sorted(
        (p for p in (runs_dir / "chaos").glob("*-seed*/*") if (p / "verdicts.json").exists()),
        key=lambda p: json.loads((p / "history.jsonl").open().readline()).get("started_at", ""),
    )
    source = args.history.resolve() if args.history else chaos[0] / "history.jsonl"
    for _ in range(args.runs):
        run(["make", "replay", f"HISTORY={source}"], args.repo, env)
    replays = sorted(p for p in (runs_dir / "replay").glob("*") if (p / "verdicts.json").exists())
    print(f"{args.scenario} [{args.design}] seed {args.seed}, placement {args.placement}, code {args.repo}")
    for title, folders in (("seed runs", chaos), (f"replays of {source.parent.name}", replays)):
        shown = 0
        for folder in folders:
            hit, text = describe(verdicts(folder), args.outcome)
            shown += hit
            print(f"  {folder.name:28} {'X' if hit else '.'} {sessions(folder / 'history.jsonl'):44} {text}")
        print(f"{title}: {args.outcome} violated in {shown} of {len(folders)}")
    print(f"folders: {runs_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
