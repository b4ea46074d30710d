"""A run's result from its ledger and final state alone: every checker's verdict, the counts a summary shows,
and what the run declared. Pure, so that a history and a final state give the same result wherever they are
judged (a chaos run, a replay, a recheck of a recorded run folder)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from harness.check.ledger import Ledger
from harness.check.registry import check_all
from harness.check.result import ScenarioResult
from harness.check.verdict import FinalState


def judge(
    ledger: Ledger,
    final: FinalState,
    *,
    scenario: str,
    design: str,
    seed: int,
    directory: str,
    expected: Mapping[str, str],
    invoked: int,
    recovery_seconds: float | None = None,
    notes: Sequence[str] = (),
) -> ScenarioResult:
    """`invoked`: the sends the producers attempted (the workload's own count: a send cut off before its
    invoke was written is in no history)."""
    counts = {
        "acknowledged": len(ledger.acknowledged),
        "delivered": len(ledger.delivery_times),
        "indeterminate": len(ledger.indeterminate),
        "failed": len(ledger.failed),
        "invoked": invoked,
    }
    if ledger.facts.subscribers:
        counts["published"] = len(ledger.topic.published)
        counts["received"] = sum(len(c) for got in ledger.topic.received.values() for c in got.values())
    return ScenarioResult(
        scenario=scenario,
        design=design,
        seed=seed,
        directory=directory,
        counts=counts,
        verdicts=check_all(ledger, final),
        expected=dict(expected),
        recovery_seconds=recovery_seconds,
        notes=list(notes),
    )
