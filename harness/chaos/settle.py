"""When a drain may end before its deadline with messages still on the brokers: none of them can move any more.

A broker dispatches a queue's messages when something wakes the queue (a message arrives, a subscription comes
or goes, an ack or a redelivery) to every subscription with room whose filter accepts them. A message held
where the only subscriptions are bridges', with nothing in flight and every bridge with room, is one every
bridge's filter has refused. The seed's filter (ActiveMQ's NetworkBridgeFilter) judges by the message's broker
path and hop count and by the subscription, none of which changes with time: only a new subscription could
take the message, and that needs a consumer to arrive somewhere, which the workload does not do while every
consumer holds its subscription, the producers have stopped and no fault is in force.

Hence a run is settled when two readings at least `SETTLE_SECONDS` apart are equal and each shows: every pair
with a live node and no node starting, stopping or frozen; every live node read in full; every bridge the
design promises between the live nodes up (a bridge that is reconnecting brings its subscriptions back with
it, and those may take what is held); on the workload's queues nothing in flight, and wherever a queue holds
messages, at least one subscription and only bridges', each with nothing dispatched; the workload's
deliveries and sessions unchanged. Equal readings rule out a message between two places (a forward, a
redelivery) that one reading alone could miss.

The caller applies it only where the filter has no clock: a design that replays messages to a broker without
consumers (conditionalNetworkBridgeFilterFactory, `replayDelay`) may take them later, and only where every
promised bridge direction passed its probe after the heal and no durable subscriber waits.

Durable subscribers have a rule of their own (`why_durable_may_move`), applied once every queue message is
delivered and off the brokers. A topic's store holds a message for each durable subscription it has not
reached. Such a message moves only to that subscription's consumer: a subscriber's subscription is active
only on the broker the subscriber is connected to, and a bridge's (named for the broker at its other end)
only while that broker is live and its bridge up. So a run is settled when two equal readings at least
`SETTLE_SECONDS` apart show the same healthy cluster as above, and every subscription still holding messages
(pending or dispatched) is inactive and either a subscriber's on a broker it is not connected to, or a
bridge's for a broker that is not live: neither can take anything until a subscriber moves or a standby
takes over, which no client and no fault does any more. durable-stuck then reads the same counts it would
read at the deadline.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass

from harness.cluster.backend import STANDBY_STATES
from harness.cluster.introspect import DurableSubscription, NodeStatus, QueueConsumer
from harness.design.catalog import Design

SETTLE_SECONDS = 2.0
# the brokers are read only once the workload has seen no delivery and no reconnect for this long
ACTIVITY_QUIET_SECONDS = 1.0
SETTLED = "settled"


def may_settle(design: Design, subscribers: int, bridges_carry: bool) -> bool:
    """Whether settling can end this run's drain: a bridge filter without a clock, every promised direction
    carried its probe, and no durable subscriber owed anything."""
    return bridges_carry and not design.replay_when_no_consumers and not subscribers


def durable_may_settle(subscribers: int, bridges_carry: bool) -> bool:
    """Whether durable subscriptions' leftovers can end this run's drain (`why_durable_may_move`): there are
    subscribers, and every promised bridge direction carried its probe."""
    return bridges_carry and subscribers > 0


@dataclass(frozen=True)
class Reading:
    """What the brokers and the workload showed at one moment, comparable with another reading."""

    states: tuple[tuple[str, str], ...]
    # (node, remote broker) of every bridge up
    bridges: tuple[tuple[str, str], ...]
    # (node, queue, size, enqueued, dequeued, dispatched, in flight)
    queues: tuple[tuple[str, str, int, int, int, int, int], ...]
    # (node, queue, client id, network, dispatched) wherever the queue holds messages
    consumers: tuple[tuple[str, str, str, bool, int], ...]
    activity: Hashable
    # (node, durable subscription, pending, dispatched, active) wherever one holds messages
    durable: tuple[tuple[str, str, int, int, bool], ...] = ()

    def held(self) -> dict[str, int]:
        """Node -> messages it holds on the workload's queues, or for durable subscriptions."""
        held: dict[str, int] = {}
        for node, _queue, size, *_ in self.queues:
            if size:
                held[node] = held.get(node, 0) + size
        for node, _name, pending, dispatched, _active in self.durable:
            held[node] = held.get(node, 0) + pending + dispatched
        return held


