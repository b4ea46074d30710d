"""Marked slow: a queue consumer holding a full prefetch, with messages waiting behind it, is a slow consumer.

A consumer that stops acknowledging (hung, or slower than its producers) keeps its prefetch of messages and
the rest of the queue waits. The broker's answer is to mark it slow: that is what sends a slow-consumer
advisory (advisoryForSlowConsumers) and what abortSlowConsumerStrategy acts on, to free the messages stuck
behind it. AMQ-9153 (fixed in 5.17.3): since queues stopped handing messages to a full consumer, nothing
marked a queue consumer slow any more, so neither fired for queues.

The evidence is a probe's reading (harness.chaos.full_consumer) over JMX of its own consumer: its prefetch,
the messages it holds unacknowledged, the queue's size and the consumer's SlowConsumer flag, read until the
flag is set or a few seconds have passed with the prefetch full. A full prefetch with messages behind it and
no flag fails the property; no reading, a failed one, or one whose prefetch was not full (the condition the
flag is for was not shown) is unknown.
"""

from __future__ import annotations

from typing import Any

from harness.check.ledger import Ledger
from harness.check.probe_verdict import brief, probe_verdict
from harness.check.verdict import FinalState, Verdict

READING = "full-consumer"
KEYS = ("node", "prefetch", "sent", "dispatched", "size", "slow", "held")


def has_full_consumer_readings(ledger: Ledger) -> bool:
    return bool(ledger.readings.get(READING))


def check_marked_slow(ledger: Ledger, final: FinalState) -> Verdict:
    """A queue consumer whose prefetch is full while messages wait for it is marked slow by its broker
    (AMQ-9153 marked none). Unknown without a probe's reading, or when the reading's prefetch was not full
    with messages behind it.

    Witnesses: (broker, prefetch, held, waiting) for each such consumer not marked slow."""
    readings = ledger.readings.get(READING, [])
    read = [r for r in readings if r["type"] == "ok"]
    unmarked: list[dict[str, Any]] = []
    not_full: list[dict[str, Any]] = []
    for r in read:
        waiting = r["size"] - r["dispatched"]
        entry = {
            "t": round(r["t"], 3),
            "broker": r["node"],
            "prefetch": r["prefetch"],
            "held": r["dispatched"],
            "waiting": waiting,
        }
        if r["dispatched"] < r["prefetch"] or waiting <= 0:
            not_full.append(entry)
        elif not r["slow"]:
            unmarked.append(entry)
    counts = {"readings": len(read), "unmarked": len(unmarked)}
    evidence = {"unmarked": unmarked, "not_full": not_full, "readings": [brief(r, KEYS) for r in readings]}
    first = unmarked[0] if unmarked else None
    short = not_full[0] if not_full else None
    return probe_verdict(
        "marked-slow",
        readings,
        counts,
        evidence,
        violated=(
            f"a consumer on {first['broker']} held its full prefetch of {first['prefetch']} with "
            f"{first['waiting']} messages waiting behind it, and the broker did not mark it slow"
        )
        if first
        else None,
        uncontrolled=(
            f"the consumer on {short['broker']} held {short['held']} of a prefetch of {short['prefetch']} "
            f"with {short['waiting']} waiting: no full consumer was shown"
        )
        if short
        else None,
        nothing_read="no reading of a full consumer",
    )
