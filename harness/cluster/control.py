"""The cluster under test: bring up, tear down, and reach each node.

`Cluster` is a plain context manager usable outside pytest. Bring-up returns only when the cluster is in the
state the topology promises; any failure on the way (including Ctrl-C and SIGTERM) collects the logs and
removes every container, network and volume of the run before the error propagates.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import io
import json
import os
import random
import socket
import tarfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import ClassVar

import docker
import docker.errors
from docker.models.containers import Container
from docker.models.networks import Network

from harness.cluster import containers
from harness.cluster.backend import MECHANISMS, PROCESS_ACTIONS, STOP_TIMEOUT
from harness.cluster.brokers import ADMIN_STOMP_PORT, BrokerCluster, new_run_id
from harness.cluster.compose import Compose
from harness.cluster.docker_env import docker_client
from harness.cluster.images import ensure_images
from harness.cluster.render import render_run
from harness.design.catalog import design
from harness.design.topology import Node, Topology
from harness.errors import HarnessError
from harness.settings import Settings
from harness.wait import wait_until

RUN_LABEL = "io.amq-chaos.run"
OWNER_LABEL = "io.amq-chaos.owner"
PROJECT_PREFIX = "amqchaos"
NETNS_HELPER = "netns"  # the Compose service that runs network tools in the brokers' namespaces (net_exec)
__all__ = ["ADMIN_STOMP_PORT", "Cluster", "RunInfo", "new_run_id"]


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
    own_image: str | None = None  # the user's image the broker image was layered on (BROKER_IMAGE)

    @property
    def broker_label(self) -> str:
        origin = self.dist or self.own_image
        return f"{self.version} ({origin})" if origin else self.version

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


class Cluster(BrokerCluster):
    """The embedded default backend: each node a container of a Docker Compose project on this host, its broker
    the container's main process."""

    backend = "compose"
    primitives: ClassVar[dict[str, str]] = {
        "kill": "`docker kill --signal SIGKILL` (the broker is the container's main process)",
        "stop": "`docker stop -t 30`: SIGTERM, the broker's shutdown, SIGKILL after 30 s",
        "restart": "`docker restart -t 30`",
        "freeze": "`docker pause` (the cgroup freezer)",
        "isolate": "iptables DROP rules in the containers' namespaces, tagged with the run",
        "partition-pairs": "iptables DROP rules in the containers' namespaces, tagged with the run",
        "partition": "iptables DROP rules in the containers' namespaces, tagged with the run",
        "mute": "iptables DROP rules in the other containers' namespaces, tagged with the run",
        "one-way": "an iptables DROP rule in the deaf container's namespace, tagged with the run",
        "lossy": "iptables DROP rules with `-m statistic --probability`",
        "reset": "iptables `REJECT --reject-with tcp-reset` rules",
        "slow": "`tc qdisc add dev eth0 root tbf` in the container",
        "delay": "`tc qdisc add dev eth0 root netem delay` in the container",
        "starve": "the container's CFS quota (`docker update --cpu-quota`)",
        "fill-store": "`fallocate` of a ballast file in the pair's size-limited volume, from the store helper",
        "lose-lock": "`rm` of the pair's KahaDB lock file from its live node",
        "hold-lock": "a process holding an fcntl lock on the pair's lock file in its waiting node",
    }

    @property
    def capabilities(self) -> frozenset[str]:
        return frozenset(MECHANISMS)

    @property
    def name(self) -> str:
        return self.project

    def software(self) -> dict[str, str]:
        images: dict[str, str] = {}
        if self.info is not None:
            for role, tag in (("broker", self.info.broker_image), ("vip", self.info.vip_image)):
                try:
                    images[role] = f"{tag} {self.client.images.get(tag).id}"
                except Exception:  # an image removed since: its tag still says what it was built from
                    images[role] = tag
        return images

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
            settings,
            version=info.version,
            dist=None,
            broker_image=None,
            vip_image=None,
            design=design(info.design),
            store_size=info.store_size,
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
        images = ensure_images(self.client, self.settings, self.log)
        broker_image, vip_image = images.broker, images.vip
        self.directory.mkdir(parents=True, exist_ok=True)
        rendered = render_run(
            self.settings, self.run_id, self.directory, broker_image, vip_image, self.owner, images.tools
        )
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
            own_image=self.settings.broker_image.ref if self.settings.broker_image else None,
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
            self.client.containers.list(all=True, ignore_removed=True, filters={"label": project})
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
            service = container.labels.get("com.docker.compose.service", container.name)
            if service == NETNS_HELPER:  # it only sleeps: the commands it runs are the nemesis's, recorded
                continue
            logs.mkdir(parents=True, exist_ok=True)
            (logs / f"{service}.log").write_bytes(container.logs(timestamps=True))

    # ------------------------------------------------------------------------------------------- nodes
    def _containers(self) -> list[Container]:
        return self.client.containers.list(
            all=True, ignore_removed=True, filters={"label": f"{RUN_LABEL}={self.run_id}"}
        )

    def container(self, service: str) -> Container:
        found = self.client.containers.list(
            all=True,
            ignore_removed=True,
            filters={"label": [f"{RUN_LABEL}={self.run_id}", f"com.docker.compose.service={service}"]},
        )
        if not found:
            raise HarnessError(f"no container for {service} in run {self.run_id}")
        return found[0]

    def store_folder(self, pair: str) -> tuple[str, str]:
        """The `store` helper container mounts every pair's size-limited volume for the cluster's life."""
        return "store", f"/stores/{pair}"

    def stomp_endpoint(self, node: Node | str) -> tuple[str, int]:
        return "127.0.0.1", self.stomp_port(node)

    @property
    def vip_endpoint(self) -> tuple[str, int]:
        return "127.0.0.1", self.vip_port

    def stomp_port(self, node: Node | str) -> int:
        """Host port (on 127.0.0.1) of the node's STOMP connector; refused where the node has none."""
        name = node if isinstance(node, str) else node.name
        container = self.container(name)
        container.reload()
        bindings = container.attrs["NetworkSettings"]["Ports"].get("61613/tcp") or []
        if not bindings:
            raise HarnessError(f"{name} has no published STOMP port (is it running?)")
        return int(bindings[0]["HostPort"])

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
        return containers.exec_in(self.container(name), list(command), timeout=timeout)

    def exec_detached(self, node: str, *command: str) -> None:
        self.container(node).exec_run(list(command), detach=True)

    def net_exec(self, node: str, *command: str, timeout: float = 60) -> tuple[int, str]:
        """From the run's `netns` helper (the harness's own tools image, sharing the host's process table), in
        the broker container's network namespace by its main process: the broker image needs no iptables or
        tc, and no capability (Pumba's way, with one long-lived helper instead of a container per command).
        A frozen container's namespace is entered as a running one's."""
        container = self.container(node)
        container.reload()
        pid = container.attrs["State"]["Pid"]
        if not pid:
            raise containers.NodeNotRunning(f"{node}: not running")
        return containers.exec_in(
            self.container(NETNS_HELPER), ["nsenter", "-t", str(pid), "-n", *command], timeout=timeout
        )

    def upload(self, node: str, data: bytes, path: str, mode: int = 0o644) -> None:
        """One file, as a tar archive unpacked in its folder (the Docker API's only way in)."""
        folder, _, name = path.rpartition("/")
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w") as tar:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, int(time.time())
            tar.addfile(info, io.BytesIO(data))
        if not self.container(node).put_archive(folder or "/", archive.getvalue()):
            raise HarnessError(f"upload of {path} to {node} refused")

    def node_process(self, node: str, action: str) -> None:
        """A node's broker is its container's main process: the action is the container's."""
        container = self.container(node)
        match action:
            case "kill":
                container.kill(signal="SIGKILL")
            case "stop":
                container.stop(timeout=STOP_TIMEOUT)
            case "restart":
                container.restart(timeout=STOP_TIMEOUT)
            case "freeze":
                containers.pause(container)
            case "start":
                container.start()
            case "thaw":
                container.unpause()
            case _:
                raise HarnessError(f"no process action {action!r}: one of {', '.join(PROCESS_ACTIONS)}")

    def process_running(self, node: str) -> bool:
        return bool(self.container(node).status == "running")

    def cpu_limit(self, node: str, cpus: float | None) -> None:
        """A CFS quota per 100 ms period on the node's container; -1 is no quota, as the container started."""
        if cpus is None:
            self.container(node).update(cpu_quota=-1)
        else:
            self.container(node).update(cpu_period=100_000, cpu_quota=int(cpus * 100_000))

    def node_state(self, node: Node | str) -> str:
        name = node if isinstance(node, str) else node.name
        return containers.node_state(self.container(name))


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
    for container in client.containers.list(all=True, ignore_removed=True, filters={"label": RUN_LABEL}):
        runs[container.labels[RUN_LABEL]] = container.labels.get(OWNER_LABEL, "manual")
    for run_id, owner in sorted(runs.items()):
        if _owner_gone(owner):
            log(f"removing run {run_id}: its harness process ({owner}) is gone")
            sweep_label(client, f"{RUN_LABEL}={run_id}")
            swept.append(run_id)
    return swept


