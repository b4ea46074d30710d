"""Durable topic subscriptions: every durable subscriber must receive every message published to the topic
while its subscription existed, including while it was disconnected (the broker keeps them for it).

The record (harness.client.workload): a publisher's `publish` events are a queue producer's `send`; a
subscriber's `subscribed` event comes once the broker confirmed its durable subscription (by receipt), each
`receive` names the subscription (`sub`), and its sessions end with the ids whose ack was never confirmed,
as a queue consumer's do. A subscription exists from its first confirmation to the end of the run (the
workload never destroys one), so a message is *owed* to a subscriber when its publish was acknowledged after
that first confirmation.

The final state reads each durable subscription's pending count on every live broker over JMX (ids cannot be
browsed there), so per subscriber: owed ids never received are `lost` beyond what is pending anywhere for it,
and anything pending, or received after the drain deadline, is `stuck`. A copy received twice is
`duplicated` unless the subscriber's earlier session ended with its ack unconfirmed, or a fault was in force
on its path between the copies, as for queues. A subscriber whose every owed message came counts; one owed
nothing, or a run without subscribers, decides nothing.
"""

from __future__ import annotations

import collections
import itertools
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness.check.verdict import EVIDENCE_LIMIT, FinalState, Verdict, sample_ids

if TYPE_CHECKING:
    from harness.check.checkers import Ledger

SUBSCRIBER = "subscriber"
BRIDGE = (
    "bridge:"  # the final state's name for a bridge's own durable subscription: bridge:<broker at its end>
)
SESSION_ENDS = frozenset({"disconnected", "session-end", "leave", "give-up"})


@dataclass(slots=True)
class Receipt:
    t: float
    broker: str
    redelivered: bool


@dataclass
class TopicLedger:
    """The topic's part of the history, per subscriber."""

    attempted: set[str] = field(default_factory=set)  # every id a publisher tried to publish
    published: dict[str, tuple[float, str]] = field(default_factory=dict)  # id -> (receipt time, broker)
    indeterminate: set[str] = field(default_factory=set)
    since: dict[str, float] = field(default_factory=dict)  # subscriber -> first confirmed subscription
    # subscriber -> id -> every copy it received, in history order
    received: dict[str, dict[str, list[Receipt]]] = field(default_factory=dict)
    # subscriber -> id -> [(since, ended)]: a session that received the id ended with its ack unconfirmed
    unconfirmed: dict[str, dict[str, list[tuple[float, float]]]] = field(default_factory=dict)
    # subscriber -> [(time, broker or "")]: where it was connected
    states: dict[str, list[tuple[float, str]]] = field(default_factory=dict)

    def consume(self, event: dict[str, Any]) -> None:
        f, t = event["f"], event["t"]
        if f == "publish":
            if event["type"] == "invoke":
                self.attempted.add(event["id"])
            elif event["type"] == "ok":
                self.published[event["id"]] = (t, event.get("broker", "?"))
                self.indeterminate.discard(event["id"])
            elif event["type"] == "info":
                self.indeterminate.add(event["id"])
            return
        process = event["p"]
        if not process.startswith(SUBSCRIBER):
            return
        if f == "receive":
            copies = self.received.setdefault(process, {}).setdefault(event["id"], [])
            copies.append(Receipt(t, event.get("broker", "?"), event.get("redelivered") is True))
        elif f == "subscribed":
            self.since.setdefault(process, t)
            self.states.setdefault(process, []).append((t, event.get("broker", "?")))
        elif f in SESSION_ENDS or f == "unconfirmed":
            if f != "unconfirmed":
                self.states.setdefault(process, []).append((t, ""))
            since = event.get("since", t)
            for message_id in event.get("unconfirmed", event.get("ids", ())):
                self.unconfirmed.setdefault(process, {}).setdefault(message_id, []).append((since, t))

    @property
    def subscribers(self) -> list[str]:
        return sorted(self.since)

    def foreign(self) -> set[str]:
        """Ids a subscriber received that no publisher of this run tried to publish."""
        return {i for got in self.received.values() for i in got if i not in self.attempted}

    def owed(self, subscriber: str) -> list[str]:
        """Ids whose publish was acknowledged once the subscriber's durable subscription existed."""
        since = self.since.get(subscriber, math.inf)
        return [i for i, (t, _) in self.published.items() if t >= since]

    def broker_at(self, subscriber: str, t: float) -> str:
        broker = ""
        for when, where in self.states.get(subscriber, ()):
            if when > t:
                break
            broker = where
        return broker


