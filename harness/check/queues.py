"""The message-accounting properties of the queues: every acknowledged send delivered (`lost`), once
(`duplicated`), nothing delivered that was not sent (`unexpected`), every send answered (`answered`), nothing
left on a broker or delivered late (`stuck`). Each takes the ledger (harness.check.ledger) and the final
state, and returns a verdict naming its witnesses.
"""

from __future__ import annotations

import bisect
import collections
import math
import operator
from dataclasses import dataclass, field
from typing import Any

from harness.chaos.faults import FAULT_KINDS
from harness.check.ledger import Delivery, FaultWindow, Ledger
from harness.check.redelivery import (
    IN_FLIGHT_BEFORE,
    REDELIVERY_DRAIN,
    ConsumerSide,
    Excuse,
    InFlight,
    Session,
    fault_excuse,
    session_started,
)
from harness.check.verdict import EVIDENCE_LIMIT, FinalState, Verdict, id_order, sample_ids

PROCESS_ENDING = frozenset(k.name for k in FAULT_KINDS.values() if k.ends_process)


# ------------------------------------------------------------------------------- undelivered and stuck
# How long after a consumer's session ended (or a fault on its pair ended) a bridge may still forward toward
# where it was: its broker must first notice the consumer gone (a dropped client is found by its STOMP
# heart-beats, 2 s here), then the removal reaches the other brokers as an advisory over the bridge. Seen on
# seed: messages sent 30-50 ms after both consumers left a pair still forwarded there (move-demand-then-kill),
# and 1.05 s after an isolation ended (isolate-master, SEED=80667038).
DEMAND_WITHDRAWAL = 5.0


@dataclass
class Placement:
    """Every acknowledged id not delivered by the deadline, and every message left on a broker, classified."""

    lost: list[str] = field(default_factory=list)
    late: list[str] = field(default_factory=list)
    # (broker, id): left on a broker after the drain; stranded ones show the declared mechanism
    stuck: list[tuple[str, str]] = field(default_factory=list)
    stranded: list[tuple[str, str]] = field(default_factory=list)
    unaccounted: dict[str, int] = field(default_factory=dict)  # broker -> messages counted but not browsed
    # the stranded message sent closest to the end of the demand it followed: seconds to spare
    stranded_slack: float = math.inf


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
    demand_until = _demand_seen_until(ledger, deadline)
    for broker, ids in sorted(final.messages.items()):
        stale = demand_until.get(facts.pairs.get(broker, ""), -math.inf)
        for message_id in ids:
            origin = ledger.receipted_by(message_id) or ledger.sent_to.get(message_id)
            crossed_bridge = origin is not None and origin != "?" and not facts.same_pair(origin, broker)
            # the stranding mechanism, seen: the message was sent while the holding broker's pair had
            # demand a bridge could see (a consumer there, or one that had just left), and that demand left;
            # none sits there now while consumers are elsewhere
            sent_at = ledger.acknowledged.get(message_id, (-math.inf, ""))[0]
            if crossed_bridge and sent_at <= stale and consumers_on and broker not in consumers_on:
                placement.stranded.append((broker, message_id))
                placement.stranded_slack = min(placement.stranded_slack, stale - sent_at)
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


def _demand_seen_until(ledger: Ledger, deadline: float) -> dict[str, float]:
    """Pair -> until when a bridge could still see demand there from a consumer session that left it before
    the deadline. A consumer's demand is withdrawn over the bridges by an advisory, a moment after its
    session ends (`DEMAND_WITHDRAWAL`); while a fault is in force on the pair (a frozen or cut-off broker
    sends no advisory), only once the fault ends."""
    pairs = ledger.facts.pairs
    until: dict[str, float] = {}
    for where, _, ended in ledger.consumer_sessions():
        pair = pairs.get(where)
        if pair is None or ended > deadline:
            continue
        seen = ended + DEMAND_WITHDRAWAL
        for window in ledger.faults:
            if (
                window.start <= seen
                and window.end >= ended
                and any(pairs.get(n) == pair for n in window.nodes)
            ):
                seen = max(seen, window.end + DEMAND_WITHDRAWAL)
        until[pair] = max(until.get(pair, -math.inf), seen)
    return until


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
    """Every acknowledged send is delivered, or found on a broker after the drain (then it is `stuck`'s). A
    non-persistent workload's loss is excused only for a message whose possible holder had its process ended
    by a fault after the receipt. Unknown when a node that may hold a missing id could not be read in full."""
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
    sessions = ledger.consumer_sessions()
    unexplained = [i for i in lost if _volatile_loss(ledger, i, sessions) is None]
    note = ""
    if lost and not ledger.facts.persistent:
        note = (
            f"non-persistent: {len(lost) - len(unexplained)} lost after a broker process ended later than "
            f"their receipt; {len(unexplained)} not"
        )
        evidence["lost_without_a_process_ending"] = sample_ids(unexplained)
    return Verdict("lost", not lost, counts, evidence, note, explained=bool(lost) and not unexplained)


