"""BROKER_IMAGE and VIP_IMAGE end to end: a registry-style broker image with no iptables, tc, ip or procps,
ActiveMQ at /opt/apache-activemq, and a bare HAProxy image run the original network faults, because the
harness layers its own tools on them and applies the network rules from a helper in each broker's network
namespace."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest

from harness.cluster.control import free_port
from harness.errors import HarnessError
from harness.settings import Settings
from tests.support import build_registry_standins, make_chaos_passes

pytestmark = pytest.mark.docker


def _has(image: str, tool: str) -> bool:
    done = subprocess.run(
        ["docker", "run", "--rm", "--network", "none", "--entrypoint", "sh", image, "-c", f"command -v {tool}"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    return done.returncode == 0


def test_a_registry_image_without_network_tools_runs_the_network_faults(
    docker_available: None, tmp_path: Path
) -> None:
    broker, vip = build_registry_standins(tmp_path / "build")
    # the stand-in really is without them: a fault run inside it could not work
    assert [tool for tool in ("iptables", "tc", "ip", "pkill") if _has(broker, tool)] == []
    settings = Settings.from_env({**os.environ, "BROKER_IMAGE": broker, "VIP_IMAGE": vip})
    assert settings.broker_image is not None
    assert (settings.version, settings.broker_image.home, settings.broker_image.start_jar) == (
        "5.17.2",
        "/opt/apache-activemq",
        "bin/activemq.jar",
    )
    assert settings.broker_label == f"5.17.2 ({broker})"
    runs = tmp_path / "runs"
    env = {
        "BROKER_IMAGE": broker,
        "VIP_IMAGE": vip,
        "DESIGN": "hardened",
        "SEED": "29",
        "RUNS_DIR": str(runs),
        "VIP_PORT": str(free_port()),
        # the two faults made of network rules: one between the pairs, one between a master and everyone
        "PYTEST_ARGS": shlex.join(["-k", "partition_pairs or isolate_master"]),
    }
    output = make_chaos_passes(env, timeout=1200)
    histories = sorted(runs.glob("chaos/2*/*-hardened/history.jsonl"))  # not latest/
    assert [h.parent.name for h in histories] == ["isolate-master-hardened", "partition-pairs-hardened"], (
        output[-2000:]
    )
    for history in histories:
        lines = [json.loads(line) for line in history.read_text().splitlines()]
        header = lines[0]
        assert header["broker_image"] == broker and header["activemq_version"] == "5.17.2"
        assert "-image-" in header["provenance"]["images"]["broker"]
        assert header["provenance"]["broker_image"].startswith(f"{broker} sha256:")
        # the rules were put in force (not refused) and taken out again
        faults = [e for e in lines[1:] if e.get("p") == "nemesis" and e.get("f") in ("fault", "heal")]
        assert any(e["type"] == "ok" and e["f"] == "fault" for e in faults), faults
        assert not any(e["type"] == "fail" for e in faults), faults


def test_an_image_this_engine_does_not_have_is_one_line(docker_available: None) -> None:
    with pytest.raises(HarnessError, match=r"BROKER_IMAGE=example.org/none:1: not in this Docker engine"):
        Settings.from_env({**os.environ, "BROKER_IMAGE": "example.org/none:1"})
    with pytest.raises(HarnessError, match=r"VIP_IMAGE=example.org/none:2: not in this Docker engine"):
        Settings.from_env({**os.environ, "VIP_IMAGE": "example.org/none:2"})
