"""The nightly-soak examples of ci/ run as their platforms would run them: each job's own shell lines in a
clean clone of this repository, with the platform's variables, a 10-minute soak, and the artifacts, job
summary, cache and index they leave checked against what docs/soak-in-ci.md says.

GitHub's `hardened` job runs first and saves its night to the cache; GitLab's `seed` job (VIP port 61623,
its matrix entry) then starts with that cache as an earlier night, so its index must list both. About 12
minutes a platform: `make test-ci-examples`, not part of `make test` (which CI runs within 30 minutes).
CI_EXAMPLE_DURATION= changes the soak's length."""

from __future__ import annotations

import json
import os
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from harness.settings import ROOT
from tests.ci_runner import Job, run_github_job, run_gitlab_job

pytestmark = [pytest.mark.ci_examples, pytest.mark.timeout(3 * 3600)]

DURATION = os.environ.get("CI_EXAMPLE_DURATION", "10m")
RUN_NUMBER = 7
STEP_TIMEOUT = 45 * 60
SOAK_FILES = (
    "soak.json",
    "checkpoints.json",
    "summary.json",
    "junit.xml",
    "summary.md",
    "report.html",
    "memory.jsonl",
)


def tonights_soak(runs: Path, seed: str) -> Path:
    """Tonight's soak folder: the artifact also holds the earlier nights the cache restored (their verdicts
    only), as the platform uploads all of runs/soak/."""
    folders = [
        p
        for p in (runs / "soak").iterdir()
        if p.is_dir()
        and not p.is_symlink()
        and str(json.loads((p / "soak.json").read_text())["seed"]) == seed
    ]
    assert len(folders) == 1, folders
    return folders[0]


def assert_artifact_is_what_the_guide_says(job: Job, artifact_runs: Path, seed: str) -> Path:
    """The run folder packed and whole, the index beside it, one JUnit case per window with its seed and
    replay command: what docs/soak-in-ci.md promises a user downloading the artifact."""
    soak = tonights_soak(artifact_runs, seed)
    for name in SOAK_FILES:
        assert (soak / name).is_file(), f"{name} missing from the artifact's {soak.name}"
    windows = sorted(p for p in soak.iterdir() if p.is_dir() and p.name.startswith("soak-w"))
    assert windows, "no window folder in the artifact"
    for window in windows:
        # packed: replay and shrink read the .gz as it is; the compact cache is dropped
        assert (window / "history.jsonl.gz").is_file() and not (window / "history.jsonl").exists(), window
        assert not (window / "history.compact").exists(), window
    assert (artifact_runs / "index.html").is_file()
    print(f"histories: {job.sizes['before pack']} bytes, {job.sizes['after pack']} packed")
    # about a tenth of its size once packed (the guide's figure); a fifth would still be a broken pack
    assert 0 < job.sizes["after pack"] * 5 < job.sizes["before pack"], job.sizes
    assert job.junit_files, "the JUnit report step found no junit.xml"
    cases = ET.parse(job.junit_files[0]).getroot().iter("testcase")
    names = []
    for case in cases:
        names.append(case.get("name"))
        properties = {p.get("name"): p.get("value") for p in case.iter("property")}
        assert properties.get("seed") == seed, properties
        replay = properties.get("replay", "")
        if replay.startswith("make replay"):
            # by its path from the checkout's root: the runner's absolute path names nothing after download
            assert replay == f"make replay HISTORY=runs/soak/{soak.name}/{case.get('name')}/history.jsonl", (
                replay
            )
        else:
            assert "SEED=" in replay, properties
    assert names == [w.name for w in windows], (names, windows)
    return soak


@pytest.fixture(scope="module")
def github_night(docker_available: None, tmp_path_factory: pytest.TempPathFactory) -> Job:
    workflow = yaml.safe_load((ROOT / "ci" / "github-nightly-soak.yml").read_text())
    contexts = {
        "github": {"run_number": RUN_NUMBER, "run_id": 900001, "event": {"inputs": {"duration": DURATION}}},
        "matrix": {"design": "hardened"},
        "secrets": {},  # a fork: no secrets, the test defaults
    }
    return run_github_job(workflow, "soak", ROOT, tmp_path_factory.mktemp("github"), contexts, STEP_TIMEOUT)


