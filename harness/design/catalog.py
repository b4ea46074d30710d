"""Configurations of the topology that a run can render: the seed design as written, the hardened one, and
variants for negative controls.

DESIGN selects a public design. Variants whose name starts with "control-" exist for negative controls (a
deliberately broken cluster that a checker must catch) and are not offered to users.

What `hardened` changes, and why (ActiveMQ documentation and source, checked on 5.17.2 where marked in
docs/designs.md):
- `conditionalNetworkBridgeFilterFactory replayWhenNoConsumers`: a bridge never forwards a message back
  toward a broker already on its path, so messages forwarded to a master stay there when its consumers move to
  the other master (the seed strands them). With replay they flow back.
- `expireMessagesPeriod` 1 s on queues (default 30 s): a replay is refused while the message arrived less
  than `replayDelay` ago, and an idle queue tries again only at its next expiry scan. A consumer that leaves a
  broker within 500 ms of messages being forwarded to it (a client dropped by an isolation, a freeze) left
  them there for up to 30 s: seen as 25 s `prompt` failures in isolate-master (SEED=80667038) and 20-25 s
  drains; by hand on 5.17.2, 27 s, and 1.0 s with the 1 s scan.
- `lockAcquireSleepInterval` 500 ms (default 10 s) and `lockKeepAlivePeriod` 500 ms: the waiting node takes
  over in about 1.3 s, and a master that lost its lock stops instead of serving on. A slave that gets the lock
  after waiting first sleeps one keep-alive period (ActiveMQ's SharedFileLocker: so that a holder that lost
  the lock notices before the new one serves), which at 2 s was most of the takeover (2.6 s measured).
- `maxInactivityDuration` 5 s on bridges (default 30 s): a frozen or silently partitioned peer is dropped in
  seconds and the bridge is rebuilt, instead of staying "connected" and passing nothing for 30 s.
- one duplex bridge between the pairs (pair 01's nodes run the connector, pair 02's accept it) instead of one
  from each master: a consumer is one network consumer, not two competing ones.
- every node has client connectors and advertises itself; the VIP balances over all four (a waiting node
  refuses connections, so the VIP's check keeps it out until it takes over). A slave that took over is then
  reachable by clients and by the other pair's bridge, instead of only draining outward.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from harness.errors import HarnessError

if TYPE_CHECKING:
    from harness.design.topology import Node


@dataclass(frozen=True)
class Design:
    name: str
    # the seed slave's non-duplex connector that drains a taken-over store to the other pair's master
    slave_drain_connector: bool = True
    # slaves get the masters' transport connectors (serve clients, advertise) once they hold the lock
    slave_client_connectors: bool = False
    # only the first pair's nodes run a (duplex) network connector; the other pairs accept it
    single_duplex_bridge: bool = False
    replay_when_no_consumers: bool = False
    # a queue with nothing arriving is re-examined (and its refused replays retried) only by its expiry scan:
    # ActiveMQ's expireMessagesPeriod, 30 s unless set
    queue_rescan_ms: int | None = None
    lock_acquire_sleep_ms: int | None = None
    lock_keepalive_ms: int | None = None
    bridge_inactivity_ms: int | None = None
    vip_over_all_nodes: bool = False
    # a store that cannot write (full) stops the broker's connectors until a checkpoint succeeds again,
    # instead of stopping the broker (defaultIOExceptionHandler stopStartConnectors)
    store_trouble_pauses_connectors: bool = False
    # a queue message is dispatched only once stored (kahaDB concurrentStoreAndDispatchQueues="false"): a send
    # the store refused is never delivered
    store_before_dispatch: bool = False
    # the seed post's own pairs, ActiveMQ before 5.8 only: each node its own store, the slave replicating
    # through a masterConnector to the master's port 61618, the master waiting for it (waitForSlave)
    pure_master_slave: bool = False
    # `available`'s limit: the longest no send may be acknowledged, from the design's measured takeover
    # (docs/designs.md, "How long the cluster may be unavailable"): the lock retry, the VIP's drop-out, a receipt timeout and the clients' back-off
    unavailable_after: float = 30.0

    def serves_clients(self, node: Node) -> bool:
        """Has the openwire (advertised) and STOMP transport connectors."""
        return node.is_master or self.slave_client_connectors

    def advertises(self, node: Node) -> bool:
        return self.serves_clients(node)

    def has_network_connector(self, node: Node, first_pair: str) -> bool:
        if self.single_duplex_bridge:
            return node.pair == first_pair
        return node.is_master or self.slave_drain_connector

    def duplex(self, node: Node) -> bool:
        return self.single_duplex_bridge or node.is_master


DESIGNS: dict[str, Design] = {
    "seed": Design("seed"),
    "hardened": Design(
        "hardened",
        slave_client_connectors=True,
        single_duplex_bridge=True,
        replay_when_no_consumers=True,
        queue_rescan_ms=1000,
        lock_acquire_sleep_ms=500,
        lock_keepalive_ms=500,
        bridge_inactivity_ms=5000,
        vip_over_all_nodes=True,
        store_trouble_pauses_connectors=True,
        store_before_dispatch=True,
        unavailable_after=15.0,
    ),
    "pure-master-slave": Design("pure-master-slave", pure_master_slave=True),
    "control-no-slave-drain": Design("control-no-slave-drain", slave_drain_connector=False),
}
# hardened with the default-length lock retry stretched: a takeover slower than hardened's limit
DESIGNS["control-slow-takeover"] = dataclasses.replace(
    DESIGNS["hardened"], name="control-slow-takeover", lock_acquire_sleep_ms=3_600_000
)
PUBLIC = tuple(name for name in DESIGNS if not name.startswith("control-"))


def design(name: str) -> Design:
    if name not in DESIGNS:
        raise HarnessError(f"unknown design {name!r}: choose one of {', '.join(PUBLIC)}")
    return DESIGNS[name]
