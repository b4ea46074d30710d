"""The registry of checkers: every property a run is checked for, and running them all.

Checkers are pure functions from a history (its ledger, harness.check.ledger) and the cluster's final state
to verdicts with evidence. Each property is its own function returning the witnesses (message ids, brokers,
times) that violate it, so a failure names what went wrong. `check_all` runs them; a checker that crashes
yields an *unknown* verdict with the error, never a pass. Merged validity: False (violated) > None
(unknown) > True.

An `ok` must mean the evidence was seen: a property whose input could not be read is unknown, never 0.

A violation is *explained* when the history shows, for every witness, the mechanism of a weakness a design
may declare (a duplicate with a fault on its path between the copies, within what can be in flight; a
message stranded on a broker its consumers left after it crossed a bridge; unavailability while no node
the VIP routes to has a client connector). A declaration accepts only an explained violation: one witness
without its mechanism fails the property (`Verdict.explained`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from harness.check.conduit import check_conduit, has_demand_readings
from harness.check.durable import (
    check_durable_duplicated,
    check_durable_lost,
    check_durable_stuck,
    has_subscribers,
)
from harness.check.freed import check_freed, has_churn_readings
from harness.check.ledger import Ledger, gc_paused
from harness.check.liveness import (
    check_available,
    check_bridges_resumed,
    check_exercised,
    check_one_live,
    check_prompt,
    check_recovered,
)
from harness.check.marked_slow import check_marked_slow, has_full_consumer_readings
from harness.check.queues import check_answered, check_duplicated, check_lost, check_stuck, check_unexpected
from harness.check.verdict import FinalState, Verdict

# the cells only format a verdict: harness.report.cells imports nothing of harness.check but the verdict
from harness.report.cells import bridges_cell, count_cell, gap_cell, latency_cell, yes_no_cell


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
    applies_to: str = "every run"  # `applies` in words, for the reference page of checkers


DURABLE_RUNS = "runs with durable subscribers"

CHECKERS: dict[str, Checker] = {
    c.name: c
    for c in (
        Checker("lost", check_lost, "lost", count_cell("lost")),
        Checker("duplicated", check_duplicated, "dup", count_cell("extra-deliveries")),
        Checker("unexpected", check_unexpected, "unexp", count_cell("ids")),
        Checker("answered", check_answered, "unans", count_cell("unanswered")),
        Checker("stuck", check_stuck, "stuck", count_cell("messages")),
        Checker("bridges-resumed", check_bridges_resumed, "bridges", bridges_cell),
        Checker("recovered", check_recovered, "recovered", yes_no_cell),
        Checker("one-live", check_one_live, "1 live", yes_no_cell),
        Checker("prompt", check_prompt, "prompt", latency_cell),
        Checker("available", check_available, "max gap", gap_cell),
        Checker("exercised", check_exercised, "evidence", yes_no_cell),
        Checker(
            "durable-lost", check_durable_lost, "d-lost", count_cell("lost"), has_subscribers, DURABLE_RUNS
        ),
        Checker(
            "durable-duplicated",
            check_durable_duplicated,
            "d-dup",
            count_cell("extra-deliveries"),
            has_subscribers,
            DURABLE_RUNS,
        ),
        Checker(
            "durable-stuck",
            check_durable_stuck,
            "d-stuck",
            count_cell("messages"),
            has_subscribers,
            DURABLE_RUNS,
        ),
        Checker(
            "conduit",
            check_conduit,
            "conduit",
            count_cell("extra-subscriptions"),
            has_demand_readings,
            "runs that probed the bridges' topic demand (composite-demand)",
        ),
        Checker(
            "freed",
            check_freed,
            "freed",
            count_cell("retained"),
            has_churn_readings,
            "runs that probed a broker's heap after subscription churn (unsubscribe-churn)",
        ),
        Checker(
            "marked-slow",
            check_marked_slow,
            "slow",
            count_cell("unmarked"),
            has_full_consumer_readings,
            "runs that probed a queue consumer with a full prefetch (full-consumer)",
        ),
    )
}


def check_all(ledger: Ledger, final: FinalState, checkers: Iterable[Checker] | None = None) -> list[Verdict]:
    verdicts = []
    with gc_paused():
        for checker in CHECKERS.values() if checkers is None else checkers:
            if not checker.applies(ledger):
                continue
            try:
                verdicts.append(checker.check(ledger, final))
            except Exception as exc:  # a crashing checker must never read as a pass
                verdicts.append(Verdict(checker.name, None, note=f"checker crashed: {exc!r}"))
    return verdicts


def merged_validity(verdicts: Iterable[Verdict]) -> bool | None:
    values = [v.valid for v in verdicts]
    if False in values:
        return False
    if None in values:
        return None
    return True
