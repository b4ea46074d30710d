"""A cluster of brokers as the harness above the cluster layer sees it, whatever runs the brokers.

`BrokerCluster` holds everything that only needs to run commands on nodes and to reach their STOMP ports:
status over JMX, readiness, the VIP's routing, browsing and probing. A backend (Compose containers here;
servers over SSH; pods on Kubernetes) subclasses it and says how a node is reached and controlled: the
abstract methods below, which are also `NodeControl`, what the nemesis holds.

A cluster is a context manager: bring-up returns only when the cluster is in the state the topology promises,
and leaving it (on success, failure, Ctrl-C or SIGTERM) collects the logs and removes what the run created.
"""

from __future__ import annotations

import secrets
import time
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar, Self

from harness.client.stomp_client import StompSession
from harness.cluster import introspect
from harness.cluster.backend import Grudges, standby_state
from harness.cluster.jmx_names import JmxNames, jmx_names
from harness.design.topology import Node, Topology
from harness.errors import ClusterNotReady, HarnessError
from harness.settings import Settings
from harness.wait import WaitTimeout, wait_until

# the loopback-only STOMP connector every node has for the harness (compose/templates/activemq.xml.j2)
ADMIN_STOMP_PORT = 61614


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)


class BrokerCluster(ABC):
    settings: Settings
    topology: Topology
    run_id: str
    directory: Path  # the run's folder: rendered configs, collected logs

    # ------------------------------------------------------------------------------- what a backend is
    backend: str  # its name in settings and in messages: compose, ssh, k8s
    # fault kind -> how this backend realises it, for the reference page (docs/reference/backends.md); a kind
    # whose mechanism the backend lacks has none
    primitives: ClassVar[dict[str, str]] = {}

    @property
    @abstractmethod
    def capabilities(self) -> frozenset[str]:
        """The fault kinds (harness.chaos.faults.FAULT_KINDS names) this backend can realise."""

    @abstractmethod
    def up(self) -> Self:
        """Bring the cluster up and return once it is ready; on any failure tear down what was started."""

    @abstractmethod
    def down(self) -> None:
        """Collect the logs, then remove everything the run created (each step runs even if one failed)."""

    @abstractmethod
    def sweep(self) -> None:
        """Remove whatever this run left (rules, files, containers, objects), found by its tag."""

    def __enter__(self) -> Self:
        return self.up()

    def __exit__(self, *exc_info: object) -> None:
        self.down()

    # ------------------------------------------------------------------------------- reaching a node
    @abstractmethod
    def exec(self, node: Node | str, *command: str, timeout: float = 60) -> tuple[int, str]:
        """Run a command on the node (as root there), with a deadline: (exit code, stdout then stderr)."""

    def net_exec(self, node: str, *command: str, timeout: float = 60) -> tuple[int, str]:
        """A network tool (iptables, tc) in the node's network namespace: by default on the node itself (a
        server host, a pod have the tools); the Compose backend runs it from a helper instead."""
        return self.exec(node, *command, timeout=timeout)

    @abstractmethod
    def exec_detached(self, node: str, *command: str) -> None:
        """Start a command on the node and return at once (it runs until it ends or the node stops)."""

    @abstractmethod
    def upload(self, node: str, data: bytes, path: str, mode: int = 0o644) -> None:
        """Write `data` to `path` on the node (as root there)."""

    @abstractmethod
    def node_process(self, node: str, action: str) -> None:
        """One of harness.cluster.backend.PROCESS_ACTIONS on the node's broker process."""

    @abstractmethod
    def process_running(self, node: str) -> bool:
        """Whether the node's broker process runs (a frozen one does not)."""

    @abstractmethod
    def cpu_limit(self, node: str, cpus: float | None) -> None:
        """Hold the node's broker to `cpus` of one CPU; None lifts the limit."""

    @abstractmethod
    def node_state(self, node: Node | str) -> str:
        """down | frozen | starting | waiting | replicating | live | stopping, from the node's process and its
        log."""

    @abstractmethod
    def address(self, node: str) -> str:
        """The address the other nodes reach this one at (the one a partition's rules name)."""

    def controls(self, node: str) -> bool:
        return True

    @abstractmethod
    def store_folder(self, pair: str) -> tuple[str, str]:
        """(where, folder): a node from which the pair's shared store can be written, and its folder there."""

    def lock_file(self, pair: str) -> str:
        return "/kahadb/lock"  # where the project's configurations put KahaDB's lock

    def broker_log(self, node: str) -> str:
        return "/var/lib/amq/log/activemq.log"  # compose/templates/log4j2.properties

    def interface(self, node: str) -> str:
        return "eth0"

    @property
    def grudges(self) -> Grudges | None:
        return None  # iptables rules by exec, as the nemesis puts them

    @abstractmethod
    def stomp_endpoint(self, node: Node | str) -> tuple[str, int]:
        """(host, port) the harness reaches the node's client STOMP connector at; refused where it has none."""

    @property
    @abstractmethod
    def vip_endpoint(self) -> tuple[str, int]:
        """(host, port) of the VIP's STOMP listener, as clients reach it."""

    @property
    @abstractmethod
    def name(self) -> str:
        """The cluster's name in histories and messages (a Compose project, an inventory, a namespace)."""

    def software(self) -> dict[str, str]:
        """What the brokers and the VIP run, role -> an identity a replay can compare (an image's tag and id)."""
        return {}

    @property
    def jmx_names(self) -> JmxNames:
        """How this cluster's brokers name their MBeans (their version line's)."""
        return jmx_names(self.settings.line)

    def node_exec(self, node: Node | str) -> introspect.Exec:
        """How introspection runs its tools on `node`."""
        return lambda command, timeout: self.exec(node, *command, timeout=timeout)

    # ------------------------------------------------------------------------------------ the brokers
    def stomp(
        self, node: Node | str | None = None, *, route: str | None = None, **options: Any
    ) -> StompSession:
        """A client-user STOMP session to `node` directly, or through the VIP if None: to the pair `route`
        names ("01") if given, else wherever the VIP balances it."""
        host, port = self.vip_endpoint if node is None else self.stomp_endpoint(node)
        creds = self.settings.credentials
        vhost = self.topology.pair_name(route) if route is not None else None
        options.setdefault("protocol", self.settings.stomp_protocol)  # 1.0 before ActiveMQ 5.8
        return StompSession(host, port, creds.client_user, creds.client_password, vhost=vhost, **options)

    def browse_ids(self, node: str, queue: str) -> list[str]:
        """The harness id of every message on `queue` on `node`, read on the node over the loopback admin
        connector (so a live seed slave, which has no client connector, is read as well)."""
        code, out = self.exec(node, "stomp-browse", queue, str(ADMIN_STOMP_PORT), timeout=120)
        if code != 0:
            raise HarnessError(f"browse of {queue} on {node} failed ({code}): {out.strip()[-200:]}")
        return [line.split("\t", 1)[1] or "?" for line in out.splitlines() if "\t" in line]

    def send_inside(self, node: str, queue: str, body: str) -> None:
        """Send one persistent message into `node` from the node itself (receipted), for probes."""
        code, out = self.exec(node, "stomp-send", queue, body, timeout=20)  # to the admin connector
        if code != 0:
            raise HarnessError(f"send into {queue} on {node} failed ({code}): {out.strip()[-200:]}")

    def queue_consumers(self, node: str) -> list[introspect.QueueConsumer]:
        return introspect.queue_consumers(self.node_exec(node), self.jmx_names)

    def queue_subscriptions(self, node: str, queue: str) -> list[introspect.QueueSubscription]:
        return introspect.queue_subscriptions(self.node_exec(node), queue, self.jmx_names)

    def topic_subscriptions(self, node: str) -> list[introspect.QueueConsumer]:
        return introspect.topic_subscriptions(self.node_exec(node), self.jmx_names)

    def topic_consumers(self, node: str, topic: str) -> int:
        return introspect.topic_consumers(self.node_exec(node), topic, self.jmx_names)

    def class_counts(self, node: str, classes: list[str]) -> dict[str, int]:
        return introspect.class_counts(self.node_exec(node), classes)

    def durable_pending(self, node: str, topic: str) -> dict[str, int]:
        return introspect.durable_pending(self.node_exec(node), topic, self.jmx_names)

    def durable_subscriptions(self, node: str, topic: str) -> list[introspect.DurableSubscription]:
        return introspect.durable_subscriptions(self.node_exec(node), topic, self.jmx_names)

    def read_durable(
        self, node: str, topic: str, largest_body: int, persistent: bool = True
    ) -> introspect.DurableReading:
        """The counts durable_pending reads, and the ids pending for each subscription where a browse can
        tell them, browsing only as much as bodies of `largest_body` bytes let a broker's heap hold."""
        budget = introspect.browse_budget(largest_body)
        return introspect.read_durable(self.node_exec(node), topic, budget, persistent, names=self.jmx_names)

    def vip_routes_to(self) -> str:
        """The broker a new client connection through the VIP lands on; "" when the VIP serves nobody."""
        try:
            with self.stomp(None, timeout=3) as session:
                return session.broker_name
        except Exception:  # refused, reset or timed out: the VIP routes nowhere right now
            return ""

    def status(self, *, queues: bool = True, bridges: bool = True) -> list[introspect.NodeStatus]:
        """Every node's status, read concurrently; `queues`/`bridges` False skip those JMX queries."""
        with ThreadPoolExecutor(max_workers=len(self.topology.nodes)) as pool:
            return list(
                pool.map(lambda n: self.node_status(n, queues=queues, bridges=bridges), self.topology.nodes)
            )

    def node_status(self, node: Node, *, queues: bool = True, bridges: bool = True) -> introspect.NodeStatus:
        return introspect.node_status(
            node,
            self.node_exec(node),
            self.node_state(node),
            queues=queues,
            bridges=bridges,
            names=self.jmx_names,
        )

    def pair_status(self) -> list[introspect.NodeStatus]:
        """States and STOMP answers only: what `pair_problems` needs, without a JMX query."""
        return self.status(queues=False, bridges=False)

    # -------------------------------------------------------------------------------------- readiness
    def missing_bridges(self, statuses: list[introspect.NodeStatus]) -> set[tuple[str, str]]:
        live = {s.node for s in statuses if s.state == "live"}
        present = {(s.node, b.remote) for s in statuses for b in s.bridges if not b.created_by_duplex}
        return self.topology.promised_bridges(live, self.settings.design) - present

    def pair_problems(self, statuses: list[introspect.NodeStatus]) -> list[str]:
        """Empty when every pair has one live node and one standby (waiting on the lock; replicating, on a
        pure master/slave design) and every live master answers STOMP."""
        problems: list[str] = []
        standby = standby_state(self.settings.design.pure_master_slave)
        for pair in self.topology.pairs:
            members = [s for s in statuses if self.topology.node(s.node).pair == pair]
            states = sorted(s.state for s in members)
            if states != sorted(["live", standby]):
                problems.append(f"pair {pair} is {'/'.join(states)} (want live/{standby})")
        for status in statuses:
            if (
                status.state == "live"
                and self.topology.node(status.node).is_master
                and not status.serves_stomp
            ):
                problems.append(f"{status.node} does not answer STOMP")
        return problems

    def vip_problems(self, statuses: list[introspect.NodeStatus]) -> list[str]:
        """Empty when a client placed on each pair through the VIP lands on that pair's live node: HAProxy has
        admitted every live broker, so placement does not depend on how soon after bring-up a run starts."""
        live = {s.node for s in statuses if s.state == "live"}
        problems = []
        for pair in self.topology.pairs:
            name = self.topology.pair_name(pair)
            want = sorted(n.name for n in self.topology.nodes if n.pair == pair and n.name in live)
            try:
                with self.stomp(None, route=pair, timeout=3) as session:
                    landed = session.broker_name
            except Exception as exc:  # refused or timed out: HAProxy admits nobody for that pair yet
                landed = f"nobody ({type(exc).__name__})"
            if landed not in want:
                problems.append(f"the VIP routes {name} to {landed} (live: {', '.join(want) or 'none'})")
        return problems

    def readiness_problems(self) -> list[str]:
        """Empty when the pairs are live/waiting, every bridge the topology promises for the live nodes is up
        and the VIP routes each pair to its live node. Cheapest first: the bridges are read over JMX only once
        the pairs are right, the VIP asked only once the bridges are."""
        statuses = self.pair_status()
        problems = self.pair_problems(statuses)
        if problems:
            return problems
        statuses = self.status(queues=False)
        problems = self.pair_problems(statuses)  # the same moment as the bridges read below
        problems.extend(f"bridge {a} -> {b} is not up" for a, b in sorted(self.missing_bridges(statuses)))
        problems.extend(s.error for s in statuses if s.error)
        if problems:
            return problems
        return self.vip_problems(statuses)

    def wait_pairs(self, timeout: float) -> None:
        wait_until(
            lambda: not self.pair_problems(self.pair_status()),
            timeout=timeout,
            what="every pair to have a live and a waiting node",
            interval=0.25,
            describe=lambda: "; ".join(self.pair_problems(self.pair_status())),
        )

    def wait_ready(self, timeout: float) -> None:
        problems: list[str] = []

        def ready() -> bool:
            try:
                problems[:] = self.readiness_problems()
            except Exception as exc:  # named in the error if it lasts, instead of "see logs"
                problems[:] = [f"readiness check failed: {exc!r}"[:300]]
            return not problems

        try:
            wait_until(ready, timeout=timeout, what="the cluster to be ready", interval=0.25)
        except WaitTimeout:
            raise ClusterNotReady(
                f"cluster not ready after {timeout:.0f}s: {'; '.join(problems) or 'see logs'}"
                f" (logs in {self.directory / 'logs'})"
            ) from None
