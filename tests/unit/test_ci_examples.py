"""The nightly-soak CI examples in ci/: they parse, fit the runners' limits, keep their artifacts and JUnit
whatever the verdict, and call only what the Makefile and the command line have."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from harness.chaos.replay import recorded_faults
from harness.history import read_history
from harness.settings import VARIABLES, parse_duration, stamped_folder
from tests.support import recorded_run

ROOT = Path(__file__).resolve().parents[2]
TARGETS = set(re.findall(r"^([a-z][a-z-]*):", (ROOT / "Makefile").read_text(), re.MULTILINE))
SIX_HOURS = 6 * 3600
THREE_HOURS = 3 * 3600


def commands_in(lines: list[str]) -> list[str]:
    """Every shell command of the lines, split at && and ;."""
    return [c.strip() for line in lines for c in re.split(r"&&|;", line) if c.strip()]


def assert_callable(commands: list[str]) -> None:
    for command in commands:
        for target in re.findall(r"\bmake\s+([a-z][a-z-]*)", command):
            assert target in TARGETS, f"{command!r}: no make target {target!r}"
        if "apt-get" in command:
            assert command.startswith("sudo "), f"{command!r}: apt-get needs root on a runner"


def test_the_github_workflow_soaks_nightly_within_the_job_limit() -> None:
    workflow = yaml.safe_load((ROOT / "ci" / "github-nightly-soak.yml").read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert triggers["schedule"][0]["cron"]
    job = workflow["jobs"]["soak"]
    assert job["timeout-minutes"] * 60 < SIX_HOURS
    env = job["env"]
    duration = parse_duration(re.sub(r"\$\{\{.*'(\w+)' \}\}", r"\1", env["AMQ_CHAOS_DURATION"]))
    assert duration + 10 * 60 <= job["timeout-minutes"] * 60, "no room for set-up and upload"
    assert env["DEBIAN_MIRROR"].startswith("http")
    # a repository or fork without the secrets runs on the test defaults, not on empty passwords
    for name in ("AMQ_NETWORK_PASSWORD", "AMQ_CLIENT_PASSWORD"):
        assert re.fullmatch(rf"\$\{{\{{ secrets\.{name} \|\| '[a-z-]+-test-secret' \}}\}}", env[name]), env[
            name
        ]
    # least privilege: read the code, write the JUnit report's check run, nothing else
    assert workflow["permissions"] == {"contents": "read"}
    assert job["permissions"] == {"contents": "read", "checks": "write"}
    steps = job["steps"]
    for step in steps:
        if "uses" in step:  # pinned by commit, not by a tag that can move
            assert re.fullmatch(r"[\w.-]+/[\w.-]+(/[\w.-]+)?@[0-9a-f]{40}", step["uses"]), step["uses"]
    assert_installs_only_what_a_soak_uses(commands_in([s["run"] for s in steps if "run" in s]))
    assert_callable(commands_in([s["run"] for s in steps if "run" in s]))
    # the soak command itself: make would turn its 1 (brokers) and 3 (runner) alike into 2
    assert any(s.get("run", "") == "sudo -E .venv/bin/amq-chaos soak" for s in steps)
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    junit = next(s for s in steps if "junit" in s.get("uses", ""))
    assert upload["if"] == "always()" and junit["if"] == "always()"
    assert upload["with"]["path"].split() == ["runs/soak/", "runs/index.html"]
    assert junit["with"]["report_paths"] == "runs/soak/*/junit.xml"
    # the earlier nights' verdicts come back before the soak and tonight's are kept, failed or not, under a
    # key of this run's own in the design's series
    restore = next(s for s in steps if s.get("uses", "").startswith("actions/cache/restore@"))
    save = next(s for s in steps if s.get("uses", "").startswith("actions/cache/save@"))
    soak = next(s for s in steps if "amq-chaos soak" in s.get("run", ""))
    assert steps.index(restore) < steps.index(soak) < steps.index(save) and save["if"] == "always()"
    assert restore["with"]["path"] == save["with"]["path"] and restore["with"]["key"] == save["with"]["key"]
    assert restore["with"]["restore-keys"] == "soak-nights-${{ matrix.design }}-"
    assert save["with"]["key"].startswith(restore["with"]["restore-keys"]) and "run_id" in save["with"]["key"]
    assert set(save["with"]["path"].split()) == {"runs/soak/*/soak.json", "runs/soak/*/checkpoints.json"}
    # the job's page shows every window's verdict and how to replay the failing ones, whatever the verdict
    summary = next(s for s in steps if "GITHUB_STEP_SUMMARY" in s.get("run", ""))
    assert summary["if"] == "always()" and "runs/soak/*/summary.md" in summary["run"]
    # the histories are compressed before the upload, whatever the verdict
    pack = next(s for s in steps if "make pack" in s.get("run", ""))
    assert pack["if"] == "always()" and steps.index(pack) < steps.index(upload)


def assert_installs_only_what_a_soak_uses(commands: list[str]) -> None:
    """A soak draws no report in a browser, and the Makefile finds Compose (the runner's plugin) itself."""
    for command in commands:
        if "apt-get install" in command:
            assert not re.search(r"chromium|docker-compose", command), command


def test_the_gitlab_job_soaks_on_a_schedule_and_keeps_its_artifacts() -> None:
    job = yaml.safe_load((ROOT / "ci" / "gitlab-nightly-soak.yml").read_text())["nightly-soak"]
    assert "schedule" in job["rules"][0]["if"]
    hours, minutes = re.match(r"(\d+)h (\d+)m", job["timeout"]).groups()  # type: ignore[union-attr]
    limit = int(hours) * 3600 + int(minutes) * 60
    # GitLab.com's hosted runners stop a job after 3 hours whatever its timeout says
    assert limit <= THREE_HOURS and parse_duration(job["variables"]["AMQ_CHAOS_DURATION"]) + 10 * 60 <= limit
    # matrix jobs that share a shell runner each take their own VIP port
    ports = [entry["AMQ_CHAOS_VIP_PORT"] for entry in job["parallel"]["matrix"]]
    assert len(ports) == len(set(ports)) == len(job["parallel"]["matrix"]) == 2
    assert_installs_only_what_a_soak_uses(commands_in(job["before_script"]))
    assert any("make pack DIR=runs/soak" in line for line in job["after_script"])  # runs after a failure too
    assert job["cache"]["when"] == "always" and "$AMQ_CHAOS_DESIGN" in job["cache"]["key"]
    assert set(job["cache"]["paths"]) == {"runs/soak/*/soak.json", "runs/soak/*/checkpoints.json"}
    assert job["artifacts"]["paths"] == ["runs/soak/", "runs/index.html"]
    assert any(re.search(r"AMQ_CLIENT_PASSWORD:-client-test-secret", line) for line in job["before_script"])
    assert job["variables"]["DEBIAN_MIRROR"].startswith("http")
    assert_callable(commands_in(job["before_script"] + job["script"]))
    assert "sudo -E .venv/bin/amq-chaos soak" in job["script"]
    artifacts = job["artifacts"]
    assert artifacts["when"] == "always" and artifacts["reports"]["junit"] == "runs/soak/*/junit.xml"


def test_the_examples_junit_glob_finds_a_soak_folder(tmp_path: Path) -> None:
    # what make soak names its folder (harness.longrun.soak.soak_command), and the soak test checks junit.xml is written in it
    folder = stamped_folder(tmp_path / "runs", "soak", "seed7")
    folder.mkdir(parents=True)
    (folder / "junit.xml").write_text("<testsuite/>")
    assert list(tmp_path.glob("runs/soak/*/junit.xml")) == [folder / "junit.xml"]


def test_make_pack_leaves_histories_that_replay_and_the_checkers_read_as_they_are(tmp_path: Path) -> None:
    window = tmp_path / "soak" / "20261207-010000-seed7" / "soak-w000"
    history = recorded_run(window / "history.jsonl", killed=False)
    before = list(read_history(history))
    (window / "history.compact").mkdir()
    (window / "history.compact" / "acknowledged.ids").write_text("x\n")
    done = subprocess.run(
        ["make", "--no-print-directory", "pack", f"DIR={tmp_path / 'soak'}"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in window.iterdir()) == ["history.jsonl.gz"]
    assert list(read_history(history)) == before  # by its plain name, where only the .gz is left
    assert recorded_faults(window / "history.jsonl.gz") == recorded_faults(history)


def test_the_examples_give_the_soak_command_its_settings_by_the_names_it_reads() -> None:
    """The jobs run `amq-chaos soak` itself (make would turn its exit code into 2), which reads its settings
    only under the AMQ_CHAOS_ prefix: an unprefixed DURATION would leave it soaking 8 hours on a random seed."""
    unprefixed = {v.name for v in VARIABLES if v.env != v.name}
    github = yaml.safe_load((ROOT / "ci" / "github-nightly-soak.yml").read_text())["jobs"]["soak"]["env"]
    gitlab = yaml.safe_load((ROOT / "ci" / "gitlab-nightly-soak.yml").read_text())["nightly-soak"]
    given = [*github, *gitlab["variables"], *(k for entry in gitlab["parallel"]["matrix"] for k in entry)]
    assert not unprefixed & set(given), unprefixed & set(given)
    assert {"AMQ_CHAOS_DURATION", "AMQ_CHAOS_SEED", "AMQ_CHAOS_DESIGN"} <= set(given)
