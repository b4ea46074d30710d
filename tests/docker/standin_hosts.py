"""Stand-in server hosts for the SSH backend: four Debian containers with sshd, sudo, a JRE and Debian's
ActiveMQ (images/host.Dockerfile), a shared volume per pair standing in for the NFS store, and HAProxy as the
VIP, started with testcontainers-python. The SSH backend reaches them only by SSH, through ports published
on 127.0.0.1, as it would reach servers; this module is the only one that uses Docker for them, before a
run and after it.

testcontainers' DockerContainer drives the engine directly (its DockerCompose wraps the `docker compose` v2
plugin, which this machine does not have), and its reaper (Ryuk) is off: its image cannot be pulled here.
Every container, the network and the volumes carry the run's label, so the harness's own sweep removes
what an interrupted run left.

As a command, for trying the SSH backend by hand:
    python -m tests.docker.standin_hosts up FOLDER    # prints the inventory's path
    BACKEND=ssh INVENTORY=FOLDER/hosts.toml make chaos
    python -m tests.docker.standin_hosts down FOLDER
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")

import docker
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from testcontainers.core.container import DockerContainer
from testcontainers.core.network import Network

from harness.cluster.brokers import new_run_id
from harness.cluster.control import OWNER_LABEL, RUN_LABEL, sweep_label
from harness.cluster.images import ensure_host_image, ensure_images
from harness.cluster.render import render_haproxy
from harness.settings import Settings

SSH_USER = "amq"
READY_WITHIN = 60.0  # seconds for every sshd to answer


@dataclass
class StandInHosts:
    run_id: str
    directory: Path
    inventory: Path = field(init=False)
    containers: list[DockerContainer] = field(default_factory=list)
    network: Network | None = None

    def __post_init__(self) -> None:
        self.inventory = self.directory / "hosts.toml"

    @property
    def label(self) -> str:
        return f"{RUN_LABEL}={self.run_id}"

    def stop(self) -> None:
        """Every container, the network and the volumes, whatever happened before."""
        for container in self.containers:
            with contextlib.suppress(Exception):
                container.stop()
        if self.network is not None:
            with contextlib.suppress(Exception):
                self.network.remove()
        sweep_label(docker.from_env(), self.label)

    def __enter__(self) -> StandInHosts:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _key_pair() -> tuple[bytes, str]:
    """(private key in OpenSSH format, public key line)."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return private, public.decode()


def _on_loopback(container: DockerContainer, *ports: int) -> None:
    """Publish `ports` on 127.0.0.1 only, each on a port the engine picks: with_bind_ports binds every
    interface, which the harness never does."""
    container.ports.update({f"{port}/tcp": ("127.0.0.1", None) for port in ports})


def _published(container: DockerContainer, port: int) -> int:
    wrapped = container.get_wrapped_container()
    wrapped.reload()
    return int(wrapped.attrs["NetworkSettings"]["Ports"][f"{port}/tcp"][0]["HostPort"])


def _address(container: DockerContainer, network: Network) -> str:
    wrapped = container.get_wrapped_container()
    wrapped.reload()
    return str(wrapped.attrs["NetworkSettings"]["Networks"][network.name]["IPAddress"])


def _wait_for_sshd(port: int, deadline: float) -> None:
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
                conn.settimeout(2)
                if conn.recv(4).startswith(b"SSH-"):
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"no sshd answered on 127.0.0.1:{port} within {READY_WITHIN:.0f}s")
        time.sleep(0.2)


