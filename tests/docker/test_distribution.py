"""A user's own distribution end to end: an Apache-layout tarball (assembled from Debian's 5.17.2 files, the
only ActiveMQ this machine has) becomes the broker image, and `make chaos` passes a scenario on it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cluster.control import free_port
from harness.distribution import read_distribution
from tests.support import assemble_debian_distribution, make_chaos_passes


@pytest.mark.docker
def test_make_chaos_passes_on_a_distribution_built_from_its_tarball(
    docker_available: None, tmp_path: Path
) -> None:
    tarball = assemble_debian_distribution(tmp_path / "dist")
    dist = read_distribution(tarball)
    assert (dist.version, dist.top, dist.start_jar) == (
        "5.17.2",
        "apache-activemq-5.17.2",
        "bin/activemq.jar",
    )
    runs = tmp_path / "runs"
    env = {
        "ACTIVEMQ_DIST": str(tarball),
        "SCENARIO": "kill-live-master",
        "DESIGN": "hardened",
        "SEED": "13",
        "RUNS_DIR": str(runs),
        "VIP_PORT": str(free_port()),
    }
    output = make_chaos_passes(env, timeout=900)
    assert f"ActiveMQ 5.17.2 ({tarball.name})" in output
    histories = list(runs.glob("chaos/2*/kill-live-master-hardened/history.jsonl"))  # not latest/
    assert len(histories) == 1, output[-2000:]
    header = json.loads(histories[0].read_text().splitlines()[0])
    assert header["activemq_version"] == "5.17.2" and header["activemq_dist"] == tarball.name
    # the brokers ran the tarball's image, not Debian's package
    assert "-dist-" in header["provenance"]["images"]["broker"]
    assert header["provenance"]["activemq_dist"] == f"{tarball.name} sha256:{dist.sha256}"
