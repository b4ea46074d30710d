"""What the layers above the cluster need of its nodes, said once.

The nemesis holds a `NodeControl`, never a Docker object: the Compose cluster (harness.cluster.control.Cluster)
is one backend, and a backend on SSH hosts or on Kubernetes is another implementation of the same calls. A
node is named as the topology names it (chaos-mq01-a); "store" is the helper that mounts every pair's store.
"""

from __future__ import annotations

from typing import Protocol

from harness.design.topology import Topology
from harness.settings import Settings

# the states of a pair's standby node: a shared-store slave waiting on the lock, a pure master/slave slave
# replicating its master (harness.cluster.introspect reads both from the log)
STANDBY_STATES = ("waiting", "replicating")


def standby_state(pure_master_slave: bool) -> str:
    """What a pair's slave is while its master is live."""
    return "replicating" if pure_master_slave else "waiting"


# what can be done to a node's broker process: the faults (kill -9, a graceful stop, a restart, a freeze of
# every process) and their heals
PROCESS_ACTIONS = ("kill", "stop", "restart", "freeze", "start", "thaw")
STOP_TIMEOUT = 30  # seconds a graceful stop (SIGTERM, the broker's own shutdown) may take before SIGKILL
# The families of fault mechanism a backend may realise (its `capabilities`); each fault kind names the one it
# needs (harness.chaos.faults.FaultKind.needs), and a run refuses a kind its backend cannot do before it starts.
MECHANISMS = {
    "process": "signal, stop, start, freeze and thaw the broker's process",
    "cpu": "a CPU quota on the broker",
    "tc": "shape the node's egress with tc: a rate (tbf), a delay (netem)",
    "filter": "drop, reject or lose packets between nodes and from clients (tagged iptables rules)",
    "store": "fill a pair's shared store, delete or hold its lock file",
}


class Grudges(Protocol):
    """A backend's own way of holding a grudge's rows (Chaos Mesh objects on Kubernetes) instead of iptables
    rules put in the nodes by exec. Drops and losses only: a TCP reset stays an iptables rule everywhere."""

    def hold(self, holder: str, peers: list[str], loss: float | None) -> str:
        """`holder` stops hearing `peers` (all of their packets, or the fraction `loss`); returns once it is in
        force, with the handle that releases it. Raises (leaving nothing in force) when it cannot."""
        ...

    def release(self, handle: str) -> None:
        """Lift it; returns once every target is restored."""
        ...

    def restarted(self, handle: str, node: str) -> bool:
        """`node` started again: put the row back if the node is no longer under it. True when it was."""
        ...


class NodeControl(Protocol):
    @property
    def topology(self) -> Topology: ...

    @property
    def settings(self) -> Settings: ...

    @property
    def run_id(self) -> str: ...

    @property
    def backend(self) -> str:
        """The backend's name: compose, ssh, k8s."""
        ...

    @property
    def capabilities(self) -> frozenset[str]:
        """The MECHANISMS this backend realises."""
        ...

    def exec(self, node: str, *command: str, timeout: float = 60) -> tuple[int, str]:
        """Run a command in the node (as root there), with a deadline: (exit code, output)."""
        ...

    def exec_detached(self, node: str, *command: str) -> None:
        """Start a command in the node and return at once (it runs until it ends or the node stops)."""
        ...

    def net_exec(self, node: str, *command: str, timeout: float = 60) -> tuple[int, str]:
        """Run a network tool (iptables, tc) in the node's network namespace, as root: in the node itself, or
        from a helper that enters its namespace, so the node needs none of the tools."""
        ...

    def node_process(self, node: str, action: str) -> None:
        """One of PROCESS_ACTIONS on the node's broker process."""
        ...

    def process_running(self, node: str) -> bool:
        """Whether the node's broker process runs (a frozen one counts: it holds what it held)."""
        ...

    def cpu_limit(self, node: str, cpus: float | None) -> None:
        """Hold the node to `cpus` of one CPU; None lifts the limit."""
        ...

    def node_state(self, node: str) -> str:
        """live, waiting, down, frozen, starting or stopping, from the node's own log and process."""
        ...

    def address(self, node: str) -> str:
        """The address the other nodes reach this one at (the one a partition's rules name)."""
        ...

    def controls(self, node: str) -> bool:
        """Whether the harness can run commands on `node` (a broker's host, the VIP): a partition's rules can
        only be held where it can."""
        ...

    def store_folder(self, pair: str) -> tuple[str, str]:
        """(where, folder): a node from which the pair's shared store can be written, whichever broker is up,
        and the store's folder there."""
        ...

    def lock_file(self, pair: str) -> str:
        """The pair's store lock file, as its nodes see it."""
        ...

    def broker_log(self, node: str) -> str:
        """The path of the node's broker log (its current life's)."""
        ...

    def interface(self, node: str) -> str:
        """The network interface that carries the node's cluster traffic (where tc shapes it)."""
        ...

    @property
    def grudges(self) -> Grudges | None:
        """The backend's own grudge rows, or None: iptables rules by exec in the nodes."""
        ...
