"""The soak: a short real soak's checkpoint files, report and JUnit, and the JUnit file's case per window."""

from __future__ import annotations

import dataclasses
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.chaos.replay import recorded_faults, replay_history
from harness.chaos.schedule import FaultPlan
from harness.cluster.control import Cluster, free_port
from harness.design.catalog import design
from harness.history import read_header
from harness.longrun.soak import SoakPlan, run_soak, soak_report_from_folder
from harness.progress import Progress
from harness.report.junit import soak_junit
from harness.settings import Settings


@pytest.mark.docker
def test_a_soak_junit_file_has_a_case_per_window_with_its_seed_and_replay() -> None:
    checkpoints = [
        {"window": 0, "scenario": "soak-w000", "verdict": "ok", "seconds": 290.5, "replay": "make replay HISTORY=a"},
        {"window": 1, "scenario": "soak-w001", "verdict": "FAIL", "unexpected": "lost, stuck", "seconds": 300,
         "replay": "make replay HISTORY=b"},
        {"window": 2, "scenario": "soak-w002", "verdict": "ERROR", "unexpected": "HarnessError: no Docker",
         "replay": "make replay HISTORY=c"},
    ]  # fmt: skip
    suite = ET.fromstring(soak_junit(checkpoints, 2026, "hardened", "5.17.2"))
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "1", "1")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert list(cases) == ["soak-w000", "soak-w001", "soak-w002"]
    assert cases["soak-w000"].find("failure") is None and cases["soak-w000"].get("time") == "290.5"
    properties = {p.get("name"): p.get("value") for p in cases["soak-w001"].iter("property")}
    assert properties == {"seed": "2026", "replay": "make replay HISTORY=b"}
    assert cases["soak-w001"].find("failure").get("message") == "violated or undecided: lost, stuck"
    assert "the harness or the machine failed" in cases["soak-w002"].find("error").text


def test_a_short_soak_checks_every_window_and_records_memory(docker_available: None, tmp_path: Path) -> None:
    # hardened: its only declared weakness is redelivery, so anything else found fails the test. The soak
    # draws from a menu of its own (FAULTS=freeze,lossy INTERVAL=30s): lossy is a kind the plain menu never draws
    settings = dataclasses.replace(
        Settings.from_env(), vip_port=free_port(), runs_dir=tmp_path, design=design("hardened")
    )
    plan = SoakPlan(7, 180, 90, faults=FaultPlan(("freeze", "lossy"), 30.0, 8.0))
    lines: list[str] = []
    outcome = run_soak(settings, plan, tmp_path, Progress(None), log=lines.append)
    assert [c["window"] for c in outcome.checkpoints] == [0, 1]
    assert sum(1 for line in lines if line.startswith("checkpoint ")) == 2
    assert "FAULTS=freeze,lossy INTERVAL=30s make soak" in lines[0]
    histories = [tmp_path / f"soak-w00{n}" / "history.jsonl" for n in (0, 1)]
    assert all(h.exists() for h in histories)
    assert outcome.ok, json.dumps(outcome.checkpoints)
    # every window drew from the chosen menu only, and says so in its header
    applied = [f for h in histories for f in recorded_faults(h) if f.kind == "fault"]
    assert {f.action for f in applied} == {"freeze", "lossy"}, [f.key for f in applied]
    assert read_header(histories[0])["fault_plan"] == {
        "kinds": ["freeze", "lossy"], "chosen": True, "interval": 30.0, "hold": 8.0
    }  # fmt: skip
    assert FaultPlan.from_json(json.loads((tmp_path / "soak.json").read_text())["faults"]) == plan.faults
    samples = [json.loads(line) for line in (tmp_path / "memory.jsonl").read_text().splitlines()]
    assert len(samples) >= 10 and outcome.peak_rss_mib >= max(s["rss_mib"] for s in samples)
    report = (tmp_path / "report.html").read_text()
    assert "harness process memory" in report and "soak-w001" in report
    cases = list(ET.parse(tmp_path / "junit.xml").getroot().iter("testcase"))
    assert [c.get("name") for c in cases] == ["soak-w000", "soak-w001"]
    assert "| soak-w001 | ok |" in (tmp_path / "summary.md").read_text()  # the CI job's summary
    assert all(
        "make replay HISTORY=" in c.find("properties/property[@name='replay']").get("value") for c in cases
    )
    (tmp_path / "report.html").unlink()
    assert soak_report_from_folder(tmp_path).read_text().count("<svg") >= 4  # memory + the latest window's 3

    # a window's replay redoes its faults, drawn from that menu, on the same nodes in the same order
    with Cluster(settings) as cluster:
        replay = replay_history(cluster, histories[0], tmp_path / "replay", drain_timeout=5)
    recorded = [f.key for f in recorded_faults(histories[0])]
    assert [f.key for f in recorded_faults(Path(replay.directory) / "history.jsonl")] == recorded
