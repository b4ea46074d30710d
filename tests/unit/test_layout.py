"""The layout's rules: checking and reporting never import the cluster, the clients, the chaos run or Docker
(import-linter contracts in pyproject.toml, also run by `make lint`), and the rule does fail when broken; and
the tests' own layout, tests/unit/ needing no Docker and tests/docker/ marked docker throughout."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.settings import ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
TESTS = Path(__file__).resolve().parents[1]


def lint_imports(project: Path) -> subprocess.CompletedProcess[str]:
    # import-linter puts the working directory first on the path: the copy's harness is the one analysed
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=project, capture_output=True, text=True, timeout=120
    )


def test_the_layout_keeps_its_contracts() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "7 kept, 0 broken" in result.stdout


def copy_of_project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    shutil.copytree(ROOT / "harness", project / "harness", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", project)
    return project


@pytest.mark.parametrize(
    ("module", "line", "reported"),
    [
        # a checker importing the cluster directly
        (
            "check/queues.py",
            "from harness.cluster.control import Cluster",
            "harness.check.queues -> harness.cluster.control",
        ),
        # a report reaching the STOMP client through the chaos run
        ("report/timeline.py", "import harness.chaos.run", "harness.report is not allowed to import stomp"),
        # a scenario runner naming the Compose backend instead of asking harness.cluster.backends for one
        (
            "chaos/run.py",
            "from harness.cluster.control import Cluster",
            "harness.chaos.run -> harness.cluster.control",
        ),
        # a fault kind naming its mechanism instead of reaching it through FaultContext
        (
            "chaos/faults.py",
            "import harness.chaos.mechanisms.network",
            "harness.chaos.faults -> harness.chaos.mechanisms.network",
        ),
        # the nemesis reaching around NodeControl to the Compose cluster's containers
        (
            "chaos/nemesis.py",
            "from harness.cluster.control import Cluster",
            "harness.chaos.nemesis -> harness.cluster.control",
        ),
    ],
)
def test_an_import_against_the_rule_breaks_the_contract(
    tmp_path: Path, module: str, line: str, reported: str
) -> None:
    project = copy_of_project(tmp_path)
    source = project / "harness" / module
    source.write_text(source.read_text() + f"\n{line}  # noqa\n")
    result = lint_imports(project)
    assert result.returncode != 0
    assert reported in result.stdout


def test_no_module_imports_itself_back_at_run_time() -> None:
    """No import circle (type hints aside): each module can be read, and loaded, before the ones it uses."""
    import grimp

    graph = grimp.build_graph("harness", exclude_type_checking_imports=True)
    circles = {
        tuple(sorted((module, used)))
        for module in graph.modules
        for used in graph.find_modules_directly_imported_by(module)
        if graph.chain_exists(importer=used, imported=module)
    }
    assert circles == set()


# the whole suite collected once, in a process of its own: each test's node id, after "docker" where it is
# marked docker (explicitly, through a Docker fixture or by its folder), else after "unit"
COLLECT = """
import sys, pytest
class Marks:
    def pytest_collection_finish(self, session):
        for item in session.items:
            print("docker" if item.get_closest_marker("docker") else "unit", item.nodeid)
sys.exit(pytest.main(["--collect-only", "-qq", "-p", "no:cacheprovider", "tests"], plugins=[Marks()]))
"""


def test_no_unit_test_needs_docker_and_every_docker_test_is_marked_docker() -> None:
    """`pytest -m "not docker"` (make unit) runs no test that starts a cluster, and the tests under tests/docker/
    are exactly the docker ones: a unit test reaching for a cluster (marked docker by conftest.py) is named here,
    as is a test under tests/docker/ that is not marked."""
    done = subprocess.run(
        [sys.executable, "-c", COLLECT], cwd=TESTS.parent, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    marked = [
        line.split(" ", 1) for line in done.stdout.splitlines() if line.startswith(("docker ", "unit "))
    ]
    assert {kind for kind, _ in marked} == {"docker", "unit"}, done.stdout
    misplaced = [
        f"{kind} {test}" for kind, test in marked if (kind == "docker") != test.startswith("tests/docker/")
    ]
    assert misplaced == []


def test_pytest_runs_the_tests_as_a_user_types_it() -> None:
    """`pytest tests/...` from the root, not `python -m pytest`: the tests import `tests.support`, which
    needs the root on the path (pyproject's `pythonpath`), not the current directory that `-m` adds."""
    pytest_script = Path(sys.executable).with_name("pytest")
    done = subprocess.run(
        [pytest_script, "--collect-only", "-q", "-p", "no:cacheprovider", "tests/unit/test_settings.py"],
        cwd=TESTS.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "tests/unit/test_settings.py::test_defaults" in done.stdout
