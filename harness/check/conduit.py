"""Conduit demand: one bridge subscription per topic for a broker's consumers, whatever destinations they name.

With conduit subscriptions (the network connector's default), a broker's consumers of one topic reach the
other pair's broker as one subscription per bridge, so each message crosses each bridge once. A consumer may
name several topics in one composite destination (`/topic/a,/topic/b`); each bridge must then still hold one
subscription per topic. AMQ-9262 (fixed in 5.17.5) made one per consumer instead, each carrying every
message across again.

The evidence is a probe's reading (harness.chaos.composite_demand): the same consumers subscribed to a plain
topic and to a composite of two others, and each bridge's subscriptions on the other pair's live broker,
counted per topic. The plain topic is the reading's own control: a bridge is judged only where it carries
the plain topic's demand, and holds conduit when no topic of the composite has more subscriptions on it than
the plain topic has. No reading, a failed one, or no bridge carrying the plain topic leaves the property
unknown.
"""

from __future__ import annotations

from typing import Any

from harness.check.ledger import Ledger
from harness.check.probe_verdict import brief, probe_verdict
from harness.check.verdict import FinalState, Verdict

READING = "topic-demand"
KEYS = ("local", "remote", "consumers", "bridges", "composite_subscriptions")


def has_demand_readings(ledger: Ledger) -> bool:
    return bool(ledger.readings.get(READING))


def check_conduit(ledger: Ledger, final: FinalState) -> Verdict:
    """Each bridge that carries a broker's demand for a plain topic holds no more subscriptions for any topic
    of a composite destination the same consumers named (AMQ-9262 made one per consumer). Unknown without a
    probe's reading or a bridge carrying the plain topic.

    Witnesses: (bridge, topic, subscriptions, the plain topic's) for each topic over its bridge's plain count."""
    readings = ledger.readings.get(READING, [])
    read = [r for r in readings if r["type"] == "ok"]
    extra: list[dict[str, Any]] = []
    judged = 0
    for r in read:
        for bridge, counts in sorted(r["bridges"].items()):
            plain = int(counts.get(r["plain"], 0))
            if plain < 1:
                continue
            judged += 1
            extra += [
                {
                    "t": round(r["t"], 3),
                    "broker": r["remote"],
                    "bridge": bridge,
                    "topic": topic,
                    "subscriptions": n,
                    "plain": plain,
                }
                for topic, n in sorted(counts.items())
                if topic != r["plain"] and n > plain
            ]
    counts_ = {"bridges": judged, "extra-subscriptions": sum(e["subscriptions"] - e["plain"] for e in extra)}
    evidence = {"extra": extra, "readings": [brief(r, KEYS) for r in readings]}
    first = extra[0] if extra else None
    return probe_verdict(
        "conduit",
        readings,
        counts_,
        evidence,
        violated=(
            f"the bridge {first['bridge']} held {first['subscriptions']} subscriptions on {first['topic']} on "
            f"{first['broker']} for consumers of a composite destination, {first['plain']} on a plain topic "
            "for the same consumers"
        )
        if first
        else None,
        uncontrolled=None if judged else "no bridge carried the plain topic's demand",
        nothing_read="no reading of the bridges' topic demand",
    )
