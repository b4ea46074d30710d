"""What every checker returns and reads: a verdict with its evidence, and the cluster's final state.

Kept apart from the checkers so that a checker module of its own (harness.check.durable) can use them without
importing the registry that lists it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

EVIDENCE_LIMIT = 50  # ids quoted per verdict; counts are always complete


@dataclass
class FinalState:
    """What the cluster held once the drain deadline passed, read by introspection.

    `unreadable` names every node that is or may be live but could not be read in full (frozen, starting,
    a failed JMX query, a browse that returned fewer messages than the queue holds), with the size of the
    workload queue there when that much was read.
    """

    queues: dict[str, dict[str, int]] = field(default_factory=dict)  # broker -> workload queue -> size
    messages: dict[str, list[str]] = field(default_factory=dict)  # broker -> ids browsed there
    unreadable: dict[str, int | None] = field(default_factory=dict)  # node -> queue size if known
    reasons: dict[str, str] = field(default_factory=dict)  # node -> why it is unreadable
    # broker -> ids on its dead-letter queue: still lost to the consumers, but the evidence says where
    dead_letters: dict[str, list[str]] = field(default_factory=dict)
    # broker -> durable subscription of the workload's topic (the subscriber's name, or a bridge's client
    # id) -> messages pending for it there
    durable: dict[str, dict[str, int]] = field(default_factory=dict)
    # broker -> durable subscription (named as in `durable`) -> the id of every message pending for it there,
    # or dispatched to it and not acknowledged (harness.cluster.introspect.read_durable): all of them unless
    # `durable_unread` names the subscription. A broker missing here had its ids never read (a final state
    # from before they were): only a count of 0 says what its subscriptions hold
    durable_ids: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    # broker -> every id its topic store holds, where those could not be split among the several
    # subscriptions holding them (JMX browses a topic's store, not one subscription), each named in
    # `durable_unread`: an id not here is held for none of them, one here may be held for any
    durable_held: dict[str, list[str]] = field(default_factory=dict)
    # broker -> durable subscription -> what its counts said it held beyond the topic's store, taken off its
    # count in `durable` (harness.cluster.introspect.DurableReading.phantom: AMQ-9435)
    durable_phantom: dict[str, dict[str, int]] = field(default_factory=dict)
    # broker -> durable subscription -> why its ids are not in `durable_ids`, or not all of them
    durable_unread: dict[str, dict[str, str]] = field(default_factory=dict)
    # node -> its life-cycle state when the final state was read (live, waiting, down, frozen, ...): a pair
    # with two live nodes at the end is a finding of its own (`one-live`); empty when not read
    states: dict[str, str] = field(default_factory=dict)

    def stuck_counts(self) -> dict[str, dict[str, int]]:
        return {
            broker: {queue: size for queue, size in queues.items() if size > 0}
            for broker, queues in self.queues.items()
            if any(size > 0 for size in queues.values())
        }

    def located(self) -> dict[str, list[str]]:
        """id -> every broker a copy of it was browsed on."""
        where: dict[str, list[str]] = {}
        for broker, ids in self.messages.items():
            for message_id in ids:
                where.setdefault(message_id, []).append(broker)
        return where


@dataclass
class Verdict:
    checker: str
    valid: bool | None
    counts: dict[str, int] = field(default_factory=dict)
    evidence: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    # a violation whose every witness shows the mechanism a design may declare (harness.check.registry)
    explained: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "checker": self.checker,
            "valid": self.valid,
            "counts": self.counts,
            "evidence": self.evidence,
            "note": self.note,
            "explained": self.explained,
        }

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> Verdict:
        return cls(
            record["checker"],
            record["valid"],
            record["counts"],
            record["evidence"],
            record["note"],
            record.get("explained", False),
        )


def sample_ids(ids: Iterable[str]) -> list[str]:
    return sorted(ids, key=id_order)[:EVIDENCE_LIMIT]


def id_order(message_id: str) -> tuple[str, int]:
    producer, _, seq = message_id.rpartition("-")
    return (producer, int(seq)) if seq.isdigit() else (message_id, 0)
