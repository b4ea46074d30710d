"""Bridge probes: after a heal, does a message sent into one live broker reach a consumer on another?

For every ordered pair of live brokers in different pairs that both speak STOMP, a consumer subscribes on the
destination broker and a probe is sent into the source broker every second until one arrives or the deadline
passes. The time from the heal to the first arrival is that direction's recovery time. A live node without
client connectors (a seed-design slave that took over) cannot be probed directly; that is recorded too.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from harness.cluster import Cluster
from harness.history import History


def probe_bridges(cluster: Cluster, history: History, healed_at: float, deadline: float, tag: str) -> None:
    """Probe every direction concurrently; results go to the history as `probe` events."""
    statuses = cluster.status()
    live = [s for s in statuses if s.state == "live"]
    pair_of = {n.name: n.pair for n in cluster.topology.nodes}
    directions = [
        (a.node, b.node)
        for a in live
        for b in live
        if a.node != b.node and pair_of[a.node] != pair_of[b.node] and a.serves_stomp and b.serves_stomp
    ]
    for status in live:
        if not status.serves_stomp:
            history.append(
                "harness", "info", "probe", src=status.node, reason="no client connector to send into"
            )
    if not directions:
        return
    with ThreadPoolExecutor(max_workers=len(directions)) as pool:
        for future in [
            pool.submit(_probe, cluster, history, src, dst, healed_at, deadline, tag)
            for src, dst in directions
        ]:
            future.result()


def _probe(
    cluster: Cluster, history: History, src: str, dst: str, healed_at: float, deadline: float, tag: str
) -> None:
    queue = f"probe.{tag}.{src}.to.{dst}"
    arrived = threading.Event()
    history.append("harness", "invoke", "probe", src=src, dst=dst, queue=queue)
    sent = 0
    consumer = producer = None
    try:
        consumer = cluster.stomp(dst)
        consumer.subscribe(queue, ack="auto", on_delivery=lambda _delivery: arrived.set())
        producer = cluster.stomp(src)
        while time.monotonic() < deadline and not arrived.is_set():
            receipt = producer.send(queue, f"probe {sent}", {"harness-probe": str(sent)})
            producer.wait_receipts([receipt], timeout=5)
            sent += 1
            arrived.wait(1.0)
    except Exception as exc:  # a broker that refuses us is a bridge that has not resumed, not a crash
        history.append("harness", "info", "probe-error", src=src, dst=dst, error=repr(exc)[:200])
        while time.monotonic() < deadline and not arrived.is_set():
            arrived.wait(1.0)
    finally:
        if arrived.is_set():
            history.append(
                "harness",
                "ok",
                "probe",
                src=src,
                dst=dst,
                seconds=round(time.monotonic() - healed_at, 3),
                sent=sent,
            )
        else:
            history.append("harness", "fail", "probe", src=src, dst=dst, sent=sent)
        for session in (producer, consumer):
            if session is not None:
                session.close()
