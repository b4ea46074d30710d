"""Checkers: pure functions from a history (and the cluster's final state) to verdicts with evidence.

Each property is its own function returning the witnesses (message ids, brokers, times) that violate it, so
a failure names what went wrong. `check_all` runs them; a checker that crashes yields an *unknown* verdict
with the error, never a pass. Merged validity: False (violated) > None (unknown) > True.

An `ok` must mean the evidence was seen: a property whose input could not be read is unknown, never 0.

A violation is *explained* when the history shows, for every witness, the mechanism of a weakness a design
may declare (a duplicate with a fault on its path between the copies, within what can be in flight; a
message stranded on a broker its consumers left after it crossed a bridge; unavailability while no node
the VIP routes to has a client connector). A declaration accepts only an explained violation: one witness
without its mechanism fails the property (`Verdict.explained`).

Terms (TOPOLOGY.md): an *acknowledged* send got its receipt; an *indeterminate* send got none (timeout,
disconnect), so it may or may not be stored; a *delivery* is a MESSAGE frame a consumer recorded before
acking it. The drain deadline is the `phase drain-deadline` event: deliveries after it are *late*. The load
runs from the `phase load` event until `phase healed`, when the producers stop.
"""

from __future__ import annotations

import bisect
import collections
import contextlib
import gc
import itertools
import math
import operator
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import phases
from harness.chaos.faults import FAULT_KINDS
from harness.check.durable import (
    TopicLedger,
    check_durable_duplicated,
    check_durable_lost,
    check_durable_stuck,
    has_subscribers,
)
from harness.check.facts import RunFacts
from harness.check.verdict import EVIDENCE_LIMIT, FinalState, Verdict, id_order, sample_ids
from harness.compact import CompactHistory, read_compact
from harness.history import Event, read_history

SELF_ENDING = frozenset(k.name for k in FAULT_KINDS.values() if k.ends_by_itself)  # a restart
PROCESS_ENDING = frozenset(k.name for k in FAULT_KINDS.values() if k.ends_process)
CONSUMER_EVENTS = frozenset({"connect", "disconnected", "give-up", "session-end", "leave", "unconfirmed"})
TOPIC_EVENTS = frozenset({"publish", "receive", "subscribed"})


@dataclass(slots=True)
class Delivery:
    t: float
    broker: str
    redelivered: bool
    process: str


@dataclass
class FaultWindow:
    """A fault from its invoke until its heal (or its own end, for a restart); `end` is inf if never healed."""

    action: str
    target: str
    nodes: frozenset[str]
    start: float
    end: float = math.inf

    def label(self) -> str:
        return f"{self.action} {self.target} at {self.start:.3f}"


