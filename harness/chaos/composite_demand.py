"""A probe of conduit demand for composite destinations (harness.check.conduit reads what it records).

The same consumers, on one pair's live broker, subscribe to a plain topic and to a composite destination of
two other topics; then the bridges' subscriptions on the other pair's live broker are read until they hold
still, counted per bridge (the subscription's client id names it) and per topic, a composite subscription
counting for each topic it names. What the probe read goes into the history as one `reading` event (ok, or
fail with why), whatever it found.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from harness.chaos.live_nodes import live_by_pair
from harness.check.conduit import READING
from harness.client.stomp_client import StompSession
from harness.cluster.introspect import QueueConsumer
from harness.errors import HarnessError
from harness.wait import WaitTimeout, wait_until

if TYPE_CHECKING:
    from harness.chaos.run import ChaosRun

PLAIN = "chaos.probe.plain"
PARTS = ("chaos.probe.left", "chaos.probe.right")
CONSUMERS = 2
STEADY = 2.0  # seconds two equal readings must be apart: demand crosses consumer by consumer


def bridge_demand(subscriptions: list[QueueConsumer]) -> dict[str, dict[str, int]]:
    """bridge client id -> probe topic -> the bridge's subscriptions that name it."""
    demand: dict[str, dict[str, int]] = {}
    for sub in subscriptions:
        if not sub.network:
            continue
        for name in sub.queue.split(","):  # a composite subscription names each of its topics
            topic = name.strip().removeprefix("topic://")
            if topic in (PLAIN, *PARTS):
                counts = demand.setdefault(sub.client_id, dict.fromkeys((PLAIN, *PARTS), 0))
                counts[topic] += 1
    return demand


def probe_composite_demand(run: ChaosRun, timeout: float = 30.0) -> None:
    cluster = run.cluster
    demand: dict[str, dict[str, int]] = {}
    where: dict[str, str] = {}
    sessions: list[StompSession] = []
    try:
        live = live_by_pair(cluster)
        local_pair, remote_pair = sorted(live)[:2]
        where = {"local": live[local_pair], "remote": live[remote_pair]}
        run.history.append("probe", "invoke", "reading", what=READING, consumers=CONSUMERS, **where)
        composite = ",".join([PARTS[0], *(f"/topic/{part}" for part in PARTS[1:])])
        for _ in range(CONSUMERS):
            session = cluster.stomp(where["local"])
            sessions.append(session)
            session.subscribe(PLAIN, kind="topic", ack="auto", receipt_timeout=10)
            session.subscribe(composite, kind="topic", ack="auto", receipt_timeout=10)
        since = [0.0]
        subscriptions: list[QueueConsumer] = []

        def held_still() -> bool:
            subscriptions[:] = cluster.topic_subscriptions(where["remote"])
            now = bridge_demand(subscriptions)
            crossed = all(any(counts[t] for counts in now.values()) for t in (PLAIN, *PARTS))
            if not crossed or now != demand:
                demand.clear()
                demand.update(now)
                since[0] = time.monotonic()
                return False
            return time.monotonic() - since[0] >= STEADY

        wait_until(held_still, timeout=timeout, what="the bridges' demand to hold still", interval=0.5)
        # evidence beside the counts, from the reading that held still: a bridge subscribed to the composite
        # destination as a whole (before AMQ-9262's fix) rather than to each of its topics
        whole = [s.client_id for s in subscriptions if s.network and "," in s.queue and PARTS[0] in s.queue]
    except (HarnessError, WaitTimeout) as exc:
        if not where:
            run.history.append("probe", "invoke", "reading", what=READING, consumers=CONSUMERS)
        run.history.append(
            "probe", "fail", "reading", what=READING, error=str(exc)[:300], bridges=demand, **where
        )
        return
    finally:
        for session in sessions:
            session.close()
    run.history.append(
        "probe",
        "ok",
        "reading",
        what=READING,
        consumers=CONSUMERS,
        plain=PLAIN,
        bridges=demand,
        composite_subscriptions={bridge: whole.count(bridge) for bridge in sorted(set(whole))},
        **where,
    )
