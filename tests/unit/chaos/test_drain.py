"""The drain ends early only when nothing the checkers read can change: the workload's counts and every live
broker's queues, or messages held where they cannot move (fake cluster and workload; no Docker)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest

from harness.chaos import settle
from harness.chaos.drain import Drain
from harness.client.workload import WorkloadConfig
from harness.cluster.introspect import DurableSubscription, NodeStatus, QueueConsumer, QueueStats
from harness.design.catalog import DESIGNS
from harness.design.topology import Topology
from harness.errors import HarnessError

QUEUE = "chaos.drain"


def status(
    node: str, state: str, depth: int | None = 0, error: str | None = None, in_flight: int = 0
) -> NodeStatus:
    queues = [] if depth is None else [QueueStats(QUEUE, depth, depth, 0, 0, 0, depth, in_flight)]
    return NodeStatus(node=node, state=state, queues=queues, error=error)


def bridge(dispatched: int = 0) -> QueueConsumer:
    return QueueConsumer(QUEUE, "chaos-mq01-a-chaos_chaos-mq01-a_inbound_chaos-mq02-a", True, dispatched)


CLIENT = QueueConsumer(QUEUE, "ID:chaos-mq02-a-1", False, 0)


@dataclass
class FakeCluster:
    """Statuses to return, one list per call (the last one repeats)."""

    answers: list[list[NodeStatus]]
    topology: Topology = field(default_factory=Topology)
    calls: int = 0
    # node -> its queues' subscriptions; a node missing here cannot be read
    consumers: dict[str, list[QueueConsumer]] = field(default_factory=dict)
    consumer_reads: int = 0
    # promised (owner, remote) bridges that are not up
    bridges_down: set[tuple[str, str]] = field(default_factory=set)
    # live node -> durable subscription -> messages pending for it (inactive, unless "active:" prefixes
    # the name); a node missing here cannot be read
    pending: dict[str, dict[str, int]] = field(default_factory=dict)
    durable_reads: int = 0

    def status(self, *, queues: bool = True, bridges: bool = True) -> list[NodeStatus]:
        assert queues  # the drain always reads depths; settling reads the bridges too
        self.calls += 1
        return self.answers[min(self.calls, len(self.answers)) - 1]

    def missing_bridges(self, statuses: list[NodeStatus]) -> set[tuple[str, str]]:
        return self.bridges_down

    def durable_subscriptions(self, node: str, topic: str) -> list[DurableSubscription]:
        self.durable_reads += 1
        if node not in self.pending:
            raise HarnessError(f"JMX subscription query failed on {node}")
        return [
            DurableSubscription("", name.removeprefix("active:"), n, 0, name.startswith("active:"))
            for name, n in self.pending[node].items()
        ]

    def queue_consumers(self, node: str) -> list[QueueConsumer]:
        self.consumer_reads += 1
        if node not in self.consumers:
            raise HarnessError(f"JMX consumer query failed on {node}")
        return self.consumers[node]


def healthy(depth_01: int = 0, depth_02: int = 0) -> list[NodeStatus]:
    return [
        status("chaos-mq01-a", "live", depth_01),
        status("chaos-mq01-b", "waiting", None),
        status("chaos-mq02-a", "live", depth_02),
        status("chaos-mq02-b", "waiting", None),
    ]


def drain_run(
    cluster: FakeCluster,
    undelivered: list[int],
    timeout: float = 3.0,
    activity: list[int] | None = None,
    durable_owed: int = 0,
    subscribed_at: dict[str, str] | None = None,
) -> Drain:
    """A drain over a stand-in cluster and a workload that reports `undelivered` queue messages, then its
    last count, and `durable_owed` messages its durable subscribers (at `subscribed_at`) are owed."""
    counts = iter(undelivered)
    last = [undelivered[-1]]

    def left() -> tuple[int, int]:
        last[0] = next(counts, last[0])
        return last[0], durable_owed

    deliveries = iter(activity or [])
    final = (activity or [0])[-1]
    workload = SimpleNamespace(
        undelivered_by_kind=left,
        consumers_subscribed=lambda: True,
        activity=lambda: next(deliveries, final),
        subscribed_at=lambda: dict(subscribed_at or {}),
    )
    return Drain(cluster, workload, WorkloadConfig(queue=QUEUE), timeout)  # type: ignore[arg-type]


def timed_drain(drain: Drain, may_settle: bool = False) -> float:
    started = time.monotonic()
    drain.ended = drain.run(may_settle=may_settle)  # type: ignore[attr-defined]
    return time.monotonic() - started


@pytest.fixture
def quick_settle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settle, "SETTLE_SECONDS", 0.4)
    monkeypatch.setattr(settle, "ACTIVITY_QUIET_SECONDS", 0.2)


def test_counted_delivered_with_a_copy_still_on_a_broker_waits_for_the_copy() -> None:
    # every message counted delivered, but a copy whose ack died with its session is still on pair 01
    cluster = FakeCluster([healthy(depth_01=1), healthy(depth_01=1), healthy()])
    timed_drain(drain_run(cluster, [0], timeout=30))
    assert cluster.calls == 3  # it ended once the copy was gone, not at the deadline


def test_the_brokers_are_not_asked_while_the_counts_say_messages_are_owed() -> None:
    cluster = FakeCluster([healthy()])
    timed_drain(drain_run(cluster, [3, 2, 1, 0], timeout=30))
    assert cluster.calls == 1


def test_a_message_that_never_leaves_a_broker_waits_out_the_deadline() -> None:
    cluster = FakeCluster([healthy(depth_02=4)])
    assert timed_drain(drain_run(cluster, [0], timeout=1.5)) >= 1.5


def test_brokers_that_cannot_be_read_hold_messages_as_far_as_the_drain_knows() -> None:
    run = drain_run(FakeCluster([]), [0])
    for statuses in (
        [*healthy()[:2], status("chaos-mq02-a", "live", 0, error="JMX queue query failed"), healthy()[3]],
        [*healthy()[:2], status("chaos-mq02-a", "frozen", None), healthy()[3]],
        [*healthy()[:2], status("chaos-mq02-a", "down", None), status("chaos-mq02-b", "down", None)],
        [*healthy()[:2], status("chaos-mq02-a", "starting", None), healthy()[3]],
    ):
        run.cluster = FakeCluster([statuses])
        assert run.what_brokers_hold() is not None, statuses
    run.cluster = FakeCluster([healthy()])
    assert run.what_brokers_hold() is None
    # a queue the broker does not have yet holds nothing
    run.cluster = FakeCluster([[status(s.node, s.state, None) for s in healthy()]])
    assert run.what_brokers_hold() is None


# --------------------------------------------------------------------------------------------- settling
def stranded(depth: int = 4, **kwargs: object) -> list[NodeStatus]:
    """Pair 02's master holds messages that came from pair 01; its consumers are on pair 01."""
    statuses = healthy()
    statuses[2] = status("chaos-mq02-a", "live", depth, **kwargs)  # type: ignore[arg-type]
    return statuses


