"""The one place a backend is chosen: everything above the cluster layer gets its cluster from `open_cluster`
and holds it as a BrokerCluster (an import contract in pyproject.toml keeps it so)."""

from __future__ import annotations

from collections.abc import Callable

from harness.cluster.brokers import BrokerCluster
from harness.settings import BACKENDS, Settings

DESCRIPTIONS = {
    "compose": "containers of a Docker Compose project on this host (the default)",
    "ssh": "servers listed in an inventory (INVENTORY=hosts.toml), reached only by SSH",
    "k8s": "objects in one Kubernetes namespace (K8S_NAMESPACE), faults by Chaos Mesh and exec",
}
assert set(DESCRIPTIONS) == set(BACKENDS)


def open_cluster(settings: Settings, log: Callable[..., None] = print) -> BrokerCluster:
    """A cluster of the backend `settings` names, not started yet (use it as a context manager). A bad
    inventory is refused here, in one line, before any host is touched. Only the chosen backend's modules
    (and their clients: Docker's, paramiko, kubernetes) are loaded."""
    if settings.backend == "ssh":
        from harness.cluster.hosts import HostsCluster
        from harness.cluster.inventory import load_inventory

        assert settings.inventory is not None  # Settings refuses ssh without one
        return HostsCluster(settings, load_inventory(settings.inventory), log=log)
    if settings.backend == "k8s":
        from harness.cluster.kube import KubeCluster

        return KubeCluster(settings, log=log)
    from harness.cluster.control import Cluster

    return Cluster(settings, log=log)
