"""The result of one scenario run (or soak window, or replay): its verdicts against what its design declares.

Results are what summaries, reports, matrices and soaks read; they are plain data and JSON, so reporting
needs no cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.check.registry import merged_validity
from harness.check.verdict import Verdict


@dataclass
class ScenarioResult:
    scenario: str
    design: str  # the design's name: seed, hardened, a control
    seed: int
    directory: str
    counts: dict[str, int]
    verdicts: list[Verdict]
    expected: dict[str, str] = field(default_factory=dict)  # checker -> why the seed design violates it
    recovery_seconds: float | None = None
    notes: list[str] = field(default_factory=list)
    replay: str = ""  # the command that replays it, where `make chaos` with its seed does not (a soak window)
    # a replay of a history cut short: what that history lacks (harness.history.HistoryGaps), "" when whole. Its
    # verdicts judge the replay of the faults recorded before the cut, never the recorded run
    source_incomplete: str = ""

    @property
    def violated(self) -> set[str]:
        return {v.checker for v in self.verdicts if v.valid is False}

    @property
    def unknown(self) -> set[str]:
        return {v.checker for v in self.verdicts if v.valid is None}

    @property
    def explained(self) -> set[str]:
        """Violations whose every witness shows the mechanism of a weakness a design may declare."""
        return {v.checker for v in self.verdicts if v.valid is False and v.explained}

    @property
    def expected_and_seen(self) -> set[str]:
        return self.violated & self.expected.keys() & self.explained

    @property
    def expected_not_seen(self) -> set[str]:
        return self.expected.keys() - self.violated

    @property
    def unexpected(self) -> set[str]:
        """Violations nobody declared, declared ones with a witness that lacks the declared mechanism, and
        checkers that could not decide (unknown is never a pass)."""
        return (self.violated - (self.expected.keys() & self.explained)) | self.unknown

    @property
    def ok(self) -> bool:
        return not self.unexpected

    def verdict(self, name: str) -> Verdict:
        return next(v for v in self.verdicts if v.checker == name)

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "design": self.design,
            "seed": self.seed,
            "directory": self.directory,
            "counts": self.counts,
            "valid": merged_validity(self.verdicts),
            "verdicts": [v.to_json() for v in self.verdicts],
            "expected": self.expected,
            "expected_and_seen": sorted(self.expected_and_seen),
            "expected_not_seen": sorted(self.expected_not_seen),
            "unexpected": sorted(self.unexpected),
            "recovery_seconds": self.recovery_seconds,
            "notes": self.notes,
            "replay": self.replay,
            "source_incomplete": self.source_incomplete,
        }

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> ScenarioResult:
        return cls(
            scenario=record["scenario"],
            design=record.get("design", record.get("topology", "")),  # "topology" before it was renamed
            seed=record["seed"],
            directory=record.get("directory", ""),
            counts=record["counts"],
            verdicts=[Verdict.from_json(v) for v in record["verdicts"]],
            expected=record.get("expected", {}),
            recovery_seconds=record.get("recovery_seconds"),
            notes=record.get("notes", []),
            replay=record.get("replay", ""),
            source_incomplete=record.get("source_incomplete", ""),
        )