def settle_drain(
    cluster: FakeCluster, timeout: float = 4.0, **kwargs: object
) -> tuple[float, SimpleNamespace]:
    run = drain_run(cluster, [4], timeout=timeout, **kwargs)  # type: ignore[arg-type]
    return timed_drain(run, may_settle=True), run


def test_messages_only_bridges_could_take_and_refused_end_the_drain_as_settled(quick_settle: None) -> None:
    cluster = FakeCluster([stranded()], consumers={"chaos-mq02-a": [bridge(), bridge()]})
    seconds, run = settle_drain(cluster, timeout=30)
    assert run.ended == ("settled", {"held": {"chaos-mq02-a": 4}})
    assert seconds < 5
    assert cluster.calls >= 2  # two equal readings, never one


def test_without_leave_to_settle_held_messages_wait_out_the_deadline(quick_settle: None) -> None:
    # hardened's replay (a filter with a clock), a bridge that failed its probe, a durable subscriber
    cluster = FakeCluster([stranded()], consumers={"chaos-mq02-a": [bridge()]})
    run = drain_run(cluster, [4], timeout=1.5)
    assert timed_drain(run, may_settle=False) >= 1.5
    assert run.ended == ("deadline", {"waiting_for": "4 acknowledged messages consumers are owed"})
    assert cluster.consumer_reads == 0


