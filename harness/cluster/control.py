"""The cluster under test: bring up, tear down, and reach each node.

`Cluster` is a plain context manager usable outside pytest. Bring-up returns only when the cluster is in the
state the topology promises; any failure on the way (including Ctrl-C and SIGTERM) collects the logs and
removes every container, network and volume of the run before the error propagates.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import random
import secrets
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
from docker.models.containers import Container

from harness.client.stomp_client import StompSession
from harness.cluster import introspect
from harness.cluster.compose import Compose
from harness.cluster.docker_env import docker_client
from harness.cluster.images import ensure_images
from harness.cluster.render import render_run
from harness.design.catalog import design
from harness.design.topology import Node, Topology
from harness.errors import ClusterNotReady, HarnessError
from harness.settings import Settings
from harness.wait import WaitTimeout, wait_until

RUN_LABEL = "io.amq-chaos.run"
OWNER_LABEL = "io.amq-chaos.owner"
PROJECT_PREFIX = "amqchaos"
# the loopback-only STOMP connector every node has for the harness (compose/templates/activemq.xml.j2)
ADMIN_STOMP_PORT = 61614


@dataclass(frozen=True)
class RunInfo:
    """What `make status` / `make down` need to find a cluster started by an earlier command."""

    run_id: str
    project: str
    directory: str
    version: str
    group: str
    vip_port: int
    broker_image: str
    vip_image: str
    design: str = "seed"
    store_size: str | None = None
    dist: str | None = None  # the user's tarball the broker image was built from (ACTIVEMQ_DIST)

    @property
    def broker_label(self) -> str:
        return f"{self.version} ({self.dist})" if self.dist else self.version

    def save(self) -> None:
        Path(self.directory, "cluster.json").write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, directory: Path) -> RunInfo:
        path = directory / "cluster.json"
        try:
            return cls(**json.loads(path.read_text()))
        except FileNotFoundError:
            raise HarnessError(f"no cluster recorded in {directory}: start one with `make up`") from None
        except (json.JSONDecodeError, TypeError) as exc:
            raise HarnessError(f"{path} is malformed: {exc}") from None


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)


def ensure_port_free(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # connections of an earlier run may linger in TIME_WAIT; only a listener makes the port taken
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise HarnessError(
                f"VIP port 127.0.0.1:{port} is already in use: set VIP_PORT to a free port"
            ) from None


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now, for a VIP that must not collide with another run.

    Drawn below the kernel's ephemeral range (32768 and up), where Docker also picks the brokers' published
    ports: a port from that range could be handed to a broker before the VIP claims it.
    """
    chooser = random.SystemRandom()
    for _ in range(200):
        port = chooser.randrange(20000, 32000)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise HarnessError("no free port found between 20000 and 32000 on 127.0.0.1")


