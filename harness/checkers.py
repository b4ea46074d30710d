"""Checkers: pure functions from a history (and the cluster's final state) to verdicts with evidence.

Each property is its own function returning the witnesses (message ids, brokers, times) that violate it, so
a failure names what went wrong. `check_all` runs them; a checker that crashes yields an *unknown* verdict
with the error, never a pass. Merged validity: False (violated) > None (unknown) > True.

Terms (TOPOLOGY.md): an *acknowledged* send got its receipt; an *indeterminate* send got none (timeout,
disconnect), so it may or may not be stored; a *delivery* is a MESSAGE frame a consumer recorded before
acking it. The drain deadline is the `phase drain-deadline` event: deliveries after it are *late*. The load
runs from the `phase load` event until `phase healed`, when the producers stop.
"""

from __future__ import annotations

import collections
import contextlib
import gc
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from harness.history import Event

EVIDENCE_LIMIT = 50  # ids quoted per verdict; counts are always complete
# Longest a healthy failover keeps every send from being stored: lock retry (10 s) + fault hold (~10 s) + the
# VIP's check and the clients' back-off, with room to spare. Longer than this, the cluster was unavailable.
UNAVAILABLE_AFTER = 60.0


@dataclass(slots=True)
class Delivery:
    t: float
    broker: str
    redelivered: bool


@dataclass
class Ledger:
    """One pass over the history: what was sent, acknowledged, delivered, and when."""

    attempted: set[str] = field(default_factory=set)
    acknowledged: dict[str, float] = field(default_factory=dict)  # id -> receipt time
    acknowledged_by: dict[str, str] = field(default_factory=dict)  # id -> broker that receipted it
    indeterminate: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)
    deliveries: dict[str, list[Delivery]] = field(default_factory=lambda: collections.defaultdict(list))
    drain_deadline: float | None = None
    load_started: float | None = None
    load_ended: float | None = None
    probes: dict[tuple[str, str], float | None] = field(default_factory=dict)  # direction -> recovery s
    unprobeable: list[str] = field(default_factory=list)
    _undelivered: list[str] | None = field(default=None, repr=False)

    @classmethod
    def from_history(cls, events: Iterable[Event]) -> Ledger:
        with _gc_paused():  # half the time otherwise
            return cls._build(events)

    @classmethod
    def _build(cls, events: Iterable[Event]) -> Ledger:
        # the hot loop of every check: locals and one dispatch per event
        ledger = cls()
        deliveries = ledger.deliveries
        attempted_add = ledger.attempted.add
        acknowledged = ledger.acknowledged
        acknowledged_by = ledger.acknowledged_by
        for event in events:
            f = event["f"]
            if f == "deliver":
                deliveries[event["id"]].append(
                    Delivery(event["t"], event.get("broker", "?"), event.get("redelivered") is True)
                )
            elif f == "send":
                kind = event["type"]
                if kind == "invoke":
                    attempted_add(event["id"])
                elif kind == "ok":
                    message_id = event["id"]
                    acknowledged[message_id] = event["t"]
                    acknowledged_by[message_id] = event.get("broker", "?")
                elif kind == "info":
                    ledger.indeterminate.add(event["id"])
                else:
                    ledger.failed.add(event["id"])
            elif f == "phase":
                phase = event.get("phase")
                if phase == "drain-deadline":
                    ledger.drain_deadline = event["t"]
                elif phase == "load":
                    ledger.load_started = event["t"]
                elif phase == "healed":
                    ledger.load_ended = event["t"]
            elif f == "probe":
                if "dst" not in event:
                    ledger.unprobeable.append(event["src"])
                elif event["type"] == "invoke":
                    ledger.probes[(event["src"], event["dst"])] = None
                elif event["type"] == "ok":
                    ledger.probes[(event["src"], event["dst"])] = event["seconds"]
        # a receipt that arrived after all (a late ok after an info) settles the send
        ledger.indeterminate -= ledger.acknowledged.keys()
        return ledger

    def undelivered_by_deadline(self) -> list[str]:
        """Acknowledged ids with no delivery at or before the drain deadline (computed once)."""
        if self._undelivered is None:
            deadline = self.drain_deadline
            deliveries = self.deliveries
            self._undelivered = [
                i
                for i in self.acknowledged
                if i not in deliveries or (deadline is not None and deliveries[i][0].t > deadline)
            ]
        return self._undelivered