@dataclass
class Ledger:
    """One pass over the history: what was sent, acknowledged, delivered, done to the cluster, and when."""

    facts: RunFacts = field(default_factory=RunFacts)
    attempted: list[str] = field(default_factory=list)  # every id a producer tried to send
    # id -> (receipt time, broker that receipted it); one dict, not two: a run of hours holds millions
    acknowledged: dict[str, tuple[float, str]] = field(default_factory=dict)
    receipt_times: list[float] = field(default_factory=list)  # every receipt, in history order
    sent_to: dict[str, str] = field(default_factory=dict)  # id -> broker of an indeterminate or failed send
    indeterminate: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)
    # Deliveries: the time of each id's first copy, and every copy of the ids delivered more than once (the
    # details of a lone copy are never needed, and a million Delivery objects cost more than the checks)
    first_delivered: dict[str, float] = field(default_factory=dict)  # id -> its first delivery
    copies: dict[str, list[Delivery]] = field(default_factory=dict)  # id delivered twice+ -> copies by time
    delivery_times: list[float] = field(default_factory=list)  # every delivery, in history order
    mismatched: list[dict[str, Any]] = field(default_factory=list)  # deliveries with a wrong body/destination
    # id -> [(since, ended, consumer)]: a consumer's session that delivered the id ended (closing from
    # `since`, closed at `ended`) with its ack unconfirmed
    unconfirmed: dict[str, list[tuple[float, float, str]]] = field(default_factory=dict)
    faults: list[FaultWindow] = field(default_factory=list)
    faults_asked: int = 0  # faults a scenario or schedule asked for (applied or not)
    faults_applied: int = 0
    last_heal: float | None = None
    # consumer process -> [(time, broker or "" when not connected)]
    consumer_states: dict[str, list[tuple[float, str]]] = field(default_factory=dict)
    serving: list[tuple[float, frozenset[str]]] = field(default_factory=list)  # sampler sweeps
    # producer process -> [(gave up, revived or None)]: when it stopped trying to connect (a workload with a
    # reconnect deadline), so that nobody measured availability then
    producers_away: dict[str, list[tuple[float, float | None]]] = field(default_factory=dict)
    producers_seen: set[str] = field(default_factory=set)  # every producer that tried to connect
    drain_deadline: float | None = None
    load_started: float | None = None
    load_ended: float | None = None
    recovered: float | None = None
    not_recovered: list[dict[str, Any]] = field(default_factory=list)
    probe_plan: list[tuple[str, str]] | None = None
    probes: dict[tuple[str, str], float | None] = field(default_factory=dict)  # direction -> recovery s
    unprobeable: list[str] = field(default_factory=list)
    topic: TopicLedger = field(default_factory=TopicLedger)  # durable subscriptions (harness.check.durable)
    _undelivered: list[str] | None = field(default=None, repr=False)
    _never_delivered: set[str] | None = field(default=None, repr=False)
    _open_faults: dict[str, list[FaultWindow]] = field(default_factory=dict, repr=False)  # target -> windows
    _lone: dict[str, Delivery] = field(default_factory=dict, repr=False)  # id -> its only copy so far
    # id(final) -> (final, its placement); the final state is held so that its id cannot be reused
    _placements: dict[int, tuple[FinalState, Placement]] = field(default_factory=dict, repr=False)

    @classmethod
    def from_history(cls, events: Iterable[Event], facts: RunFacts | None = None) -> Ledger:
        ledger = cls(facts=facts or RunFacts())
        with _gc_paused():  # half the time otherwise
            ledger._consume(events)
        return ledger.settled()

    @classmethod
    def from_path(cls, path: Path, facts: RunFacts | None = None) -> Ledger:
        """The ledger of a history file, from its compact form when that is complete (the same ledger,
        several times faster), else from the JSON lines."""
        compact = read_compact(path)
        if compact is None:
            return cls.from_history(read_history(path), facts)
        ledger = cls(facts=facts or RunFacts())
        with _gc_paused():
            ledger._consume_compact(compact)
        return ledger.settled()

    def settled(self) -> Ledger:
        # a receipt that arrived after all (a late ok after an info) settles the send
        self.indeterminate -= self.acknowledged.keys()
        return self

    def _consume(self, events: Iterable[Event]) -> None:
        # the hot loop of every check: locals and one dispatch per event
        deliver = self._deliver
        attempted_add = self.attempted.append
        acknowledged = self.acknowledged
        receipt_times = self.receipt_times
        for event in events:
            f = event["f"]
            if f == "deliver":
                deliver(
                    event["id"],
                    Delivery(
                        event["t"], event.get("broker", "?"), event.get("redelivered") is True, event["p"]
                    ),
                )
                if "mismatch" in event:
                    self.mismatched.append(event)
            elif f == "send":
                kind = event["type"]
                if kind == "invoke":
                    attempted_add(event["id"])
                elif kind == "ok":
                    acknowledged[event["id"]] = (event["t"], event.get("broker", "?"))
                    receipt_times.append(event["t"])
                else:
                    (self.indeterminate if kind == "info" else self.failed).add(event["id"])
                    if "broker" in event:
                        self.sent_to[event["id"]] = event["broker"]
            elif f in CONSUMER_EVENTS:
                self._consumer_event(event)
            elif f in TOPIC_EVENTS:
                self.topic.consume(event)
                if "mismatch" in event:  # a subscriber's copy with the wrong body, topic or persistence
                    self.mismatched.append(event)
            elif f == "fault" or f == "heal":
                self._nemesis_event(event)
            elif f == "serving":
                self.serving.append((event["t"], frozenset(event.get("nodes", ()))))
            elif f == "revive" and event["p"].startswith("producer"):
                self._producer_away(event)
            elif f == "phase":
                self._phase(event)
            elif f == "probe-plan":
                self.probe_plan = [tuple(d) for d in event.get("directions", [])]  # type: ignore[misc]
            elif f == "probe":
                if "dst" not in event:
                    self.unprobeable.append(event["src"])
                elif event["type"] == "invoke":
                    self.probes.setdefault((event["src"], event["dst"]), None)
                elif event["type"] == "ok":
                    self.probes[(event["src"], event["dst"])] = event["seconds"]

    def _deliver(self, message_id: str, delivery: Delivery) -> None:
        self.delivery_times.append(delivery.t)
        if message_id not in self.first_delivered:
            self.first_delivered[message_id] = delivery.t
            self._lone[message_id] = delivery
            return
        copies = self.copies.get(message_id)
        if copies is None:
            copies = self.copies[message_id] = [self._lone.pop(message_id)]
        copies.append(delivery)

    def _consume_compact(self, compact: CompactHistory) -> None:
        """The columns first (sends, receipts, plain deliveries), then every other event in order. Whole-column
        calls, no loop per event: that is what makes the compact form fast. Only the ids delivered more than
        once get Delivery objects. A delivery that came as a whole event (a mismatch) joins its id's copies
        in time order."""
        self.attempted.extend(compact.attempted)
        receipts = zip(compact.acknowledged_t, compact.acknowledged_by, strict=True)
        self.acknowledged.update(zip(compact.acknowledged, receipts, strict=True))
        self.receipt_times.extend(compact.acknowledged_t)
        ids, times = compact.delivered, compact.delivered_t
        first = self.first_delivered
        first.update(zip(ids, times, strict=True))  # a repeated id's last copy for now: set right below
        self.delivery_times.extend(times)
        events = list(compact.rest())
        whole = [e for e in events if e["f"] == "deliver"]
        repeated = {e["id"] for e in whole if e["id"] in first}
        if len(first) < len(ids):
            repeated.update(_repeated_ids(ids, times, first, len(ids) - len(first)))
        if repeated:
            for position, message_id in enumerate(ids):
                if message_id in repeated:
                    self.copies.setdefault(message_id, []).append(Delivery(*compact.delivery(position)))
            for message_id, copies in self.copies.items():
                first[message_id] = copies[0].t
        self._consume(events)
        for event in whole:
            copies = self.copies.get(event["id"])
            if copies is not None:
                copies.sort(key=lambda d: d.t)
                first[event["id"]] = copies[0].t
        if whole:
            self.delivery_times.sort()
        if any(e["f"] == "send" and e["type"] == "ok" for e in events):
            self.receipt_times.sort()

    def _producer_away(self, event: Event) -> None:
        """A producer's give-up opens the time it stopped trying, its revive closes it."""
        spans = self.producers_away.setdefault(event["p"], [])
        if event["f"] == "give-up":
            spans.append((event["t"], None))
        elif spans and spans[-1][1] is None:
            spans[-1] = (spans[-1][0], event["t"])

    def _consumer_event(self, event: Event) -> None:
        process = event["p"]
        if process.startswith("producer"):
            self.producers_seen.add(process)
            if event["f"] == "give-up":
                self._producer_away(event)
            return
        if not process.startswith("consumer"):
            if process.startswith("subscriber"):
                self.topic.consume(event)
            return
        f, t = event["f"], event["t"]
        if f == "connect":
            if event["type"] == "ok":
                self.consumer_states.setdefault(process, []).append((t, event.get("broker", "?")))
            return
        since = event.get("since", t)
        if f != "unconfirmed":  # a delivery the closing connection handed over late changes no state
            self.consumer_states.setdefault(process, []).append((t, ""))
        for message_id in event.get("unconfirmed", event.get("ids", ())):
            self.unconfirmed.setdefault(message_id, []).append((since, t, process))

    def _nemesis_event(self, event: Event) -> None:
        open_faults = self._open_faults
        kind, t, target = event["type"], event["t"], str(event.get("target", ""))
        action = event.get("action", "")
        if event["f"] == "fault":
            # asked: an invoke, or a fault refused before it was tried (a schedule's role nobody held)
            if kind == "invoke" or (kind == "info" and "error" in event and "unsupported" not in event):
                self.faults_asked += 1
            elif kind == "ok":
                self.faults_applied += 1
            if kind == "invoke":
                grudge = event.get("grudge") or {}
                # a node fault names its node, a partition its grudge, a store fault its pair's nodes
                nodes = set() if grudge else {target, *event.get("nodes", ())}
                for node, dropped in grudge.items():
                    nodes.add(node)
                    nodes.update(dropped)
                window = FaultWindow(action, target, frozenset(nodes), t)
                self.faults.append(window)
                if not event.get("never_heal"):
                    open_faults.setdefault(target, []).append(window)
            elif kind in ("fail", "info") or action in SELF_ENDING:
                # not applied, or over by itself: the window ends here
                for window in open_faults.pop(target, []):
                    window.end = t
                if action in SELF_ENDING and kind == "ok":
                    self.last_heal = t
            return
        if kind == "ok":
            for window in open_faults.pop(target, []):
                window.end = t
            self.last_heal = t

    def _phase(self, event: Event) -> None:
        phase, t = event.get("phase"), event["t"]
        if phase == phases.DRAIN_DEADLINE:
            self.drain_deadline = t
        elif phase == phases.LOAD:
            self.load_started = t
        elif phase == phases.LOAD_ENDED or (phase == phases.HEALED and self.load_ended is None):
            # histories before load-ended stopped the producers at the heal
            self.load_ended = t
        elif phase == phases.RECOVERED:
            self.recovered = t
        elif phase == phases.NOT_RECOVERED:
            self.not_recovered.append(event)

    def receipted_by(self, message_id: str) -> str | None:
        """The broker that receipted the send of `message_id`, if it was acknowledged."""
        receipt = self.acknowledged.get(message_id)
        return None if receipt is None else receipt[1]

    def never_delivered(self) -> set[str]:
        """Acknowledged ids with no delivery at all (computed once: one pass over a million ids in C)."""
        if self._never_delivered is None:
            self._never_delivered = self.acknowledged.keys() - self.first_delivered.keys()
        return self._never_delivered

    def delivered_unacknowledged(self) -> set[str]:
        """Delivered ids without an acknowledged send. Counted before any pass: |delivered - acknowledged| is
        |delivered| - (|acknowledged| - |never delivered|), so only a nonzero count costs a pass."""
        delivered, acknowledged = self.first_delivered.keys(), self.acknowledged.keys()
        if len(delivered) - (len(acknowledged) - len(self.never_delivered())) == 0:
            return set()
        return delivered - acknowledged

    def undelivered_by_deadline(self) -> list[str]:
        """Acknowledged ids with no delivery at or before the drain deadline (computed once)."""
        if self._undelivered is None:
            # set algebra, not a loop: this runs over every acknowledged id
            acknowledged, first = self.acknowledged.keys(), self.first_delivered
            undelivered = self.never_delivered()
            deadline = self.drain_deadline
            if deadline is not None and self.delivery_times and max(self.delivery_times) > deadline:
                undelivered.update(i for i in acknowledged if first.get(i, -math.inf) > deadline)
            self._undelivered = sorted(undelivered, key=id_order)
        return self._undelivered

    def consumers_at(self, t: float) -> dict[str, str]:
        """Consumer process -> the broker it was connected to at time t ("" when it was not connected)."""
        current: dict[str, str] = {}
        for process, states in self.consumer_states.items():
            broker = ""
            for when, where in states:
                if when > t:
                    break
                broker = where
            current[process] = broker
        return current

    def first_fault(self) -> float | None:
        return min((w.start for w in self.faults), default=None)


