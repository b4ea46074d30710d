"""Prints how long the checkers take on a history of N deliveries (default 1,000,000; target under 3 s).

    .venv/bin/python benchmarks/checker_speed.py [DELIVERIES]

The history is synthetic but shaped like a real one (two producers' invoke/ok sends, deliveries from two
brokers, a kill of one broker healed a little later, consumers reconnecting with unconfirmed acks, a few
duplicates and one lost message, sampler sweeps, probes); writing it is not timed, reading and checking it
is. Peak memory (the process's maximum RSS) is printed too.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

from harness.checkers import FinalState, Ledger, check_all
from harness.history import History, read_history


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
    print(f"total:         {checked - started:.2f} s   (target: under 3 s)")
    print(f"peak RSS:      {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    print("verdicts:", ", ".join(f"{v.checker}={v.valid}" for v in verdicts))


if __name__ == "__main__":
    main()
