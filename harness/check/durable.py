"""Durable topic subscriptions: every durable subscriber must receive every message published to the topic
while its subscription existed, including while it was disconnected (the broker keeps them for it).

The record (harness.client.workload): a publisher's `publish` events are a queue producer's `send`; a
subscriber's `subscribed` event comes once the broker confirmed its durable subscription (by receipt), each
`receive` names the subscription (`sub`), and its sessions end with the ids whose ack was never confirmed,
as a queue consumer's do. A subscription exists from its first confirmation to the end of the run (the
workload never destroys one), so a message is *owed* to a subscriber when its publish was acknowledged after
that first confirmation.

The final state reads each durable subscription's pending count on every live broker over JMX, and the ids
pending for it where they can be told apart (harness.cluster.introspect.read_durable). Per subscriber, an
owed id never received is `lost` unless that very id is pending for its own subscription on some broker or
for a bridge's: ids are never netted off by counts, which copies it already received can fill. Anything
pending, or received after the drain deadline, is `stuck`. A copy received twice is
`duplicated` unless the subscriber's earlier session ended with its ack unconfirmed, or a fault was in force
on its path between the copies, as for queues. A subscriber whose every owed message came counts; one owed
nothing, or a run without subscribers, decides nothing.
"""

from __future__ import annotations

import collections
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness.check.redelivery import (
    ConsumerSide,
    InFlight,
    Session,
    Unconfirmed,
    fault_excuse,
    session_started,
    sessions_of,
)
from harness.check.verdict import EVIDENCE_LIMIT, FinalState, Verdict, id_order, sample_ids

if TYPE_CHECKING:
    from harness.check.ledger import Ledger

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
    # subscriber -> id -> every ack of it the subscriber never saw confirmed
    unconfirmed: dict[str, dict[str, list[Unconfirmed]]] = field(default_factory=dict)
    # subscriber -> [(time, broker or "")]: where it was connected
    states: dict[str, list[tuple[float, str]]] = field(default_factory=dict)
    # subscriber -> [(time, broker)] of each connection made: a subscription it made there is younger
    connects: dict[str, list[tuple[float, str]]] = field(default_factory=dict)

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
        if f == "connect":
            if event["type"] == "ok":
                self.connects.setdefault(process, []).append((t, event.get("broker", "?")))
        elif f == "receive":
            copies = self.received.setdefault(process, {}).setdefault(event["id"], [])
            copies.append(Receipt(t, event.get("broker", "?"), event.get("redelivered") is True))
        elif f == "subscribed":
            self.since.setdefault(process, t)
            self.states.setdefault(process, []).append((t, event.get("broker", "?")))
        elif f in SESSION_ENDS or f == "unconfirmed":
            if f != "unconfirmed":
                self.states.setdefault(process, []).append((t, ""))
            entry = Unconfirmed(event.get("since", t), t, process, handover=f == "unconfirmed")
            for message_id in event.get("unconfirmed", event.get("ids", ())):
                self.unconfirmed.setdefault(process, {}).setdefault(message_id, []).append(entry)

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

    def sessions(self, subscriber: str) -> list[Session]:
        """Each of the subscriber's sessions, from its confirmed subscription."""
        return sessions_of(self.states.get(subscriber, ()))

    def session_boundaries(self, subscriber: str) -> list[float]:
        """When the subscriber's sessions began or ended: its connections count too, as a new session's
        first copy can come before its subscription's confirmation is recorded."""
        return [t for t, _ in (*self.states.get(subscriber, ()), *self.connects.get(subscriber, ()))]

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


@dataclass
class Holdings:
    """What the final state says may still wait for one subscriber: the ids known pending for its own
    subscriptions or the bridges' (on their way to it), and the subscriptions among those whose ids are not
    known, each with why and the ids it may hold (None: any)."""

    found: set[str] = field(default_factory=set)
    unknown: dict[str, tuple[str, frozenset[str] | None]] = field(default_factory=dict)

    def may_hold(self, message_id: str) -> bool:
        return any(held is None or message_id in held for _, held in self.unknown.values())


def _concerns(name: str, subscriber: str) -> bool:
    """A subscription that can hold a subscriber's message: its own (on any broker, a leftover of the same name
    included) or a bridge's, which forwards to whoever subscribed across it; another subscriber's cannot."""
    return name == subscriber or not name.startswith(SUBSCRIBER)