def read(
    statuses: Iterable[NodeStatus],
    consumers: dict[str, list[QueueConsumer]],
    queues: Iterable[str],
    activity: Hashable,
) -> Reading:
    names = tuple(queues)
    rows = []
    for status in statuses:
        for queue in names:
            stats = status.queue(queue)
            if stats is not None:
                rows.append(
                    (
                        status.node,
                        queue,
                        stats.size,
                        stats.enqueued,
                        stats.dequeued,
                        stats.dispatched,
                        stats.in_flight,
                    )
                )
    return Reading(
        states=tuple(sorted((s.node, s.state) for s in statuses)),
        bridges=tuple(sorted({(s.node, b.remote) for s in statuses for b in s.bridges})),
        queues=tuple(sorted(rows)),
        consumers=tuple(
            sorted(
                (node, c.queue, c.client_id, c.network, c.dispatched)
                for node, found in consumers.items()
                for c in found
                if c.queue in names
            )
        ),
        activity=activity,
    )


def why_not_settled(
    statuses: list[NodeStatus],
    consumers: dict[str, list[QueueConsumer]],
    pair_of: dict[str, str],
    queues: Iterable[str],
    missing_bridges: Iterable[tuple[str, str]],
) -> str | None:
    """Why a held message may still move, or None when none can (consumers read for every node that holds
    messages; `missing_bridges`: promised (owner, remote) bridges not up)."""
    unsettled = why_cluster_unsettled(statuses, pair_of, missing_bridges)
    if unsettled:
        return unsettled
    live = [s for s in statuses if s.state == "live"]
    names = tuple(queues)
    for status in live:
        for queue in names:
            stats = status.queue(queue)
            if stats is None or (stats.size == 0 and stats.in_flight == 0):
                continue
            if stats.in_flight:
                return f"{stats.in_flight} in flight on {status.node} {queue}"
            if status.node not in consumers:
                return f"consumers of {status.node} not read"
            subscriptions = [c for c in consumers[status.node] if c.queue == queue]
            if not subscriptions:  # demand not propagated yet: a bridge's subscription may still come
                return f"{status.node} {queue} holds messages with no subscription"
            for consumer in subscriptions:
                if not consumer.network:
                    return f"{status.node} {queue} holds messages beside a client's subscription"
                if consumer.dispatched:
                    return f"a bridge holds {consumer.dispatched} from {status.node} {queue}"
    return None


def why_cluster_unsettled(
    statuses: list[NodeStatus], pair_of: dict[str, str], missing_bridges: Iterable[tuple[str, str]]
) -> str | None:
    """Why the cluster may still move a message whatever it holds: a node between states, a pair without a
    live node, a live node unreadable, a promised bridge not up (it brings its subscriptions back with it)."""
    live = [s for s in statuses if s.state == "live"]
    for status in statuses:
        if status.state not in ("live", *STANDBY_STATES, "down"):
            return f"{status.node} is {status.state}"
    missing = set(pair_of.values()) - {pair_of[s.node] for s in live}
    if missing:
        return f"no live node in {', '.join(sorted(missing))}"
    for status in live:
        if status.error:
            return f"{status.node} unreadable: {status.error}"
    down = sorted(missing_bridges)
    if down:
        return "bridge " + ", ".join(f"{owner}->{remote}" for owner, remote in down) + " not up"
    return None


def why_durable_may_move(
    states: dict[str, str], subscriptions: dict[str, list[DurableSubscription]], subscribed_at: dict[str, str]
) -> str | None:
    """Why a message held for a durable subscription may still reach a consumer, or None when none can.

    `subscriptions`: live node -> its durable subscriptions to the workload's topic; `subscribed_at`:
    subscriber -> the broker its live subscription is on."""
    for node, found in sorted(subscriptions.items()):
        for sub in sorted(found, key=lambda s: s.name):
            held = sub.pending + sub.dispatched
            if held <= 0:
                continue
            if sub.active:
                return f"{node} holds {held} for {sub.name}, which is active"
            if sub.name.startswith("bridge:"):
                remote = sub.name.removeprefix("bridge:")
                if states.get(remote) == "live":
                    return f"{node} holds {held} for its bridge to {remote}, which is live"
            elif sub.name not in subscribed_at:
                return f"{sub.name} is not subscribed anywhere, and is owed {held} on {node}"
            elif subscribed_at[sub.name] == node:
                return f"{sub.name} is owed {held} on {node}, where it is subscribed"
    return None


class SettleWatch:
    """Settled once a reading that cannot move has stayed the same for `quiet` seconds."""

    def __init__(self, quiet: float | None = None) -> None:
        self.quiet = SETTLE_SECONDS if quiet is None else quiet
        self.reason = "not read yet"
        self._first: Reading | None = None
        self._since = 0.0

    def settled(self, reading: Reading | None, reason: str | None, now: float) -> bool:
        if reading is None or reason is not None:
            self.reason = reason or "not read"
            self._first = None
            return False
        if reading != self._first:
            self._first, self._since = reading, now
            self.reason = "changed"
            return False
        return now - self._since >= self.quiet

    def held(self) -> dict[str, int]:
        """Node -> messages held, in the reading that settled (or the last one that could)."""
        return self._first.held() if self._first else {}