@pytest.mark.parametrize(
    ("statuses", "consumers", "reason"),
    [
        (stranded(), [bridge(), CLIENT], "beside a client's subscription"),
        (stranded(), [], "holds messages with no subscription"),
        (stranded(in_flight=2), [bridge(dispatched=2)], "2 in flight on chaos-mq02-a"),
        (stranded(), [bridge(dispatched=1)], "a bridge holds 1"),
        (stranded(), None, "consumers of chaos-mq02-a unreadable"),
        (stranded(error="JMX queue query failed"), [bridge()], "chaos-mq02-a unreadable"),
        ([*stranded()[:3], status("chaos-mq02-b", "starting", None)], [bridge()], "chaos-mq02-b is starting"),
        (
            [*stranded()[:2], status("chaos-mq02-a", "down", None), status("chaos-mq02-b", "waiting", None)],
            [bridge()],
            "no live node in 02",
        ),
    ],
)
def test_messages_that_may_still_move_wait_out_the_deadline(
    quick_settle: None, statuses: list[NodeStatus], consumers: list[QueueConsumer] | None, reason: str
) -> None:
    cluster = FakeCluster([statuses], consumers={} if consumers is None else {"chaos-mq02-a": consumers})
    seconds, run = settle_drain(cluster, timeout=0.8)
    assert seconds >= 0.8
    ended, detail = run.ended
    assert ended == "deadline"
    assert reason in detail["unsettled"]


def test_a_promised_bridge_that_is_not_up_may_still_take_what_is_held(quick_settle: None) -> None:
    # a reconnecting bridge brings its subscriptions back with it
    cluster = FakeCluster(
        [stranded()],
        consumers={"chaos-mq02-a": [bridge()]},
        bridges_down={("chaos-mq01-a", "chaos-mq02-a")},
    )
    seconds, run = settle_drain(cluster, timeout=0.8)
    assert seconds >= 0.8
    assert (
        run.ended[0] == "deadline" and run.ended[1]["unsettled"] == "bridge chaos-mq01-a->chaos-mq02-a not up"
    )


def test_held_messages_still_moving_settle_only_once_they_stop(quick_settle: None) -> None:
    # a bridge forwarding one message per reading: each reading differs from the last until the queue stops
    cluster = FakeCluster(
        [stranded(9), stranded(8), stranded(7), stranded(6)], consumers={"chaos-mq02-a": [bridge()]}
    )
    _, run = settle_drain(cluster, timeout=30)
    assert run.ended == ("settled", {"held": {"chaos-mq02-a": 6}})
    assert cluster.calls >= 5  # the fourth reading, then one equal to it


def test_brokers_are_not_read_while_the_workload_still_sees_deliveries(quick_settle: None) -> None:
    cluster = FakeCluster([stranded()], consumers={"chaos-mq02-a": [bridge()]})
    _, run = settle_drain(cluster, timeout=1.0, activity=list(range(10_000)))
    assert run.ended[0] == "deadline"
    assert cluster.calls == 0 and cluster.consumer_reads == 0


def test_settling_is_allowed_only_where_nothing_held_can_move_later() -> None:
    assert settle.may_settle(DESIGNS["seed"], subscribers=0, bridges_carry=True)
    assert not settle.may_settle(DESIGNS["hardened"], subscribers=0, bridges_carry=True)  # replayDelay
    assert not settle.may_settle(DESIGNS["seed"], subscribers=0, bridges_carry=False)
    assert not settle.may_settle(DESIGNS["seed"], subscribers=2, bridges_carry=True)


# ------------------------------------------------------------------------------------- durable subscribers
# subscriber-0 and subscriber-1 moved to chaos-mq01-a's partner after a takeover; chaos-mq02-a's store still
# holds what it had not forwarded to chaos-mq01-a, for that bridge's durable subscription
SUBSCRIBED_AT = {"subscriber-0": "chaos-mq01-b", "subscriber-1": "chaos-mq01-b"}


def after_takeover() -> list[NodeStatus]:
    return [
        status("chaos-mq01-a", "waiting", None),
        status("chaos-mq01-b", "live", 0),
        status("chaos-mq02-a", "live", 0),
        status("chaos-mq02-b", "waiting", None),
    ]


def durable_drain(
    cluster: FakeCluster, timeout: float, subscribed_at: dict[str, str] = SUBSCRIBED_AT, queue_owed: int = 0
) -> tuple[float, Drain]:
    run = drain_run(cluster, [queue_owed], timeout=timeout, durable_owed=238, subscribed_at=subscribed_at)
    started = time.monotonic()
    run.ended = run.run(durable_may_settle=True)  # type: ignore[attr-defined]
    return time.monotonic() - started, run


