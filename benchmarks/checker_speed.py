"""Prints how long the checkers take on a history of N deliveries (default 1,000,000; target under 5 s).

    .venv/bin/python benchmarks/checker_speed.py [DELIVERIES]

The history is synthetic but shaped like a real one (two producers' invoke/ok sends, deliveries from two
brokers, a few duplicates and one lost message); writing it is not timed, reading and checking it is.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from harness.checkers import FinalState, Ledger, check_all
from harness.history import History, read_history


def write_history(path: Path, deliveries: int) -> None:
    with History(path, {"seed": 0, "scenario": "benchmark"}) as history:
        for n in range(deliveries):
            message_id = f"p{n % 2}-{n // 2}"
            history.append(f"producer-{n % 2}", "invoke", "send", id=message_id)
            history.append(f"producer-{n % 2}", "ok", "send", id=message_id, broker="chaos-mq01-a")
            if n != 7:  # one lost
                history.append(
                    f"consumer-{n % 2}",
                    "ok",
                    "deliver",
                    id=message_id,
                    broker="chaos-mq02-a",
                    redelivered=False,
                )
            if n % 10_000 == 0:  # and a few duplicates
                history.append(
                    "consumer-1", "ok", "deliver", id=message_id, broker="chaos-mq01-a", redelivered=True
                )
        history.append("harness", "ok", "phase", phase="drain-deadline")


def main() -> None:
    deliveries = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.jsonl"
        write_history(path, deliveries)
        size = path.stat().st_size
        started = time.perf_counter()
        ledger = Ledger.from_history(read_history(path))
        parsed = time.perf_counter()
        verdicts = check_all(ledger, FinalState())
        checked = time.perf_counter()
    print(f"history: {deliveries:,} deliveries, {size / 1e6:.0f} MB")
    print(f"read + ledger: {parsed - started:.2f} s")
    print(f"checkers:      {checked - parsed:.2f} s")
    print(f"total:         {checked - started:.2f} s   (target: under 5 s)")
    print("verdicts:", ", ".join(f"{v.checker}={v.valid}" for v in verdicts))


if __name__ == "__main__":
    main()