# ------------------------------------------------------------------------------- undelivered and stuck
@dataclass
class Placement:
    """Every acknowledged id not delivered by the deadline, and every message left on a broker, classified."""

    lost: list[str] = field(default_factory=list)
    late: list[str] = field(default_factory=list)
    # (broker, id): left on a broker after the drain; stranded ones show the declared mechanism
    stuck: list[tuple[str, str]] = field(default_factory=list)
    stranded: list[tuple[str, str]] = field(default_factory=list)
    unaccounted: dict[str, int] = field(default_factory=dict)  # broker -> messages counted but not browsed


def place_messages(ledger: Ledger, final: FinalState) -> Placement:
    """Computed once per final state: `lost`, `stuck` and the report all classify the same messages."""
    cached = ledger._placements.get(id(final))
    if cached is None:
        cached = ledger._placements[id(final)] = (final, _place(ledger, final))
    return cached[1]


def _place(ledger: Ledger, final: FinalState) -> Placement:
    placement = Placement()
    located = final.located()
    for message_id in ledger.undelivered_by_deadline():
        if message_id in ledger.first_delivered:
            placement.late.append(message_id)
        elif message_id not in located:
            placement.lost.append(message_id)
    deadline = ledger.drain_deadline if ledger.drain_deadline is not None else math.inf
    consumers_on = {b for b in ledger.consumers_at(deadline).values() if b}
    facts = ledger.facts
    for broker, ids in sorted(final.messages.items()):
        for message_id in ids:
            origin = ledger.receipted_by(message_id) or ledger.sent_to.get(message_id)
            crossed_bridge = origin is not None and origin != "?" and not facts.same_pair(origin, broker)
            if crossed_bridge and consumers_on and broker not in consumers_on:
                placement.stranded.append((broker, message_id))
            else:
                placement.stuck.append((broker, message_id))
        size = sum(final.queues.get(broker, {}).values())
        if size > len(ids):
            placement.unaccounted[broker] = size - len(ids)
    for broker, queues in final.queues.items():
        size = sum(queues.values())
        if size and broker not in final.messages and broker not in final.unreadable:
            placement.unaccounted[broker] = size
    return placement


