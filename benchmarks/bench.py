"""`make bench`: every speed figure of issue 12 measured now, in one table (figure, now, target, floor or
reference measured in the same run, ratio, met).

    .venv/bin/python benchmarks/bench.py

Runs benchmarks/checker_speed.py, benchmarks/cluster_timings.py (hardened, 3 rounds) and
benchmarks/workload_throughput.py, each in its own process (so one's peak memory is not another's), times
`make up` and `make down` as a user runs them, and reads the last full `make chaos` run's JUnit file for the
suite's time (a chaos run takes half an hour: it is measured by running it, not here). Nothing is asserted.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from harness.report.merge import MERGED_PROPERTY, SHARD_FOLDER

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
# the scenarios the issue's "full make chaos" figure was taken on (10 scenarios x 2 designs, 14 min 20 s)
ISSUE_SCENARIOS = (
    "kill_live_master",
    "graceful_stop_master",
    "restart_master",
    "freeze_master",
    "freeze_consumers_master",
    "partition_pairs",
    "isolate_master",
    "rolling_restart",
    "random_chaos",
    "lossy_bridge",
)


@dataclass
class Row:
    figure: str
    now: str
    target: str
    reference: str
    ratio: str
    met: bool | None  # None: not measured here

    def cells(self) -> list[str]:
        met = {True: "yes", False: "NO", None: "-"}[self.met]
        return [self.figure, self.now, self.target, self.reference, self.ratio, met]


def run_json(script: str, *args: str, env: dict[str, str] | None = None) -> dict:
    done = subprocess.run(
        [PYTHON, str(ROOT / "benchmarks" / script), *args, "--json"],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"error: {script} failed: {(done.stderr or done.stdout).strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def time_make(target: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        ["make", "--no-print-directory", target],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"error: make {target} failed: {(done.stderr or done.stdout).strip()[-300:]}")
    return time.perf_counter() - started


def make_up_seconds() -> float:
    """`make up` until it prints the endpoints (the cluster is ready then), warm images; then `make down`."""
    env = {"RUNS_DIR": str(ROOT / "runs" / "bench")}
    try:
        return time_make("up", env)
    finally:
        time_make("down", env)


def last_full_chaos() -> tuple[str, float, float, int] | None:
    """(when, seconds of the issue's 20 items, seconds of every item, items) from the newest chaos run that
    ran every item of the issue's scenarios on both designs."""
    runs = sorted(
        (ROOT / "runs" / "chaos").glob("*/junit.xml"), key=lambda p: p.stat().st_mtime, reverse=True
    )
    for junit in runs:
        try:
            suite = ET.parse(junit).getroot().find("testsuite")
        except ET.ParseError:
            continue
        if suite is None:
            continue
        times = {case.get("name", ""): float(case.get("time", "0")) for case in suite.iter("testcase")}
        wanted = [f"test_{name}[{design}]" for name in ISSUE_SCENARIOS for design in ("seed", "hardened")]
        if all(name in times for name in wanted):
            issue = sum(times[name] for name in wanted)
            return suite.get("timestamp", "?")[:16], issue, float(suite.get("time", "0")), len(times)
    return None


@dataclass
class SuiteRun:
    """One pytest session as its JUnit file tells it: when it began, its wall time, its items."""

    started: str
    seconds: float
    items: int
    failed: int
    merged: bool = False  # `make merge`'s: the shards' times added up, no session's wall time

    @classmethod
    def read(cls, junit: Path) -> SuiteRun | None:
        try:
            suite = ET.parse(junit).getroot().find("testsuite")
        except (ET.ParseError, OSError):
            return None
        if suite is None:
            return None
        failed = int(suite.get("failures", "0")) + int(suite.get("errors", "0"))
        items = len(list(suite.iter("testcase")))
        merged = suite.find(f"properties/property[@name='{MERGED_PROPERTY}']") is not None
        return cls(suite.get("timestamp", "?")[:16], float(suite.get("time", "0")), items, failed, merged)


def last_test_run() -> SuiteRun | None:
    """The newest `make test` (it writes runs/tests/junit.xml)."""
    return SuiteRun.read(ROOT / "runs" / "tests" / "junit.xml")


def chaos_items() -> int | None:
    """How many items a full `make chaos` has now (pytest's collection of scenarios/, a few seconds)."""
    done = subprocess.run(
        [PYTHON, "-m", "pytest", "scenarios", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    found = re.search(r"(\d+) tests? collected", done.stdout)
    return int(found[1]) if found else None


def newest_chaos_with(items: int) -> SuiteRun | None:
    """The newest chaos run (not a shard) that ran every one of `items`."""
    for junit in sorted(
        (ROOT / "runs" / "chaos").glob("*/junit.xml"), key=lambda p: p.stat().st_mtime, reverse=True
    ):
        if "-shard" in junit.parent.name:
            continue
        run = SuiteRun.read(junit)
        if run is not None and run.items >= items and not run.merged:
            return run
    return None


TEST_SHARD_FILE = re.compile(r"^junit-shard(?P<k>[0-9]+)of(?P<n>[0-9]+)\.xml$")  # SHARD=K/N make test's


def newest_shards(suite: str = "chaos") -> tuple[int, list[SuiteRun], float] | None:
    """(N, each shard's run, their wall time from the first start to the last end) of the newest complete
    set of shards (of one seed, for chaos): side by side, the wall time is near the slowest shard's; one after
    another, near their sum. suite "tests": `SHARD=K/N make test`'s JUnit files under runs/tests."""
    sets: dict[tuple[str, str], dict[int, Path]] = {}
    if suite == "tests":
        for junit in (ROOT / "runs" / "tests").glob("junit-shard*of*.xml"):
            match = TEST_SHARD_FILE.match(junit.name)
            if match:
                sets.setdefault(("", match["n"]), {})[int(match["k"])] = junit
    else:
        for folder in (ROOT / "runs" / "chaos").glob("*-shard*of*"):
            match = SHARD_FOLDER.search(folder.name)
            if match and (folder / "junit.xml").exists():
                sets.setdefault((match["seed"], match["n"]), {})[int(match["k"])] = folder / "junit.xml"
    complete = [(max(j.stat().st_mtime for j in shares.values()), int(n), shares)
                for (_, n), shares in sets.items() if set(shares) == set(range(1, int(n) + 1))]  # fmt: skip
    if not complete:
        return None
    _, n, shares = max(complete, key=lambda c: c[0])
    runs, spans = [], []
    for k in sorted(shares):
        junit = shares[k]
        run = SuiteRun.read(junit)
        if run is None:
            return None
        runs.append(run)
        end = junit.stat().st_mtime
        spans.append((end - run.seconds, end))
    return n, runs, max(e for _, e in spans) - min(b for b, _ in spans)


def minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"


def _within_ten_minutes(figure: str, run: SuiteRun | None, unit: str, *, failures_miss: bool) -> Row:
    """A suite's wall time against issue 30's 10 minutes; a run with failures misses it where they count."""
    if run is None:
        return Row(f"{figure}, last run)", "no run on record", "<= 10 min", "-", "-", None)
    met = run.seconds <= 600 and not (failures_miss and run.failed)
    return Row(
        f"{figure}, run of {run.started})",
        minutes(run.seconds),
        "<= 10 min",
        f"{run.items} {unit}, {run.failed} failed",
        f"{run.seconds / 600:.2f} of target",
        met,
    )


def _shards_row(suite: str, shards: tuple[int, list[SuiteRun], float] | None, whole: SuiteRun | None) -> Row:
    command = "`make chaos`" if suite == "chaos" else "`make test`"
    if shards is None:
        return Row(f"{command} in N shards (wall)", "no shards on record", "close to 1/N", "-", "-", None)
    n, runs, wall = shards
    slowest, total = max(r.seconds for r in runs), sum(r.seconds for r in runs)
    side_by_side = wall < total * 0.9
    return Row(
        f"{command} in {n} shards, {'side by side' if side_by_side else 'one after another'}",
        f"{minutes(wall)} wall (slowest shard {minutes(slowest)})",
        f"close to 1/{n}",
        f"shards' sum {minutes(total)}" + (f"; unsharded {minutes(whole.seconds)}" if whole else ""),
        f"slowest {slowest / total:.2f} of the sum (1/{n} = {1 / n:.2f})",
        None,
    )


def suite_rows(every: int | None) -> list[Row]:
    """Issue 30's figures, read from the last runs on record (each takes minutes: measured by running it)."""
    full = newest_chaos_with(every) if every else None
    rows = [
        _within_ten_minutes("`make test` (pytest wall time", last_test_run(), "tests", failures_miss=True),
        _within_ten_minutes("full `make chaos`, every item (wall", full, "items", failures_miss=False),
    ]
    for suite, whole in (("chaos", full), ("tests", last_test_run())):
        rows.append(_shards_row(suite, newest_shards(suite), whole))
    return rows


def main() -> None:
    print("make bench: measuring (about 5 minutes) ...", flush=True)
    checkers = run_json("checker_speed.py")
    # the harness reads its settings under its own prefix only (a bare DESIGN is somebody else's)
    timings = run_json("cluster_timings.py", "3", env={"AMQ_CHAOS_DESIGN": "hardened"})
    if timings.get("design") != "hardened":  # a row labelled hardened must have been measured on it
        raise SystemExit(f"cluster_timings.py measured design {timings.get('design')!r}, not hardened")
    throughput = run_json("workload_throughput.py")
    up = make_up_seconds()

    rows = [
        Row(
            f"checkers on {checkers['deliveries']:,} deliveries (read + ledger + checkers, best of 3)",
            f"{checkers['total']:.2f} s, peak RSS {checkers['peak_mib']:.0f} MiB",
            "<= 2 s",
            f"checkers alone {checkers['check']:.2f} s",
            f"{checkers['total'] / checkers['check']:.1f}x",
            checkers["total"] <= 2.0,
        ),
        Row(
            "`make up` to ready, warm images",
            f"{up:.1f} s (Cluster.up {timings['bring-up (s)']:.1f} s)",
            "<= 5 s",
            f"compose up {timings['compose up (s)']:.1f} s + masters' JVMs {timings['then masters started (s)']:.1f} s",
            f"{up / (timings['compose up (s)'] + timings['then masters started (s)']):.2f}x",
            up <= 5.0,
        ),
        Row(
            "waiting node live after SIGKILL of the live one (hardened)",
            f"{timings['slave takes over after SIGKILL (s)']:.2f} s",
            "<= 2 s",
            "lock retry 0.5 s + keep-alive 0.5 s",
            f"{timings['slave takes over after SIGKILL (s)'] / 1.0:.2f}x",
            timings["slave takes over after SIGKILL (s)"] <= 2.0,
        ),
    ]
    for kind in ("killed", "frozen"):
        seconds = timings[f"VIP drops a {kind} master (s)"]
        rows.append(
            Row(
                f"VIP stops routing to a {kind} master",
                f"{seconds:.2f} s",
                "<= 1.5 s",
                "two failed checks: 0.5 s + 0.1 s + 0.5 s",
                f"{seconds / 1.1:.2f}x",
                seconds <= 1.5,
            )
        )
    rows.append(
        Row(
            f"workload vs a bare stomp.py loop ({throughput['messages']:,} receipted sends, median of"
            f" {throughput['rounds']} paired rounds)",
            f"{throughput['ratio']:.0%} (best against best {throughput['best_ratio']:.0%})",
            ">= 95 %",
            f"bare loop up to {throughput['bare']:.0f}/s; CPU per send {throughput['cpu_bare_us']:.0f} us bare,"
            f" {throughput['cpu_harness_us']:.0f} us harness (own work {throughput['own_work_us']:.1f} us hot)",
            f"{throughput['ratio']:.2f}",
            throughput["ratio"] >= 0.95,
        )
    )
    chaos = last_full_chaos()
    if chaos is None:
        rows.append(
            Row("`make chaos`, the issue's 20 items", "no such run on record", "<= 10 min", "-", "-", None)
        )
    else:
        when, issue, total, items = chaos
        rows.append(
            Row(
                f"`make chaos`, the issue's 10 scenarios x 2 designs, sum of item times (run of {when})",
                minutes(issue),
                "<= 10 min",
                f"all {items} items: {minutes(total)} wall",
                f"{issue / 600:.2f} of target",
                issue <= 600,
            )
        )
    rows += suite_rows(chaos_items())

    header = ["figure", "now", "target", "floor / reference", "ratio", "met"]
    table = [header, *(row.cells() for row in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    print(f"measured {time.strftime('%Y-%m-%d %H:%M')} on {os.cpu_count()} cores")
    for n, line in enumerate(table):
        print("| " + " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)) + " |")
        if n == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    phases = ("compose up", "then masters started", "then slaves waiting", "then bridges + VIP checked")
    split = ", ".join(f"{key.removeprefix('then ')} {timings[key + ' (s)']:.2f} s" for key in phases)
    # one `make up` against a median of three bring-ups: the difference can come out below zero
    extra = up - timings["bring-up (s)"]
    added = f"adds {extra:.1f} s" if extra >= 0.05 else "adds nothing measurable"
    print(f"bring-up ({timings['design']}, median of {timings['rounds']}): {split}; `make up` {added}")


if __name__ == "__main__":
    main()