@dataclass
class _Ages:
    """When each subscriber's subscriptions on each pair can have begun: a durable subscription keeps only
    what is published once it exists, and a subscriber's is made after it connected there, so a message
    stored before its first connection to a pair is held by no subscription of its on that pair's store."""

    pairs: dict[str, str]
    published: dict[str, tuple[float, str]]
    first: dict[tuple[str, str], float]

    @classmethod
    def of(cls, ledger: Ledger) -> _Ages:
        pairs = ledger.facts.pairs
        first: dict[tuple[str, str], float] = {}
        for subscriber, connects in ledger.topic.connects.items():
            for t, broker in connects:
                first.setdefault((subscriber, pairs.get(broker, broker)), t)
        return cls(pairs, ledger.topic.published, first)

    def could_hold(self, name: str, broker: str, message_id: str) -> bool:
        """Whether the subscription `name` on `broker` can hold the message: a bridge's always (its age is
        not on record); a subscriber's when it connected to that pair before the message was stored."""
        if not name.startswith(SUBSCRIBER):
            return True
        since = self.first.get((name, self.pairs.get(broker, broker)))
        stored = self.published.get(message_id, (math.inf, ""))[0]
        return since is None or since <= stored


def _holdings(final: FinalState, subscriber: str, ages: _Ages, wanted: set[str]) -> Holdings:
    """`wanted`: the ids the subscriber is missing (the only ones a shared store's holders are weighed for)."""
    holdings = Holdings()
    for broker in sorted(final.durable.keys() | final.durable_ids.keys()):
        _read_broker(final, broker, subscriber, holdings, ages, wanted)
    for broker in sorted(final.queues.keys() - final.durable.keys()):
        # read live, but its durable subscriptions never were: any of them may hold anything
        holdings.unknown[f"the durable subscriptions on {broker}"] = ("never read", None)
    return holdings


def _read_broker(
    final: FinalState, broker: str, subscriber: str, holdings: Holdings, ages: _Ages, wanted: set[str]
) -> None:
    counts, known = final.durable.get(broker, {}), final.durable_ids.get(broker)
    unread, held = final.durable_unread.get(broker, {}), final.durable_held.get(broker)
    weighed: set[str] = set()  # the names sharing the store, judged per id below
    if held is not None and unread:
        # a store held for several subscriptions, whose is not said: per missing id, the subscriptions old
        # enough to hold it. All of them on its way to this subscriber: found; some: undecided. An id a
        # subscription read on its own holds is in the store for it: the unread ones may hold it or not
        accounted = {i for name, ids in (known or {}).items() if name not in unread for i in ids}
        own = set((known or {}).get(subscriber) or ())
        ambiguous = set()
        for message_id in wanted.intersection(held) - own:
            holders = [n for n in unread if ages.could_hold(n, broker, message_id)]
            concerned = [n for n in holders if _concerns(n, subscriber)]
            if message_id in accounted:
                if concerned:
                    ambiguous.add(message_id)
            elif holders and len(concerned) == len(holders):
                holdings.found.add(message_id)
            elif not holders or concerned:
                ambiguous.add(message_id)
        if ambiguous:
            names = ", ".join(sorted(unread))
            why = f"the topic's store here holds them for {names}, old enough to hold them; a browse does not say whose"
            holdings.unknown[f"{names} on {broker}"] = (why, frozenset(ambiguous))
        weighed = set(unread)
    for name in sorted(counts.keys() | (known or {}).keys() | unread.keys()):
        if not _concerns(name, subscriber) or name in weighed:
            continue
        ids = None if known is None else known.get(name)
        holdings.found.update(ids or ())
        reason = unread.get(name)
        if reason is None and ids is None and counts.get(name, 0) > 0:  # a count of 0 needs no ids
            reason = (
                "its ids were never read (a final state from before they were)"
                if known is None
                else "not read"
            )
        if reason is not None:
            holdings.unknown[f"{name} on {broker}"] = (reason, None if held is None else frozenset(held))


