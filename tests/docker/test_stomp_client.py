"""The STOMP client on a real broker: the heart-beat silence it allows for is the longest ActiveMQ leaves."""

from __future__ import annotations

import time

import pytest
import stomp

from harness.client.stomp_client import HEARTBEAT_GRACE
from harness.cluster.control import Cluster


@pytest.mark.docker
def test_the_client_allows_for_the_longest_silence_activemq_leaves_between_heartbeats(
    cluster: Cluster,
) -> None:
    """ActiveMQ sends a heart-beat only when it wrote nothing since its previous check, so a consumer that just
    received a message hears nothing for up to two intervals. A client that allows less drops a healthy idle
    session and reconnects, perhaps elsewhere: a move no fault caused, which changed outcomes (stomp.py's
    default 1.5 intervals did, 3 s after every load stopped, in 3 of 4 tries)."""
    interval = 2.0
    creds = cluster.settings.credentials
    frames: list[float] = []
    consumer = stomp.Connection12(
        [("127.0.0.1", cluster.vip_port)],
        heartbeats=(2000, 2000),
        heart_beat_receive_scale=10,
        vhost="chaos-mq01",
    )

    class Recorder(stomp.ConnectionListener):
        def on_message(self, frame: stomp.utils.Frame) -> None:
            frames.append(-time.monotonic())  # negative: a message
            consumer.ack(frame.headers["message-id"], frame.headers["subscription"])

        def on_heartbeat(self) -> None:
            frames.append(time.monotonic())

    consumer.set_listener("recorder", Recorder())
    consumer.connect(creds.client_user, creds.client_password, wait=True)
    consumer.subscribe("/queue/chaos.heartbeats", id="1", ack="client-individual")
    silences = []
    with cluster.stomp(None, route="01") as producer:
        for n in range(3):
            producer.send("chaos.heartbeats", str(n), {})
            time.sleep(3 * interval)
            last_message = max(-t for t in frames if t < 0)
            silences.append(min(t for t in frames if t > last_message) - last_message)
    consumer.disconnect()
    assert max(silences) < HEARTBEAT_GRACE * interval, silences


@pytest.mark.docker
def test_the_broker_names_a_connections_nth_send_by_its_session_id(cluster: Cluster) -> None:
    """What `make bugs` ties a broker's log line to a lost message by (harness.report.bugs.broker_message_ids):
    CONNECTED's session header is the connection's id, and its n-th SEND is <that id>:-1:1:<n>."""
    queue = "chaos.message-ids"
    with cluster.stomp(None, route="01") as producer:
        conn = producer.broker_session
        assert conn.startswith("ID:chaos-mq01-a-")
        producer.wait_receipts([producer.send(queue, str(n)) for n in range(3)], 10)
    with cluster.stomp(None, route="01") as consumer:
        consumer.subscribe(queue, ack="auto")
        got = consumer.wait_deliveries(3, 10)
    assert [(d.body, d.headers["message-id"]) for d in got] == [
        (str(n), f"{conn}:-1:1:{n + 1}") for n in range(3)
    ]