class Cluster:
    def __init__(
        self,
        settings: Settings,
        run_id: str | None = None,
        client: docker.DockerClient | None = None,
        log=print,
        owner: str | None = None,
    ) -> None:
        self.settings = settings
        self.topology: Topology = settings.topology
        self.run_id = run_id or new_run_id()
        self.project = f"{PROJECT_PREFIX}-{self.run_id.split('-')[-1]}"
        self.directory = settings.runs_dir / self.run_id
        self.client = client or docker_client()
        self.log = log
        self.info: RunInfo | None = None
        self._compose: Compose | None = None
        # a cluster owned by this process is swept by the next run once this process is gone
        self.owner = owner or f"pid:{socket.gethostname()}:{os.getpid()}"

    # ----------------------------------------------------------------------------------------- lifecycle
    @classmethod
    def attach(cls, settings: Settings, directory: Path, log=print) -> Cluster:
        info = RunInfo.load(directory)
        # the cluster's own version and design, whatever the environment says now (its configuration is
        # rendered already; a later command only needs the STOMP and the design it was rendered for)
        attached = dataclasses.replace(
            settings, version=info.version, dist=None, design=design(info.design), store_size=info.store_size
        )
        cluster = cls(attached, run_id=info.run_id, log=log)
        cluster.topology = Topology(group=info.group)
        cluster.directory = Path(info.directory)
        cluster.project = info.project
        cluster.info = info
        return cluster

    def up(self) -> Cluster:
        ensure_port_free(self.settings.vip_port)
        sweep_orphans(self.client, self.log)
        broker_image, vip_image = ensure_images(
            self.client, self.settings.version, self.log, dist=self.settings.dist
        )
        self.directory.mkdir(parents=True, exist_ok=True)
        rendered = render_run(self.settings, self.run_id, self.directory, broker_image, vip_image, self.owner)
        self.info = RunInfo(
            run_id=self.run_id,
            project=self.project,
            directory=str(self.directory),
            version=self.settings.version,
            group=self.topology.group,
            vip_port=self.settings.vip_port,
            broker_image=broker_image,
            vip_image=vip_image,
            design=self.settings.design.name,
            store_size=self.settings.store_size,
            dist=self.settings.dist.name if self.settings.dist else None,
        )
        self.info.save()
        started = time.monotonic()
        try:
            self.compose.up(timeout=self.settings.ready_timeout + 60)
            self.wait_ready(self.settings.ready_timeout)
        except BaseException:
            self.down()
            raise
        self.log(f"cluster {self.project} ready in {time.monotonic() - started:.1f}s ({rendered.directory})")
        return self

    def down(self) -> None:
        """Collect logs, then remove everything the run created. Each step runs even if one before failed."""
        errors: list[str] = []
        for step in (self.collect_logs, self._remove_containers, self.sweep, self._compose_down):
            try:
                step()
            except Exception as exc:
                errors.append(f"{step.__name__}: {exc}")
        if errors:
            raise HarnessError("teardown incomplete: " + "; ".join(errors))

    def __enter__(self) -> Cluster:
        return self.up()

    def __exit__(self, *exc_info: object) -> None:
        self.down()

    @property
    def compose(self) -> Compose:
        if self._compose is None:
            env = self.settings.credentials.as_env()
            self._compose = Compose(self.project, self.directory / "docker-compose.yml", env)
        return self._compose

    def _remove_containers(self) -> None:
        """Kill and remove every container of the run at once: the logs are collected and the run is over, so
        nothing needs a graceful stop, and `compose down` stopping them first took 1.7 s where this takes 0.4 s
        (the sweep then removes the network and volumes)."""
        containers = self._containers()
        if not containers:
            return

        def remove(container: Container) -> None:
            with contextlib.suppress(docker.errors.NotFound):  # gone already
                container.remove(force=True, v=True)

        with ThreadPoolExecutor(max_workers=len(containers)) as pool:
            list(pool.map(remove, containers))

    def _compose_down(self) -> None:
        """`compose down` for whatever of the project the label sweep left (a resource without the run's
        label): only then, since starting docker-compose costs about a second per run."""
        project = f"com.docker.compose.project={self.project}"
        left = (
            self.client.containers.list(all=True, filters={"label": project})
            or self.client.networks.list(filters={"label": project})
            or self.client.volumes.list(filters={"label": project})
        )
        if left and (self.directory / "docker-compose.yml").exists():
            self.compose.down()

    def sweep(self) -> None:
        """Remove whatever still carries this run's label (compose may have died half-way)."""
        sweep_label(self.client, f"{RUN_LABEL}={self.run_id}")

    def collect_logs(self) -> None:
        logs = self.directory / "logs"
        for container in self._containers():
            logs.mkdir(parents=True, exist_ok=True)
            service = container.labels.get("com.docker.compose.service", container.name)
            (logs / f"{service}.log").write_bytes(container.logs(timestamps=True))

    # ------------------------------------------------------------------------------------------- nodes
    def _containers(self) -> list[Container]:
        return self.client.containers.list(all=True, filters={"label": f"{RUN_LABEL}={self.run_id}"})

    def container(self, service: str) -> Container:
        found = self.client.containers.list(
            all=True,
            filters={"label": [f"{RUN_LABEL}={self.run_id}", f"com.docker.compose.service={service}"]},
        )
        if not found:
            raise HarnessError(f"no container for {service} in run {self.run_id}")
        return found[0]

    def stomp_port(self, node: Node | str) -> int:
        """Host port (on 127.0.0.1) of the node's STOMP connector; refused where the node has none."""
        name = node if isinstance(node, str) else node.name
        container = self.container(name)
        container.reload()
        bindings = container.attrs["NetworkSettings"]["Ports"].get("61613/tcp") or []
        if not bindings:
            raise HarnessError(f"{name} has no published STOMP port (is it running?)")
        return int(bindings[0]["HostPort"])

    def stomp(
        self, node: Node | str | None = None, *, route: str | None = None, **options: Any
    ) -> StompSession:
        """A client-user STOMP session to `node` directly (its published port), or through the VIP if None:
        to the pair `route` names ("01") if given, else wherever the VIP balances it."""
        port = self.vip_port if node is None else self.stomp_port(node)
        creds = self.settings.credentials
        vhost = self.topology.pair_name(route) if route is not None else None
        options.setdefault("protocol", self.settings.stomp_protocol)  # 1.0 before ActiveMQ 5.8
        return StompSession(
            "127.0.0.1", port, creds.client_user, creds.client_password, vhost=vhost, **options
        )

    def browse_ids(self, node: str, queue: str) -> list[str]:
        """The harness id of every message on `queue` on `node`, read inside its container over the loopback
        admin connector (so a live seed slave, which has no client connector, is read as well)."""
        code, out = self.exec(node, "stomp-browse", queue, str(ADMIN_STOMP_PORT), timeout=120)
        if code != 0:
            raise HarnessError(f"browse of {queue} on {node} failed ({code}): {out.strip()[-200:]}")
        return [line.split("\t", 1)[1] or "?" for line in out.splitlines() if "\t" in line]

    def send_inside(self, node: str, queue: str, body: str) -> None:
        """Send one persistent message into `node` from inside its container (receipted), for probes."""
        code, out = self.exec(node, "stomp-send", queue, body, timeout=20)  # to the admin connector
        if code != 0:
            raise HarnessError(f"send into {queue} on {node} failed ({code}): {out.strip()[-200:]}")

    def queue_consumers(self, node: str) -> list[introspect.QueueConsumer]:
        return introspect.queue_consumers(self.container(node))

    def topic_consumers(self, node: str, topic: str) -> int:
        return introspect.topic_consumers(self.container(node), topic)

    def durable_pending(self, node: str, topic: str) -> dict[str, int]:
        return introspect.durable_pending(self.container(node), topic)

    def vip_routes_to(self) -> str:
        """The broker a new client connection through the VIP lands on; "" when the VIP serves nobody."""
        try:
            with self.stomp(None, timeout=3) as session:
                return session.broker_name
        except Exception:  # refused, reset or timed out: the VIP routes nowhere right now
            return ""

    def address(self, service: str) -> str:
        """The container's address on the cluster network."""
        container = self.container(service)
        container.reload()
        networks = container.attrs["NetworkSettings"]["Networks"]
        addresses = [n["IPAddress"] for n in networks.values() if n.get("IPAddress")]
        if not addresses:
            raise HarnessError(f"{service} has no address (is it running?)")
        return addresses[0]

    @property
    def vip_port(self) -> int:
        return self.info.vip_port if self.info else self.settings.vip_port

    def exec(self, node: Node | str, *command: str, timeout: float = 60) -> tuple[int, str]:
        name = node if isinstance(node, str) else node.name
        return introspect.exec_in(self.container(name), list(command), timeout=timeout)

    def node_state(self, node: Node | str) -> str:
        name = node if isinstance(node, str) else node.name
        return introspect.node_state(self.container(name))

    def status(self, *, queues: bool = True, bridges: bool = True) -> list[introspect.NodeStatus]:
        """Every node's status, read concurrently; `queues`/`bridges` False skip those JMX queries."""
        with ThreadPoolExecutor(max_workers=len(self.topology.nodes)) as pool:
            return list(
                pool.map(lambda n: self.node_status(n, queues=queues, bridges=bridges), self.topology.nodes)
            )

    def node_status(self, node: Node, *, queues: bool = True, bridges: bool = True) -> introspect.NodeStatus:
        return introspect.node_status(node, self.container(node.name), queues=queues, bridges=bridges)

    def pair_status(self) -> list[introspect.NodeStatus]:
        """States and STOMP answers only: what `pair_problems` needs, without a JMX query."""
        return self.status(queues=False, bridges=False)

    # -------------------------------------------------------------------------------------- readiness
    def missing_bridges(self, statuses: list[introspect.NodeStatus]) -> set[tuple[str, str]]:
        live = {s.node for s in statuses if s.state == "live"}
        present = {(s.node, b.remote) for s in statuses for b in s.bridges if not b.created_by_duplex}
        return self.topology.promised_bridges(live, self.settings.design) - present

    def pair_problems(self, statuses: list[introspect.NodeStatus]) -> list[str]:
        """Empty when every pair has one live and one waiting node and every live master answers STOMP."""
        problems: list[str] = []
        for pair in self.topology.pairs:
            members = [s for s in statuses if self.topology.node(s.node).pair == pair]
            states = sorted(s.state for s in members)
            if states != ["live", "waiting"]:
                problems.append(f"pair {pair} is {'/'.join(states)} (want live/waiting)")
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


