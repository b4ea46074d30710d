"""One chaos session in a subprocess (`make chaos` for one broker version), and the scenarios as pytest
collects them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from harness.check.result import ScenarioResult
from harness.distribution import DEBIAN_SCHEME
from harness.errors import HarnessError, MachineError
from harness.report.matrix import VersionOutcome
from harness.settings import BY_NAME, ROOT

SCENARIOS = ROOT / "scenarios"


def collected_scenarios(folder: Path = SCENARIOS) -> dict[str, str]:
    """Scenario name -> the node id of its test function, from pytest's own collection (what `pytest
    scenarios` would run, parametrized or not; a helper named test_* in a comment or a string is not one)."""
    done = subprocess.run(
        # the chaos plugin stays out: collecting must not open a run folder
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:amq_chaos", "-p", "no:cacheprovider",
         "-p", "no:randomly", str(folder)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
        raise MachineError(f"pytest could not collect {folder}: {lines[-1] if lines else done.returncode}")
    found: dict[str, str] = {}
    for line in done.stdout.splitlines():
        path, separator, test = line.strip().partition("::")
        if not separator or not test.startswith("test_"):
            continue
        function = test.split("[")[0]
        name = function.removeprefix("test_").replace("_", "-")
        found.setdefault(name, f"{path}::{function}")
    return found


def scenario_node_ids(names: list[str], folder: Path = SCENARIOS) -> list[str]:
    """The node id of each named scenario (kill-live-master -> scenarios/test_faults.py::test_kill_live_master)."""
    found = collected_scenarios(folder)
    missing = [name for name in names if name not in found]
    if missing:
        raise HarnessError(f"no scenario named {', '.join(missing)} under {folder.name}/")
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
    jre: str = "",
) -> VersionOutcome:
    """`make chaos` for one version; design "" runs every public one; `targets` are pytest node ids (default:
    every scenario, `scenario` selecting one)."""
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "ACTIVEMQ_VERSION": version}
    env.update({BY_NAME["RUNS_DIR"].env: str(folder), BY_NAME["SEED"].env: str(seed)})
    env.update({BY_NAME["SCENARIO"].env: scenario, BY_NAME["DESIGN"].env: design})
    env.pop("ACTIVEMQ_DIST", None)  # the matrix is Debian's versions; a user's tarball has one of its own
    if jre:  # Debian's files of the version as a tarball, on one suite's JRE for every version
        env.pop("ACTIVEMQ_VERSION")
        env.update({"ACTIVEMQ_DIST": f"{DEBIAN_SCHEME}{version}", BY_NAME["JRE"].env: jre})
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


def last_line(path: Path) -> str:
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    return lines[-1] if lines else f"see {path}"