def _volatile_loss(ledger: Ledger, message_id: str, sessions: list[Session]) -> FaultWindow | None:
    """For a non-persistent message: a fault that ended the process of a broker that could have held it,
    after its receipt and before the drain deadline (what a broker held only in memory went with it). A
    broker could hold it if it receipted the send, or if a consumer was connected to it between the receipt
    and the fault (its demand draws messages over a bridge)."""
    if ledger.facts.persistent:
        return None
    received, receipted_by = ledger.acknowledged[message_id]
    deadline = ledger.drain_deadline if ledger.drain_deadline is not None else math.inf
    for window in ledger.faults:
        if window.action not in PROCESS_ENDING or not received <= window.start <= deadline:
            continue
        if receipted_by in window.nodes or any(
            broker in window.nodes and start <= window.start and ended >= received
            for broker, start, ended in sessions
        ):
            return window
    return None


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
    if placement.stranded:
        evidence["stranded_least_slack_s"] = round(placement.stranded_slack, 3)
        evidence["demand_withdrawal_s"] = DEMAND_WITHDRAWAL
    violated = bool(located or placement.late or placement.unaccounted)
    unexplained = len(placement.stuck) + len(placement.late) + sum(placement.unaccounted.values())
    note = ""
    if placement.stranded:
        note = (
            f"{len(placement.stranded)} stranded (crossed a bridge to a broker its consumers had left after "
            f"it was sent, none there while consumers were elsewhere); {unexplained} not"
        )
    counts["unread"] = sum(n or 0 for n in final.unreadable.values())
    if final.unreadable and not unexplained:
        # what a broker nobody could read holds is unknown, whatever was excused elsewhere
        unread = "could not read " + ", ".join(f"{n} ({r})" for n, r in sorted(final.reasons.items()))
        return Verdict("stuck", None, counts, evidence, f"{note}; {unread}" if note else unread)
    return Verdict("stuck", not violated, counts, evidence, note, explained=violated and unexplained == 0)


# ---------------------------------------------------------------------------------------- duplicates
def check_duplicated(ledger: Ledger, final: FinalState) -> Verdict:
    """Each copy after the first must have a mechanism between it and the copy before: the previous copy's
    ack never confirmed when its consumer's session ended (consumer-side redelivery, each unconfirmed ack
    once), or a fault on the message's path (the broker that receipted the send, the brokers that delivered
    either copy) that hit while the earlier copy was in flight and came back shortly before the extra one,
    no more copies per fault than can be in flight on its path (harness.check.redelivery)."""
    unexplained: list[dict[str, Any]] = []
    by_mechanism: collections.Counter[str] = collections.Counter()
    duplicated = ledger.copies
    sessions = ledger.sessions_by_consumer()
    consumer_side = ConsumerSide(owner=operator.attrgetter("process"), boundaries=ledger.session_boundaries)
    in_flight = InFlight(ledger, sessions)
    margins = _Margins()
    for message_id, copies in sorted(duplicated.items(), key=lambda item: copies_start(item[1])):
        path = {ledger.receipted_by(message_id) or "", *(d.broker for d in copies)}
        entries = ledger.unconfirmed.get(message_id, ())
        for index in range(1, len(copies)):
            previous, copy = copies[index - 1], copies[index]
            mechanism = None
            unconfirmed = consumer_side.excuse(message_id, entries, copies, index)
            if unconfirmed is not None:
                how = "handed it over while closing from" if unconfirmed.handover else "closing at"
                mechanism = f"unconfirmed-ack: {unconfirmed.process} {how} {unconfirmed.since:.3f}"
            else:
                started = session_started(sessions.get(copy.process, []), copy.t)
                excuse = fault_excuse(ledger, path, previous.t, copy.t, started)
                if excuse is not None and in_flight.admit(excuse):
                    mechanism = f"fault: {excuse.window.label()}"
                    margins.add(excuse)
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
        **margins.to_json(),
    }
    counts = {"ids": len(duplicated), "extra-deliveries": extra, "unexplained": len(unexplained)}
    note = ""
    if unexplained:
        note = (
            f"{len(unexplained)} extra copies with no unconfirmed ack left to explain them and no fault on "
            f"their path that hit while the earlier copy was in flight (up to {IN_FLIGHT_BEFORE:.0f} s "
            f"before it) and came back within {REDELIVERY_DRAIN:.0f} s of the later one (or more than "
            "can be in flight on that path)"
        )
    return Verdict(
        "duplicated", not duplicated, counts, evidence, note, explained=bool(duplicated) and not unexplained
    )


