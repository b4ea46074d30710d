"""The drain ends early only when nothing the checkers read can change: the workload's counts and every live
broker's queues (fake cluster and workload; no Docker)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from types import SimpleNamespace

from harness.chaos.run import ChaosRun
from harness.client.workload import WorkloadConfig
from harness.cluster.introspect import NodeStatus, QueueStats
from harness.design.topology import Topology

QUEUE = "chaos.drain"


def status(node: str, state: str, depth: int | None = 0, error: str | None = None) -> NodeStatus:
    queues = [] if depth is None else [QueueStats(QUEUE, depth, 0, 0, 0, 0)]
    return NodeStatus(node=node, state=state, queues=queues, error=error)


@dataclass
class FakeCluster:
    """Statuses to return, one list per call (the last one repeats)."""

    answers: list[list[NodeStatus]]
    topology: Topology = field(default_factory=Topology)
    calls: int = 0

    def status(self, *, queues: bool = True, bridges: bool = True) -> list[NodeStatus]:
        assert queues and not bridges  # the drain asks for depths only
        self.calls += 1
        return self.answers[min(self.calls, len(self.answers)) - 1]


def healthy(depth_01: int = 0, depth_02: int = 0) -> list[NodeStatus]:
    return [
        status("chaos-mq01-a", "live", depth_01),
        status("chaos-mq01-b", "waiting", None),
        status("chaos-mq02-a", "live", depth_02),
        status("chaos-mq02-b", "waiting", None),
    ]


def drain_run(cluster: FakeCluster, undelivered: list[int], timeout: float = 3.0) -> SimpleNamespace:
    """Just what ChaosRun.drain and brokers_hold_nothing use of a run."""
    counts = iter(undelivered)
    last = [undelivered[-1]]

    def left() -> int:
        last[0] = next(counts, last[0])
        return last[0]

    run = SimpleNamespace(
        cluster=cluster,
        config=WorkloadConfig(queue=QUEUE),
        drain_timeout=timeout,
        workload=SimpleNamespace(undelivered=left, consumers_subscribed=lambda: True),
    )
    run.brokers_hold_nothing = lambda: ChaosRun.brokers_hold_nothing(run)  # type: ignore[arg-type]
    return run


def timed_drain(run: SimpleNamespace) -> float:
    started = time.monotonic()
    ChaosRun.drain(run)  # type: ignore[arg-type]
    return time.monotonic() - started


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
        assert ChaosRun.brokers_hold_nothing(run) is False, statuses  # type: ignore[arg-type]
    run.cluster = FakeCluster([healthy()])
    assert ChaosRun.brokers_hold_nothing(run) is True  # type: ignore[arg-type]
    # a queue the broker does not have yet holds nothing
    run.cluster = FakeCluster([[status(s.node, s.state, None) for s in healthy()]])
    assert ChaosRun.brokers_hold_nothing(run) is True  # type: ignore[arg-type]
