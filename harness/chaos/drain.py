"""The drain: after the load stops, wait until nothing the checkers read can change any more, or the
drain deadline."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from harness.chaos import settle
from harness.chaos.settle import SETTLED, Reading, SettleWatch, read, why_not_settled
from harness.client.workload import Workload, WorkloadConfig
from harness.cluster.backend import STANDBY_STATES
from harness.cluster.brokers import BrokerCluster
from harness.errors import HarnessError
from harness.wait import WaitTimeout, wait_until


@dataclass
class Drain:
    cluster: BrokerCluster
    workload: Workload
    config: WorkloadConfig
    timeout: float

    def run(self, may_settle: bool = False) -> tuple[str, dict[str, Any]]:
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
        brokers are read for that only after the workload has seen no delivery for a while."""
        watch = SettleWatch()
        ended = "deadline"
        last_activity, quiet_since = self.workload.activity(), time.monotonic()

        def done() -> bool:
            nonlocal ended, last_activity, quiet_since
            if not self.workload.consumers_subscribed():
                return False
            if self.workload.undelivered() == 0 and self.brokers_hold_nothing():
                ended = "delivered"
                return True
            if not may_settle:
                return False
            now, activity = time.monotonic(), self.workload.activity()
            if activity != last_activity:
                last_activity, quiet_since = activity, now
                return False
            if now - quiet_since < settle.ACTIVITY_QUIET_SECONDS or not watch.settled(
                *self.settle_reading(activity), now
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
        return ended, ({"unsettled": watch.reason} if may_settle and ended == "deadline" else {})

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
        pair_of = {n.name: n.pair for n in self.cluster.topology.nodes}
        reason = why_not_settled(
            statuses, consumers, pair_of, self.config.destinations, self.cluster.missing_bridges(statuses)
        )
        return read(statuses, consumers, self.config.destinations, activity), reason

    def brokers_hold_nothing(self) -> bool:
        """Every pair has a live node, each answers JMX, and none holds a message of the workload's queues."""
        statuses = self.cluster.status(bridges=False)
        live = [s for s in statuses if s.state == "live"]
        if any(s.state not in ("live", *STANDBY_STATES, "down") for s in statuses):
            return False  # starting, frozen, stopping: may hold messages nobody can read now
        if {self.cluster.topology.node(s.node).pair for s in live} != set(self.cluster.topology.pairs):
            return False
        for status in live:
            if status.error:
                return False
            for queue in self.config.destinations:
                stats = status.queue(queue)
                if stats is not None and stats.size > 0:
                    return False
        return True
