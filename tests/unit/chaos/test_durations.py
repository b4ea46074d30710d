"""durations.json, which SHARD=K/N splits by: read from pytest's JUnit files back to node ids, merged over
what the file held, and a damaged file refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.chaos.durations import junit_durations, read_durations, refresh
from harness.errors import HarnessError

JUNIT = """<testsuites><testsuite name="pytest" tests="4">
<testcase classname="scenarios.test_faults" name="test_kill_live_master[seed]" time="41.27"/>
<testcase classname="tests.docker.test_cluster" name="test_up[it's a.b]" time="3.04"/>
<testcase classname="tests.unit.test_x.TestGroup" name="test_in_a_class" time="0.01"/>
<testcase classname="tests.gone" name="test_removed" time="9"/>
</testsuite></testsuites>"""


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    for module in ("scenarios/test_faults.py", "tests/docker/test_cluster.py", "tests/unit/test_x.py"):
        (tmp_path / module).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / module).write_text("")
    (tmp_path / "junit.xml").write_text(JUNIT)
    return tmp_path


def test_junit_cases_map_back_to_node_ids(checkout: Path) -> None:
    assert junit_durations(checkout / "junit.xml", checkout) == {
        "scenarios/test_faults.py::test_kill_live_master[seed]": 41.3,
        "tests/docker/test_cluster.py::test_up[it's a.b]": 3.0,
        "tests/unit/test_x.py::TestGroup::test_in_a_class": 0.0,
    }  # a case whose module is gone names nothing to split


def test_refresh_writes_the_new_times_over_the_old_and_drops_removed_modules(checkout: Path) -> None:
    path = checkout / "durations.json"
    path.write_text(
        json.dumps(
            {
                "scenarios/test_faults.py::test_kill_live_master[seed]": 80.0,
                "scenarios/test_faults.py::test_freeze_master[seed]": 55.0,  # not in this run: kept
                "tests/removed.py::test_old": 4.0,
            }
        )
    )
    assert refresh(path, [checkout / "junit.xml"], checkout) == (3, 4)
    held = read_durations(path)
    assert held["scenarios/test_faults.py::test_kill_live_master[seed]"] == 41.3
    assert held["scenarios/test_faults.py::test_freeze_master[seed]"] == 55.0
    assert "tests/removed.py::test_old" not in held
    assert list(held) == sorted(held)  # a stable file: a refresh's diff shows only what changed


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("{not json", "is not JSON"),
        ('["a.py::test"]', "must map node ids to seconds"),
        ('{"a.py::test": "slow"}', "must map node ids to seconds"),
        ('{"a.py::test": -1}', "must map node ids to seconds"),
    ],
)
def test_a_damaged_durations_file_is_a_one_line_error(tmp_path: Path, text: str, error: str) -> None:
    path = tmp_path / "durations.json"
    path.write_text(text)
    with pytest.raises(HarnessError, match=error) as info:
        read_durations(path)
    assert "\n" not in str(info.value) and "make durations" in str(info.value)


def test_no_file_is_no_durations_and_a_junit_of_nothing_known_records_nothing(checkout: Path) -> None:
    assert read_durations(checkout / "absent.json") == {}
    other = checkout / "other.xml"
    other.write_text('<testsuite><testcase classname="elsewhere.test_y" name="test_z" time="1"/></testsuite>')
    with pytest.raises(HarnessError, match="name no test case of this checkout"):
        refresh(checkout / "durations.json", [other], checkout)
    assert not (checkout / "durations.json").exists()
    (checkout / "bad.xml").write_text("<testsuite>")
    with pytest.raises(HarnessError, match="not a readable JUnit file"):
        junit_durations(checkout / "bad.xml", checkout)
