"""The ledger: what a history says happened, read in one pass (from its events, or from its compact form).

What was sent, acknowledged, delivered and done to the cluster, and when; the checkers (harness.check.queues,
harness.check.liveness, harness.check.durable) judge from it and never read the history themselves.

Terms (docs/reading-a-report.md): an *acknowledged* send got its receipt; an *indeterminate* send got none (timeout,
disconnect), so it may or may not be stored; a *delivery* is a MESSAGE frame a consumer recorded before
acking it. The drain deadline is the `phase drain-deadline` event: deliveries after it are *late*. The load
runs from the `phase load` event until `phase healed`, when the producers stop.
"""

from __future__ import annotations

import collections
import contextlib
import gc
import itertools
import math
import operator
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness import phases
from harness.chaos.faults import FAULT_KINDS
from harness.check.durable import TopicLedger
from harness.check.facts import RunFacts
from harness.check.redelivery import BRIDGE_BACK_DEFAULT, Session, Unconfirmed, sessions_of
from harness.check.verdict import FinalState, id_order
from harness.compact import CompactHistory, read_compact
from harness.history import Event, read_history

if TYPE_CHECKING:
    # the ledger only caches the queue checkers' placement for them; it never imports them at run time
    from harness.check.queues import Placement

SELF_ENDING = frozenset(k.name for k in FAULT_KINDS.values() if k.ends_by_itself)  # a restart
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
    # id -> every ack of it a consumer never saw confirmed
    unconfirmed: dict[str, list[Unconfirmed]] = field(default_factory=dict)
    # id -> (time, process, error) of a send answered neither by a receipt nor by an ERROR
    unanswered_at: dict[str, tuple[float, str, str]] = field(default_factory=dict)
    # (time, process) of every client connection that dropped or could not be made
    connection_drops: list[tuple[float, str]] = field(default_factory=list)
    faults: list[FaultWindow] = field(default_factory=list)
    faults_asked: int = 0  # faults a scenario or schedule asked for (applied or not)
    faults_applied: int = 0
    last_heal: float | None = None
    # consumer process -> [(time, broker or "" when not connected)]
    consumer_states: dict[str, list[tuple[float, str]]] = field(default_factory=dict)
    serving: list[tuple[float, frozenset[str]]] = field(default_factory=list)  # sampler sweeps
    node_states: list[tuple[float, dict[str, str]]] = field(default_factory=list)  # node -> state, per sweep
    # producer process -> [(gave up, revived or None)]: when it stopped trying to connect (a workload with a
    # reconnect deadline), so that nobody measured availability then
    producers_away: dict[str, list[tuple[float, float | None]]] = field(default_factory=dict)
    producers_seen: set[str] = field(default_factory=set)  # every producer that tried to connect
    drain_deadline: float | None = None
    load_started: float | None = None
    load_ended: float | None = None
    recovered: float | None = None
    not_recovered: list[dict[str, Any]] = field(default_factory=list)
    # the live nodes each recovery check found
    live_seen: list[tuple[float, tuple[str, ...]]] = field(default_factory=list)
    probe_plan: list[tuple[str, str]] | None = None
    probes: dict[tuple[str, str], float | None] = field(default_factory=dict)  # direction -> recovery s
    unprobeable: list[str] = field(default_factory=list)
    topic: TopicLedger = field(default_factory=TopicLedger)  # durable subscriptions (harness.check.durable)
    # what a scenario's probe read of the brokers (f=reading), by what it read: kept whole for its checker
    readings: dict[str, list[Event]] = field(default_factory=dict)
    _undelivered: list[str] | None = field(default=None, repr=False)
    _never_delivered: set[str] | None = field(default=None, repr=False)
    _sessions: dict[str, list[Session]] | None = field(default=None, repr=False)
    _open_faults: dict[str, list[FaultWindow]] = field(default_factory=dict, repr=False)  # target -> windows
    _lone: dict[str, Delivery] = field(default_factory=dict, repr=False)  # id -> its only copy so far
    # id(final) -> (final, its placement), for harness.check.queues.place_messages; the final state is held
    # so that its id cannot be reused
    _placements: dict[int, tuple[FinalState, Placement]] = field(default_factory=dict, repr=False)

    @classmethod
    def from_history(cls, events: Iterable[Event], facts: RunFacts | None = None) -> Ledger:
        ledger = cls(facts=facts or RunFacts())
        with gc_paused():  # half the time otherwise
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
        with gc_paused():
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
                    if kind == "info":
                        self.unanswered_at[event["id"]] = (event["t"], event["p"], event.get("error", ""))
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
                if "states" in event:
                    self.node_states.append((event["t"], event["states"]))
            elif f == "revive" and event["p"].startswith("producer"):
                self._producer_away(event)
            elif f == "phase":
                self._phase(event)
            elif f == "reading":
                self.readings.setdefault(event["what"], []).append(event)
            elif f == "probe-plan":
                self.probe_plan = [tuple(d) for d in event.get("directions", [])]
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
            known = self.copies.get(event["id"])
            if known is not None:
                copies = known
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
        if event["f"] == "disconnected" or (event["f"] == "connect" and event["type"] == "fail"):
            self.connection_drops.append((event["t"], process))
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
        since = float(event.get("since") or t)
        if f != "unconfirmed":  # a delivery the closing connection handed over late changes no state
            self.consumer_states.setdefault(process, []).append((t, ""))
        entry = Unconfirmed(since, t, process, handover=f == "unconfirmed")
        for message_id in event.get("unconfirmed", event.get("ids")) or ():
            self.unconfirmed.setdefault(message_id, []).append(entry)

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
        if phase in (phases.RECOVERED, phases.NOT_RECOVERED) and "live" in event:
            self.live_seen.append((t, tuple(event["live"] or ())))

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

    def sessions_by_consumer(self) -> dict[str, list[Session]]:
        """Consumer process -> each of its sessions (computed once)."""
        if self._sessions is None:
            self._sessions = {
                process: sessions_of(states) for process, states in self.consumer_states.items()
            }
        return self._sessions

    def consumer_sessions(self) -> list[Session]:
        """Every consumer session, whoever had it."""
        return [session for sessions in self.sessions_by_consumer().values() for session in sessions]

    def bridge_back_seconds(self) -> float:
        """How long the bridges took to carry again after a heal: the run's slowest probe after its final
        heal, or the default when it has none."""
        resumed = [s for s in self.probes.values() if s is not None]
        return max(resumed) if resumed else BRIDGE_BACK_DEFAULT

    def session_boundaries(self, process: str) -> list[float]:
        """When the consumer's sessions began or ended."""
        return [t for t, _ in self.consumer_states.get(process, ())]

    def first_fault(self) -> float | None:
        return min((w.start for w in self.faults), default=None)


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
def gc_paused() -> Iterator[None]:
    """Pause the cyclic GC over millions of short-lived acyclic objects: it would rescan them all repeatedly."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
