"""Prints how long the checkers take on a history of N deliveries (default 1,000,000; target 2 s).

    .venv/bin/python benchmarks/checker_speed.py [DELIVERIES] [--json]

The history is synthetic but shaped like a real one (two producers' invoke/ok sends, deliveries from two
brokers, a kill of one broker healed a little later, consumers reconnecting with unconfirmed acks, a few
duplicates and one lost message, sampler sweeps, probes); writing it is not timed, reading and checking it
is. A child process writes it, so the figures are those of a process that only checks (as `make report`
or the end of a run does), not of one whose heap the writing left fragmented. Peak memory (the process's
maximum RSS) is printed too, and the same history read from its JSON lines alone for comparison.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.check.ledger import Ledger
from harness.check.registry import check_all
from harness.check.verdict import FinalState, Verdict
from harness.history import History, read_history

REPEATS = 3


def write_history(path: Path, deliveries: int) -> None:
    b1, b2 = "chaos-mq01-a", "chaos-mq02-a"
    with History(path, {"seed": 0, "scenario": "benchmark"}) as history:
        history.append("harness", "ok", "phase", phase="load")
        for consumer, broker in (("consumer-0", b2), ("consumer-1", b1)):
            history.append(consumer, "ok", "connect", broker=broker)
        for n in range(deliveries):
            message_id = f"r1-p{n % 2}-{n // 2}"
            history.append(f"producer-{n % 2}", "invoke", "send", id=message_id)
            history.append(f"producer-{n % 2}", "ok", "send", id=message_id, broker=b1)
            if n != 7:  # one lost
                history.append(
                    f"consumer-{n % 2}", "ok", "deliver", id=message_id, broker=b2, redelivered=False
                )
            if n % 10_000 == 0:  # and a few duplicates, each after its consumer's session ended
                history.append(
                    "consumer-0", "info", "disconnected", broker=b2, unconfirmed=[message_id], since=0
                )
                history.append("consumer-0", "ok", "connect", broker=b2)
                history.append("consumer-0", "ok", "deliver", id=message_id, broker=b2, redelivered=True)
            if n % 5_000 == 0:
                history.append("sampler", "ok", "serving", nodes=[b1, b2])
            if n == deliveries // 3:
                history.append("nemesis", "invoke", "fault", action="kill", target=b1, role="live:01")
                history.append("nemesis", "ok", "fault", action="kill", target=b1)
            if n == deliveries // 2:
                history.append("nemesis", "ok", "heal", action="start", target=b1)
                history.append("harness", "ok", "phase", phase="healed")
                history.append("harness", "ok", "phase", phase="recovered", seconds=3.0)
                history.append("harness", "ok", "probe-plan", directions=[[b1, b2], [b2, b1]])
                for src, dst in ((b1, b2), (b2, b1)):
                    history.append("harness", "ok", "probe", src=src, dst=dst, seconds=2.5)
        history.append("harness", "ok", "phase", phase="load-ended")
        history.append("harness", "ok", "phase", phase="drain-deadline")


def timed_check(path: Path) -> tuple[float, float, list[Verdict]]:
    """Seconds to build the ledger (from the compact form when complete) and to run the checkers."""
    started = time.perf_counter()
    ledger = Ledger.from_path(path)
    built = time.perf_counter()
    verdicts = check_all(ledger, FinalState())
    return built - started, time.perf_counter() - built, verdicts


def main() -> None:
    if sys.argv[1:2] == ["--write"]:
        write_history(Path(sys.argv[2]), int(sys.argv[3]))
        return
    as_json = "--json" in sys.argv
    args = [a for a in sys.argv[1:] if a != "--json"]
    deliveries = int(args[0]) if args else 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.jsonl"
        subprocess.run([sys.executable, __file__, "--write", str(path), str(deliveries)], check=True)
        size = path.stat().st_size
        os.sync()  # a run's history was written over minutes: its writeback is not the checkers' cost
        # best of three, as timeit reports: this machine's speed varies by half from one run to the next
        runs = [timed_check(path) for _ in range(REPEATS)]
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        started = time.perf_counter()
        check_all(Ledger.from_history(read_history(path)), FinalState())
        lines = time.perf_counter() - started
    build, check, verdicts = min(runs, key=lambda r: r[0] + r[1])
    totals = sorted(r[0] + r[1] for r in runs)
    if as_json:  # for benchmarks/bench.py
        figures = {"deliveries": deliveries, "build": build, "check": check, "total": build + check}
        figures |= {"worst": totals[-1], "peak_mib": peak, "lines_total": lines}
        print(json.dumps(figures))
        return
    print(f"history: {deliveries:,} deliveries, {size / 1e6:.0f} MB of JSON lines")
    print(f"read + ledger: {build:.2f} s   (from the compact form)")
    print(f"checkers:      {check:.2f} s")
    print(
        f"total:         {build + check:.2f} s   (target: 2 s; best of {REPEATS}, worst {totals[-1]:.2f} s)"
    )
    print(f"peak RSS:      {peak:.0f} MiB")
    print(f"from the JSON lines alone: {lines:.2f} s")
    print("verdicts:", ", ".join(f"{v.checker}={v.valid}" for v in verdicts))


if __name__ == "__main__":
    main()
