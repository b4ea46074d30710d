"""The Kubernetes backend on a real cluster with Chaos Mesh installed (docs/backends.md, Kubernetes): run
with `make test-k8s` and the K8S_* settings. `make test` deselects these (no API server can run on the
machine that runs it); without a kubeconfig they skip, saying so."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.chaos.nemesis import Nemesis
from harness.cluster.kube import KubeCluster
from harness.cluster.kube_api import RUN_LABEL
from harness.history import History, read_history
from harness.settings import Settings

pytestmark = pytest.mark.k8s


@pytest.fixture(scope="module")
def kube_cluster() -> Iterator[KubeCluster]:
    config = Path(os.environ.get("KUBECONFIG", "~/.kube/config").split(os.pathsep)[0]).expanduser()
    if not config.is_file() and "KUBERNETES_SERVICE_HOST" not in os.environ:
        pytest.skip(f"no kubeconfig at {config} and not inside a cluster")
    settings = Settings.from_env()
    if settings.backend != "k8s":
        pytest.skip("BACKEND=k8s (with K8S_NAMESPACE, K8S_BROKER_IMAGE, K8S_VIP_IMAGE) is not set")
    with KubeCluster(settings) as cluster:
        yield cluster


def test_a_partition_is_in_force_then_healed_and_the_bridges_come_back(
    kube_cluster: KubeCluster, tmp_path: Path
) -> None:
    with History(tmp_path / "history.jsonl", {"seed": 0}) as history:
        nemesis = Nemesis(kube_cluster, history, random.Random(0))
        nemesis.inject("partition-pairs")
        held = [name for name in kube_cluster.chaos.applied]
        assert held and all(kube_cluster.chaos.in_force(name) for name in held)
        nemesis.heal()
    assert not kube_cluster.api.select("NetworkChaos", f"{RUN_LABEL}={kube_cluster.run_id}")
    kube_cluster.wait_ready(180)
    healed = [e for e in read_history(tmp_path / "history.jsonl") if e["f"] == "heal" and e["type"] == "ok"]
    assert healed and not healed[-1]["errors"]


def test_a_killed_broker_stays_down_in_its_pod_until_started(kube_cluster: KubeCluster) -> None:
    node = f"{kube_cluster.topology.group}-mq02-a"
    address = kube_cluster.address(node)
    kube_cluster.node_process(node, "kill")
    assert kube_cluster.node_state(node) == "down"
    kube_cluster.node_process(node, "start")
    assert kube_cluster.address(node) == address
    kube_cluster.wait_ready(180)
