"""`amq-chaos` on Docker as a person runs it: up/status/down and faults by hand that leave nothing
behind, a taken VIP port refused, Ctrl-C during bring-up, and a killed harness's run swept by the next."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cluster.control import PROJECT_PREFIX, RUN_LABEL, free_port, sweep_label
from harness.settings import ROOT
from tests.support import as_env, assert_one_line_error, child_environ, harness


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
        found.update(c.name for c in client.containers.list(all=True, ignore_removed=True, filters=only))
        found.update(n.name for n in client.networks.list(filters=only))
        found.update(v.name for v in client.volumes.list(filters=only))
    return sorted(found)


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
        assert_one_line_error(bad, "usage: amq-chaos fault")
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

    env = {**child_environ(), **as_env({"VIP_PORT": str(free_port()), "RUNS_DIR": str(tmp_path)})}
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
    try:
        # interrupt as soon as the first container of this run exists, i.e. in the middle of bring-up
        while time.monotonic() < deadline and process.poll() is None:
            run_dirs = [p for p in tmp_path.iterdir() if p.is_dir()]
            # a container removed between the listing and its inspection is not an error (ignore_removed)
            if run_dirs and client.containers.list(
                all=True, ignore_removed=True, filters={"label": f"{RUN_LABEL}={run_dirs[0].name}"}
            ):
                break
            time.sleep(0.2)
        assert run_dirs and process.poll() is None, "bring-up finished or never started containers"
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=180)
        assert process.returncode == 130, stderr
        assert labelled_leftovers(run_dirs[0]) == []
    finally:
        # whatever failed above, the `harness up` it started must not bring a cluster up and keep it: a `make
        # up` cluster outlives its command by design
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)
        for run in (p for p in tmp_path.iterdir() if p.is_dir()):
            sweep_label(client, f"{RUN_LABEL}={run.name}")


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
