"""One scenario on every broker version the images support, verdicts side by side (`make matrix SCENARIO=x`).

Each version is a `make chaos` of its own (a pytest session in a subprocess, same seed, its own run folder
under runs/matrix/<stamp>/<version>), so a version that fails to build or start shows as such in its column
without stopping the others.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from harness.check.checkers import CHECKERS
from harness.check.result import ScenarioResult
from harness.errors import HarnessError
from harness.report import summary
from harness.settings import BROKER_SUITES, ROOT


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


def scenario_node_ids(names: list[str]) -> list[str]:
    """The pytest node id of each named scenario (kill-live-master -> scenarios/test_faults.py::test_kill_live_master)."""
    found = {}
    for path in sorted((ROOT / "scenarios").glob("test_*.py")):
        for name in names:
            if f"def test_{name.replace('-', '_')}(" in path.read_text():
                found[name] = f"{path.relative_to(ROOT)}::test_{name.replace('-', '_')}"
    missing = [name for name in names if name not in found]
    if missing:
        raise HarnessError(f"no scenario named {', '.join(missing)} under scenarios/")
    return [found[name] for name in names]


def run_version(
    version: str,
    scenario: str,
    seed: int,
    design: str,
    folder: Path,
    *,
    targets: list[str] | None = None,
    extra_env: dict[str, str] | None = None,
) -> VersionOutcome:
    """`make chaos` for one version; design "" runs every public one; `targets` are pytest node ids (default:
    every scenario, `scenario` selecting one)."""
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "ACTIVEMQ_VERSION": version, "RUNS_DIR": str(folder), "SEED": str(seed)}
    env["SCENARIO"], env["DESIGN"], env["TOPOLOGY"] = scenario, design, design
    env.pop("ACTIVEMQ_DIST", None)  # the matrix is Debian's versions; a user's tarball has one of its own
    env.update(extra_env or {})
    with (folder / "pytest.log").open("w") as log:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", *(targets or ["scenarios"]), "-p", "no:cacheprovider", "-q"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
        )
    summaries = sorted(folder.glob("chaos/*/summary.json"))
    results = []
    if summaries:
        results = [ScenarioResult.from_json(r) for r in json.loads(summaries[-1].read_text())]
    return VersionOutcome(version, results, done.returncode, folder)


def side_by_side(scenario: str, designs: list[str], outcomes: list[VersionOutcome]) -> list[str]:
    table = [("scenario", "design", *(f"ActiveMQ {o.version}" for o in outcomes))]
    for design in designs:
        table.append((scenario, design, *(o.cell(scenario, design) for o in outcomes)))
    return summary.aligned(table)
