"""Freed on unsubscribe: what a client unsubscribed, its broker lets go of while the client stays connected.

A STOMP client that subscribes and unsubscribes on one long-lived connection (a consumer that moves between
destinations, a request/reply client) must not make its broker hold one more object per subscription it
ended. AMQ-9283 (fixed in 5.17.5) kept every subscription a STOMP UNSUBSCRIBE named by id in the
connection's protocol converter until the connection closed: heap growing with churn, and every ACK
searching all of them.

The evidence is a probe's reading (harness.chaos.unsubscribe_churn) of the broker's class histogram: the
STOMP subscriptions it holds before, once the probe holds a few open ones (the reading's own control: the
histogram must see those), and after many subscribe/unsubscribe cycles on the same connection. Retaining
half the cycles or more fails the property; a control the histogram did not see, or no reading, is unknown.
"""

from __future__ import annotations

from typing import Any

from harness.check.ledger import Ledger
from harness.check.probe_verdict import brief, probe_verdict
from harness.check.verdict import FinalState, Verdict

READING = "unsubscribed-freed"
KEYS = ("node", "cycles", "held", "before", "holding", "after", "closed")


def has_churn_readings(ledger: Ledger) -> bool:
    return bool(ledger.readings.get(READING))


def check_freed(ledger: Ledger, final: FinalState) -> Verdict:
    """A broker holds fewer than half the subscriptions one open STOMP connection subscribed and unsubscribed
    by id (AMQ-9283 kept them all), counted in its heap's class histogram. Unknown without a probe's reading,
    or when the histogram did not show the subscriptions the probe held open.

    Witnesses: (broker, cycles, retained) for each reading over the limit."""
    readings = ledger.readings.get(READING, [])
    read = [r for r in readings if r["type"] == "ok"]
    kept: list[dict[str, Any]] = []
    unseen: list[dict[str, Any]] = []
    for r in read:
        seen = r["holding"] - r["before"]
        retained = r["after"] - r["holding"]
        entry = {"t": round(r["t"], 3), "broker": r["node"], "cycles": r["cycles"], "retained": retained}
        if seen < r["held"] / 2:
            unseen.append({**entry, "held": r["held"], "seen": seen})
        elif retained >= r["cycles"] / 2:
            kept.append(entry)
    counts = {"readings": len(read), "retained": sum(k["retained"] for k in kept)}
    evidence = {"retained": kept, "unseen": unseen, "readings": [brief(r, KEYS) for r in readings]}
    first = kept[0] if kept else None
    blind = unseen[0] if unseen else None
    return probe_verdict(
        "freed",
        readings,
        counts,
        evidence,
        violated=(
            f"{first['broker']} still held {first['retained']} STOMP subscriptions after {first['cycles']} "
            "subscribe/unsubscribe cycles on one open connection"
        )
        if first
        else None,
        uncontrolled=(
            f"the histogram of {blind['broker']} showed {blind['seen']} of {blind['held']} open "
            "subscriptions, so it could not show retained ones either"
        )
        if blind
        else None,
        nothing_read="no reading of the broker's heap",
    )