def _deadline(ledger: Ledger) -> float:
    return ledger.drain_deadline if ledger.drain_deadline is not None else math.inf


def _pending(final: FinalState, subscriber: str) -> dict[str, int]:
    """Broker -> messages pending for this subscriber's durable subscription there."""
    return {broker: subs[subscriber] for broker, subs in final.durable.items() if subs.get(subscriber, 0) > 0}


def _in_transit(final: FinalState) -> dict[str, int]:
    """Broker -> messages pending for the bridges' own durable subscriptions (on their way to a subscriber)."""
    return {
        broker: sum(n for name, n in subs.items() if not name.startswith(SUBSCRIBER))
        for broker, subs in final.durable.items()
        if any(n > 0 for name, n in subs.items() if not name.startswith(SUBSCRIBER))
    }


def check_durable_lost(ledger: Ledger, final: FinalState) -> Verdict:
    topic, deadline = ledger.topic, _deadline(ledger)
    per: dict[str, dict[str, Any]] = {}
    lost_total = owed_total = 0
    unknown: list[str] = []
    transit = sum(_in_transit(final).values())
    for subscriber in topic.subscribers:
        owed = topic.owed(subscriber)
        got = topic.received.get(subscriber, {})
        missing = [i for i in owed if i not in got or got[i][0].t > deadline]
        never = [i for i in missing if i not in got]
        pending = sum(_pending(final, subscriber).values())
        lost = max(0, len(never) - pending - transit)
        owed_total += len(owed)
        lost_total += lost
        per[subscriber] = {
            "owed": len(owed),
            "received": len(owed) - len(missing),
            "never-received": len(never),
            "pending": pending,
            "lost": lost,
            "missing_ids": sample_ids(never),
        }
        if never and final.unreadable:
            unknown.append(subscriber)
    counts = {"subscribers": len(per), "owed": owed_total, "lost": lost_total}
    evidence = {"per_subscriber": per, "in_transit_on_bridges": _in_transit(final)}
    if unknown:  # what it never received may wait on a broker nobody could read: unknown, never a pass
        unread = ", ".join(f"{n} ({final.reasons.get(n, 'unreadable')})" for n in sorted(final.unreadable))
        note = f"{', '.join(unknown)} never received some owed messages, and {unread} could not be read"
        return Verdict("durable-lost", None, counts, evidence, note)
    if lost_total:
        note = "; ".join(
            f"{s}: {v['lost']} of {v['owed']} owed never received and not pending anywhere"
            for s, v in per.items()
            if v["lost"]
        )
        return Verdict("durable-lost", False, counts, evidence, note)
    if not owed_total:
        note = "no durable subscriber was owed a message" if per else "no durable subscriber confirmed"
        return Verdict("durable-lost", None, counts, evidence, note)
    return Verdict("durable-lost", True, counts, evidence)


def check_durable_stuck(ledger: Ledger, final: FinalState) -> Verdict:
    """Nothing may be left pending for a subscription after the drain, nor received after the deadline.
    Explained (a design may declare it) only where a subscriber's messages wait on a broker it was not
    connected to at the deadline while it was connected elsewhere: its durable subscription lives where it
    was made, and a network does not move it (ActiveMQ's FAQ on durable subscribers in a network); or where a
    bridge's own durable subscription holds them for a broker that is not live at the end."""
    topic, deadline = ledger.topic, _deadline(ledger)
    per: dict[str, dict[str, Any]] = {}
    unexplained = 0
    total = 0
    for subscriber in topic.subscribers:
        pending = _pending(final, subscriber)
        owed = set(topic.owed(subscriber))
        got = topic.received.get(subscriber, {})
        late = sorted(i for i in owed if i in got and got[i][0].t > deadline)
        where = topic.broker_at(subscriber, deadline)
        away = {b: n for b, n in pending.items() if where and b != where}
        total += sum(pending.values()) + len(late)
        unexplained += sum(pending.values()) - sum(away.values()) + len(late)
        if pending or late:
            per[subscriber] = {
                "pending": pending,
                "late": sample_ids(late),
                "connected_at_deadline": where or None,
            }
    transit = _in_transit(final)
    # a bridge's durable subscription keeps what it was to forward while the broker at its other end is not
    # live (a master that failed over, now waiting): held for a bridge that is gone, not for a subscriber
    orphaned = {
        broker: {name: n for name, n in subs.items() if name.startswith(BRIDGE) and n > 0}
        for broker, subs in final.durable.items()
    }
    held = sum(
        n
        for subs in orphaned.values()
        for name, n in subs.items()
        if name[len(BRIDGE) :] not in final.durable
    )
    total += sum(transit.values())
    unexplained += sum(transit.values()) - held
    counts = {"messages": total, "subscribers": len(per)}
    evidence = {
        "per_subscriber": per,
        "in_transit_on_bridges": transit,
        "held_for_bridges": {b: subs for b, subs in orphaned.items() if subs},
        "unreadable": final.reasons,
    }
    if total:
        note = (
            f"{total - unexplained - held} wait on a broker their subscriber had left, {held} for a bridge "
            f"whose other end is not live; {unexplained} neither"
        )
        return Verdict("durable-stuck", False, counts, evidence, note, explained=unexplained == 0)
    if final.unreadable:
        note = "could not read " + ", ".join(f"{n} ({r})" for n, r in sorted(final.reasons.items()))
        return Verdict("durable-stuck", None, counts, evidence, note)
    if not topic.subscribers:
        return Verdict("durable-stuck", None, counts, evidence, "no durable subscriber confirmed")
    return Verdict("durable-stuck", True, counts, evidence)


