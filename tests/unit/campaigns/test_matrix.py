"""The version matrix: verdict cells side by side, and one-line errors before any cluster starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.campaigns.matrix import matrix_exit_code
from harness.campaigns.sessions import scenario_node_ids
from harness.check.result import ScenarioResult
from harness.check.verdict import Verdict
from harness.errors import MACHINE_FAILED, OK, VIOLATION, HarnessError
from harness.report.matrix import VersionOutcome, side_by_side, versions
from tests.support import assert_one_line_error, harness


def result(stuck: int) -> ScenarioResult:
    return ScenarioResult(
        "kill-live-master",
        "seed",
        9,
        "",
        {"acknowledged": 10, "delivered": 10, "indeterminate": 0, "failed": 0, "invoked": 10},
        [
            Verdict("lost", True, {"lost": 0}),
            Verdict("stuck", stuck == 0, {"messages": stuck}),
            Verdict("bridges-resumed", True, {"directions": 2, "not-resumed": 0, "slowest-ms": 1500}),
        ],
    )


def test_every_supported_version_is_in_the_matrix() -> None:
    assert versions() == ["5.16.1", "5.17.2", "5.17.6"]


def test_side_by_side_shows_each_versions_verdict(tmp_path: Path) -> None:
    outcomes = [
        VersionOutcome("5.16.1", [result(0)], 0, tmp_path),
        VersionOutcome("5.17.2", [result(3)], 1, tmp_path),
        VersionOutcome("5.17.6", [], 3, tmp_path),
    ]
    header, row = side_by_side("kill-live-master", ["seed"], outcomes)
    assert "ActiveMQ 5.16.1" in header and "ActiveMQ 5.17.6" in header
    assert "ok [10/10/0] bridges 1.5s" in row
    assert "FAIL [10/10/0] stuck 3 ! bridges 1.5s" in row
    assert "no result (exit 3)" in row


def test_matrix_needs_a_known_scenario(tmp_path: Path) -> None:
    assert_one_line_error(harness("matrix", RUNS_DIR=str(tmp_path), SCENARIO=""), "name the scenario")
    done = harness("matrix", "melt-everything", RUNS_DIR=str(tmp_path), SEED="1")
    assert_one_line_error(done, "unknown SCENARIO 'melt-everything'")


def test_bugs_refuses_unknown_versions_patterns_and_tries_before_any_run(tmp_path: Path) -> None:
    runs = str(tmp_path)
    assert_one_line_error(
        harness("bugs", "--versions", "5.5.1", RUNS_DIR=runs, SEED="1"), "unknown version 5.5.1"
    )
    assert_one_line_error(harness("bugs", "--patterns", "melt", RUNS_DIR=runs, SEED="1"), "unknown pattern")
    assert_one_line_error(harness("bugs", RUNS_DIR=runs, SEED="1", TRIES="0"), "TRIES='0' must be a positive")
    assert not any(tmp_path.iterdir())  # nothing started, nothing written


def test_every_pattern_names_a_scenario_that_exists() -> None:
    from harness.report.bugs import pattern_scenarios

    ids = scenario_node_ids(pattern_scenarios())
    assert len(ids) == len(pattern_scenarios()) and all("::test_" in i for i in ids)


def test_the_matrix_exit_code_is_the_harness_s() -> None:
    assert matrix_exit_code([0, 0, 0]) == OK
    assert matrix_exit_code([0, 1, 3]) == VIOLATION  # the brokers did something on one version
    assert matrix_exit_code([0, 3, 0]) == MACHINE_FAILED  # a cluster that never came up is no verdict


def test_scenarios_are_what_pytest_collects_not_what_the_source_spells(tmp_path: Path) -> None:
    from harness.campaigns.sessions import collected_scenarios

    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "test_some.py").write_text(
        "import pytest\n\n"
        'HELP = "def test_in_a_string(chaos): not a scenario"\n\n'
        "@pytest.mark.parametrize('n', [1, 2])\n"
        "def test_shaky_bridge(n):\n    pass\n\n"
        "# def test_commented_out(chaos):\n\n"
        "def helper_test_not_collected():\n    pass\n"
    )
    found = collected_scenarios(folder)
    assert list(found) == ["shaky-bridge"]
    assert found["shaky-bridge"].endswith("test_some.py::test_shaky_bridge")
    with pytest.raises(HarnessError, match="no scenario named in-a-string under scenarios/"):
        scenario_node_ids(["in-a-string"], folder)
