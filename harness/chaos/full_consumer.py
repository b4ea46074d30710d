"""A probe of how a broker treats a queue consumer whose prefetch is full (harness.check.marked_slow reads it).

On one pair's live broker, a STOMP consumer subscribes to a queue of its own with a small prefetch and
acknowledges nothing; then SENT messages are sent there, more than the prefetch. The consumer holds a full
prefetch with messages waiting behind it: what the broker calls a slow consumer, the subscription its
slow-consumer advisories and strategies (abortSlowConsumerStrategy) act on. The probe reads the
subscription's prefetch, the messages it holds, the queue's size and its SlowConsumer flag over JMX, until
the flag is set or GRACE seconds have passed with the prefetch full; then the consumer acknowledges every
message, so the probe leaves nothing on the broker. What it read goes into the history as one `reading`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from harness.chaos.live_nodes import first_live
from harness.check.marked_slow import READING
from harness.errors import HarnessError
from harness.wait import WaitTimeout, wait_until

if TYPE_CHECKING:
    from harness.chaos.run import ChaosRun
    from harness.client.stomp_client import StompSession

QUEUE = "chaos.probe.full"
PREFETCH = 5
SENT = 20
GRACE = 5.0  # seconds the flag has, once the prefetch is full, to be set: dispatch marks it as it meets it


def probe_full_consumer(run: ChaosRun, timeout: float = 30.0) -> None:
    cluster = run.cluster
    read: dict[str, Any] = {}
    node = ""
    try:
        node = first_live(cluster)
        run.history.append(
            "probe", "invoke", "reading", what=READING, node=node, prefetch=PREFETCH, sent=SENT
        )
        with cluster.stomp(node) as consumer, cluster.stomp(node) as producer:
            headers = {"activemq.prefetchSize": str(PREFETCH)}
            consumer.subscribe(QUEUE, ack="client-individual", headers=headers, receipt_timeout=10)
            receipts = [producer.send(QUEUE, f"full-consumer {n}") for n in range(SENT)]
            producer.wait_receipts(receipts, timeout=timeout)
            consumer.wait_deliveries(PREFETCH, timeout=timeout)
            full_since: list[float] = []

            def marked_or_waited() -> bool:
                read.update(_read(run, node))
                if read["dispatched"] < read["prefetch"] or read["size"] <= read["dispatched"]:
                    full_since.clear()
                    return False
                full_since[:] = full_since or [time.monotonic()]
                return read["slow"] or time.monotonic() - full_since[0] >= GRACE

            wait_until(marked_or_waited, timeout=timeout, what="a full prefetch with messages behind it")
            read["held"] = len(consumer.deliveries())
            _ack_all(consumer, timeout)
    except (HarnessError, WaitTimeout) as exc:
        if not node:
            run.history.append("probe", "invoke", "reading", what=READING, prefetch=PREFETCH, sent=SENT)
        run.history.append("probe", "fail", "reading", what=READING, node=node, error=str(exc)[:300], **read)
        return
    run.history.append("probe", "ok", "reading", what=READING, node=node, queue=QUEUE, sent=SENT, **read)


def _read(run: ChaosRun, node: str) -> dict[str, Any]:
    """The probe's own subscription (bridges' excluded) and the queue's size, over JMX."""
    subscriptions = [s for s in run.cluster.queue_subscriptions(node, QUEUE) if not s.network]
    if len(subscriptions) != 1:
        raise HarnessError(
            f"{len(subscriptions)} client subscriptions on {QUEUE} on {node}, not the probe's one"
        )
    status = run.cluster.node_status(run.cluster.topology.node(node), bridges=False)
    if status.error:
        raise HarnessError(status.error)
    stats = status.queue(QUEUE)
    if stats is None:
        raise HarnessError(f"{QUEUE} not found on {node}")
    sub = subscriptions[0]
    return {"prefetch": sub.prefetch, "dispatched": sub.dispatched, "size": stats.size, "slow": sub.slow}


def _ack_all(consumer: StompSession, timeout: float) -> None:
    """Acknowledge all SENT messages as they arrive (PREFETCH at a time), the last with a receipt."""
    confirmed: list[bool] = []
    acked = 0
    while acked < SENT:
        for delivery in consumer.wait_deliveries(acked + 1, timeout)[acked:]:
            acked += 1
            consumer.ack(delivery, on_confirmed=(lambda: confirmed.append(True)) if acked == SENT else None)
    wait_until(lambda: bool(confirmed), timeout=timeout, what="the last acknowledgement's receipt")
