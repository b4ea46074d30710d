"""Bridge probes: after a heal, does a message sent into one live broker reach a consumer on another?

The plan is every direction a promised bridge carries between the live nodes (the design's connectors: a
non-duplex one forwards from its owner, a duplex one both ways), recorded in the history before probing, so
a direction that could not be probed is unknown, never a pass. For each, a consumer subscribes on the
destination broker and a probe is sent into the source every second until one arrives or the deadline
passes; the time from the heal to the first arrival is that direction's recovery time. A source with no
client connector (a seed-design slave that took over, draining to the other pair) is sent into from inside
its container, over its loopback-only admin connector.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from harness.cluster.brokers import BrokerCluster
from harness.history import History


def probe_bridges(
    cluster: BrokerCluster, history: History, healed_at: float, deadline: float, tag: str
) -> bool:
    """Probe every promised direction concurrently; the plan and the results go to the history. True when
    there was a direction to probe and every one carried its probe."""
    statuses = cluster.pair_status()
    live = {s.node for s in statuses if s.state == "live"}
    serves_stomp = {s.node for s in statuses if s.serves_stomp}
    directions = cluster.topology.promised_directions(live, cluster.settings.design)
    history.append("harness", "ok", "probe-plan", directions=[list(d) for d in directions], live=sorted(live))
    probeable = []
    for src, dst in directions:
        if dst not in serves_stomp:  # nothing to consume with: the plan names it, the checker says unknown
            history.append(
                "harness", "info", "probe", src=src, reason=f"{dst} has no client connector to consume on"
            )
        else:
            probeable.append((src, dst))
    if not probeable:
        return False
    with ThreadPoolExecutor(max_workers=len(probeable)) as pool:
        arrived = [
            future.result()
            for future in [
                pool.submit(_probe, cluster, history, src, dst, src in serves_stomp, healed_at, deadline, tag)
                for src, dst in probeable
            ]
        ]
    return len(probeable) == len(directions) and all(arrived)


def _probe(
    cluster: BrokerCluster,
    history: History,
    src: str,
    dst: str,
    src_serves_stomp: bool,
    healed_at: float,
    deadline: float,
    tag: str,
) -> bool:
    queue = f"probe.{tag}.{src}.to.{dst}"
    arrived = threading.Event()
    history.append("harness", "invoke", "probe", src=src, dst=dst, queue=queue, inside=not src_serves_stomp)
    sent = 0
    consumer = producer = None
    try:
        consumer = cluster.stomp(dst)
        consumer.subscribe(queue, ack="auto", on_delivery=lambda _delivery: arrived.set())
        if src_serves_stomp:
            producer = cluster.stomp(src)
        while time.monotonic() < deadline and not arrived.is_set():
            if producer is not None:
                receipt = producer.send(queue, f"probe {sent}", {"harness-probe": str(sent)})
                producer.wait_receipts([receipt], timeout=5)
            else:
                cluster.send_inside(src, queue, f"probe {sent}")
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
    return arrived.is_set()