def test_what_only_a_dead_bridge_or_an_absent_subscriber_could_take_settles(quick_settle: None) -> None:
    cluster = FakeCluster(
        [after_takeover()],
        pending={
            "chaos-mq01-b": {"subscriber-0": 0, "subscriber-1": 0},
            # the old master's bridge subscription, and a copy left where subscriber-1 once was
            "chaos-mq02-a": {"bridge:chaos-mq01-a": 119, "bridge:chaos-mq01-b": 0, "subscriber-1": 3},
        },
    )
    seconds, run = durable_drain(cluster, timeout=30)
    assert seconds < 5
    assert run.ended == ("settled", {"held": {"chaos-mq02-a": 122}})  # type: ignore[attr-defined]
    assert cluster.durable_reads >= 4  # two equal readings of both live nodes


@pytest.mark.parametrize(
    ("statuses", "pending", "subscribed_at", "reason"),
    [
        # a bridge whose other end is live forwards what its subscription holds
        (
            after_takeover(),
            {"chaos-mq01-b": {}, "chaos-mq02-a": {"bridge:chaos-mq01-b": 5}},
            SUBSCRIBED_AT,
            "chaos-mq02-a holds 5 for its bridge to chaos-mq01-b, which is live",
        ),
        # the bug a broker could have: messages owed to a subscriber where it is subscribed, never dispatched
        (
            after_takeover(),
            {"chaos-mq01-b": {"subscriber-0": 4}, "chaos-mq02-a": {}},
            SUBSCRIBED_AT,
            "subscriber-0 is owed 4 on chaos-mq01-b, where it is subscribed",
        ),
        (
            after_takeover(),
            {"chaos-mq01-b": {}, "chaos-mq02-a": {"subscriber-1": 2}},
            {"subscriber-0": "chaos-mq01-b"},
            "subscriber-1 is not subscribed anywhere",
        ),
        (
            after_takeover(),
            {"chaos-mq01-b": {}},
            SUBSCRIBED_AT,
            "durable subscriptions of chaos-mq02-a unreadable",
        ),
        (
            [*after_takeover()[:3], status("chaos-mq02-b", "starting", None)],
            {"chaos-mq01-b": {}, "chaos-mq02-a": {"bridge:chaos-mq01-a": 119}},
            SUBSCRIBED_AT,
            "chaos-mq02-b is starting",
        ),
    ],
)
def test_durable_messages_that_may_still_move_wait_out_the_deadline(
    quick_settle: None,
    statuses: list[NodeStatus],
    pending: dict[str, dict[str, int]],
    subscribed_at: dict[str, str],
    reason: str,
) -> None:
    seconds, run = durable_drain(
        FakeCluster([statuses], pending=pending), timeout=0.8, subscribed_at=subscribed_at
    )
    assert seconds >= 0.8
    ended, detail = run.ended  # type: ignore[attr-defined]
    assert ended == "deadline" and reason in f"{detail['waiting_for']} {detail['unsettled']}", detail


def test_durable_leftovers_are_not_read_while_queue_messages_are_owed(quick_settle: None) -> None:
    cluster = FakeCluster([after_takeover()], pending={"chaos-mq01-b": {}, "chaos-mq02-a": {}})
    _, run = durable_drain(cluster, timeout=0.8, queue_owed=3)
    assert run.ended == (
        "deadline",
        {"waiting_for": "3 acknowledged messages consumers are owed", "unsettled": "not read yet"},
    )  # type: ignore[attr-defined]
    assert cluster.calls == 0 and cluster.durable_reads == 0


def test_without_leave_to_settle_durable_leftovers_wait_out_the_deadline(quick_settle: None) -> None:
    cluster = FakeCluster([after_takeover()], pending={"chaos-mq02-a": {"bridge:chaos-mq01-a": 119}})
    run = drain_run(cluster, [0], timeout=0.8, durable_owed=238, subscribed_at=SUBSCRIBED_AT)
    assert run.run() == ("deadline", {"waiting_for": "238 messages durable subscribers are owed"})
    assert cluster.durable_reads == 0


def test_durable_leftovers_may_settle_only_with_subscribers_and_every_bridge_probed() -> None:
    assert settle.durable_may_settle(subscribers=2, bridges_carry=True)
    assert not settle.durable_may_settle(subscribers=0, bridges_carry=True)
    assert not settle.durable_may_settle(subscribers=2, bridges_carry=False)
