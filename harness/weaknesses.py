"""Violations a design is known to show, per property, with the reason and the fix: what scenarios and soaks
declare so that a known weakness is counted and explained rather than failing every run.

Whether a given seed shows them depends on where the VIP placed the clients; "expected, not seen" is not a
failure.
"""

from __future__ import annotations

STRANDED = (
    "messages forwarded to a master stay there once its consumers move to the other master: a bridge never "
    "sends a message back toward a broker on its path (fixed in hardened by conditionalNetworkBridgeFilterFactory "
    "replayWhenNoConsumers)"
)
REDELIVERED = (
    "at-least-once delivery: an ack or a forward in flight when a broker goes away is lost with it, and the "
    "message is delivered again (redelivered:true); no broker setting makes STOMP client acks exactly-once, so "
    "both designs declare it; counted, never hidden"
)
UNREACHABLE = (
    "once each pair's slave holds its store (both masters failed over, which a soak's random faults reach), no "
    "node the VIP routes to has a client connector: clients cannot connect until a master takes its store back "
    "(fixed in hardened by client connectors on every node and the VIP over all four)"
)
SEED_WEAKNESSES = {
    "seed": {"stuck": STRANDED, "duplicated": REDELIVERED, "available": UNREACHABLE},
    "hardened": {"duplicated": REDELIVERED},
}
