"""One chaos run from its shards' run folders (SHARD=K/N make chaos on N runners): the items' folders copied
in, the summaries and JUnit files joined, the report drawn again; anything that is not every share of one
run is a one-line error, and nothing half-merged is left."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.check.result import ScenarioResult
from harness.check.verdict import Verdict
from harness.errors import HarnessError
from harness.report.merge import merge_runs

ITEMS = [("kill-live-master", "seed"), ("kill-live-master", "hardened"), ("freeze-master", "seed")]


def node_id(scenario: str, design: str) -> str:
    return f"scenarios/test_faults.py::test_{scenario.replace('-', '_')}[{design}]"


def shard_run(runs: Path, k: int, n: int, seed: int = 7, skipped: int = 0) -> Path:
    """A shard's run folder as the plugin leaves it: its items' folders, summary.json, junit.xml, shard.json."""
    folder = runs / "chaos" / f"2026120{k}-010000-seed{seed}-shard{k}of{n}"
    folder.mkdir(parents=True)
    results, cases, share = [], [], []
    for i, (scenario, design) in enumerate(ITEMS):
        if i % n != k - 1:
            continue
        item = folder / f"{scenario}-{design}"
        item.mkdir()
        share.append(node_id(scenario, design))
        (item / "history.jsonl").write_text('{"type": "header"}\n')
        verdicts = [Verdict("lost", design == "seed", {"lost": int(design != "seed")}, {})]
        result = ScenarioResult(
            scenario,
            design,
            seed,
            str(item),
            {"acknowledged": 10, "delivered": 10, "indeterminate": 0, "failed": 0, "invoked": 10},
            verdicts,
        )
        results.append(result.to_json())
        cases.append(
            f'<testcase classname="scenarios.test_faults" name="test_{scenario}[{design}]" time="2.5"/>'
        )
    cases += ['<testcase name="test_known[seed]"><skipped message="known bug"/></testcase>'] * skipped
    (folder / "summary.json").write_text(json.dumps(results))
    every = sorted(node_id(*item) for item in ITEMS)
    (folder / "shard.json").write_text(json.dumps({"shard": f"{k}/{n}", "items": every, "share": share}))
    suite = f'<testsuite name="pytest" tests="{len(cases)}" skipped="{skipped}" failures="0" errors="0" time="{2.5 * len(results)}">'
    (folder / "junit.xml").write_text(f"<testsuites>{suite}{''.join(cases)}</testsuite></testsuites>")
    return folder


def test_every_share_of_one_run_merges_into_one_run_folder(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    shards = [shard_run(runs, 1, 2, skipped=1), shard_run(runs, 2, 2)]
    merged, lines = merge_runs(shards, runs)
    assert merged.name.endswith("-seed7") and merged.parent == runs / "chaos"
    assert sorted(p.name for p in merged.iterdir() if p.is_dir()) == sorted(f"{s}-{d}" for s, d in ITEMS)
    summary = json.loads((merged / "summary.json").read_text())
    assert sorted((r["scenario"], r["design"]) for r in summary) == sorted(ITEMS)
    assert all(Path(r["directory"]).parent == merged for r in summary)  # the copies, not the shards'
    suite = ET.parse(merged / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("skipped"), suite.get("time")) == ("4", "1", "7.500")
    assert len(list(suite.iter("testcase"))) == 4
    # its time is the shards' added up, and the file says it is a merge (make bench takes no wall time from it)
    assert suite.find("properties/property[@name='merged_shards']").get("value") == "2"  # type: ignore[union-attr]
    report = (merged / "report.html").read_text()
    assert "kill-live-master" in report and "freeze-master" in report
    assert lines[0] == f"merged shards 1/2, 2/2 into {merged}" and "index" in lines[-1]
    assert merged.name in (runs / "index.html").read_text()
    # a failing item on one shard is a failing item of the merged run
    assert [r["unexpected"] for r in summary if r["design"] == "hardened"] == [["lost"]]


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda runs: [shard_run(runs, 1, 3), shard_run(runs, 3, 3)], "shard 2/3 missing"),
        (lambda runs: [shard_run(runs, 1, 2), shard_run(runs, 2, 2, seed=8)], "different seeds (7, 8)"),
        (lambda runs: [shard_run(runs, 1, 2), shard_run(runs, 2, 3)], "not one split of the items"),
        (lambda runs: [runs], "is not a finished chaos run folder"),
        (lambda runs: [], "give the run folders of the shards"),
    ],
)
def test_what_is_not_every_share_of_one_run_is_refused_in_one_line(tmp_path: Path, make, error: str) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    with pytest.raises(HarnessError, match=re.escape(error)) as info:
        merge_runs(make(runs), runs)
    assert "\n" not in str(info.value)
    assert not [p for p in runs.glob("chaos/*") if "shard" not in p.name]  # no merged folder


def test_a_shard_without_its_junit_file_leaves_nothing_half_merged(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    shards = [shard_run(runs, 1, 2), shard_run(runs, 2, 2)]
    (shards[1] / "junit.xml").unlink()
    with pytest.raises(HarnessError, match=r"junit\.xml is missing"):
        merge_runs(shards, runs)
    assert sorted(p.name for p in (runs / "chaos").iterdir()) == sorted(s.name for s in shards)


def rewrite_record(shard: Path, **changes: object) -> None:
    record = json.loads((shard / "shard.json").read_text())
    (shard / "shard.json").write_text(json.dumps(record | changes))


def test_shards_that_split_the_items_differently_are_refused(tmp_path: Path) -> None:
    """Runners whose durations files differed each took a share of their own split: folder names that
    look like one run, and items that one share left out (or two shares both ran)."""
    runs = tmp_path / "runs"
    first, second = shard_run(runs, 1, 2), shard_run(runs, 2, 2)
    share = json.loads((first / "shard.json").read_text())["share"]
    rewrite_record(first, share=share[1:])
    with pytest.raises(HarnessError, match=r"1 item in no share; is durations\.json the same"):
        merge_runs([first, second], runs)
    rewrite_record(first, share=share)
    rewrite_record(second, share=[*json.loads((second / "shard.json").read_text())["share"], share[0]])
    with pytest.raises(HarnessError, match="items in two shares"):
        merge_runs([first, second], runs)


def test_shards_that_collected_different_items_or_left_no_record_are_refused(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    first, second = shard_run(runs, 1, 2), shard_run(runs, 2, 2)
    rewrite_record(second, items=[node_id("kill-live-master", "seed")])
    with pytest.raises(HarnessError, match="collected different items"):
        merge_runs([first, second], runs)
    (second / "shard.json").unlink()
    with pytest.raises(HarnessError, match=r"no readable shard\.json"):
        merge_runs([first, second], runs)
    assert sorted(p.name for p in (runs / "chaos").iterdir()) == sorted(s.name for s in (first, second))