def _pending_ids(final: FinalState, wanted: Callable[[str], bool], by_name: bool = False) -> dict[str, Any]:
    """Broker -> a sample of the ids known pending there for the subscriptions `wanted` picks (per name when
    `by_name`), for the evidence: only where ids were read and some are pending."""
    found: dict[str, Any] = {}
    for broker, subs in sorted(final.durable_ids.items()):
        picked = {name: sample_ids(ids) for name, ids in sorted(subs.items()) if ids and wanted(name)}
        if picked:
            found[broker] = picked if by_name else sample_ids(i for ids in picked.values() for i in ids)
    return found


def check_durable_lost(ledger: Ledger, final: FinalState) -> Verdict:
    """An owed id the subscriber never received is lost unless that very id is pending for its own
    subscription on some broker, or for a bridge's (in transit); never netted off by counts, which a leftover
    subscription holding copies it already received would fill (DURABLE_AWAY, DURABLE_TWICE). An id no
    reading can rule out (a subscription whose ids are not known, a node not read) is undecided: unknown,
    unless another id is lost for certain."""
    topic, deadline = ledger.topic, _deadline(ledger)
    per: dict[str, dict[str, Any]] = {}
    lost_total = owed_total = 0
    undecided: dict[str, tuple[list[str], Holdings]] = {}
    ages = _Ages.of(ledger)
    for subscriber in topic.subscribers:
        owed = topic.owed(subscriber)
        got = topic.received.get(subscriber, {})
        missing = [i for i in owed if i not in got or got[i][0].t > deadline]
        never = [i for i in missing if i not in got]
        holdings = _holdings(final, subscriber, ages, set(never))
        waiting = [i for i in never if i not in holdings.found]
        # a node nobody could read may hold any id; a subscription whose ids are unknown, those it may hold
        open_ids = [i for i in waiting if final.unreadable or holdings.may_hold(i)]
        lost = sorted(set(waiting) - set(open_ids), key=id_order)
        owed_total += len(owed)
        lost_total += len(lost)
        per[subscriber] = {
            "owed": len(owed),
            "received": len(owed) - len(missing),
            "never-received": len(never),
            "pending": sum(_pending(final, subscriber).values()),
            "pending-found": len(never) - len(waiting),
            "lost": len(lost),
            "missing_ids": sample_ids(never),
            "lost_ids": sample_ids(lost),
            "undecided": len(open_ids),
            "undecided_ids": sample_ids(open_ids),
            "unread": {label: reason for label, (reason, _) in holdings.unknown.items()},
        }
        if open_ids:
            undecided[subscriber] = (open_ids, holdings)
    counts = {"subscribers": len(per), "owed": owed_total, "lost": lost_total}
    evidence = {"per_subscriber": per, "in_transit_on_bridges": _in_transit(final)}
    if lost_total:
        note = "; ".join(
            f"{s}: {v['lost']} of {v['owed']} owed never received and not pending anywhere"
            for s, v in per.items()
            if v["lost"]
        )
        if undecided:
            note += f"; {sum(len(ids) for ids, _ in undecided.values())} more undecided"
        return Verdict("durable-lost", False, counts, evidence, note)
    if undecided:  # what it never received may wait where nobody could read it: unknown, never a pass
        return Verdict("durable-lost", None, counts, evidence, _undecided_note(final, undecided))
    if not owed_total:
        note = "no durable subscriber was owed a message" if per else "no durable subscriber confirmed"
        return Verdict("durable-lost", None, counts, evidence, note)
    return Verdict("durable-lost", True, counts, evidence)


