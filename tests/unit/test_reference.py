"""The guide's reference pages are the code's own words: each page is what harness/reference.py writes from
the registries and parsers now, and a change in the code shows on its page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness import reference
from harness.chaos.faults import FAULT_KINDS
from harness.settings import ROOT, VARIABLES


def test_every_reference_page_is_what_the_code_writes_now() -> None:
    assert reference.stale() == [], "docs/reference/ is stale: run `make docs` and commit what it rewrote"


def test_a_fault_kind_s_new_help_shows_on_its_page(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    reference.write(tmp_path)
    assert reference.stale(tmp_path) == []
    monkeypatch.setattr(type(FAULT_KINDS["kill"]), "help", "SIGKILL, and then some")
    assert reference.stale(tmp_path) == ["faults.md"]
    assert reference.write(tmp_path) == ["faults.md"]
    assert (
        "| `kill` | `kill TARGET` | `start` | `live:random` | `process` | SIGKILL, and then some |"
        in (tmp_path / "faults.md").read_text()
    )


def test_a_new_option_and_a_new_setting_show_on_their_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.settings import Variable

    monkeypatch.setattr("harness.settings.VARIABLES", (*VARIABLES, Variable("GIZMO", "a new knob", "3")))
    assert "| `GIZMO` | `AMQ_CHAOS_GIZMO` | 3 | a new knob |" in reference.settings_page()
    from harness.chaos import plugin

    added = plugin.pytest_addoption

    def with_one_more(parser: object) -> None:
        added(parser)  # type: ignore[arg-type]
        parser.getgroup("chaos").addoption("--chaos-gizmo", help="a new option")  # type: ignore[attr-defined]

    monkeypatch.setattr(plugin, "pytest_addoption", with_one_more)
    assert "| `--chaos-gizmo` | a new option |" in reference.cli_page()


def test_the_harness_reads_the_environment_only_through_its_settings() -> None:
    """Every variable in one place (harness/settings.py VARIABLES): a module reading os.environ for a
    setting of its own would be a setting nobody can find. Passing the environment on to a child process
    (Compose, pytest) and Docker's own DOCKER_HOST are not settings of the harness."""
    allowed = {
        "harness/settings.py",  # where settings are read
        "harness/reference.py",  # COLUMNS, to fix argparse's width while writing the pages
        "harness/cluster/docker_env.py",  # DOCKER_HOST, docker's own
        "harness/cluster/compose.py",  # the environment handed on to docker-compose
        "harness/campaigns/sessions.py",  # the environment handed on to each version's pytest
    }
    readers = {
        str(path.relative_to(ROOT))
        for path in (ROOT / "harness").rglob("*.py")
        if re.search(r"os\.environ|os\.getenv", path.read_text())
    }
    assert readers <= allowed, readers - allowed


def test_the_scenario_guide_lists_every_keyword_of_chaos_and_no_other() -> None:
    """The `chaos(...)` table in docs/writing-a-scenario.md is hand-written (each keyword with its why); the
    fields of RunSpec are what the fixture takes, so the two must name the same keywords."""
    import dataclasses

    from harness.chaos.spec import RunSpec

    page = (ROOT / "docs" / "writing-a-scenario.md").read_text()
    table = page.split("## `chaos(...)`: the keywords", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `(\w+)` \|", table, re.M))
    set_by_the_fixture = {"scenario", "seed", "directory", "design", "expected"}
    assert listed == {f.name for f in dataclasses.fields(RunSpec)} - set_by_the_fixture


def test_every_backend_says_how_it_realises_every_fault_kind() -> None:
    """The backends page's cells: a kind added without saying how each backend realises it fails here."""
    from harness.chaos.faults import FAULT_KINDS
    from harness.cluster.control import Cluster
    from harness.cluster.hosts import HostsCluster
    from harness.cluster.kube import KubeCluster

    for backend in (Cluster, HostsCluster, KubeCluster):
        assert set(backend.primitives) == set(FAULT_KINDS), backend.backend
