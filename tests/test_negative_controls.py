"""Negative controls on the real cluster: inject exactly one fault and expect its checker to report it.

A checker that passes on these is a bug. Each control is paired with the unbroken run where that makes the
contrast the point (the stuck control passes on the seed design, which has the slave's drain connector).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.checkers import Ledger
from harness.cluster import Cluster
from harness.designs import design
from harness.history import read_history
from harness.run import ChaosRun
from harness.stomp_client import Delivery, StompSession
from harness.workload import Workload, WorkloadConfig
from tests.conftest import cluster_settings

pytestmark = pytest.mark.docker

CONTROLS = Path(__file__).resolve().parent.parent / "runs" / "tests" / "controls"


def seq(delivery: Delivery) -> int:
    return int(delivery.headers.get("harness-id", "x-0").rsplit("-", 1)[1])


class DroppingConsumer(Workload):
    """Acks every 7th message without recording it: the consumer 'loses' what it acknowledged."""

    dropped: set[str]

    def handle_delivery(self, process: str, session: StompSession | None, delivery: Delivery) -> None:
        if seq(delivery) % 7 == 3:
            self.__dict__.setdefault("dropped", set()).add(delivery.headers["harness-id"])
            if session is not None:
                session.ack(delivery)
            return
        super().handle_delivery(process, session, delivery)


class RedeliveringConsumer(Workload):
    """Records every 25th message, does not ack it and drops the connection: the broker redelivers it."""

    held: set[str]

    def handle_delivery(self, process: str, session: StompSession | None, delivery: Delivery) -> None:
        held = self.__dict__.setdefault("held", set())
        message_id = delivery.headers["harness-id"]
        if seq(delivery) % 25 == 5 and message_id not in held:
            held.add(message_id)
            self.record_delivery(process, session, delivery)
            self.request_reconnect(process)
            return
        super().handle_delivery(process, session, delivery)


@pytest.fixture
def cluster_of(docker_available: None, request: pytest.FixtureRequest) -> Iterator[Cluster]:
    settings = dataclasses.replace(cluster_settings(), design=design(getattr(request, "param", "seed")))
    with Cluster(settings) as running:
        yield running


def ledger_of(run: ChaosRun) -> Ledger:
    return Ledger.from_history(read_history(run.history.path))


def test_consumer_that_drops_acked_messages_is_caught_as_lost(cluster_of: Cluster) -> None:
    run = ChaosRun(
        cluster_of, "control-lost", 1, CONTROLS / "lost", workload_class=DroppingConsumer, drain_timeout=10
    )
    with run:
        run.load(300)
    lost = run.result.verdict("lost")
    dropped = run.workload.dropped & ledger_of(run).acknowledged.keys()
    assert dropped, "the control dropped nothing: it proves nothing"
    assert lost.valid is False
    assert lost.counts["lost"] == len(dropped)
    assert {w["id"] for w in lost.evidence["lost"]} <= dropped
    assert run.result.unexpected == {"lost"}


def test_redelivery_is_caught_as_duplicated(cluster_of: Cluster) -> None:
    run = ChaosRun(
        cluster_of, "control-duplicated", 1, CONTROLS / "duplicated", workload_class=RedeliveringConsumer
    )
    with run:
        run.load(300)
    duplicated = run.result.verdict("duplicated")
    held = run.workload.held
    assert held, "the control held back nothing: it proves nothing"
    assert duplicated.valid is False
    deliveries = ledger_of(run).deliveries
    duplicated_ids = {i for i, d in deliveries.items() if len(d) > 1}
    assert duplicated.counts["ids"] == len(duplicated_ids)
    # every held message is witnessed; others may be too: acks still in flight when the connection
    # dropped are lost with it, and those messages come back as well (a real duplicate, correctly counted)
    assert held <= duplicated_ids
    # the second delivery of each held message is the broker's redelivery
    assert all(deliveries[i][-1].redelivered for i in held)
    assert run.result.verdict("lost").valid is True


@pytest.mark.parametrize("cluster_of", ["control-no-slave-drain", "seed"], indirect=True)
def test_slave_without_drain_connector_strands_messages(cluster_of: Cluster) -> None:
    """Messages stored on pair 01, its master killed, consumers arriving only afterwards: with the seed's drain
    connector the slave forwards them to the consumers on 02-a; without it they are stuck on 01-b."""
    name = cluster_of.settings.design.name
    run = ChaosRun(
        cluster_of,
        f"{name}-stuck",
        1,
        CONTROLS / f"stuck-{name}",
        start_consumers=False,
        drain_timeout=20,
        workload=WorkloadConfig(queue="control.stuck"),
    )
    group = cluster_of.topology.group
    with run:
        run.load(200)
        victim = run.nemesis.inject("kill", "live:01")
        run.await_takeover(victim)
    stuck = run.result.verdict("stuck")
    if name == "seed":
        assert stuck.valid is True
        assert run.result.ok, run.result.to_json()
        return
    assert stuck.valid is False
    on_brokers = stuck.evidence["on_brokers"]
    assert set(on_brokers) == {f"{group}-mq01-b"}, on_brokers
    stranded = on_brokers[f"{group}-mq01-b"]["control.stuck"]
    stored_on_pair_01 = sum(1 for b in ledger_of(run).acknowledged_by.values() if b == f"{group}-mq01-a")
    assert stranded == stored_on_pair_01
    # 01-b has no STOMP connector, so the ids cannot be read: lost must say "unknown", never pass
    assert run.result.verdict("lost").valid is None


def test_bridge_blocked_and_never_healed_is_not_resumed(cluster_of: Cluster) -> None:
    group = cluster_of.topology.group
    a1, a2 = f"{group}-mq01-a", f"{group}-mq02-a"
    run = ChaosRun(
        cluster_of,
        "control-bridge",
        1,
        CONTROLS / "bridge",
        probe_timeout=15,
        recovery_timeout=20,
        drain_timeout=5,
    )
    with run:
        run.load(50)
        # a silent link between the masters: their bridges stay "connected" and carry nothing
        run.nemesis.partition(
            {a1: frozenset({a2}), a2: frozenset({a1})}, "the bridge between the pairs", never_heal=True
        )
    verdict = run.result.verdict("bridges-resumed")
    assert verdict.valid is False
    assert sorted(verdict.evidence["not_resumed"]) == [f"{a1}->{a2}", f"{a2}->{a1}"]


def test_clients_cut_off_from_every_broker_is_caught_as_unavailable(cluster_of: Cluster) -> None:
    """The VIP drops every broker's packets for 12 s: no send can be stored, and `available` must say so."""
    brokers = frozenset(n.name for n in cluster_of.topology.nodes)
    run = ChaosRun(cluster_of, "control-available", 1, CONTROLS / "available", unavailable_after=5)
    with run:
        run.load(100)
        run.nemesis.partition({"vip": brokers}, "the VIP from every broker")
        cut_at = run.history.now()
        time.sleep(12)
        run.nemesis.heal()
        run.load(100)
    verdict = run.result.verdict("available")
    assert verdict.valid is False, verdict.to_json()
    gap = verdict.evidence["longest_gap"]
    assert gap["from"] <= cut_at + 1 and gap["to"] >= cut_at + 12  # the gap is the cut, not something else
    assert run.result.unexpected == {"available"}
