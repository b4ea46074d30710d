"""The durable-subscription tool on a real broker: the ids an offline subscription holds, read without taking
them."""

from __future__ import annotations

import secrets

import pytest

from harness.cluster.control import Cluster
from tests.support import S0, S1


@pytest.mark.docker
def test_a_real_broker_lists_an_offline_subscribers_ids_and_keeps_them(cluster: Cluster) -> None:
    """amq-durable-ids on a real broker: the ids an offline durable subscription holds, read without taking
    them (its count is the same afterwards, and the subscriber still gets each of them); then, with a second
    subscription holding one of them, the browse is the topic's whole store, and each subscription's own ids
    are read by reattaching to it (stomp-subscription-ids), taking none."""
    node = f"{cluster.topology.group}-mq01-a"
    topic = f"durable.ids.{secrets.token_hex(3)}"
    tag = f"r{secrets.token_hex(2)}"
    sent = [f"{tag}-t0-{n}" for n in range(3)]
    offline_subscriber(cluster, node, topic, S0)
    publish(cluster, node, topic, sent)
    before = cluster.durable_pending(node, topic)  # the console's count, beside the tool's
    reading = cluster.read_durable(node, topic, largest_body=0)
    assert reading.ids == {S0: sent} and reading.pending == {S0: 3} == before
    assert cluster.durable_pending(node, topic) == before
    offline_subscriber(cluster, node, topic, S1)
    publish(cluster, node, topic, [f"{tag}-t0-3"])
    reading = cluster.read_durable(node, topic, largest_body=0)
    # the browse is the store's 4 ids, held for both: each subscription, reattached to on its own, says
    # which are its, and keeps them (the counts are the same afterwards)
    assert reading.pending == {S0: 4, S1: 1} == cluster.durable_pending(node, topic)
    assert reading.ids == {S0: [*sent, f"{tag}-t0-3"], S1: [f"{tag}-t0-3"]}
    assert (reading.held, reading.unread) == (None, {})
    with cluster.stomp(node, client_id=f"{topic}-{S0}") as session:
        before = len(session.deliveries())  # the statistics plugin's answer naming the broker
        session.subscribe(topic, kind="topic", headers={"activemq.subscriptionName": S0}, receipt_timeout=10)
        got = [d.headers["harness-id"] for d in session.wait_deliveries(before + 4, timeout=30)[before:]]
    assert got == [*sent, f"{tag}-t0-3"]


def offline_subscriber(cluster: Cluster, node: str, topic: str, name: str) -> None:
    """A durable subscription, confirmed, whose subscriber then disconnects: the broker keeps what comes."""
    with cluster.stomp(node, client_id=f"{topic}-{name}") as session:
        session.subscribe(
            topic, kind="topic", headers={"activemq.subscriptionName": name}, receipt_timeout=10
        )


def publish(cluster: Cluster, node: str, topic: str, ids: list[str]) -> None:
    with cluster.stomp(node) as session:
        receipts = [session.send(topic, i, {"harness-id": i}, kind="topic") for i in ids]
        session.wait_receipts(receipts, timeout=30)
