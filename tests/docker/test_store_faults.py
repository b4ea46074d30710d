"""The shared store's faults on a real cluster (hardened, size-limited stores): each applied, seen from the
nodes, and healed, with the history naming fault and heal."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.chaos.mechanisms.store import BALLAST, LOCK_HELD
from harness.chaos.nemesis import Nemesis
from harness.cluster.control import Cluster
from harness.design.catalog import design
from harness.history import History, read_history
from harness.wait import wait_until
from tests.support import cluster_settings


@pytest.fixture
def store_cluster(docker_available: None) -> Iterator[Cluster]:
    settings = cluster_settings(design=design("hardened"), store_size="64m")
    with Cluster(settings) as running:
        yield running


def lives(cluster: Cluster, pair: str) -> list[str]:
    return [n.name for n in cluster.topology.nodes if n.pair == pair and cluster.node_state(n.name) == "live"]


def live_of(cluster: Cluster, pair: str) -> str:
    live = lives(cluster, pair)
    assert len(live) == 1, live
    return live[0]


def test_store_faults_apply_and_heal_on_the_real_nodes(store_cluster: Cluster, tmp_path: Path) -> None:
    cluster = store_cluster
    with History(tmp_path / "history.jsonl", {"seed": 0}) as history:
        nemesis = Nemesis(cluster, history, random.Random(0))

        # a full store: the live broker refuses a persistent send for want of space, and takes it again
        # once the ballast is gone
        live02 = live_of(cluster, "02")
        nemesis.inject("fill-store", "02")
        free = cluster.exec("store", "df", "-B1", "--output=avail", "/stores/02")[1].split()[-1]
        assert int(free) < 64 * 1024, free
        # larger than the space left and than the journal's partly written last page
        code, out = cluster.exec(live02, "stomp-send", "store.test", "x" * 100 * 1024)
        assert code == 2 and "No space left on device" in out, (code, out[:300])  # 2: a STOMP ERROR
        nemesis.heal()
        assert BALLAST not in cluster.exec("store", "ls", "/stores/02")[1]
        cluster.send_inside(live02, "store.test", "after the heal")

        # a lost lock file: hardened's keep-alive notices and its broker gives the store up; ActiveMQ restarts
        # it in the same JVM, and the pair's next live broker is whoever takes the new lock file first: the
        # partner, or the restarted broker 35 ms later, before the partner's next try (seen both ways)
        nemesis.inject("lose-lock", "01")
        (ok,) = [e for e in read_history(history.path) if e["type"] == "ok" and e["action"] == "lose-lock"]
        assert ok["live_after"] is False  # it stopped: the design checks its lock
        wait_until(lambda: len(lives(cluster, "01")) == 1, timeout=60, what="one live broker in pair 01")
        cluster.wait_pairs(60)
        assert len(lives(cluster, "01")) == 1  # never two: the one that lost the file is not still serving

        # a stale lock: with a stand-in holding it, nobody takes over from a killed live broker...
        live02 = live_of(cluster, "02")
        nemesis.inject("hold-lock", "02")
        holder = nemesis.active[-1].detail["holder"]
        assert holder != live02
        nemesis.inject("kill", live02)
        held = lambda: cluster.exec(holder, "test", "-e", LOCK_HELD)[0] == 0  # noqa: E731
        wait_until(held, timeout=20, what="the stand-in to hold the lock")
        time.sleep(3)  # six of its broker's lock retries
        assert cluster.node_state(holder) == "waiting"
        # ...until the heal ends the stand-in: then the waiting broker gets the lock
        nemesis.heal()
        wait_until(
            lambda: cluster.node_state(holder) == "live", timeout=30, what="the waiting node to take over"
        )
        cluster.wait_pairs(60)
    events = list(read_history(tmp_path / "history.jsonl"))
    done = [(e["f"], e["action"]) for e in events if e["type"] == "ok"]
    assert ("fault", "fill-store") in done and ("heal", "free-store") in done
    assert ("fault", "lose-lock") in done
    assert ("fault", "hold-lock") in done and ("heal", "release-lock") in done
    cluster.wait_ready(120)