def classify_undelivered(ledger: Ledger, final: FinalState) -> dict[str, str]:
    """Every acknowledged id not delivered by the deadline: "late", "lost", "stuck:<b>" or "stranded:<b>"."""
    placement = place_messages(ledger, final)
    undelivered = set(ledger.undelivered_by_deadline())
    classes = {i: "late" for i in placement.late} | {i: "lost" for i in placement.lost}
    for kind, items in (("stuck", placement.stuck), ("stranded", placement.stranded)):
        for broker, message_id in items:
            if message_id in undelivered:
                classes.setdefault(message_id, f"{kind}:{broker}")
    return classes


def check_lost(ledger: Ledger, final: FinalState) -> Verdict:
    placement = place_messages(ledger, final)
    lost = placement.lost
    never_arrived = ledger.indeterminate - ledger.first_delivered.keys()
    counts = {
        "acknowledged": len(ledger.acknowledged),
        "lost": len(lost),
        "late": len(placement.late),
        "indeterminate-never-delivered": len(never_arrived),
    }
    evidence = {
        "lost": [
            {"id": i, "acknowledged_at": ledger.acknowledged[i][0], "by": ledger.acknowledged[i][1]}
            for i in sample_ids(lost)
        ],
        "indeterminate_never_delivered": sample_ids(never_arrived),
        "dead_lettered": {
            broker: sample_ids(set(ids) & set(lost))
            for broker, ids in final.dead_letters.items()
            if set(ids) & set(lost)
        },
    }
    if lost and final.unreadable:
        sizes = final.unreadable.values()
        room = None if None in sizes else sum(s or 0 for s in sizes)
        if room is None or room >= len(lost):
            # they may all sit on a node nobody could read: unknown, never a pass
            unread = ", ".join(
                f"{n} ({final.reasons.get(n, 'unreadable')})" for n in sorted(final.unreadable)
            )
            note = f"{len(lost)} acknowledged ids undelivered and not found, and {unread} could not be read"
            return Verdict("lost", None, counts, evidence, note + ": they may be there")
    unexplained = [i for i in lost if _volatile_loss(ledger, i) is None]
    note = ""
    if lost and not ledger.facts.persistent:
        note = (
            f"non-persistent: {len(lost) - len(unexplained)} lost after a broker process ended later than "
            f"their receipt; {len(unexplained)} not"
        )
        evidence["lost_without_a_process_ending"] = sample_ids(unexplained)
    return Verdict("lost", not lost, counts, evidence, note, explained=bool(lost) and not unexplained)


def _volatile_loss(ledger: Ledger, message_id: str) -> FaultWindow | None:
    """For a non-persistent message: a fault that ended a broker's process after its receipt and before the
    drain deadline (what the broker held only in memory went with it). Any broker: a message may have crossed
    a bridge, and where it sat is not recorded."""
    if ledger.facts.persistent:
        return None
    received = ledger.acknowledged[message_id][0]
    deadline = ledger.drain_deadline if ledger.drain_deadline is not None else math.inf
    return next(
        (w for w in ledger.faults if w.action in PROCESS_ENDING and received <= w.start <= deadline), None
    )


def check_stuck(ledger: Ledger, final: FinalState) -> Verdict:
    """Nothing may be left on a broker after the drain, nor arrive after the deadline (late)."""
    placement = place_messages(ledger, final)
    located: dict[str, list[str]] = collections.defaultdict(list)
    for broker, message_id in placement.stuck + placement.stranded:
        located[broker].append(message_id)
    stranded_on: dict[str, list[str]] = collections.defaultdict(list)
    for broker, message_id in placement.stranded:
        stranded_on[broker].append(message_id)
    counts = {
        "messages": len(placement.stuck) + len(placement.stranded) + sum(placement.unaccounted.values()),
        "stranded": len(placement.stranded),
        "late": len(placement.late),
        "brokers": len(located.keys() | placement.unaccounted.keys()),
    }
    evidence = {
        "on_brokers": final.stuck_counts(),
        "located_ids": {broker: sample_ids(ids) for broker, ids in sorted(located.items())},
        "stranded_ids": {broker: sample_ids(ids) for broker, ids in sorted(stranded_on.items())},
        "late": [{"id": i, "delivered_at": ledger.first_delivered[i]} for i in sample_ids(placement.late)],
        "unaccounted": placement.unaccounted,
        "unreadable": final.reasons,
    }
    violated = bool(located or placement.late or placement.unaccounted)
    unexplained = len(placement.stuck) + len(placement.late) + sum(placement.unaccounted.values())
    if final.unreadable and not violated:
        note = "could not read " + ", ".join(f"{n} ({r})" for n, r in sorted(final.reasons.items()))
        return Verdict("stuck", None, counts, evidence, note)
    note = ""
    if placement.stranded:
        note = (
            f"{len(placement.stranded)} stranded (crossed a bridge to a broker with no consumer left while "
            f"consumers were elsewhere); {unexplained} not"
        )
    return Verdict("stuck", not violated, counts, evidence, note, explained=violated and unexplained == 0)