@dataclass
class _Margins:
    """How close the excused copies came to the bounds of their excuses: the figures that show a bound is
    neither a false alarm waiting to happen nor loose enough to hide a bug."""

    earliest_before_fault: float = -math.inf  # the earlier copy, seconds before its fault began
    least_slack: float = math.inf  # the extra copy, seconds before its bound
    per_fault: collections.Counter[str] = field(default_factory=collections.Counter)

    def add(self, excuse: Excuse) -> None:
        self.earliest_before_fault = max(self.earliest_before_fault, excuse.before_start)
        self.least_slack = min(self.least_slack, excuse.slack)
        self.per_fault[excuse.window.label()] += 1

    def to_json(self) -> dict[str, Any]:
        if not self.per_fault:
            return {}
        return {
            "fault_margins": {
                "earliest_before_fault_s": round(self.earliest_before_fault, 3),
                "least_slack_s": round(self.least_slack, 3),
                "in_flight_before_s": IN_FLIGHT_BEFORE,
                "redelivery_drain_s": REDELIVERY_DRAIN,
                "copies_per_fault": dict(self.per_fault),
            }
        }


def copies_start(copies: list[Delivery]) -> float:
    return copies[0].t


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


# ------------------------------------------------------------------------------------------ answers
# a send cut off may or may not have happened (Jepsen's indeterminate) only near what cut it off: a fault in
# force, or a connection dropping, within this many seconds of the send's wait for its receipt
NEAR_A_CAUSE = 5.0
VIP = "vip"  # the load balancer's service name, as a partition's grudge names it


def check_answered(ledger: Ledger, final: FinalState) -> Verdict:
    """Every send is answered, by a receipt or an ERROR. A send answered by neither and never delivered may
    or may not have happened only when something cut it off: a fault in force near it on its path (the pair
    of the broker it went to, or the VIP), or another client's connection dropping or refused near it (the
    VIP, the network). With neither, the broker took the send and answered nothing: a finding, never a
    silent ok. Delivered ones happened; they are not judged here."""
    if not ledger.attempted:
        return Verdict("answered", None, {"unanswered": 0}, note="no send in this history")
    timeout = ledger.facts.receipt_timeout
    drops = sorted(ledger.connection_drops)
    drop_times = [t for t, _ in drops]
    never_delivered = ledger.indeterminate - ledger.first_delivered.keys()
    cut_off: list[str] = []
    unanswered: list[dict[str, Any]] = []
    farthest = 0.0  # how far the cut-off send farthest from its cause was from it: the bound's margin
    for message_id in sorted(never_delivered, key=id_order):
        t, process, error = ledger.unanswered_at.get(message_id, (math.nan, "", ""))
        start, end = t - timeout - NEAR_A_CAUSE, t + NEAR_A_CAUSE
        # the send waited from t - timeout (or less, when its connection dropped) to t; a fault cuts it off
        # when it touched the pair of the broker it went to, or the VIP
        path = _pair_of(ledger, ledger.sent_to.get(message_id, ""))
        distances = [_distance(w.start, w.end, t - timeout, t) for w in ledger.faults if w.nodes & path]
        nearby = drops[bisect.bisect_left(drop_times, start) : bisect.bisect_right(drop_times, end)]
        distances += [_distance(d, d, t - timeout, t) for d, p in nearby if p != process]
        cause = min(distances, default=math.inf)
        if cause <= NEAR_A_CAUSE:
            cut_off.append(message_id)
            farthest = max(farthest, cause)
        else:
            unanswered.append({"id": message_id, "at": t, "by": process, "error": error})
    counts = {"indeterminate": len(cut_off), "unanswered": len(unanswered)}
    evidence = {
        "unanswered": unanswered[:EVIDENCE_LIMIT],
        "cut_off": sample_ids(cut_off),
        "near_s": NEAR_A_CAUSE,
        "farthest_cause_s": round(farthest, 3),
    }
    note = ""
    if unanswered:
        note = (
            f"{len(unanswered)} sends got neither a receipt nor an ERROR and were never delivered, with no "
            f"fault and no other client's connection drop within {NEAR_A_CAUSE:.0f} s"
        )
    return Verdict("answered", not unanswered, counts, evidence, note)


def _pair_of(ledger: Ledger, broker: str) -> set[str]:
    """The nodes of a broker's pair and the VIP: what a send to it travels through. Every node when the
    broker is not known (a send whose session never said where it was)."""
    pairs = ledger.facts.pairs
    if broker not in pairs:
        return {*pairs, VIP}
    return {node for node, pair in pairs.items() if pair == pairs[broker]} | {VIP}


def _distance(a0: float, a1: float, b0: float, b1: float) -> float:
    """Seconds between two spans of time; 0 when they overlap."""
    return max(0.0, a0 - b1, b0 - a1)
