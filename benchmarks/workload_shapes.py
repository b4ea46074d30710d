"""Prints what this machine sustains at each workload shape: acknowledged sends and deliveries per second,
end-to-end latency, and whether the consumers kept up (the backlog when the producers stop, and how long it
took to drain).

    .venv/bin/python benchmarks/workload_shapes.py [SECONDS_PER_SHAPE]     (AMQ_CHAOS_DESIGN=hardened to change design)

One cluster for every shape (its queues differ per shape), clients placed from a fixed seed over both pairs,
no faults. A shape the machine does not sustain shows as a backlog that keeps growing while it runs and a
drain that does not finish in 60 s.
"""

from __future__ import annotations

import dataclasses
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from harness.client.placement import Placement
from harness.client.workload import Workload, WorkloadConfig
from harness.cluster.control import Cluster, free_port
from harness.history import History, read_history
from harness.report.summary import aligned
from harness.settings import ROOT, Settings

SHAPES: list[tuple[str, dict[str, Any]]] = [
    ("default: 2 producers x 50/s", {}),
    ("2 producers, max", {"rate": 0}),
    ("4 producers, max", {"producers": 4, "rate": 0}),
    ("4 producers, 4 consumers, max", {"producers": 4, "consumers": 4, "rate": 0}),
    ("1 KiB bodies, max", {"rate": 0, "size": "1024"}),
    ("64 KiB bodies, max", {"rate": 0, "size": "65536"}),
    ("12 queues, max", {"rate": 0, "queues": 12}),
    ("non-persistent, max", {"rate": 0, "persistent": False}),
    ("consumer churn ~4 s, max", {"rate": 0, "churn": 4.0}),
    ("2 durable subscribers, 50/s", {"subscribers": 2}),
]
DRAIN = 60.0


def measure(
    cluster: Cluster, name: str, index: int, shape: dict[str, Any], seconds: float
) -> tuple[str, ...]:
    config = WorkloadConfig(queue=f"bench.shape{index}", key=f"1:bench{index}", run_tag=f"b{index}", **shape)
    placement = Placement(cluster.topology.pairs, f"1:bench{index}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "h.jsonl"
        with History(path, {"seed": 1}) as history:
            workload = Workload(
                history, lambda route=None, **kw: cluster.stomp(None, route=route, **kw), config, placement
            )
            workload.start_consumers()
            deadline = time.monotonic() + 30
            while not workload.consumers_subscribed() and time.monotonic() < deadline:
                time.sleep(0.1)
            if config.subscribers:
                time.sleep(3)  # the subscriptions' demand crosses the bridges before anything is published
            started = time.monotonic()
            workload.start_producers()
            time.sleep(seconds)
            workload.stop_producers()
            stopped = time.monotonic()
            backlog = workload.undelivered()
            drain_deadline = stopped + DRAIN
            while workload.undelivered() and time.monotonic() < drain_deadline:
                time.sleep(0.2)
            drained = time.monotonic() - stopped
            left = workload.undelivered()
            counters = workload.snapshot()
            workload.stop_consumers()
        elapsed = stopped - started
        receipts: dict[str, float] = {}
        latencies: list[float] = []
        for event in read_history(path):
            if event["f"] in ("send", "publish") and event["type"] == "ok":
                receipts[event["id"]] = event["t"]
            elif event["f"] in ("deliver", "receive") and event["id"] in receipts:
                latencies.append(event["t"] - receipts.pop(event["id"]))
    sent = counters.acknowledged + counters.published
    got = counters.delivered + counters.received
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 100 else [0.0] * 99
    return (
        name,
        f"{sent / elapsed:.0f}",
        f"{got / (elapsed + drained):.0f}",
        f"{quantiles[49] * 1000:.0f}",
        f"{quantiles[98] * 1000:.0f}",
        str(backlog),
        f"{drained:.1f}s" if not left else f"{left} left after {DRAIN:.0f}s",
    )


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 20.0
    settings = dataclasses.replace(
        Settings.from_env(), vip_port=free_port(), runs_dir=ROOT / "runs" / "bench"
    )
    rows = [("shape", "ack/s", "deliv/s", "p50 ms", "p99 ms", "backlog at stop", "drained in")]
    with Cluster(settings, log=lambda *_: None) as cluster:
        for index, (name, shape) in enumerate(SHAPES):
            rows.append(measure(cluster, name, index, shape, seconds))
            print(f"  measured: {rows[-1][0]}", file=sys.stderr)
    print(f"design {settings.design.name}, ActiveMQ {settings.version}, {seconds:.0f} s of load per shape")
    for line in aligned(rows):
        print(line)


if __name__ == "__main__":
    main()