# ---------------------------------------------------------------------------------------- duplicates
def check_duplicated(ledger: Ledger, final: FinalState) -> Verdict:
    """Each copy after the first must have a mechanism between it and the copy before: the previous copy's
    ack never confirmed when its consumer's session ended (consumer-side redelivery), or a fault in force
    on the message's path (the broker that receipted the send, the brokers that delivered either copy).
    Each fault explains at most what can be in flight then, per queue: consumers x prefetch + one bridge's
    prefetch."""
    facts = ledger.facts
    # every queue has its own subscription per consumer and its own bridge consumer
    cap = facts.queues * (facts.consumers * facts.prefetch + facts.bridge_prefetch)
    charged: collections.Counter[int] = collections.Counter()
    unexplained: list[dict[str, Any]] = []
    by_mechanism: collections.Counter[str] = collections.Counter()
    duplicated = ledger.copies
    for message_id, copies in sorted(duplicated.items(), key=lambda item: copies_start(item[1])):
        path = {ledger.receipted_by(message_id) or "", *(d.broker for d in copies)}
        for previous, copy in itertools.pairwise(copies):
            mechanism = _consumer_side(ledger, message_id, previous, copy)
            if mechanism is None:
                window = _fault_on_path(ledger, path, previous.t, copy.t)
                if window is not None:
                    index = ledger.faults.index(window)
                    charged[index] += 1
                    mechanism = None if charged[index] > cap else f"fault: {window.label()}"
            if mechanism is None:
                unexplained.append(
                    {
                        "id": message_id,
                        "copies": [previous.t, copy.t],
                        "brokers": [previous.broker, copy.broker],
                    }
                )
            else:
                by_mechanism[mechanism.split(":")[0]] += 1
    extra = sum(len(d) - 1 for d in duplicated.values())
    evidence = {
        "duplicated": [
            {
                "id": i,
                "deliveries": [
                    {"t": d.t, "broker": d.broker, "redelivered": d.redelivered, "consumer": d.process}
                    for d in duplicated[i]
                ],
            }
            for i in sample_ids(duplicated)
        ],
        "unexplained": unexplained[:EVIDENCE_LIMIT],
        "explained_by": dict(by_mechanism),
    }
    counts = {"ids": len(duplicated), "extra-deliveries": extra, "unexplained": len(unexplained)}
    note = ""
    if unexplained:
        note = (
            f"{len(unexplained)} extra copies with no unconfirmed ack and no fault on their path between the "
            f"copies (or more than the {cap} a fault can leave in flight)"
        )
    return Verdict(
        "duplicated", not duplicated, counts, evidence, note, explained=bool(duplicated) and not unexplained
    )


def copies_start(copies: list[Delivery]) -> float:
    return copies[0].t


def _consumer_side(ledger: Ledger, message_id: str, previous: Delivery, copy: Delivery) -> str | None:
    """A consumer-side redelivery: the session that delivered `previous` ended without its ack confirmed,
    and began closing before the copy came, so the broker was free to hand the message out again; or the
    copy itself was handed over by a session already closing, never acked (the broker had taken the message
    back, and its redelivery elsewhere can be recorded first)."""
    for since, ended, process in ledger.unconfirmed.get(message_id, ()):
        if process == previous.process and ended >= previous.t and since <= copy.t:
            return f"unconfirmed-ack: {process} closing at {since:.3f}"
        if process == copy.process and since <= copy.t <= ended:
            return f"unconfirmed-ack: {process} handed it over while closing from {since:.3f}"
    return None


def _fault_on_path(ledger: Ledger, path: set[str], start: float, end: float) -> FaultWindow | None:
    for window in ledger.faults:
        if window.start <= end and window.end >= start and window.nodes & path:
            return window
    return None


# ------------------------------------------------------------------------------------------ identity
def check_unexpected(ledger: Ledger, final: FinalState) -> Verdict:
    """Every delivery is of a message this run sent, on its queue, with its body; a send the broker refused
    (ERROR frame) is never delivered; the same for what durable subscribers receive from the topic."""
    delivered = ledger.first_delivered.keys()
    # only the few delivered without a receipt are looked for among the attempts
    unreceipted = ledger.delivered_unacknowledged()
    foreign = unreceipted - unreceipted.intersection(ledger.attempted) if unreceipted else set()
    foreign |= ledger.topic.foreign()  # what a durable subscriber received that nobody published
    refused_but_delivered = {i for i in ledger.failed if i in delivered}
    counts = {
        "ids": len(foreign) + len(refused_but_delivered) + len(ledger.mismatched),
        "foreign": len(foreign),
        "refused-but-delivered": len(refused_but_delivered),
        "mismatched": len(ledger.mismatched),
    }
    evidence = {
        "unexpected": sample_ids(foreign),
        "refused_but_delivered": sample_ids(refused_but_delivered),
        "mismatched": [
            {k: e.get(k) for k in ("t", "id", "broker", "mismatch")}
            for e in ledger.mismatched[:EVIDENCE_LIMIT]
        ],
    }
    return Verdict("unexpected", counts["ids"] == 0, counts, evidence)


