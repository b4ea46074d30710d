"""A probe of what a broker keeps of subscriptions a client ended (harness.check.freed reads its record).

One STOMP connection to a pair's live broker: the broker's STOMP subscription objects are counted in its
heap (a class histogram, after a full collection) before anything, once the probe holds HELD subscriptions
open (the histogram must see those), and after CYCLES subscribe/unsubscribe cycles by id on the same,
still open connection. What the probe read goes into the history as one `reading` event.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.chaos.live_nodes import first_live
from harness.check.freed import READING
from harness.errors import HarnessError

if TYPE_CHECKING:
    from harness.chaos.run import ChaosRun

SUBSCRIPTION_CLASS = "org.apache.activemq.transport.stomp.StompSubscription"
QUEUE = "chaos.probe.churn"
HELD = 20
CYCLES = 200


def probe_unsubscribe_churn(run: ChaosRun) -> None:
    cluster = run.cluster
    read: dict[str, int] = {}
    node = ""
    try:
        node = first_live(cluster)
        run.history.append("probe", "invoke", "reading", what=READING, node=node, held=HELD, cycles=CYCLES)

        def count() -> int:
            return cluster.class_counts(node, [SUBSCRIPTION_CLASS])[SUBSCRIPTION_CLASS]

        read["before"] = count()
        with cluster.stomp(node) as session:
            held = [session.subscribe(f"{QUEUE}.{n}", ack="auto", receipt_timeout=10) for n in range(HELD)]
            read["holding"] = count()
            for _ in range(CYCLES):
                sub = session.subscribe(QUEUE, ack="auto", receipt_timeout=10)
                session.unsubscribe(sub)
            # a receipted subscription after the last UNSUBSCRIBE: the broker has handled every one before it
            session.subscribe(f"{QUEUE}.last", ack="auto", receipt_timeout=10)
            read["after"] = count() - 1
            for sub in held:
                session.unsubscribe(sub)
        read["closed"] = count()
    except HarnessError as exc:
        if not node:
            run.history.append("probe", "invoke", "reading", what=READING, held=HELD, cycles=CYCLES)
        run.history.append("probe", "fail", "reading", what=READING, node=node, error=str(exc)[:300], **read)
        return
    run.history.append("probe", "ok", "reading", what=READING, node=node, held=HELD, cycles=CYCLES, **read)
