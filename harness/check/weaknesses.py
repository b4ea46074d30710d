"""Violations a design is known to show, per property, with the mechanism and the fix: what scenarios and
soaks declare so that a known weakness is counted and explained rather than failing every run.

A declaration accepts a violation only when the checker found the mechanism in the history for every one of
its witnesses (`Verdict.explained`); a witness without it fails the run as if nothing were declared.
Whether a given seed shows them depends on where it placed the clients (harness.client.placement) and on
timing; "expected, not seen" is not a failure.
"""

from __future__ import annotations

from typing import Any

STRANDED = (
    "messages forwarded to a master stay there once its consumers move to the other master: a bridge never "
    "sends a message back toward a broker on its path. Accepted per message: it sits, after the drain, on a "
    "broker with no consumer left while consumers are elsewhere, it reached that broker over a bridge, and it "
    "was sent while a bridge could still see demand on that broker's pair: a consumer's session there that "
    "ended at most 5 s before (its broker's heart-beats notice, an advisory withdraws it), or before a fault on the pair ended (a frozen "
    "or cut-off broker withdraws nothing) (fixed in hardened by conditionalNetworkBridgeFilterFactory "
    "replayWhenNoConsumers)"
)
REDELIVERED = (
    "at-least-once delivery: an ack or a forward in flight when a broker or a connection goes away is lost "
    "with it, and the message comes again. Accepted per copy: the previous copy's ack was never confirmed "
    "when its session ended (each unconfirmed ack excuses one copy, from another session), or a fault on the "
    "message's path hit while the previous copy was in flight (delivered at most a second before it began) "
    "and the copy came within seconds of the path coming back (the fault's end, the bridges' measured "
    "reconnection, the copy's session), and no fault explains more copies than can be in flight on its "
    "path (per queue, the prefetch of each consumer on the fault's nodes + a bridge's prefetch); no broker "
    "setting makes STOMP client acks exactly-once, so both designs declare it"
)
UNREACHABLE = (
    "once each pair's slave holds its store (both masters failed over), no node the VIP routes to has a client "
    "connector: clients cannot connect until a master takes its store back. Accepted only while the sampler "
    "saw no VIP-routed node serving and read none of them live (or each under a fault in force), and a "
    "recovery that fails on the VIP alone (fixed in hardened by client connectors on every node and the VIP "
    "over all four)"
)
DURABLE_AWAY = (
    "a durable subscription lives on the broker where it was made, and a network does not move it: while its "
    "subscriber is connected to another broker, what is published for it waits where the subscription is "
    "(ActiveMQ's FAQ 'durable subscribers in a network of brokers'). Accepted per subscriber and broker: the "
    "messages pending there for it, at the drain deadline, when it was connected to another broker then. "
    "Both designs: while its pair fails over the VIP sends the subscriber to the other pair, where a second "
    "subscription of the same name is made and left behind. The same holds for a bridge's own durable "
    "subscription, which keeps what it was to forward while the broker at its other end is not live (a "
    "master that failed over). Use virtual topics for subscribers that move (ActiveMQ's answer)"
)
DURABLE_TWICE = (
    REDELIVERED
    + ". And a subscriber that holds durable subscriptions of the same name on both pairs (the VIP sent it to "
    "the other pair while its own failed over, and the first one stayed) is kept a copy of each message "
    "published meanwhile on each pair, so it gets one from each (seen on hardened, SEED=7 durable-topic). "
    "Accepted per copy: besides the mechanisms above, the two copies came from different pairs and the "
    "subscriber had confirmed a subscription on each pair before the message was published, one copy per pair"
)
SPLIT_BRAIN = (
    "a broker that never checks its lock (no lockKeepAlivePeriod) does not notice its lock file deleted: its "
    "partner locks a new file and goes live too, two live brokers on one KahaDB store, each serving clients "
    "and bridges, until an operator stops one. No check can excuse it (`one-live` fails, and the pair never "
    "recovers to one live node): make chaos skips the scenario on such a design and make bugs shows it (fixed in hardened by "
    "lockKeepAlivePeriod: the broker stops and restarts as the waiting node)"
)
BRIDGE_SILENT = (
    "a bridge keeps its connection to a frozen peer for the whole of a 45 s freeze (the default 30 s "
    "inactivity limit never fires: seen in 6 of 6 make bugs runs), and after the thaw it is torn down and "
    "rebuilt in a loop for a while: in 2 of 6 runs messages sent after the recovery took over 10 s (`prompt`), "
    "which nothing may excuse (fixed in hardened by maxInactivityDuration 5 s on the bridges)"
)
REFUSED_YET_DELIVERED = (
    "with concurrentStoreAndDispatchQueues (the default) a queue message is dispatched while it is being "
    "stored: when the store then fails (full), the producer gets an ERROR for a send whose message a consumer "
    "already has (seen on seed, store-full: `unexpected`, refused-but-delivered; fixed in hardened by storing "
    "before dispatch)"
)
ACK_REFUSED_HELD = (
    "an ack the store cannot write (full) is refused, and the broker keeps the message on the queue as if "
    "delivered: no later session, on that broker or across a bridge, is given it, after the store has room "
    "again or not, until the broker restarts (seen on both designs, store-full: `stuck`; by hand on 5.17.2: "
    "3 refused acks, queue size 3, a new consumer after the heal got none). No setting found prevents it"
)
DURABLE_GAP_LOST = (
    "with a duplex bridge from each master, every topic message reaches the other master twice, and KahaDB "
    "rejects the second add ('Duplicate message add attempt rejected', 81 times in a 3 s window); ActiveMQ "
    "before 5.17.7, 5.18.4 and 6.1.0 leaves a gap in the order index for each (AMQ-9435), which the durable "
    "subscriptions count as pending. After the subscribers' master is killed and its partner recovers the "
    "store, every message that was pending for an offline durable subscriber is in no store and is never "
    "delivered, while its subscription counts about 80 it does not hold (seen on seed, durable-topic, "
    "SEED=7 and SEED=1: exactly the messages published while a subscriber was away before the kill; "
    "docs/findings/2026-12-06-durable-topic-seed-gap). No declaration may excuse a loss (fixed in hardened by its one "
    "duplex bridge between the pairs: each message is forwarded once, no duplicate add, and the same "
    "subscribers get every such message from the partner)"
)
NO_FAIL_BACK = (
    "pure master/slave (5.5 to 5.7) takes over once: when a fault ends the master's process, its slave logs "
    "'Master Failed - starting all connectors' and serves from its copy of the store, and the master, started "
    "again, waits for a slave (waitForSlave) that never comes, its former slave being a master now. Only an "
    "operator brings the pair back: stop both, copy the store of the one that ran last, start master then "
    "slave (the seed post's restart script). Accepted only when every failed recovery shows exactly that: each "
    "pair either its master live and its slave replicating, or its slave live and its master `starting` "
    "after a kill, stop or restart of it, and no other problem than the pairs and a VIP that routes clients to "
    "such a master (its connectors open before it waits)"
)
# one fault on one pair: the other pair keeps serving, so unavailability has no excuse even on seed
SINGLE_FAULT = {
    "seed": {"stuck": STRANDED, "duplicated": REDELIVERED},
    "hardened": {"duplicated": REDELIVERED},
    # the seed design's broker settings on pure master/slave pairs (5.5 to 5.7)
    "pure-master-slave": {"stuck": STRANDED, "duplicated": REDELIVERED, "recovered": NO_FAIL_BACK},
}
# durable subscribers across a failover: what waits for them stays where their subscriptions are
DURABLE = {
    "seed": {**SINGLE_FAULT["seed"], "durable-stuck": DURABLE_AWAY, "durable-duplicated": DURABLE_TWICE},
    "hardened": {
        **SINGLE_FAULT["hardened"],
        "durable-stuck": DURABLE_AWAY,
        "durable-duplicated": DURABLE_TWICE,
    },
    "pure-master-slave": {
        **SINGLE_FAULT["pure-master-slave"],
        "durable-stuck": DURABLE_AWAY,
        "durable-duplicated": DURABLE_TWICE,
    },
}
# faults that can leave both pairs failed over (random chaos, rolling restarts, soaks)
SEED_WEAKNESSES = {
    "seed": {**SINGLE_FAULT["seed"], "available": UNREACHABLE, "recovered": UNREACHABLE},
    "hardened": {"duplicated": REDELIVERED},
    "pure-master-slave": {**SINGLE_FAULT["pure-master-slave"], "available": UNREACHABLE},
}
VOLATILE = (
    "non-persistent messages live only in the memory of the broker holding them (PERSISTENT=false): a broker "
    "whose process ends takes them with it. Accepted per message: a fault ended the process (kill, stop, "
    "restart) of a broker that could have held it, the one that receipted it or one a consumer was on between "
    "its receipt and the fault (where a bridge would forward it), after its receipt and before the drain "
    "deadline"
)


def declared_for_shape(declared: dict[str, str], shape: dict[str, Any]) -> dict[str, str]:
    """What a scenario declares for a design, plus what the workload's shape makes expected wherever there are
    faults: non-persistent messages lost with a broker's process, and durable subscribers' messages left
    where their subscriptions are (each still excused only by its own mechanism)."""
    added: dict[str, str] = {}
    if not shape.get("persistent", True):
        added["lost"] = VOLATILE
    if shape.get("subscribers"):
        added |= {"durable-stuck": DURABLE_AWAY, "durable-duplicated": DURABLE_TWICE}
    return {**added, **declared}
