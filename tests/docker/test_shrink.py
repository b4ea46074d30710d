"""Shrinking on the real cluster: a failing run with a fault that matters and one that does not is shrunk to
the one, and the scenario the shrinker prints runs under `make chaos`'s plugin and fails the same way.

The source is a negative control's run (`test_clients_cut_off_from_every_broker_is_caught_as_unavailable`'s
cut, with its 5 s `available` limit, shortened) on `hardened`, plus a waiting node frozen for 2 s, which
clients never reach. Each candidate is replayed on a fresh cluster, as `make shrink` does."""

from __future__ import annotations

import ast
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

from harness.chaos.replay import replay_history
from harness.chaos.run import ChaosRun
from harness.chaos.schedule import Step
from harness.chaos.shrink import Shrinker
from harness.chaos.spec import RunSpec
from harness.check.result import ScenarioResult
from harness.check.weaknesses import SINGLE_FAULT
from harness.cluster.control import Cluster, free_port
from harness.design.catalog import design
from harness.settings import ROOT
from tests.support import as_env, child_environ, cluster_settings, cut_the_vip

RUNS = ROOT / "runs" / "tests" / "shrink"


def hardened(folder: Path):
    return dataclasses.replace(cluster_settings(), design=design("hardened"), runs_dir=folder)


def record_failing_run(folder: Path) -> ChaosRun:
    with Cluster(hardened(folder)) as cluster:
        run = ChaosRun(
            cluster,
            RunSpec(
                "shrink-source", 3, folder / "source", unavailable_after=5, expected=SINGLE_FAULT["hardened"]
            ),
        )
        with run:
            run.load(100)
            run.play([Step(0.0, "freeze", "waiting:02", 2.0)])  # irrelevant: no client reaches a waiting node
            cut_the_vip(run, 9)  # over the 5 s limit
            run.load(100)
    return run


def test_a_failing_run_shrinks_to_the_fault_that_matters_and_its_scenario_fails_alike(
    docker_available: None,
) -> None:
    source = record_failing_run(RUNS / "source")
    assert source.result is not None and source.result.unexpected == {"available"}, source.result.to_json()

    def replay(history: Path, folder: Path) -> ScenarioResult:
        with Cluster(hardened(folder)) as cluster:
            return replay_history(cluster, history, folder)

    shrinker = Shrinker(
        source.history.path, RUNS / "shrunk", replay, tries=1, budget=6, phases=("faults",), verify=False
    )
    outcome = shrinker.shrink()
    assert not outcome.exhausted  # ddmin finished: no fault of the minimal schedule can be removed
    assert [(s.action, s.target) for s in outcome.minimal] == [("partition", "the VIP from every broker")], [
        s.label() for s in outcome.minimal
    ]
    attempts = [json.loads(line) for line in (RUNS / "shrunk" / "attempts.jsonl").read_text().splitlines()]
    assert any(not a["failed"] for a in attempts)  # the freeze alone was tried, and passed

    # the printed scenario, pasted into a scenarios folder, fails the same way under the chaos plugin
    text = outcome.scenario.read_text()
    ast.parse(text)
    assert "unavailable_after=5" in text
    suite = RUNS / "suite"
    (suite / "scenarios").mkdir(parents=True, exist_ok=True)
    (suite / "scenarios" / "test_shrunk.py").write_text(text)
    (suite / "pytest.ini").write_text("[pytest]\nchaos_scenarios = scenarios\n")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "scenarios/test_shrunk.py"],
        cwd=suite,
        env={
            **child_environ(),
            # as the harness reads them when pytest runs it directly (make would pass SEED= and the rest)
            **as_env(
                {
                    "SEED": "3",
                    "DESIGN": "hardened",
                    "RUNS_DIR": str(suite / "runs"),
                    "VIP_PORT": str(free_port()),
                }
            ),
        },
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    summary = json.loads(next((suite / "runs" / "chaos").glob("*/summary.json")).read_text())
    assert [sorted(r["unexpected"]) for r in summary] == [["available"]], summary
