"""The version matrix's table: one scenario's verdicts on every broker version, side by side (`make matrix`
runs the versions: harness/campaigns/matrix.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.check.registry import CHECKERS
from harness.check.result import ScenarioResult
from harness.report import summary
from harness.settings import BROKER_SUITES


@dataclass
class VersionOutcome:
    version: str
    results: list[ScenarioResult]
    exit_code: int
    folder: Path

    def cell(self, scenario: str, design: str) -> str:
        found = [r for r in self.results if (r.scenario, r.design) == (scenario, design)]
        if not found:
            return f"no result (exit {self.exit_code})"
        result = found[0]
        cells = dict(zip(summary.HEADER, summary.row(result), strict=True))
        checks = [
            f"{c.column} {cells[c.column]}" for c in CHECKERS.values() if cells[c.column] not in summary.QUIET
        ]
        return " ".join([cells["verdict"], f"[{cells['ack/deliv/indet']}]", *checks])


def versions() -> list[str]:
    return sorted(BROKER_SUITES)


def side_by_side(scenario: str, designs: list[str], outcomes: list[VersionOutcome]) -> list[str]:
    table = [("scenario", "design", *(f"ActiveMQ {o.version}" for o in outcomes))]
    for design in designs:
        table.append((scenario, design, *(o.cell(scenario, design) for o in outcomes)))
    return summary.aligned(table)