def _owner_gone(owner: str) -> bool:
    kind, _, rest = owner.partition(":")
    host, _, pid = rest.rpartition(":")
    if kind != "pid" or host != socket.gethostname() or not pid.isdigit():
        return False  # "manual" clusters (make up) and other hosts' runs are left alone
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def sweep_orphans(client: docker.DockerClient, log=print) -> list[str]:
    """Remove runs whose harness process died without tearing down (kill -9, a lost CI runner)."""
    swept = []
    runs: dict[str, str] = {}
    for container in client.containers.list(all=True, filters={"label": RUN_LABEL}):
        runs[container.labels[RUN_LABEL]] = container.labels.get(OWNER_LABEL, "manual")
    for run_id, owner in sorted(runs.items()):
        if _owner_gone(owner):
            log(f"removing run {run_id}: its harness process ({owner}) is gone")
            sweep_label(client, f"{RUN_LABEL}={run_id}")
            swept.append(run_id)
    return swept


def sweep_label(client: docker.DockerClient, label: str) -> None:
    for container in client.containers.list(all=True, filters={"label": label}):
        container.remove(force=True, v=True)
    for network in client.networks.list(filters={"label": label}):
        network.remove()
    for volume in client.volumes.list(filters={"label": label}):
        volume.remove(force=True)
