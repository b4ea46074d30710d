"""The drain: after the load stops, wait until nothing the checkers read can change any more, or the
drain deadline."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from harness.chaos import settle
from harness.chaos.settle import (
    SETTLED,
    Reading,
    SettleWatch,
    read,
    why_cluster_unsettled,
    why_durable_may_move,
    why_not_settled,
)
from harness.client.workload import Workload, WorkloadConfig
from harness.cluster.brokers import BrokerCluster
from harness.cluster.introspect import DurableSubscription
from harness.errors import HarnessError
from harness.wait import WaitTimeout, wait_until


@dataclass
class Drain:
    cluster: BrokerCluster
    workload: Workload
    config: WorkloadConfig
    timeout: float

    def run(self, may_settle: bool = False, durable_may_settle: bool = False) -> tuple[str, dict[str, Any]]:
        """Wait until nothing the checkers read can change any more, or the drain deadline: how it ended
        ("delivered", "settled" or "deadline") and what the history should keep of it: what the brokers
        held when it settled, or why it did not settle by the deadline.

        Nothing can change once every acknowledged message has been delivered (and every durable subscriber
        has what it is owed), every consumer is subscribed, and every live broker's queue depth over JMX is
        0 with every pair's store read: there is then no message left for a consumer, a bridge or a
        redelivery to bring, and the producers have stopped. The depth is read only once the workload's own
        counts say so, since an extra copy (an ack that died with its session) sits on a broker while its
        first delivery is already counted: ending on the counts alone read such a copy as stuck a moment
        before the broker delivered it again.

        With `may_settle`, it also ends once the messages still held cannot move (harness.chaos.settle): the
        brokers are read for that only after the workload has seen no delivery for a while. With
        `durable_may_settle`, likewise once every queue message is delivered and what durable subscriptions
        still hold cannot reach a consumer (settle.why_durable_may_move)."""
        watch = SettleWatch()
        ended = "deadline"
        last_activity, quiet_since = self.workload.activity(), time.monotonic()
        waiting_for = "not polled"

        def done() -> bool:
            nonlocal ended, last_activity, quiet_since, waiting_for
            if not self.workload.consumers_subscribed():
                waiting_for = "a consumer to subscribe again"
                return False
            queue_owed, durable_owed = self.workload.undelivered_by_kind()
            durable_only = durable_may_settle and queue_owed == 0
            held = self.what_brokers_hold() if queue_owed + durable_owed == 0 or durable_only else None
            if queue_owed + durable_owed == 0 and held is None:
                ended = "delivered"
                return True
            waiting_for = held or (
                f"{queue_owed} acknowledged messages consumers are owed"
                if queue_owed
                else f"{durable_owed} messages durable subscribers are owed"
            )
            if not (may_settle or (durable_only and held is None)):
                return False
            now, activity = time.monotonic(), self.workload.activity()
            if activity != last_activity:
                last_activity, quiet_since = activity, now
                return False
            reading = self.settle_reading if may_settle else self.durable_settle_reading
            if now - quiet_since < settle.ACTIVITY_QUIET_SECONDS or not watch.settled(
                *reading(activity), now
            ):
                return False
            ended = SETTLED
            return True

        with contextlib.suppress(WaitTimeout):  # what is left is the checkers' finding (late, stuck, lost)
            wait_until(
                done,
                timeout=self.timeout,
                what="every message delivered and off the brokers, with every consumer subscribed",
                interval=0.1,
                max_interval=1.0,  # each poll past the counts is a JMX query per live node
            )
        if ended == SETTLED:
            return ended, {"held": watch.held()}
        if ended != "deadline":
            return ended, {}
        # what the deadline waited for, so a drain that runs out can be told from one that had to
        detail: dict[str, Any] = {"waiting_for": waiting_for}
        if may_settle or durable_may_settle:
            detail["unsettled"] = watch.reason
        return ended, detail

    def settle_reading(self, activity: Hashable) -> tuple[Reading | None, str | None]:
        """One reading of the brokers for SettleWatch, and why its messages may still move (None: they cannot)."""
        statuses = self.cluster.status()
        holding = [
            s.node
            for s in statuses
            if s.state == "live" and not s.error and any((q.size or q.in_flight) for q in s.queues)
        ]
        consumers = {}
        for node in holding:
            try:
                consumers[node] = self.cluster.queue_consumers(node)
            except HarnessError as exc:
                return None, f"consumers of {node} unreadable: {exc}"[:200]
        reason = why_not_settled(
            statuses,
            consumers,
            self.pair_of(),
            self.config.destinations,
            self.cluster.missing_bridges(statuses),
        )
        return read(statuses, consumers, self.config.destinations, activity), reason

    def durable_settle_reading(self, activity: Hashable) -> tuple[Reading | None, str | None]:
        """One reading of the cluster and the durable subscriptions' pending counts on every live node, and
        why a held message may still reach a consumer (None: none can)."""
        statuses = self.cluster.status()
        reason = why_cluster_unsettled(statuses, self.pair_of(), self.cluster.missing_bridges(statuses))
        if reason is not None:
            return None, reason
        found: dict[str, list[DurableSubscription]] = {}
        for status in statuses:
            if status.state == "live":
                try:
                    found[status.node] = self.cluster.durable_subscriptions(status.node, self.config.topic)
                except HarnessError as exc:
                    return None, f"durable subscriptions of {status.node} unreadable: {exc}"[:200]
        states = {s.node: s.state for s in statuses}
        reading = Reading(
            states=tuple(sorted(states.items())),
            bridges=tuple(sorted({(s.node, b.remote) for s in statuses for b in s.bridges})),
            queues=(),
            consumers=(),
            activity=activity,
            durable=tuple(
                sorted(
                    (node, sub.name, sub.pending, sub.dispatched, sub.active)
                    for node, subs in found.items()
                    for sub in subs
                    if sub.pending or sub.dispatched
                )
            ),
        )
        return reading, why_durable_may_move(states, found, self.workload.subscribed_at())

    def what_brokers_hold(self) -> str | None:
        """Why the brokers may still hold a message of the workload's destinations, or None when every pair
        has a live node, each answers JMX, and none holds one."""
        statuses = self.cluster.status(bridges=False)
        # the bridges are not the question here: whatever they do, a held message is still held
        reason = why_cluster_unsettled(statuses, self.pair_of(), ())
        if reason is not None:
            return reason
        for status in (s for s in statuses if s.state == "live"):
            for queue in self.config.destinations:
                stats = status.queue(queue)
                if stats is not None and stats.size > 0:
                    return f"{status.node} holds {stats.size} on {queue}"
        return None

    def pair_of(self) -> dict[str, str]:
        """Node -> its pair."""
        return {n.name: n.pair for n in self.cluster.topology.nodes}
