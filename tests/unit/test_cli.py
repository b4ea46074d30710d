"""`amq-chaos` as a person runs it: one-line errors on bad input, exit codes, the console script
(up/status/down on Docker: tests/docker/test_cli.py)."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.errors import EXIT_CODES, MACHINE_FAILED
from tests.support import assert_one_line_error, child_environ, harness


def test_unknown_version_is_refused_before_anything_starts(tmp_path: Path) -> None:
    done = harness("up", ACTIVEMQ_VERSION="5.5.0", RUNS_DIR=str(tmp_path))
    assert_one_line_error(done, "unknown ACTIVEMQ_VERSION '5.5.0'")
    assert list(tmp_path.iterdir()) == []


def test_unreachable_docker_engine(tmp_path: Path) -> None:
    done = harness("up", DOCKER_HOST="unix:///nonexistent/docker.sock", RUNS_DIR=str(tmp_path))
    # the machine's failure, not bad input: CI must tell it from a verdict and from a typo
    assert_one_line_error(
        done, "Docker engine not reachable at unix:///nonexistent/docker.sock", MACHINE_FAILED
    )
    assert list(tmp_path.iterdir()) == []


def test_malformed_dotenv_value(tmp_path: Path) -> None:
    done = harness("status", VIP_PORT="sixty", RUNS_DIR=str(tmp_path))
    assert_one_line_error(done, "VIP_PORT='sixty' is not a TCP port")


def test_status_without_a_cluster(tmp_path: Path) -> None:
    done = harness("status", RUNS_DIR=str(tmp_path))
    assert_one_line_error(done, "no cluster is up")


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (("soak",), {"DURATION": "8x"}, "DURATION='8x' is not a duration"),
        (("soak", "--checkpoint", "0"), {}, "CHECKPOINT='0' must be longer than zero"),
        (
            ("soak",),
            {"PLACEMENT": "random", "DURATION": "1m"},
            "unknown PLACEMENT 'random': choose one of seeded, vip",
        ),
        (("soak",), {"SEED": "-3"}, "SEED='-3' is not a non-negative integer"),
        (("soak",), {"SEED": "last", "DURATION": "1m"}, "SEED=last: no earlier run in"),
        (
            ("soak",),
            {"DESIGN": "mesh", "DURATION": "1m"},
            "unknown design 'mesh': choose one of seed, hardened",
        ),
        (
            ("soak",),
            {"QUEUES": "many", "DURATION": "1m"},
            "QUEUES='many' must be a whole number of at least 1",
        ),
        (("replay", "/nonexistent/history.jsonl"), {}, "is not a readable history"),
        (("shrink", "/nonexistent/history.jsonl"), {}, "is not a readable history"),
        (("report", "/nonexistent"), {}, "has no summary.json"),
        (("durations",), {}, "no JUnit file under"),
        (("durations", "/nonexistent/junit.xml"), {}, "no JUnit file at /nonexistent/junit.xml"),
    ],
)
def test_long_run_commands_refuse_bad_input_in_one_line(
    args: tuple[str, ...], env: dict[str, str], expected: str, tmp_path: Path
) -> None:
    done = harness(*args, RUNS_DIR=str(tmp_path), **env)
    assert_one_line_error(done, expected)
    assert list(tmp_path.iterdir()) == []  # refused before any folder or cluster


def test_replay_of_a_file_that_is_not_a_history(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.txt"
    bogus.write_text("hello\n")
    done = harness("replay", str(bogus), RUNS_DIR=str(tmp_path / "runs"))
    assert_one_line_error(done, "is not a readable history")


def test_shrink_refuses_a_history_it_cannot_judge_in_one_line(tmp_path: Path) -> None:
    history = tmp_path / "run" / "history.jsonl"
    history.parent.mkdir()
    header = {"type": "header", "seed": 1, "scenario": "x", "design": "seed"}
    ended = {"i": 0, "t": 1.0, "p": "harness", "type": "ok", "f": "phase", "phase": "final-state"}
    history.write_text(
        "".join(json.dumps(line) + "\n" for line in (header, ended))
    )  # a whole run's, if short
    runs = tmp_path / "runs"
    assert_one_line_error(harness("shrink", str(history), RUNS_DIR=str(runs)), "verdicts.json is missing")
    assert_one_line_error(
        harness("shrink", str(history), "--tries", "0", RUNS_DIR=str(runs)),
        "TRIES='0' must be a positive number",
    )
    passing = {"scenario": "x", "design": "seed", "seed": 1, "directory": ".", "counts": {}, "verdicts": []}
    (history.parent / "verdicts.json").write_text(json.dumps(passing))
    assert_one_line_error(
        harness("shrink", str(history), RUNS_DIR=str(runs)), "shows no undeclared violation"
    )
    assert not runs.exists()  # refused before any folder or cluster


def test_chaos_exit_codes_say_who_failed(tmp_path) -> None:
    from harness.errors import BAD_INPUT, INTERRUPTED, OK, VIOLATION, chaos_exit_code

    # pytest's codes as the harness's: 1 a verdict, 3 the harness or machine (the plugin's), 2/4/5 bad input
    assert [chaos_exit_code(code, False) for code in (0, 1, 2, 3, 4, 5)] == [
        OK, VIOLATION, BAD_INPUT, MACHINE_FAILED, BAD_INPUT, BAD_INPUT
    ]  # fmt: skip
    assert chaos_exit_code(2, True) == INTERRUPTED  # pytest says 2 for Ctrl-C as for a collection error
    done = harness("chaos", "--chaos-scenario", "melt-everything", RUNS_DIR=str(tmp_path))
    assert done.returncode == BAD_INPUT and "unknown SCENARIO 'melt-everything'" in done.stderr


def test_teardown_runs_compose_down_only_for_what_the_label_sweep_left(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from harness.cluster.control import Cluster

    class Listing:
        def __init__(self, left: list[str]) -> None:
            self.left = left

        def list(self, **_: object) -> list[str]:
            return self.left

    downs: list[str] = []
    cluster = Cluster.__new__(Cluster)
    cluster.project, cluster.directory = "amqchaos-x", tmp_path
    (tmp_path / "docker-compose.yml").write_text("services: {}\n")
    cluster._compose = SimpleNamespace(down=lambda: downs.append("down"))  # type: ignore[assignment]
    cluster.client = SimpleNamespace(containers=Listing([]), networks=Listing([]), volumes=Listing([]))  # type: ignore[assignment]
    cluster._compose_down()
    assert downs == []  # the sweep took everything: no docker-compose start
    cluster.client.networks = Listing(["amqchaos-x_cluster"])  # type: ignore[attr-defined]
    cluster._compose_down()
    assert downs == ["down"]


def test_the_console_script_is_installed_with_its_version_and_exit_codes() -> None:
    """`amq-chaos` comes with the package (pyproject's [project.scripts]): nobody has to know `python -m`."""
    script = Path(sys.executable).parent / "amq-chaos"
    assert script.is_file(), "pip install -e . puts amq-chaos beside the interpreter"
    version = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=60, check=True)
    assert version.stdout.strip() == f"amq-chaos {importlib.metadata.version('amq-chaos')}"
    usage = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=60, check=True).stdout
    assert usage.startswith("usage: amq-chaos ")
    for code, meaning in EXIT_CODES:
        assert f"  {code:<4} {meaning}" in usage


def test_a_harness_run_a_test_starts_does_not_inherit_the_outer_session_s_share(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`SHARD=1/2 make test` exports AMQ_CHAOS_SHARD for its own session; a `make chaos` that a test runs
    inside it must still run every item it selects, not half of them."""
    monkeypatch.setenv("AMQ_CHAOS_SHARD", "1/2")
    monkeypatch.setenv("AMQ_CHAOS_SCENARIO", "kill-live-master")
    # what a `make` the test runs would read: `SHARD=1/2 make test`'s plain name, `make test SHARD=1/2`'s flags
    monkeypatch.setenv("SHARD", "1/2")
    monkeypatch.setenv("MAKEFLAGS", " -- SHARD=1/2")
    assert not {"SHARD", "AMQ_CHAOS_SHARD", "MAKEFLAGS", "AMQ_CHAOS_SCENARIO"} & set(child_environ())
    done = harness("chaos", "--collect-only", "-q", SEED="1", RUNS_DIR=str(tmp_path), timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "deselected" not in done.stdout, done.stdout[-2000:]
    assert "kill_live_master" in done.stdout and "random_chaos" in done.stdout