NETWORK_DRAIN = 20.0  # seconds a swept network may keep endpoints another sweep is removing


def sweep_label(client: docker.DockerClient, label: str) -> None:
    """Remove every container, network and volume with `label`. Another harness process may be sweeping the
    same orphan at the same moment (each one's bring-up sweeps what dead runs left): what it removes first
    is gone, not an error."""
    for container in client.containers.list(all=True, ignore_removed=True, filters={"label": label}):
        _removed_elsewhere_ok(functools.partial(container.remove, force=True, v=True))
    for network in client.networks.list(filters={"label": label}):
        # its containers may still be on their way out, removed by the other sweep: wait for them
        wait_until(
            functools.partial(_network_removed, network),
            timeout=NETWORK_DRAIN,
            what=f"network {network.name} to lose its last container",
            interval=0.5,
        )
    for volume in client.volumes.list(filters={"label": label}):
        _removed_elsewhere_ok(functools.partial(volume.remove, force=True))


def _network_removed(network: Network) -> bool:
    try:
        network.remove()
    except docker.errors.NotFound:
        return True  # removed by the other sweep already
    except docker.errors.APIError as exc:
        if "active endpoints" in str(exc):
            return False
        raise
    return True


def _removed_elsewhere_ok(remove: Callable[[], object]) -> None:
    try:
        remove()
    except docker.errors.NotFound:
        pass  # removed by the other sweep already
    except docker.errors.APIError as exc:
        if exc.status_code != 409 or "already in progress" not in str(exc):
            raise
