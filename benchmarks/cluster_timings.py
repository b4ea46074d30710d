"""Prints the cluster's timings that docs/benchmarks/ records (a benchmark, not a test: nothing is asserted).

    .venv/bin/python benchmarks/cluster_timings.py [ROUNDS] [--json]   (AMQ_CHAOS_DESIGN=hardened for the hardened design)

- bring-up: `Cluster.up()` until every pair is live/waiting, every promised bridge is up and the VIP routes
  each pair to its live node, split into where the time went: `compose up` (Docker creating the network,
  volumes and five containers), the masters' JVMs until their brokers started, the slaves until they wait on
  the lock, and the readiness check's tail (the JMX bridge query and the VIP);
- VIP drop-out: SIGKILL or freeze (docker pause) of a master until HAProxy marks it down (the time stamp of
  its "is DOWN" log line; after it no new connection goes there, which each round also checks);
- takeover: SIGKILL of a master until its waiting partner's broker says it started (its log's time stamp).

Times come from the Docker log's time stamps and this host's clock (the same clock), not from polling, so
they do not include a poll interval.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import sys
import time
from datetime import datetime

from harness.cluster import compose as compose_module
from harness.cluster.control import Cluster, free_port
from harness.settings import ROOT, Settings
from harness.wait import wait_until


def log_time(cluster: Cluster, service: str, needle: str, after: float, timeout: float = 30) -> float:
    """Epoch time of the first line of `service`'s container log after `after` that contains `needle`."""

    def find() -> float | None:
        raw = cluster.container(service).logs(timestamps=True, since=after).decode(errors="replace")
        for line in raw.splitlines():
            stamp, _, text = line.partition(" ")
            if needle in text:
                when = datetime.fromisoformat(stamp).timestamp()
                if when >= after:
                    return when
        return None

    return wait_until(find, timeout=timeout, what=f"{needle!r} in {service}'s log", interval=0.1)


def vip_avoids(cluster: Cluster, node: str, probes: int = 4) -> bool:
    for _ in range(probes):
        with cluster.stomp(timeout=3) as s:
            if s.broker_name == node:
                return False
    return True


def one_round(settings: Settings) -> dict[str, float]:
    figures: dict[str, float] = {}
    compose_done: list[float] = []
    original_up = compose_module.Compose.up

    def timed_up(self, timeout: float) -> None:
        original_up(self, timeout)
        compose_done.append(time.time())

    compose_module.Compose.up = timed_up  # type: ignore[method-assign]
    started = time.time()
    try:
        cluster = Cluster(settings, log=lambda *_: None).up()
    finally:
        compose_module.Compose.up = original_up  # type: ignore[method-assign]
    ready = time.time()
    try:
        group = cluster.topology.group
        masters = [f"{group}-mq01-a", f"{group}-mq02-a"]
        slaves = [f"{group}-mq01-b", f"{group}-mq02-b"]
        masters_live = max(log_time(cluster, m, ") started", started) for m in masters)
        slaves_waiting = max(log_time(cluster, s, "in slave mode waiting", started) for s in slaves)
        figures["bring-up (s)"] = ready - started
        figures["  compose up (s)"] = compose_done[0] - started
        figures["  then masters started (s)"] = masters_live - compose_done[0]
        figures["  then slaves waiting (s)"] = max(0.0, slaves_waiting - masters_live)
        figures["  then bridges + VIP checked (s)"] = ready - max(masters_live, slaves_waiting)

        frozen = f"{group}-mq02-a"
        t0 = time.time()
        cluster.container(frozen).pause()
        figures["VIP drops a frozen master (s)"] = (
            log_time(cluster, "vip", f"Server brokers/{frozen} is DOWN", t0) - t0
        )
        assert vip_avoids(cluster, frozen)
        cluster.container(frozen).unpause()
        wait_until(
            lambda: not vip_avoids(cluster, frozen, 8), timeout=60, what="VIP to re-admit", interval=0.2
        )

        master, slave = masters[0], slaves[0]
        t0 = time.time()
        cluster.container(master).kill(signal="SIGKILL")
        figures["VIP drops a killed master (s)"] = (
            log_time(cluster, "vip", f"Server brokers/{master} is DOWN", t0) - t0
        )
        figures["slave takes over after SIGKILL (s)"] = (
            log_time(cluster, slave, ") started", t0, timeout=60) - t0
        )
        assert vip_avoids(cluster, master)
    finally:
        cluster.down()
    return figures


def main() -> None:
    as_json = "--json" in sys.argv
    args = [a for a in sys.argv[1:] if a != "--json"]
    rounds = int(args[0]) if args else 3
    settings = dataclasses.replace(
        Settings.from_env(), vip_port=free_port(), runs_dir=ROOT / "runs" / "bench"
    )
    results = [one_round(settings) for _ in range(rounds)]
    if as_json:  # medians, for benchmarks/bench.py
        medians = {key.strip(): statistics.median(r[key] for r in results) for key in results[0]}
        print(json.dumps({"design": settings.design.name, "rounds": rounds, **medians}))
        return
    print(f"ActiveMQ {settings.version}, design {settings.design.name}, {rounds} rounds")
    for key in results[0]:
        values = [r[key] for r in results]
        print(
            f"{key:<38} median {statistics.median(values):5.2f}   min {min(values):5.2f}   max {max(values):5.2f}"
        )


if __name__ == "__main__":
    main()
