"""`python -m harness` as a person runs it: one-line errors on bad input, and up/status/down that leaves
nothing behind."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cluster.control import PROJECT_PREFIX, RUN_LABEL, free_port
from harness.errors import MACHINE_FAILED
from harness.settings import ROOT
from tests.support import assert_one_line_error, harness


def labelled_leftovers(run_dir: Path) -> list[str]:
    import docker

    client = docker.from_env()
    run_id = run_dir.name
    # the run's label, and compose's project label (teardown runs `compose down` only for what the first
    # leaves)
    found: set[str] = set()
    for label in (
        f"{RUN_LABEL}={run_id}",
        f"com.docker.compose.project={PROJECT_PREFIX}-{run_id.split('-')[-1]}",
    ):
        only = {"label": label}
        found.update(c.name for c in client.containers.list(all=True, filters=only))
        found.update(n.name for n in client.networks.list(filters=only))
        found.update(v.name for v in client.volumes.list(filters=only))
    return sorted(found)


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
        (
            ("soak",),
            {"QUEUES": "many", "DURATION": "1m"},
            "QUEUES='many' must be a whole number of at least 1",
        ),
        (("replay", "/nonexistent/history.jsonl"), {}, "is not a readable history"),
        (("shrink", "/nonexistent/history.jsonl"), {}, "is not a readable history"),
        (("report", "/nonexistent"), {}, "has no summary.json"),
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


@pytest.mark.docker
def test_taken_vip_port_is_refused_and_nothing_runs(docker_available: None, tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        done = harness("up", VIP_PORT=str(port), RUNS_DIR=str(tmp_path))
    assert_one_line_error(done, f"VIP port 127.0.0.1:{port} is already in use")
    assert not (tmp_path / "current").exists()


@pytest.mark.docker
def test_up_status_down_leaves_nothing_behind(docker_available: None, tmp_path: Path) -> None:
    env = {"VIP_PORT": str(free_port()), "RUNS_DIR": str(tmp_path)}
    up = harness("up", **env)
    assert up.returncode == 0, up.stderr
    run_dir = (tmp_path / "current").resolve()
    try:
        assert f"STOMP VIP  127.0.0.1:{env['VIP_PORT']}" in up.stdout
        assert labelled_leftovers(run_dir)  # the run's resources carry its label, so the check below means it
        status = harness("status", **env)
        assert status.returncode == 0, status.stderr
        heading, _, *lines = status.stdout.splitlines()
        assert ": ActiveMQ 5.17.2, design seed, broker image amq-chaos/broker:5.17.2-" in heading
        rows = {line.split()[0]: line.split()[1] for line in lines if line.strip()}
        assert rows == {
            "chaos-mq01-a": "live",
            "chaos-mq01-b": "waiting",
            "chaos-mq02-a": "live",
            "chaos-mq02-b": "waiting",
        }
        assert "-> chaos-mq02-a" in status.stdout and "-> chaos-mq01-a" in status.stdout
        assert (run_dir / "config" / "chaos-mq01-a" / "activemq.xml").exists()

        # faults by hand: one command each, healed by a later command from the state it left
        froze = harness("fault", "freeze", "live:01", **env)
        assert froze.returncode == 0 and "freeze: chaos-mq01-a" in froze.stdout, froze.stderr
        during = harness("fault", "status", **env)
        assert "in force: freeze on chaos-mq01-a" in during.stdout
        assert "chaos-mq01-a  frozen" in during.stdout
        bad = harness("fault", "melt", "live:01", **env)
        assert_one_line_error(bad, "usage: python -m harness fault")
        healed = harness("fault", "heal", **env)
        assert healed.returncode == 0, healed.stderr
        after = harness("fault", "status", **env)
        assert "no fault in force" in after.stdout and "chaos-mq01-a  live" in after.stdout
        events = [
            json.loads(line) for line in (run_dir / "manual-history.jsonl").read_text().splitlines()[1:]
        ]
        assert [(e["type"], e["f"], e["action"]) for e in events] == [
            ("invoke", "fault", "freeze"),
            ("ok", "fault", "freeze"),
            ("invoke", "heal", "thaw"),
            ("ok", "heal", "thaw"),
        ]
        assert events[0]["t"] < events[-1]["t"]  # one clock across the commands
    finally:
        down = harness("down", **env)
    assert down.returncode == 0, down.stderr
    assert labelled_leftovers(run_dir) == []
    assert not (tmp_path / "current").exists()
    assert sorted(p.name for p in (run_dir / "logs").iterdir()) == [
        "chaos-mq01-a.log",
        "chaos-mq01-b.log",
        "chaos-mq02-a.log",
        "chaos-mq02-b.log",
        "vip.log",
    ]


@pytest.mark.docker
def test_interrupted_bring_up_removes_what_it_started(docker_available: None, tmp_path: Path) -> None:
    import signal
    import time

    import docker

    env = {**os.environ, "VIP_PORT": str(free_port()), "RUNS_DIR": str(tmp_path)}
    process = subprocess.Popen(
        [sys.executable, "-m", "harness", "up"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    client = docker.from_env()
    deadline = time.monotonic() + 120
    run_dirs: list[Path] = []
    # interrupt as soon as the first container of this run exists, i.e. in the middle of bring-up
    while time.monotonic() < deadline and process.poll() is None:
        run_dirs = [p for p in tmp_path.iterdir() if p.is_dir()]
        if run_dirs and client.containers.list(
            all=True, filters={"label": f"{RUN_LABEL}={run_dirs[0].name}"}
        ):
            break
        time.sleep(0.2)
    assert run_dirs and process.poll() is None, "bring-up finished or never started containers"
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=180)
    assert process.returncode == 130, stderr
    assert labelled_leftovers(run_dirs[0]) == []


@pytest.mark.docker
def test_run_of_a_killed_harness_is_swept_by_the_next(docker_available: None, tmp_path: Path) -> None:
    """kill -9 skips every teardown; the next harness start removes what that run left."""
    import signal

    import docker

    from harness.cluster.control import sweep_orphans

    script = (
        "import dataclasses, time\n"
        "from harness.cluster.control import Cluster\n"
        "from harness.settings import Settings\n"
        f"s = dataclasses.replace(Settings.from_env(), vip_port={free_port()}, runs_dir=__import__('pathlib').Path({str(tmp_path)!r}))\n"
        "c = Cluster(s, log=lambda *a: None).up()\n"
        "print(c.run_id, flush=True)\n"
        "time.sleep(600)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    run_id = process.stdout.readline().strip()
    assert run_id, "the cluster did not come up"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    run_dir = tmp_path / run_id
    assert labelled_leftovers(run_dir), "nothing to sweep: the test would prove nothing"
    assert run_id in sweep_orphans(docker.from_env(), log=lambda *_: None)
    assert labelled_leftovers(run_dir) == []


def test_shrink_refuses_a_history_it_cannot_judge_in_one_line(tmp_path: Path) -> None:
    history = tmp_path / "run" / "history.jsonl"
    history.parent.mkdir()
    history.write_text(json.dumps({"type": "header", "seed": 1, "scenario": "x", "design": "seed"}) + "\n")
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
    from harness.cli import chaos_exit_code
    from harness.errors import BAD_INPUT, INTERRUPTED, OK, VIOLATION

    # pytest's codes as the harness's: 1 a verdict, 3 the harness or machine (the plugin's), 2/4/5 bad input
    assert [chaos_exit_code(code, False) for code in (0, 1, 2, 3, 4, 5)] == [
        OK, VIOLATION, BAD_INPUT, MACHINE_FAILED, BAD_INPUT, BAD_INPUT
    ]  # fmt: skip
    assert chaos_exit_code(2, True) == INTERRUPTED  # pytest says 2 for Ctrl-C as for a collection error
    done = harness("chaos", "--scenario", "melt-everything", RUNS_DIR=str(tmp_path))
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
