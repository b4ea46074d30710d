"""One chaos run from its shards (`SHARD=K/N make chaos` on N runners, harness.chaos.shard): each shard's run
folder holds its items' folders, a summary, a JUnit file and a report; the merge copies the item folders
into one run folder, joins the summaries and the JUnit files, draws the report again and rewrites the runs'
index, so the merged run reads as if one runner had run every item."""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from harness.chaos.shard import SHARD_RECORD
from harness.errors import HarnessError
from harness.report.html import report_from_folder
from harness.report.index import rewrite_index
from harness.settings import stamped_folder

SHARD_FOLDER = re.compile(r"-seed(?P<seed>[0-9]+)-shard(?P<k>[0-9]+)of(?P<n>[0-9]+)$")
_COUNTS = ("tests", "errors", "failures", "skipped")
MERGED_PROPERTY = "merged_shards"  # a merged JUnit file's property: how many shards (its time is their sum)


def merge_runs(shards: list[Path], runs_dir: Path) -> tuple[Path, list[str]]:
    """The merged run folder under runs_dir/chaos, and the lines to print (its report, the index)."""
    seeds, shares = _check(shards)
    merged = stamped_folder(runs_dir, "chaos", f"seed{seeds.pop()}")
    merged.mkdir(parents=True)
    try:
        results: list[dict[str, Any]] = []
        for shard in shards:
            results += _copy_items(shard, merged)
        (merged / "summary.json").write_text(json.dumps(results, indent=2) + "\n")
        (merged / "junit.xml").write_bytes(merge_junit([shard / "junit.xml" for shard in shards]))
    except BaseException:
        shutil.rmtree(merged, ignore_errors=True)  # a half-merged run must not pass for a whole one
        raise
    lines = [f"merged shards {', '.join(shares)} into {merged}", f"report: {report_from_folder(merged)}"]
    return merged, [*lines, rewrite_index(runs_dir)]


def _check(shards: list[Path]) -> tuple[set[int], list[str]]:
    """The shards' seed (one), and their shares; a one-line error for anything that is not every share of
    one run."""
    if not shards:
        raise HarnessError(
            "give the run folders of the shards to merge (runs/chaos/<time>-seed<N>-shard<K>of<N>)"
        )
    seeds: set[int] = set()
    found: dict[int, set[int]] = {}
    for shard in shards:
        match = SHARD_FOLDER.search(shard.name)
        if not shard.is_dir() or not (shard / "summary.json").exists():
            raise HarnessError(f"{shard} is not a finished chaos run folder (no summary.json)")
        if match is None:
            raise HarnessError(f"{shard} is not a shard's run folder (its name ends -seed<N>-shard<K>of<N>)")
        seeds.add(int(match["seed"]))
        found.setdefault(int(match["n"]), set()).add(int(match["k"]))
    if len(seeds) > 1:
        raise HarnessError(
            f"the shards ran different seeds ({', '.join(map(str, sorted(seeds)))}): not one run"
        )
    if len(found) > 1 or len(shards) != sum(len(ks) for ks in found.values()):
        raise HarnessError(f"the shards are not one split of the items: {', '.join(s.name for s in shards)}")
    ((count, indexes),) = found.items()
    missing = sorted(set(range(1, count + 1)) - indexes)
    if missing:
        raise HarnessError(
            f"shard {', '.join(f'{k}/{count}' for k in missing)} missing: a merge needs every share"
        )
    _check_split(shards)
    return seeds, [f"{k}/{count}" for k in sorted(indexes)]


def _check_split(shards: list[Path]) -> None:
    """Each shard's shard.json (harness.chaos.plugin) names every item of the suite and its own share: the
    shards must have split one list of items (runners that collected other items, or split them by another
    durations file, leave some item in no share or in two), and their shares must cover it once."""
    records = []
    for shard in shards:
        try:
            records.append(json.loads((shard / SHARD_RECORD).read_text()))
        except (OSError, ValueError) as exc:
            raise HarnessError(
                f"{shard} has no readable {SHARD_RECORD} (what the shard ran of which items)"
            ) from exc
    if any(record["items"] != records[0]["items"] for record in records):
        raise HarnessError(
            "the shards collected different items (another checkout, SCENARIO or DESIGN): not one split"
        )
    shares = [set(record["share"]) for record in records]
    left_out = set(records[0]["items"]) - set().union(*shares)
    if left_out or sum(map(len, shares)) != len(records[0]["items"]):
        named = (
            f"{len(left_out)} item{'s' * (len(left_out) != 1)} in no share"
            if left_out
            else "items in two shares"
        )
        raise HarnessError(f"the shards split the items differently ({named}; is durations.json the same?)")


def _copy_items(shard: Path, merged: Path) -> list[dict[str, Any]]:
    """The shard's results, each item's folder copied into the merged run and its result pointed there."""
    results = json.loads((shard / "summary.json").read_text())
    for result in results:
        name = Path(result["directory"]).name
        source, target = shard / name, merged / name
        if target.exists():
            raise HarnessError(f"{name} is in two shards: they are not one split of the items")
        if source.is_dir():
            shutil.copytree(source, target, symlinks=True)
        result["directory"] = str(target)
    return results


def merge_junit(files: list[Path]) -> bytes:
    """pytest's JUnit files (a <testsuites> of one <testsuite> each) as one suite: every test case, the
    counts and times added up."""
    suite = ET.Element("testsuite", name="pytest")
    # said in the file: its time is the shards' added up, not any one session's wall time
    ET.SubElement(ET.SubElement(suite, "properties"), "property", name=MERGED_PROPERTY, value=str(len(files)))
    totals = dict.fromkeys(_COUNTS, 0)
    seconds = 0.0
    for path in files:
        if not path.exists():
            raise HarnessError(f"{path} is missing: the shard did not finish")
        root = ET.parse(path).getroot()
        for part in [root] if root.tag == "testsuite" else root.iter("testsuite"):
            for key in _COUNTS:
                totals[key] += int(part.get(key, "0"))
            seconds += float(part.get("time", "0"))
            suite.extend(part.iter("testcase"))
    for key, value in totals.items():
        suite.set(key, str(value))
    suite.set("time", f"{seconds:.3f}")
    root = ET.Element("testsuites")
    root.append(suite)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