# ------------------------------------------------------------------------------------- bridges, recovery
def check_bridges_resumed(ledger: Ledger, final: FinalState) -> Verdict:
    """After the heal, every direction the design promises for the live nodes delivered a probe."""
    resumed = {f"{a}->{b}": s for (a, b), s in sorted(ledger.probes.items()) if s is not None}
    stalled = [f"{a}->{b}" for (a, b), s in sorted(ledger.probes.items()) if s is None]
    plan = ledger.probe_plan
    unprobed = sorted(f"{a}->{b}" for a, b in plan or () if (a, b) not in ledger.probes)
    counts = {"directions": len(ledger.probes), "not-resumed": len(stalled), "unprobed": len(unprobed)}
    if resumed:
        counts["slowest-ms"] = int(max(resumed.values()) * 1000)
    evidence = {"recovery_seconds": resumed, "not_resumed": stalled, "unprobed": unprobed}
    if stalled:
        return Verdict("bridges-resumed", False, counts, evidence)
    if plan is None:
        return Verdict("bridges-resumed", None, counts, evidence, "no probe plan in the history")
    if unprobed:
        return Verdict(
            "bridges-resumed", None, counts, evidence, "promised but not probed: " + ", ".join(unprobed)
        )
    note = "" if plan else "no bridge promised between the nodes live after the heal"
    return Verdict("bridges-resumed", True, counts, evidence, note)


def check_recovered(ledger: Ledger, final: FinalState) -> Verdict:
    """After every heal the cluster returns to its design's promised state within the deadline: every pair
    with a live node, every promised bridge up, the VIP routing clients to a live broker."""
    failures = ledger.not_recovered
    counts = {"not-recovered": len(failures)}
    evidence = {
        "not_recovered": [
            {k: e.get(k) for k in ("t", "problems", "live", "error")} for e in failures[:EVIDENCE_LIMIT]
        ]
    }
    if failures:
        routable = set(ledger.facts.vip_routes) & set(ledger.facts.client_nodes)
        # the one declarable mechanism: the only problem is the VIP, because no live node is one it routes
        # to with a client connector (a seed design whose slaves both took over)
        explained = all(
            e.get("problems") == ["vip"] and e.get("live") is not None and not (set(e["live"]) & routable)
            for e in failures
        )
        return Verdict(
            "recovered", False, counts, evidence, str(failures[-1].get("error", ""))[:300], explained
        )
    if ledger.recovered is None:
        return Verdict("recovered", None, counts, evidence, "the history records no recovery after the heal")
    return Verdict("recovered", True, counts, evidence)


def check_prompt(ledger: Ledger, final: FinalState) -> Verdict:
    """Once the cluster recovered, every message acknowledged after that and delivered at all reached its first
    consumer within `prompt_within` seconds of its receipt: a bridge that forwards, but at a crawl, fails
    here. Messages never delivered are `lost` or `stuck`, not judged here. Unknown without a recovery, or with
    fewer such deliveries than the minimum work."""
    limit = ledger.facts.prompt_within
    recovered = ledger.recovered
    if recovered is None:
        return Verdict("prompt", None, {"judged": 0}, note="the history records no recovery after the heal")
    latencies, ids, sent = _latencies_after(ledger, recovered)
    too_slow = list(map(float(limit).__lt__, latencies))  # float: int.__lt__(float) is NotImplemented, truthy
    slow = sorted(
        zip(
            itertools.compress(latencies, too_slow),
            itertools.compress(ids, too_slow),
            itertools.compress(sent, too_slow),
            strict=True,
        ),
        reverse=True,
    )
    counts = {"judged": len(latencies), "slow": len(slow)}
    if latencies:
        counts["slowest-ms"] = int(max(latencies) * 1000)
    evidence = {
        "limit_s": limit,
        "slow": [
            {"id": i, "acknowledged_at": round(t, 3), "latency_s": round(latency, 3)}
            for latency, i, t in slow[:EVIDENCE_LIMIT]
        ],
    }
    if slow:
        return Verdict("prompt", False, counts, evidence, f"{len(slow)} messages took over {limit:.0f} s")
    if len(latencies) < ledger.facts.min_delivered_after_heal:
        note = f"{len(latencies)} deliveries of messages sent after the recovery (need {ledger.facts.min_delivered_after_heal})"
        return Verdict("prompt", None, counts, evidence, note)
    return Verdict("prompt", True, counts, evidence)


def _latencies_after(ledger: Ledger, recovered: float) -> tuple[list[float], list[str], list[float]]:
    """(first delivery - receipt, id, receipt time) of every id acknowledged after `recovered` and delivered,
    as three lists. Whole-list passes in C (map, compress) instead of a loop per id: a million ids took 0.45 s
    as a comprehension."""
    acknowledged = ledger.acknowledged
    times = list(map(operator.itemgetter(0), acknowledged.values()))
    after = list(map(float(recovered).__lt__, times))
    ids = list(itertools.compress(acknowledged, after))
    sent = list(itertools.compress(times, after))
    firsts = list(map(ledger.first_delivered.get, ids, itertools.repeat(math.nan)))
    latencies = list(map(operator.sub, firsts, sent))
    delivered = list(map(operator.not_, map(math.isnan, latencies)))
    if all(delivered):
        return latencies, ids, sent
    return (
        list(itertools.compress(latencies, delivered)),
        list(itertools.compress(ids, delivered)),
        list(itertools.compress(sent, delivered)),
    )


