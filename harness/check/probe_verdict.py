"""How every checker of a probe's reading decides (harness.check.conduit, freed, marked_slow).

A probe records what it read of the brokers as `reading` events (ok, or fail with why), each with its own
control: something the reading must show for the check to mean anything. The order is the same for all:
a violation seen fails the property, whatever else the readings show; then a failed reading, or none, is
unknown; then a reading whose control was not seen is unknown; only then is the property ok.
"""

from __future__ import annotations

from typing import Any

from harness.check.verdict import Verdict


def probe_verdict(
    name: str,
    readings: list[dict[str, Any]],
    counts: dict[str, int],
    evidence: dict[str, Any],
    *,
    violated: str | None,
    uncontrolled: str | None,
    nothing_read: str,
) -> Verdict:
    """`violated`: the note of the first violation seen, if any; `uncontrolled`: why a reading's control
    was not seen, if so; `nothing_read`: what was never read, for a run with no ok reading."""
    if violated is not None:
        return Verdict(name, False, counts, evidence, violated)
    failed = [r for r in readings if r["type"] == "fail"]
    if failed or not any(r["type"] == "ok" for r in readings):
        why = failed[0].get("error", "?") if failed else nothing_read
        return Verdict(name, None, counts, evidence, f"unknown: {why}")
    if uncontrolled is not None:
        return Verdict(name, None, counts, evidence, f"unknown: {uncontrolled}")
    return Verdict(name, True, counts, evidence)


def brief(reading: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """A reading as a verdict's evidence shows it: its time, kind and error, and the fields `keys` name."""
    return {k: reading[k] for k in ("t", "type", *keys, "error") if k in reading}
