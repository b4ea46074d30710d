"""Prints the cluster's timings that the README quotes (a benchmark, not a test: nothing is asserted).

    .venv/bin/python benchmarks/cluster_timings.py [ROUNDS]

- bring-up: `Cluster.up()` from compose up to every promised bridge established;
- VIP drop-out: SIGKILL or freeze (docker pause) of a master until every new VIP connection lands on the
  other master;
- takeover: SIGKILL of a master until its waiting partner is live (shared KahaDB lock).
"""

from __future__ import annotations

import dataclasses
import statistics
import sys
import time

from harness.cluster.control import Cluster, free_port
from harness.settings import ROOT, Settings
from harness.wait import wait_until


def vip_avoids(cluster: Cluster, node: str, probes: int = 4) -> bool:
    for _ in range(probes):
        with cluster.stomp(timeout=3) as s:
            if s.broker_name == node:
                return False
    return True


def one_round(settings: Settings) -> dict[str, float]:
    figures: dict[str, float] = {}
    started = time.monotonic()
    with Cluster(settings, log=lambda *_: None) as cluster:
        figures["bring-up (s)"] = time.monotonic() - started
        group = cluster.topology.group
        master, slave = f"{group}-mq01-a", f"{group}-mq01-b"

        container = cluster.container(f"{group}-mq02-a")
        t0 = time.monotonic()
        container.pause()
        wait_until(
            lambda: vip_avoids(cluster, f"{group}-mq02-a"),
            timeout=60,
            what="VIP to drop frozen",
            interval=0.1,
        )
        figures["VIP drops a frozen master (s)"] = time.monotonic() - t0
        container.unpause()
        wait_until(lambda: not vip_avoids(cluster, f"{group}-mq02-a", 8), timeout=60, what="VIP to re-admit")

        t0 = time.monotonic()
        cluster.container(master).kill(signal="SIGKILL")
        wait_until(lambda: vip_avoids(cluster, master), timeout=60, what="VIP to drop killed", interval=0.1)
        figures["VIP drops a killed master (s)"] = time.monotonic() - t0
        wait_until(lambda: cluster.node_state(slave) == "live", timeout=60, what="takeover", interval=0.2)
        figures["slave takes over after SIGKILL (s)"] = time.monotonic() - t0
    return figures


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    settings = dataclasses.replace(
        Settings.from_env(), vip_port=free_port(), runs_dir=ROOT / "runs" / "bench"
    )
    results = [one_round(settings) for _ in range(rounds)]
    print(f"ActiveMQ {settings.version}, {rounds} rounds")
    for key in results[0]:
        values = [r[key] for r in results]
        print(
            f"{key:<38} median {statistics.median(values):5.1f}   min {min(values):5.1f}   max {max(values):5.1f}"
        )


if __name__ == "__main__":
    main()