def test_the_github_example_soaks_and_keeps_its_night(github_night: Job) -> None:
    job = github_night
    assert job.env["AMQ_CHAOS_DURATION"] == DURATION and job.env["AMQ_CHAOS_SEED"] == str(RUN_NUMBER)
    assert job.env["AMQ_CLIENT_PASSWORD"] == "client-test-secret", "no secrets: the test defaults"
    steps = {s.name: s.code for s in job.steps}
    assert steps["images (mmdebstrap needs root)"] == 0, job.steps
    assert steps["soak"] in (0, 1), job.steps  # 1: the brokers violated something, still a night kept
    for step in job.steps:
        if step.name != "soak":
            assert step.code == 0, job.steps
    artifact = job.artifacts / f"soak-hardened-{RUN_NUMBER}"
    soak = assert_artifact_is_what_the_guide_says(job, artifact / "runs", str(RUN_NUMBER))
    # the job's summary page: the windows' verdicts as summary.md has them
    page = (job.workspace.parent / "step-summary.md").read_text()
    assert page.strip() and page.strip() == (soak / "summary.md").read_text().strip()
    # tonight's verdicts saved under this run's key in the design's series, for the next nights
    saved = job.cache / "soak-nights-hardened-900001" / "runs" / "soak" / soak.name
    assert sorted(p.name for p in saved.iterdir()) == ["checkpoints.json", "soak.json"]


def test_the_gitlab_example_soaks_on_its_own_port_and_adds_up_the_nights(
    github_night: Job, tmp_path_factory: pytest.TempPathFactory
) -> None:
    spec = yaml.safe_load((ROOT / "ci" / "gitlab-nightly-soak.yml").read_text())["nightly-soak"]
    entry = next(e for e in spec["parallel"]["matrix"] if e["AMQ_CHAOS_DESIGN"] == "seed")
    folder = tmp_path_factory.mktemp("gitlab")
    cache = folder / "cache"
    earlier = github_night.cache / "soak-nights-hardened-900001"
    shutil.copytree(earlier, cache / "soak-nights-seed")  # an earlier night in this job's cache
    predefined = {
        "CI": "true",
        "GITLAB_CI": "true",
        "CI_PIPELINE_SOURCE": "schedule",
        "CI_PIPELINE_IID": "8",
        "CI_JOB_NAME": f"nightly-soak: [seed, {entry['AMQ_CHAOS_VIP_PORT']}]",
    }
    rule = spec["rules"][0]["if"]
    assert rule == '$CI_PIPELINE_SOURCE == "schedule" && $SOAK == "1"', "the schedule's rule changed"
    job = run_gitlab_job(
        spec,
        {k: str(v) for k, v in entry.items()},
        ROOT,
        folder,
        predefined,
        {"SOAK": "1", "AMQ_CHAOS_DURATION": DURATION},
        STEP_TIMEOUT,
        cache,
    )
    env = job.env
    assert (
        env["AMQ_CHAOS_VIP_PORT"] == "61623"
        and env["AMQ_CHAOS_SEED"] == "8"
        and env["AMQ_CHAOS_DURATION"] == DURATION
    )
    main, after = job.steps
    assert main.code in (0, 1), job.steps  # 1: the brokers violated something (seed has known bugs)
    assert after.code == 0, job.steps
    soak = assert_artifact_is_what_the_guide_says(job, job.artifacts / "runs", "8")
    # the nights add up: tonight's soak linked, the earlier night listed with its verdicts only
    index = (job.artifacts / "runs" / "index.html").read_text()
    tonight = soak.name
    earlier_night = next((earlier / "runs" / "soak").iterdir()).name
    assert f'{tonight}/report.html">{tonight}</a>' in index
    assert (
        f"only its verdicts are here: its report is in that night's artifact\">{earlier_night}</span>"
        in index.replace("&#x27;", "'")
    )
    # the cache now holds both nights for tomorrow
    assert sorted(p.name for p in (cache / "soak-nights-seed" / "runs" / "soak").iterdir()) == sorted(
        [earlier_night, tonight]
    )
