"""The layout's rule: checking and reporting never import the cluster, the clients, the chaos run or Docker
(import-linter contracts in pyproject.toml, also run by `make lint`), and the rule does fail when broken."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.settings import ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(project: Path) -> subprocess.CompletedProcess[str]:
    # import-linter puts the working directory first on the path: the copy's harness is the one analysed
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=project, capture_output=True, text=True, timeout=120
    )


def test_the_layout_keeps_its_contracts() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


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
            "check/checkers.py",
            "from harness.cluster.control import Cluster",
            "harness.check.checkers -> harness.cluster.control",
        ),
        # a report reaching Docker through the chaos run
        ("report/timeline.py", "import harness.chaos.run", "harness.report is not allowed to import docker"),
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
