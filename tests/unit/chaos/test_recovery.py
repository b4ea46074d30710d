"""A failed recovery records where the cluster stands (every node's state, where the VIP routes a client),
the evidence that tells a design's own mechanism (pure master/slave's missing fail-back) from a bug."""

from __future__ import annotations

from typing import Any, ClassVar

from harness.chaos.recovery import Recovery
from harness.check.facts import RunFacts
from harness.cluster.introspect import NodeStatus

A1, B1, A2, B2 = "chaos-mq01-a", "chaos-mq01-b", "chaos-mq02-a", "chaos-mq02-b"
PAIR = {A1: "01", B1: "01", A2: "02", B2: "02"}


class TookOverForGood:
    """A pure master/slave pair after its master's kill and restart: the slave live, the master starting
    (blocked waiting for a slave), the VIP routing a client to that master."""

    states: ClassVar[dict[str, str]] = {A1: "starting", B1: "live", A2: "live", B2: "replicating"}

    def pair_status(self) -> list[NodeStatus]:
        return [
            NodeStatus(node, state, serves_stomp=node in (A1, B1, A2)) for node, state in self.states.items()
        ]

    def status(self, queues: bool = True) -> list[NodeStatus]:
        return self.pair_status()

    def pair_problems(self, statuses: list[NodeStatus]) -> list[str]:
        return ["pair 01 is live/starting (want live/replicating)"]

    def missing_bridges(self, statuses: list[NodeStatus]) -> set[tuple[str, str]]:
        return set()

    def vip_routes_to(self) -> str:
        return A1


def test_a_failed_recovery_records_every_node_state_and_the_vip_route() -> None:
    recorded: list[tuple[str, dict[str, Any]]] = []
    recovery = Recovery(
        cluster=TookOverForGood(),  # type: ignore[arg-type]
        facts=RunFacts(pairs=PAIR, vip_routes=(A1, A2), client_nodes=(A1, A2), masters=(A1, A2)),
        nemesis=None,  # type: ignore[arg-type]
        phase=lambda name, **value: recorded.append((name, value)),
        await_takeover=lambda victim, timeout=0: "",
        timeout=0.3,
    )
    assert recovery.recover() is None
    [(name, value)] = recorded
    assert name == "not-recovered" and value["problems"] == ["pairs", "vip"]
    assert value["states"] == TookOverForGood.states and value["routed"] == A1