def start(directory: Path, settings: Settings, owner: str = "manual", log=print) -> StandInHosts:
    """Start the stand-in hosts and the VIP, and write their inventory (and its keys) into `directory`."""
    client = docker.from_env()
    host_image = ensure_host_image(client, settings.version, log)
    vip_image = ensure_images(client, settings, log).vip
    directory.mkdir(parents=True, exist_ok=True)
    hosts = StandInHosts(new_run_id(), directory)
    labels = {RUN_LABEL: hosts.run_id, OWNER_LABEL: owner}
    try:
        hosts.network = Network(docker_network_kw={"labels": labels}).create()
        identity, authorized = _key_pair()
        (directory / "id_ed25519").write_bytes(identity)
        (directory / "id_ed25519").chmod(0o600)
        known: list[tuple[str, str]] = []  # (node, host key's public line)
        started: list[tuple[str, str, DockerContainer]] = []
        topology = settings.topology
        for node in topology.nodes:
            store = f"amqchaos-{hosts.run_id.split('-')[-1]}-kahadb-{node.pair}"
            client.volumes.create(store, labels=labels)
            host_key, host_public = _key_pair()
            container = (
                DockerContainer(
                    host_image,
                    transferables=[
                        (authorized.encode() + b"\n", "/etc/amq-chaos/authorized_keys", 0o644),
                        (host_key, "/etc/amq-chaos/ssh_host_ed25519_key", 0o600),
                    ],
                )
                .with_name(f"amqchaos-ssh-{hosts.run_id.split('-')[-1]}-{node.name}")
                .with_network(hosts.network)
                .with_network_aliases(node.name)
                .with_volume_mapping(store, "/kahadb", "rw")
                .with_kwargs(hostname=node.name, labels=labels, cap_add=["NET_ADMIN"], mem_limit="640m")
            )
            _on_loopback(container, 22, 61613)
            hosts.containers.append(container)
            container.start()
            known.append((node.name, host_public))
            started.append((node.name, node.pair, container))
        # every node behind the VIP, whatever the design: a node that serves no clients (a seed slave, a waiting
        # one) fails HAProxy's STOMP check and stays out of rotation, and the hosts then serve every design
        backends = topology.nodes
        vip = (
            DockerContainer(
                vip_image,
                transferables=[(render_haproxy(backends).encode(), "/etc/haproxy/haproxy.cfg", 0o644)],
            )
            .with_name(f"amqchaos-ssh-{hosts.run_id.split('-')[-1]}-vip")
            .with_network(hosts.network)
            .with_network_aliases("vip")
            .with_envs(**settings.credentials.as_env())
            .with_kwargs(hostname="vip", labels=labels, cap_add=["NET_ADMIN"])
        )
        _on_loopback(vip, 61613)
        hosts.containers.append(vip)
        vip.start()
        deadline = time.monotonic() + READY_WITHIN
        ssh_ports = {name: _published(container, 22) for name, _, container in started}
        for port in ssh_ports.values():
            _wait_for_sshd(port, deadline)
        (directory / "known_hosts").write_text(
            "".join(f"[127.0.0.1]:{ssh_ports[name]} {public}\n" for name, public in known)
        )
        hosts.inventory.write_text(_inventory(hosts, settings, started, ssh_ports, vip))
        return hosts
    except BaseException:
        hosts.stop()
        raise


def _inventory(
    hosts: StandInHosts,
    settings: Settings,
    started: list[tuple[str, str, DockerContainer]],
    ssh_ports: dict[str, int],
    vip: DockerContainer,
) -> str:
    assert hosts.network is not None
    directory = hosts.directory
    lines = [
        "# the stand-in hosts of tests/docker/standin_hosts.py: Debian containers reached only by SSH",
        f'group = "{settings.topology.group}"',
        'mode = "install"',
        "",
        "[ssh]",
        f'user = "{SSH_USER}"',
        f'identity = "{directory / "id_ed25519"}"',
        f'known_hosts = "{directory / "known_hosts"}"',
        "",
        "[vip]",
        f'stomp = "127.0.0.1:{_published(vip, 61613)}"',
        f'address = "{_address(vip, hosts.network)}"',
    ]
    for name, pair, container in started:
        lines += [
            "",
            "[[node]]",
            f'pair = "{pair}"',
            f'role = "{"master" if name.endswith("-a") else "slave"}"',
            'host = "127.0.0.1"',
            f"port = {ssh_ports[name]}",
            f'address = "{_address(container, hosts.network)}"',
            f'stomp = "127.0.0.1:{_published(container, 61613)}"',
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("up", "down"):
        print("usage: python -m tests.docker.standin_hosts up|down FOLDER", file=sys.stderr)
        return 2
    directory = Path(argv[1]).resolve()
    if argv[0] == "up":
        hosts = start(directory, Settings.from_env())
        (directory / "standin.json").write_text(json.dumps({"run_id": hosts.run_id}) + "\n")
        print(hosts.inventory)
        return 0
    run_id = json.loads((directory / "standin.json").read_text())["run_id"]
    sweep_label(docker.from_env(), f"{RUN_LABEL}={run_id}")
    print(f"removed the stand-in hosts of {directory}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