def latency_cell(verdict: Verdict) -> str:  # the slowest first delivery after the recovery
    if verdict.valid is False:
        return f"{verdict.counts['slow']} slow"
    return f"{verdict.counts.get('slowest-ms', 0) / 1000:.1f}s"


# ---------------------------------------------------------------------------------------- availability
def check_available(ledger: Ledger, final: FinalState, limit: float | None = None) -> Verdict:
    """While the producers ran, some send was acknowledged at least every `limit` seconds (the design's
    measured takeover with room). A longer gap is explained only where the sampler saw, throughout it, no
    node the VIP routes to serving clients; where it is over the limit only because every producer had
    given up (nobody tried to send), availability was not measured: unknown, not the brokers' fault or
    credit."""
    limit = ledger.facts.unavailable_after if limit is None else limit
    start, end = ledger.load_started, ledger.load_ended
    times = list(ledger.receipt_times)
    if start is None:
        if not times:
            return Verdict("available", None, {"longest-gap-ms": 0}, note="no load phase in this history")
        start = times[0]
    if end is None:
        return Verdict(
            "available", None, {"longest-gap-ms": 0}, note="the load never ended (no healed phase)"
        )
    # receipts in history order are in time order: the gaps lie between neighbours inside the load
    times.sort()
    inside = times[bisect.bisect_left(times, start) : bisect.bisect_right(times, end)]
    edges = [start, *inside, end]
    longest, over = (start, end), []
    widest = -1.0
    for previous, t in itertools.pairwise(edges):
        gap = t - previous
        if gap > widest:
            widest, longest = gap, (previous, t)
        if gap > limit:
            over.append((previous, t))
    away = _all_producers_away(ledger, end)
    unexplained, unmeasured = [], []
    for gap in over:
        unreachable = _unreachable_spans(ledger, gap)
        if _longest_outside(gap, unreachable + away) > limit:
            unexplained.append(gap)
        elif _longest_outside(gap, unreachable) > limit:
            unmeasured.append(gap)
    counts = {"longest-gap-ms": int((longest[1] - longest[0]) * 1000), "gaps-over-limit": len(over)}
    evidence = {
        "longest_gap": {"from": round(longest[0], 3), "to": round(longest[1], 3)},
        "over_limit": [{"from": round(a, 3), "to": round(b, 3)} for a, b in over[:EVIDENCE_LIMIT]],
        "limit_s": limit,
    }
    note = ""
    if over:
        note = f"no send acknowledged for {longest[1] - longest[0]:.1f} s (limit {limit:.0f} s)"
    if unmeasured and not unexplained:
        a, b = unmeasured[0]
        evidence["unmeasured"] = [
            {"from": round(a, 3), "to": round(b, 3)} for a, b in unmeasured[:EVIDENCE_LIMIT]
        ]
        note += f"; every producer had given up for part of {b - a:.1f} s from {a:.1f} s: nobody measured it"
        return Verdict("available", None, counts, evidence, note)
    return Verdict("available", not over, counts, evidence, note, explained=bool(over) and not unexplained)


def _unreachable_spans(ledger: Ledger, gap: tuple[float, float]) -> list[tuple[float, float]]:
    """The parts of `gap` shown unreachable: between two consecutive sampler sweeps in which no node the VIP
    routes to answered as a client connector."""
    routes = set(ledger.facts.vip_routes)
    samples = [(t, nodes) for t, nodes in ledger.serving if gap[0] <= t <= gap[1]]
    return [
        (t1, t2)
        for (t1, s1), (t2, s2) in itertools.pairwise(samples)
        if not (s1 & routes) and not (s2 & routes)
    ]


def _all_producers_away(ledger: Ledger, load_end: float) -> list[tuple[float, float]]:
    """The times every producer of the run had given up at once (none tried to send)."""
    if not ledger.producers_away:
        return []
    producers = set(ledger.producers_away) | ledger.producers_seen
    spans: list[tuple[float, float]] | None = None
    for process in producers:
        own = [(a, b if b is not None else load_end) for a, b in ledger.producers_away.get(process, [])]
        spans = own if spans is None else _intersect(spans, own)
    return spans or []


