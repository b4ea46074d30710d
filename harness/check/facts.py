"""What the checkers need to know about a run besides its events: the design's promises and the workload's
bounds, written into the history header so that a history is checked the same way wherever it is read.

Nothing here touches Docker; a run builds its facts from its settings, a test writes them literally.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# ActiveMQ's networkConnector prefetchSize default: what one bridge consumer can hold unacknowledged
BRIDGE_PREFETCH = 1000
# Minimum work (issue: an `ok` must mean the evidence was seen): acknowledged sends before the first fault and
# deliveries after the last heal. 100 each is one to two seconds of the default load (2 x 50 sends/s).
MIN_ACKNOWLEDGED_BEFORE_FAULT = 100
MIN_DELIVERED_AFTER_HEAL = 100
# Once the cluster is back in its promised state, a message crosses at most one bridge to a consumer that is
# subscribed: milliseconds here (the slowest seen in the clean runs of both designs was under a second). Ten
# seconds leaves room for a loaded 2-core machine and still catches a bridge that forwards at a crawl.
PROMPT_WITHIN = 10.0


@dataclass(frozen=True)
class RunFacts:
    pairs: dict[str, str] = field(default_factory=dict)  # node -> its pair ("01", "02")
    # nodes the VIP balances over, and nodes that have client connectors once they are live
    vip_routes: tuple[str, ...] = ()
    client_nodes: tuple[str, ...] = ()
    masters: tuple[str, ...] = ()  # each pair's configured master (its "a" node)
    # pure master/slave (5.5 to 5.7): a slave replicates its master's store and takes over once, with no
    # fail-back (harness.check.liveness, the no-fail-back mechanism)
    pure_master_slave: bool = False
    # directions (src, dst) a message can cross by a bridge, for every set of live nodes: computed by the run
    # from the design when it probes; kept here only as the design's name for the record
    design: str = ""
    queue: str = ""
    queues: int = 1  # the workload's messages are spread over this many queues
    persistent: bool = True
    consumers: int = 2
    subscribers: int = 0  # durable subscribers on the workload's topic
    prefetch: int = 20
    receipt_timeout: float = 5.0  # how long a producer waits for a send's receipt before it gives up on it
    bridge_prefetch: int = BRIDGE_PREFETCH
    # longest time no send may be acknowledged while the producers run, from the design's measured takeover
    unavailable_after: float = 60.0
    # longest a message acknowledged after the recovery may take to its first delivery (see PROMPT_WITHIN)
    prompt_within: float = PROMPT_WITHIN
    min_acknowledged_before_fault: int = MIN_ACKNOWLEDGED_BEFORE_FAULT
    min_delivered_after_heal: int = MIN_DELIVERED_AFTER_HEAL

    def to_json(self) -> dict[str, Any]:
        record = asdict(self)
        record["vip_routes"] = list(self.vip_routes)
        record["client_nodes"] = list(self.client_nodes)
        record["masters"] = list(self.masters)
        return record

    @classmethod
    def from_json(cls, record: dict[str, Any] | None) -> RunFacts:
        if not record:
            return cls()
        known = {k: v for k, v in record.items() if k in cls.__dataclass_fields__}
        known["vip_routes"] = tuple(known.get("vip_routes", ()))
        known["client_nodes"] = tuple(known.get("client_nodes", ()))
        known["masters"] = tuple(known.get("masters", ()))
        return cls(**known)

    def same_pair(self, a: str, b: str) -> bool:
        return a in self.pairs and self.pairs.get(a) == self.pairs.get(b)