def _undecided_note(final: FinalState, undecided: dict[str, tuple[list[str], Holdings]]) -> str:
    parts = []
    for subscriber, (ids, holdings) in undecided.items():
        where = [
            f"{label} ({reason})"
            for label, (reason, held) in holdings.unknown.items()
            if held is None or not held.isdisjoint(ids)
        ]
        where += [f"{n} ({final.reasons.get(n, 'unreadable')})" for n in sorted(final.unreadable)]
        parts.append(f"{subscriber} never received {len(ids)} owed ids that may wait on: {', '.join(where)}")
    return "; ".join(parts)


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
                "pending_ids": _pending_ids(final, {subscriber}.__contains__),
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
        "in_transit_ids": _pending_ids(final, lambda name: not name.startswith(SUBSCRIBER), by_name=True),
        "held_for_bridges": {b: subs for b, subs in orphaned.items() if subs},
        "unreadable": final.reasons,
    }
    if total and (unexplained or not final.unreadable):
        note = (
            f"{total - unexplained - held} wait on a broker their subscriber had left, {held} for a bridge "
            f"whose other end is not live; {unexplained} neither"
        )
        return Verdict("durable-stuck", False, counts, evidence, note, explained=unexplained == 0)
    if final.unreadable:  # what a broker nobody could read holds is unknown, whatever was excused elsewhere
        note = "could not read " + ", ".join(f"{n} ({r})" for n, r in sorted(final.reasons.items()))
        return Verdict("durable-stuck", None, counts, evidence, note)
    if not topic.subscribers:
        return Verdict("durable-stuck", None, counts, evidence, "no durable subscriber confirmed")
    return Verdict("durable-stuck", True, counts, evidence)


def check_durable_duplicated(ledger: Ledger, final: FinalState) -> Verdict:
    """Each copy a subscriber received after the first needs a mechanism between it and the previous one, as
    for queues (harness.check.queues.check_duplicated): an ack its session never saw confirmed, each once
    and from another session; a fault on the message's path that hit while the earlier copy was in flight
    and came back shortly before the extra one, no more per fault than can be in flight on its path
    (harness.check.redelivery); or the two copies came from different pairs and the subscriber had confirmed
    a subscription on each pair before the message was published (two subscriptions of one name, each kept
    a copy: `DURABLE_TWICE`), once per pair."""
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
    sessions = {subscriber: topic.sessions(subscriber) for subscriber in topic.subscribers}
    unexplained: list[dict[str, Any]] = []
    by_mechanism: collections.Counter[str] = collections.Counter()
    kept_twice: set[tuple[str, str, str]] = (
        set()
    )  # (subscriber, id, pair) of each copy a second one explained
    # each bridge forward reaches every subscriber: as many copies per forward
    in_flight = InFlight(ledger, sessions, destinations=1, copies_per_forward=len(sessions))
    extra = 0
    duplicated: dict[str, list[str]] = {}
    for subscriber in topic.subscribers:
        # a subscriber's copies are all its own
        consumer_side = ConsumerSide(
            owner=functools.partial(_own, subscriber), boundaries=topic.session_boundaries
        )
        for message_id, copies in topic.received.get(subscriber, {}).items():
            if len(copies) < 2:
                continue
            duplicated.setdefault(subscriber, []).append(message_id)
            extra += len(copies) - 1
            published_at, published_on = topic.published.get(message_id, (None, ""))
            path = {published_on, *(c.broker for c in copies)}
            entries = topic.unconfirmed.get(subscriber, {}).get(message_id, ())
            for index in range(1, len(copies)):
                previous, copy = copies[index - 1], copies[index]
                second = (subscriber, message_id, pairs.get(copy.broker, ""))
                if consumer_side.excuse(message_id, entries, copies, index) is not None:
                    by_mechanism["unconfirmed-ack"] += 1
                elif _fault_excused(ledger, in_flight, path, previous, copy, sessions[subscriber]):
                    by_mechanism["fault"] += 1
                elif second not in kept_twice and _held_on_both_pairs(
                    subscribed_on.get(subscriber, {}), pairs, previous, copy, published_at
                ):
                    kept_twice.add(second)
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
        f"{len(unexplained)} extra copies with no unconfirmed ack left to explain them, no fault on their "
        "path close enough in time (or more than can be in flight on it) and no second subscription"
        if unexplained
        else ""
    )
    return Verdict(
        "durable-duplicated", not extra, counts, evidence, note, explained=bool(extra) and not unexplained
    )


def _fault_excused(
    ledger: Ledger,
    in_flight: InFlight,
    path: set[str],
    previous: Receipt,
    copy: Receipt,
    sessions: list[Session],
) -> bool:
    excuse = fault_excuse(ledger, path, previous.t, copy.t, session_started(sessions, copy.t))
    return excuse is not None and in_flight.admit(excuse)


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


def _own(subscriber: str, _copy: object) -> str:
    """A subscriber's copies are all its own (ConsumerSide's owner, for durable subscriptions)."""
    return subscriber
