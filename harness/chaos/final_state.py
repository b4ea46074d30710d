"""The final state: what the brokers hold once the drain ended, read for the checkers."""

from __future__ import annotations

import contextlib

from harness.check.verdict import FinalState
from harness.client.workload import WorkloadConfig
from harness.cluster.backend import STANDBY_STATES
from harness.cluster.brokers import BrokerCluster
from harness.errors import HarnessError

DEAD_LETTER_QUEUE = "ActiveMQ.DLQ"


def read_final_state(cluster: BrokerCluster, config: WorkloadConfig, largest_body: int) -> FinalState:
    """The workload's queues on every node that is or may be live: their depths over JMX and the id of
    every message on them, read inside the node. Whatever cannot be read in full is named, never taken
    as 0."""
    final = FinalState()
    statuses = cluster.status(bridges=False)
    final.states = {status.node: status.state for status in statuses}
    for status in statuses:
        if status.state in (*STANDBY_STATES, "down"):
            # holds nothing of its own: the pair's store is read through its live node (a replicating slave's
            # is a copy of its master's, and it starts no connector to read it through)
            continue
        if status.state != "live":
            final.unreadable[status.node] = None
            final.reasons[status.node] = f"{status.state}, may be live"
            continue
        if status.error:
            final.unreadable[status.node] = None
            final.reasons[status.node] = status.error[:200]
            continue
        dead = status.queue(DEAD_LETTER_QUEUE)
        if dead is not None and dead.size > 0:
            with contextlib.suppress(HarnessError):  # evidence only: where a lost message went
                final.dead_letters[status.node] = cluster.browse_ids(status.node, DEAD_LETTER_QUEUE)
        final.queues[status.node] = {}
        for queue in config.destinations:
            stats = status.queue(queue)
            size = stats.size if stats else 0
            final.queues[status.node][queue] = size
            if size == 0:
                continue
            try:
                ids = cluster.browse_ids(status.node, queue)
            except HarnessError as exc:
                final.unreadable[status.node] = (final.unreadable.get(status.node) or 0) + size
                final.reasons[status.node] = f"browse of {queue} failed: {exc}"[:200]
                continue
            final.messages.setdefault(status.node, []).extend(ids)
            if len(ids) < size:
                final.unreadable[status.node] = (final.unreadable.get(status.node) or 0) + size - len(ids)
                final.reasons[status.node] = f"browsed {len(ids)} of {size} messages on {queue}"
    if config.subscribers:
        for status in statuses:
            if status.state == "live" and status.node not in final.unreadable:
                try:
                    durable = cluster.read_durable(
                        status.node,
                        config.topic,
                        largest_body,
                        config.persistent,
                    )
                except HarnessError as exc:
                    final.unreadable[status.node] = None
                    final.reasons[status.node] = f"durable subscriptions unreadable: {exc}"[:200]
                    continue
                # a count the topic's store does not vouch for (AMQ-9435) holds no message: taken off
                final.durable[status.node] = durable.vouched()
                final.durable_ids[status.node] = durable.ids
                if durable.phantom:
                    final.durable_phantom[status.node] = durable.phantom
                if durable.held is not None:
                    final.durable_held[status.node] = durable.held
                if durable.unread:
                    final.durable_unread[status.node] = durable.unread
    topology = cluster.topology
    for pair in topology.pairs:
        members = [s for s in statuses if topology.node(s.node).pair == pair]
        if not any(s.state == "live" for s in members) and not any(
            s.node in final.unreadable for s in members
        ):
            name = f"pair {pair}"
            final.unreadable[name] = None
            final.reasons[name] = "no live node: its store was read by nobody"
    return final