@dataclass
class FinalState:
    """What the cluster held once the drain deadline passed, read by introspection."""

    queues: dict[str, dict[str, int]] = field(default_factory=dict)  # broker -> workload queue -> size
    located: dict[str, str] = field(default_factory=dict)  # message id -> broker it was browsed on
    unbrowsable: list[str] = field(default_factory=list)  # brokers holding messages that cannot be browsed

    def stuck_counts(self) -> dict[str, dict[str, int]]:
        return {
            broker: {queue: size for queue, size in queues.items() if size > 0}
            for broker, queues in self.queues.items()
            if any(size > 0 for size in queues.values())
        }

    def unlocated_stuck(self) -> int:
        """Messages on brokers whose ids could not be read (e.g. a live slave: it has no STOMP connector)."""
        return sum(sum(self.stuck_counts().get(broker, {}).values()) for broker in self.unbrowsable)


@dataclass
class Verdict:
    checker: str
    valid: bool | None
    counts: dict[str, int] = field(default_factory=dict)
    evidence: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "checker": self.checker,
            "valid": self.valid,
            "counts": self.counts,
            "evidence": self.evidence,
            "note": self.note,
        }

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> Verdict:
        return cls(record["checker"], record["valid"], record["counts"], record["evidence"], record["note"])


def _sample(ids: Iterable[str]) -> list[str]:
    return sorted(ids, key=_id_order)[:EVIDENCE_LIMIT]


def _id_order(message_id: str) -> tuple[str, int]:
    producer, _, seq = message_id.rpartition("-")
    return (producer, int(seq)) if seq.isdigit() else (message_id, 0)


def classify_undelivered(ledger: Ledger, final: FinalState) -> dict[str, str]:
    """Every acknowledged id not delivered by the deadline: "late", "stuck:<broker>" or "lost"."""
    classes: dict[str, str] = {}
    for message_id in ledger.undelivered_by_deadline():
        if message_id in ledger.deliveries:
            classes[message_id] = "late"
        elif message_id in final.located:
            classes[message_id] = f"stuck:{final.located[message_id]}"
        else:
            classes[message_id] = "lost"
    return classes


def check_lost(ledger: Ledger, final: FinalState) -> Verdict:
    classes = classify_undelivered(ledger, final)
    lost = [i for i, c in classes.items() if c == "lost"]
    never_arrived = ledger.indeterminate - ledger.deliveries.keys()
    counts = {
        "acknowledged": len(ledger.acknowledged),
        "lost": len(lost),
        "late": sum(1 for c in classes.values() if c == "late"),
        "stuck-located": sum(1 for c in classes.values() if c.startswith("stuck:")),
        "indeterminate-never-delivered": len(never_arrived),
    }
    evidence = {
        "lost": [
            {"id": i, "acknowledged_at": ledger.acknowledged[i], "by": ledger.acknowledged_by[i]}
            for i in _sample(lost)
        ],
        "indeterminate_never_delivered": _sample(never_arrived),
    }
    unlocated = final.unlocated_stuck()
    if lost and unlocated >= len(lost):
        # they may all sit on a broker we cannot browse: that is a stuck finding, not proof of loss
        return Verdict(
            "lost",
            None,
            counts,
            evidence,
            f"{len(lost)} acknowledged ids undelivered, and {unlocated} messages sit unbrowsable on "
            f"{', '.join(final.unbrowsable)}: they may be stuck there rather than lost",
        )
    return Verdict("lost", not lost, counts, evidence)


def check_duplicated(ledger: Ledger, final: FinalState) -> Verdict:
    duplicated = {i: d for i, d in ledger.deliveries.items() if len(d) > 1}
    extra = sum(len(d) - 1 for d in duplicated.values())
    evidence = {
        "duplicated": [
            {
                "id": i,
                "deliveries": [
                    {"t": d.t, "broker": d.broker, "redelivered": d.redelivered} for d in duplicated[i]
                ],
            }
            for i in _sample(duplicated)
        ]
    }
    return Verdict(
        "duplicated", not duplicated, {"ids": len(duplicated), "extra-deliveries": extra}, evidence
    )