def check_durable_duplicated(ledger: Ledger, final: FinalState) -> Verdict:
    """Each copy a subscriber received after the first needs a mechanism between it and the previous one:
    that copy's session ended with its ack unconfirmed, a fault was in force on the message's path, or the
    two copies came from different pairs and the subscriber had confirmed a subscription on each pair before
    the message was published (two subscriptions of one name, each kept a copy: `DURABLE_TWICE`)."""
    topic = ledger.topic
    pairs = ledger.facts.pairs
    # subscriber -> pair -> its first confirmed subscription there (the store, and so the subscription, stays
    # with the pair whichever of its nodes is live)
    subscribed_on: dict[str, dict[str, float]] = {}
    for subscriber, states in topic.states.items():
        for t, broker in states:
            pair = pairs.get(broker)
            if pair is not None:
                subscribed_on.setdefault(subscriber, {}).setdefault(pair, t)
    unexplained: list[dict[str, Any]] = []
    by_mechanism: collections.Counter[str] = collections.Counter()
    extra = 0
    duplicated: dict[str, list[str]] = {}
    for subscriber in topic.subscribers:
        for message_id, copies in topic.received.get(subscriber, {}).items():
            if len(copies) < 2:
                continue
            duplicated.setdefault(subscriber, []).append(message_id)
            extra += len(copies) - 1
            published_at, published_on = topic.published.get(message_id, (None, ""))
            path = {published_on, *(c.broker for c in copies)}
            for previous, copy in itertools.pairwise(copies):
                sessions = topic.unconfirmed.get(subscriber, {}).get(message_id, ())
                if any(ended >= previous.t and since <= copy.t for since, ended in sessions):
                    by_mechanism["unconfirmed-ack"] += 1
                elif any(w.start <= copy.t and w.end >= previous.t and w.nodes & path for w in ledger.faults):
                    by_mechanism["fault"] += 1
                elif _held_on_both_pairs(
                    subscribed_on.get(subscriber, {}), pairs, previous, copy, published_at
                ):
                    by_mechanism["two-subscriptions"] += 1
                else:
                    unexplained.append(
                        {"subscriber": subscriber, "id": message_id, "copies": [previous.t, copy.t]}
                    )
    counts = {"ids": sum(len(v) for v in duplicated.values()), "extra-deliveries": extra}
    counts["unexplained"] = len(unexplained)
    evidence = {
        "duplicated": {s: sample_ids(ids) for s, ids in duplicated.items()},
        "unexplained": unexplained[:EVIDENCE_LIMIT],
        "explained_by": dict(by_mechanism),
    }
    if not topic.subscribers:
        return Verdict("durable-duplicated", None, counts, evidence, "no durable subscriber confirmed")
    note = (
        f"{len(unexplained)} extra copies with no unconfirmed ack and no fault on their path"
        if unexplained
        else ""
    )
    return Verdict(
        "durable-duplicated", not extra, counts, evidence, note, explained=bool(extra) and not unexplained
    )


def _held_on_both_pairs(
    subscribed_on: dict[str, float],
    pairs: dict[str, str],
    previous: Receipt,
    copy: Receipt,
    published_at: float | None,
) -> bool:
    first, second = pairs.get(previous.broker), pairs.get(copy.broker)
    if first is None or second is None or first == second or published_at is None:
        return False
    return all(pair in subscribed_on and subscribed_on[pair] <= published_at for pair in (first, second))


def has_subscribers(ledger: Ledger) -> bool:
    """The durable checkers judge only runs whose workload had durable subscribers."""
    return ledger.facts.subscribers > 0
