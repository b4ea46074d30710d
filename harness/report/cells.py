"""Summary-table cells: how a decided verdict reads in its checker's column (an undecided one reads "?").

The registry (harness.check.registry) names a cell function per checker, so this module imports nothing of
harness.check but the verdict: the registry importing it must not import the reports back.
"""

from __future__ import annotations

from collections.abc import Callable

from harness.check.verdict import Verdict


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


def latency_cell(verdict: Verdict) -> str:  # the slowest first delivery after the recovery
    if verdict.valid is False:
        return f"{verdict.counts['slow']} slow"
    return f"{verdict.counts.get('slowest-ms', 0) / 1000:.1f}s"