def check_unexpected(ledger: Ledger, final: FinalState) -> Verdict:
    unexpected = ledger.deliveries.keys() - ledger.attempted
    return Verdict(
        "unexpected", not unexpected, {"ids": len(unexpected)}, {"unexpected": _sample(unexpected)}
    )


def check_stuck(ledger: Ledger, final: FinalState) -> Verdict:
    stuck = final.stuck_counts()
    classes = classify_undelivered(ledger, final)
    located: dict[str, list[str]] = collections.defaultdict(list)
    for message_id, cls in classes.items():
        if cls.startswith("stuck:"):
            located[cls.removeprefix("stuck:")].append(message_id)
    evidence = {
        "on_brokers": stuck,
        "located_ids": {broker: _sample(ids) for broker, ids in located.items()},
        "unbrowsable_brokers": [b for b in final.unbrowsable if b in stuck],
    }
    total = sum(sum(queues.values()) for queues in stuck.values())
    return Verdict("stuck", not stuck, {"messages": total, "brokers": len(stuck)}, evidence)


def check_bridges_resumed(ledger: Ledger, final: FinalState) -> Verdict:
    """After the heal, every probed direction delivered a probe; recovery seconds per direction."""
    resumed = {f"{a}->{b}": s for (a, b), s in sorted(ledger.probes.items()) if s is not None}
    stalled = [f"{a}->{b}" for (a, b), s in sorted(ledger.probes.items()) if s is None]
    counts = {"directions": len(ledger.probes), "not-resumed": len(stalled)}
    if resumed:
        counts["slowest-ms"] = int(max(resumed.values()) * 1000)
    note = ""
    if ledger.unprobeable:
        note = f"not probeable (no client connector): {', '.join(sorted(set(ledger.unprobeable)))}"
    evidence = {"recovery_seconds": resumed, "not_resumed": stalled}
    return Verdict("bridges-resumed", not stalled, counts, evidence, note)


def check_available(ledger: Ledger, final: FinalState, limit: float = UNAVAILABLE_AFTER) -> Verdict:
    """While the producers ran, some send was acknowledged at least every `limit` seconds."""
    times = iter(ledger.acknowledged.values())  # in history order, which is time order
    start = ledger.load_started
    if start is None:  # a history without its load phase: measure between acknowledgements only
        start = next(times, None)
        if start is None:
            return Verdict("available", True, {"longest-gap-ms": 0}, note="no load in this history")
    end = ledger.load_ended
    longest, gap_from, previous = 0.0, start, start
    for t in times:
        if end is not None and t > end:
            break
        if t - previous > longest:
            longest, gap_from = t - previous, previous
        previous = t
    if end is not None and end - previous > longest:
        longest, gap_from = end - previous, previous
    evidence = {"longest_gap": {"from": round(gap_from, 3), "to": round(gap_from + longest, 3)}}
    note = f"no send acknowledged for {longest:.1f} s (limit {limit:.0f} s)" if longest > limit else ""
    return Verdict("available", longest <= limit, {"longest-gap-ms": int(longest * 1000)}, evidence, note)


CHECKERS: dict[str, Callable[[Ledger, FinalState], Verdict]] = {
    "lost": check_lost,
    "duplicated": check_duplicated,
    "unexpected": check_unexpected,
    "stuck": check_stuck,
    "bridges-resumed": check_bridges_resumed,
    "available": check_available,
}


def check_all(
    ledger: Ledger,
    final: FinalState,
    checkers: dict[str, Callable[[Ledger, FinalState], Verdict]] | None = None,
) -> list[Verdict]:
    verdicts = []
    with _gc_paused():
        for name, checker in (checkers or CHECKERS).items():
            try:
                verdicts.append(checker(ledger, final))
            except Exception as exc:  # a crashing checker must never read as a pass
                verdicts.append(Verdict(name, None, note=f"checker crashed: {exc!r}"))
    return verdicts


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