def _intersect(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> list[tuple[float, float]]:
    return [(max(x0, y0), min(x1, y1)) for x0, x1 in a for y0, y1 in b if max(x0, y0) < min(x1, y1)]


def _longest_outside(gap: tuple[float, float], covered: list[tuple[float, float]]) -> float:
    """The longest part of `gap` that no span of `covered` covers."""
    longest, cursor = 0.0, gap[0]
    for start, end in sorted(covered):
        if start > cursor:
            longest = max(longest, min(start, gap[1]) - cursor)
        cursor = max(cursor, end)
        if cursor >= gap[1]:
            break
    return max(longest, gap[1] - cursor)


# ------------------------------------------------------------------------------------------ evidence
def check_exercised(ledger: Ledger, final: FinalState) -> Verdict:
    """Minimum work, or the verdict is unknown: enough sends acknowledged before the first fault, enough
    deliveries after the last heal, and every consumer connected at the drain deadline."""
    facts = ledger.facts
    first_fault = ledger.first_fault()
    receipts = sorted(ledger.receipt_times)  # sorted already in history order: linear
    before = len(receipts) if first_fault is None else bisect.bisect_left(receipts, first_fault)
    last_heal = ledger.last_heal if ledger.last_heal is not None else (first_fault or 0.0)
    delivered = sorted(ledger.delivery_times)
    after = len(delivered) - bisect.bisect_right(delivered, last_heal)
    deadline = ledger.drain_deadline
    consumers = ledger.consumers_at(deadline if deadline is not None else math.inf)
    gone = sorted(p for p, broker in consumers.items() if not broker)
    counts = {"acknowledged-before-fault": before, "delivered-after-heal": after, "consumers-gone": len(gone)}
    missing = []
    if before < facts.min_acknowledged_before_fault:
        missing.append(
            f"{before} sends acknowledged before the first fault (need {facts.min_acknowledged_before_fault})"
        )
    if after < facts.min_delivered_after_heal:
        missing.append(f"{after} deliveries after the last heal (need {facts.min_delivered_after_heal})")
    if len(consumers) < facts.consumers:
        missing.append(f"{len(consumers)} consumers ever connected (want {facts.consumers})")
    if gone:
        missing.append(f"not connected at the drain deadline: {', '.join(gone)}")
    if deadline is None:
        missing.append("no drain deadline in the history")
    if ledger.faults_asked and not ledger.faults_applied:
        # a fault run whose every fault failed to apply showed nothing about that fault
        missing.append(f"none of the {ledger.faults_asked} faults asked for was applied")
    counts["faults-applied"] = ledger.faults_applied
    evidence = {"consumers_at_deadline": consumers, "missing": missing}
    return Verdict("exercised", None if missing else True, counts, evidence, "; ".join(missing))


@dataclass(frozen=True)
class Checker:
    """One property as a unit: its check, the summary column it fills and how its cell reads once decided
    (an undecided cell reads "?"). Summary, matrix, soak and report draw every registered checker from this;
    adding one is its function plus one line in CHECKERS."""

    name: str
    check: Callable[[Ledger, FinalState], Verdict]
    column: str
    cell: Callable[[Verdict], str]
    # whether the property concerns this run at all (durable subscriptions, in a run that had some); a
    # checker that does not apply gives no verdict, and its summary cell reads "-"
    applies: Callable[[Ledger], bool] = lambda ledger: True


def count_cell(key: str) -> Callable[[Verdict], str]:
    return lambda verdict: str(verdict.counts.get(key, 0))


def yes_no_cell(verdict: Verdict) -> str:
    return "yes" if verdict.valid else "no"


def gap_cell(verdict: Verdict) -> str:  # the longest time no send was acknowledged
    return f"{verdict.counts.get('longest-gap-ms', 0) / 1000:.1f}s"


def bridges_cell(verdict: Verdict) -> str:
    """The slowest bridge recovery after the heal, or why there is none."""
    if verdict.valid is False:
        return f"{verdict.counts['not-resumed']} stalled"
    if verdict.counts.get("directions") == 0:
        return "none promised"
    if "slowest-ms" not in verdict.counts:
        return "n/a"
    return f"{verdict.counts['slowest-ms'] / 1000:.1f}s"


CHECKERS: dict[str, Checker] = {
    c.name: c
    for c in (
        Checker("lost", check_lost, "lost", count_cell("lost")),
        Checker("duplicated", check_duplicated, "dup", count_cell("extra-deliveries")),
        Checker("unexpected", check_unexpected, "unexp", count_cell("ids")),
        Checker("stuck", check_stuck, "stuck", count_cell("messages")),
        Checker("bridges-resumed", check_bridges_resumed, "bridges", bridges_cell),
        Checker("recovered", check_recovered, "recovered", yes_no_cell),
        Checker("prompt", check_prompt, "prompt", latency_cell),
        Checker("available", check_available, "max gap", gap_cell),
        Checker("exercised", check_exercised, "evidence", yes_no_cell),
        Checker("durable-lost", check_durable_lost, "d-lost", count_cell("lost"), has_subscribers),
        Checker(
            "durable-duplicated",
            check_durable_duplicated,
            "d-dup",
            count_cell("extra-deliveries"),
            has_subscribers,
        ),
        Checker("durable-stuck", check_durable_stuck, "d-stuck", count_cell("messages"), has_subscribers),
    )
}


def check_all(ledger: Ledger, final: FinalState, checkers: Iterable[Checker] | None = None) -> list[Verdict]:
    verdicts = []
    with _gc_paused():
        for checker in CHECKERS.values() if checkers is None else checkers:
            if not checker.applies(ledger):
                continue
            try:
                verdicts.append(checker.check(ledger, final))
            except Exception as exc:  # a crashing checker must never read as a pass
                verdicts.append(Verdict(checker.name, None, note=f"checker crashed: {exc!r}"))
    return verdicts


def _repeated_ids(ids: list[str], times: Sequence[float], last: dict[str, float], extra: int) -> set[str]:
    """The ids that occur more than once in `ids` (`extra` copies beyond the first in all), given `last`, the
    time of each id's last copy. A copy whose time is not its id's last time is an earlier copy of a repeated
    id: whole-column calls find those, a third of the time of counting every id. Copies of one id at one and
    the same time would hide from that, so unless every extra copy was found, every id is counted."""
    earlier = list(itertools.compress(ids, map(operator.ne, map(last.__getitem__, ids), times)))
    if len(earlier) == extra:
        return set(earlier)
    return {i for i, n in collections.Counter(ids).items() if n > 1}


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC over millions of short-lived acyclic objects: it would rescan them all repeatedly."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def merged_validity(verdicts: Iterable[Verdict]) -> bool | None:
    values = [v.valid for v in verdicts]
    if False in values:
        return False
    if None in values:
        return None
    return True
