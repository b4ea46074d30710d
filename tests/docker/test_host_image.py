"""The stand-in server host image (images/host.Dockerfile) as the SSH backend reaches it: by SSH only, as amq
with a key, the host's key checked against a known_hosts; sudo for exactly the listed commands; the broker
started, frozen, thawed and killed through amq-host-broker, and its tools run as amq without sudo."""

from __future__ import annotations

import io
import os
import secrets
import socket
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import paramiko
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from harness.cluster.control import OWNER_LABEL, RUN_LABEL
from harness.cluster.images import ensure_host_image
from harness.settings import BROKER_SUITES, DEFAULT_VERSION, ROOT, environment

# the training broker's configuration (amq-cds-train) is a whole broker on its own: STOMP on 61613, user train
CREDENTIALS = "AMQ_CLIENT_USER=train AMQ_CLIENT_PASSWORD=train"
STARTED_WITHIN = 120.0  # seconds; four clusters' brokers may share the two cores with it


@dataclass
class Host:
    container: docker.models.containers.Container
    port: int
    known_hosts: Path
    client_key: paramiko.Ed25519Key


def openssh_private(key: Ed25519PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    ).decode()


def openssh_public(key: Ed25519PrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )


def labels() -> dict[str, str]:
    # the owner as the harness writes it, so that `amq-chaos sweep` removes the container of a killed test run
    return {
        RUN_LABEL: f"host-image-test-{secrets.token_hex(4)}",
        OWNER_LABEL: f"pid:{socket.gethostname()}:{os.getpid()}",
    }


def host_port(container: docker.models.containers.Container) -> int:
    container.reload()
    return int(container.ports["22/tcp"][0]["HostPort"])


@pytest.fixture(scope="module")
def host_image(docker_available: None) -> str:
    # the version `make images` built the host image for; a user's own distribution has none, Debian's does
    version = environment().get("ACTIVEMQ_VERSION") or DEFAULT_VERSION
    if version not in BROKER_SUITES:
        version = DEFAULT_VERSION
    return ensure_host_image(docker.from_env(), version, log=lambda line: None)


@pytest.fixture(scope="module")
def host(host_image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Host]:
    keys = tmp_path_factory.mktemp("host-keys")
    client_key, host_key = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    (keys / "authorized_keys").write_text(openssh_public(client_key) + " harness\n")
    (keys / "ssh_host_ed25519_key").write_text(openssh_private(host_key))
    (keys / "ssh_host_ed25519_key").chmod(0o600)
    client = docker.from_env()
    container = client.containers.run(
        host_image,
        detach=True,
        labels=labels(),
        ports={"22/tcp": ("127.0.0.1", None)},
        cap_add=["NET_ADMIN"],
        mem_limit="640m",
        volumes={
            str(keys / "authorized_keys"): {"bind": "/etc/amq-chaos/authorized_keys", "mode": "ro"},
            str(keys / "ssh_host_ed25519_key"): {"bind": "/etc/amq-chaos/ssh_host_ed25519_key", "mode": "ro"},
        },
    )
    try:
        # the training broker's configuration (what amq-cds-train runs while the broker image is built)
        config = ROOT / "images" / "cds"
        put_files(
            container,
            "/etc/amq",
            {
                "activemq.xml": (config / "activemq.xml").read_bytes(),
                "log4j.properties": (config / "log4j.properties").read_bytes(),
                # with a comment and a blank line, as a person writes the file
                "broker.env": b"# the training broker's\nAMQ_HEAP=128m\n\n"
                b"AMQ_CLIENT_USER=train\nAMQ_CLIENT_PASSWORD=train\n",
            },
        )
        port = host_port(container)
        known_hosts = keys / "known_hosts"
        known_hosts.write_text(f"[127.0.0.1]:{port} {openssh_public(host_key)}\n")
        pkey = paramiko.Ed25519Key.from_private_key(io.StringIO(openssh_private(client_key)))
        yield Host(container, port, known_hosts, pkey)
    finally:
        container.remove(force=True, v=True)


def connect(host: Host, username: str = "amq", **auth: object) -> paramiko.SSHClient:
    """An SSH connection to the host that trusts only the host key in its known_hosts (RejectPolicy: an
    unknown or changed key is refused, never added)."""
    ssh = paramiko.SSHClient()
    ssh.load_host_keys(str(host.known_hosts))
    ssh.set_missing_host_key_policy(paramiko.RejectPolicy())
    ssh.connect(
        "127.0.0.1",
        port=host.port,
        username=username,
        allow_agent=False,
        look_for_keys=False,
        timeout=10,
        banner_timeout=10,
        auth_timeout=10,
        **({"pkey": host.client_key} | auth),
    )
    return ssh


@pytest.fixture(scope="module")
def ssh(host: Host) -> Iterator[paramiko.SSHClient]:
    deadline = time.monotonic() + 30
    while True:  # sshd starts with the container; until then the port refuses or resets
        try:
            client = connect(host)
            break
        except (OSError, paramiko.SSHException):
            if time.monotonic() > deadline:
                print(host.container.logs().decode(errors="replace"))
                raise
            time.sleep(0.2)
    try:
        yield client
    finally:
        client.close()


def run(ssh: paramiko.SSHClient, command: str, timeout: float = 60) -> tuple[int, str, str]:
    _, stdout, stderr = ssh.exec_command(command, timeout=timeout)
    out, err = stdout.read().decode(), stderr.read().decode()
    return stdout.channel.recv_exit_status(), out, err


def put_files(container: docker.models.containers.Container, directory: str, files: dict[str, bytes]) -> None:
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    assert container.put_archive(directory, archive.getvalue())


@pytest.mark.docker
def test_sudo_allows_exactly_the_listed_commands(ssh: paramiko.SSHClient) -> None:
    assert run(ssh, "id -un; id -u") == (0, "amq\n1000\n", "")
    status, out, err = run(ssh, "sudo -n iptables -S INPUT")
    assert status == 0 and out.startswith("-P INPUT ACCEPT"), err
    assert run(ssh, "sudo -n amq-host-broker status") == (0, "down\n", "")
    assert run(ssh, "sudo -n tc qdisc show dev lo")[0] == 0
    # not in the list: sudo asks for a password, which -n refuses (amq has none anyway)
    status, out, err = run(ssh, "sudo -n /usr/bin/id -u")
    assert status != 0 and out == "" and "password is required" in err
    # the script is root's: run without sudo it says so and does nothing
    status, _, err = run(ssh, "amq-host-broker status")
    assert status == 1 and "run it as root" in err
    status, out, _ = run(ssh, "cat /etc/sudoers.d/amq-chaos")
    assert status != 0  # sudoers is not amq's to read
    # exactly these, each by the path sudo resolves its name to in this suite (bullseye keeps /bin apart)
    names = "iptables tc rm sh perl pkill tee"
    status, paths, _ = run(ssh, f"sudo -n sh -c 'for name in {names}; do command -v $name; done'")
    assert status == 0 and len(paths.split()) == 7
    status, listed, err = run(ssh, "sudo -n -l")
    assert status == 0, err
    allowed = listed.split("(root) NOPASSWD: ")[1].split("\n")[0].split(", ")
    assert sorted(allowed) == sorted(["/usr/local/bin/amq-host-broker", *paths.split()])
    # the pair's store mount point and the configuration's, root's to write
    assert run(ssh, "sudo -n sh -c 'touch /kahadb/x /etc/amq/x && rm /kahadb/x /etc/amq/x'")[0] == 0


@pytest.mark.docker
def test_only_amq_with_its_key_logs_in_and_only_to_the_known_host_key(
    host: Host, ssh: paramiko.SSHClient, tmp_path: Path
) -> None:
    with pytest.raises(paramiko.BadAuthenticationType) as refused:
        connect(host, pkey=None, password="amq")
    assert refused.value.allowed_types == ["publickey"]
    with pytest.raises(paramiko.AuthenticationException):
        connect(host, username="root")  # the right key, the wrong user: PermitRootLogin no
    # another key in known_hosts for this address: the connection is refused before any login
    other = tmp_path / "known_hosts"
    other.write_text(f"[127.0.0.1]:{host.port} {openssh_public(Ed25519PrivateKey.generate())}\n")
    with pytest.raises(paramiko.BadHostKeyException):
        connect(Host(host.container, host.port, other, host.client_key))
    # the mounted key is the host's only one
    status, out, _ = run(ssh, "ls /etc/ssh | grep ssh_host_")
    assert (status, out) == (0, "ssh_host_ed25519_key\n")


@pytest.mark.docker
def test_the_broker_starts_freezes_thaws_and_dies_through_its_service_script(
    host: Host, ssh: paramiko.SSHClient
) -> None:
    status, out, err = run(ssh, "sudo -n amq-host-broker start")
    assert (status, err) == (0, ""), out
    deadline = time.monotonic() + STARTED_WITHIN
    while run(ssh, f"{CREDENTIALS} stomp-ping 127.0.0.1 61613")[0] != 0:
        assert run(ssh, "sudo -n amq-host-broker status")[1] == "running\n", run(
            ssh, "tail -n 30 /var/lib/amq/log/console.log"
        )[1]
        assert time.monotonic() < deadline, run(ssh, "tail -n 30 /var/lib/amq/log/console.log")[1]
        time.sleep(0.5)

    # a second start is no second broker
    status, pid, _ = run(ssh, "sudo -n amq-host-broker pid")
    assert status == 0 and pid.strip().isdigit()
    assert run(ssh, "sudo -n amq-host-broker start") == (0, "", "")
    assert run(ssh, "sudo -n amq-host-broker pid")[1] == pid
    # the pid is the JVM's (amq-entrypoint ends in `exec java`), started with broker.env, and it takes SIGQUIT
    # for a thread dump (a command bash backgrounds would ignore it)
    status, cmdline, _ = run(ssh, f"tr '\\0' ' ' < /proc/{pid.strip()}/cmdline")
    assert cmdline.startswith("java ") and "-Xmx128m" in cmdline
    status, ignored, _ = run(ssh, f"sed -n 's/^SigIgn:\\t//p' /proc/{pid.strip()}/status")
    assert int(ignored, 16) & 0b110 == 0, ignored

    # the broker's tools, as amq, without sudo
    assert run(ssh, "amq-node-state") == (0, "live\n", "")
    status, out, err = run(ssh, f"{CREDENTIALS} stomp-send host.test hello harness-id:h1")
    assert status == 0, err
    queue = "type=Broker,brokerName=*,destinationType=Queue,destinationName=host.test"
    status, out, err = run(ssh, f"amq-jmx query --objname {queue} --view QueueSize")
    assert status == 0 and "QueueSize = 1" in out, out + err

    assert run(ssh, "sudo -n amq-host-broker freeze") == (0, "", "")
    assert run(ssh, "sudo -n amq-host-broker status")[1] == "frozen\n"
    assert run(ssh, f"{CREDENTIALS} stomp-ping 127.0.0.1 61613")[0] != 0  # no answer within 2 s
    assert run(ssh, "sudo -n amq-host-broker thaw") == (0, "", "")
    assert run(ssh, "sudo -n amq-host-broker status")[1] == "running\n"
    assert run(ssh, f"{CREDENTIALS} stomp-ping 127.0.0.1 61613")[0] == 0

    started = time.monotonic()
    assert run(ssh, "sudo -n amq-host-broker kill") == (0, "", "")
    assert time.monotonic() - started < 10
    assert run(ssh, "sudo -n amq-host-broker status")[1] == "down\n"
    assert run(ssh, "sudo -n amq-host-broker pid")[:2] == (1, "")
    # no zombie left behind for the pid to name: tini reaps it
    assert run(ssh, f"test -e /proc/{pid.strip()}")[0] != 0
    assert run(ssh, "sudo -n amq-host-broker stop") == (0, "", "")  # stopping a stopped broker is no error


@pytest.mark.docker
def test_a_stale_pidfile_is_no_broker(host: Host, ssh: paramiko.SSHClient) -> None:
    # the pid of a live process (tini's) with another start time: a pid reused after the host restarted, say
    assert run(ssh, "sudo -n sh -c 'echo 1 12345 > /run/amq/broker.pid'")[0] == 0
    assert run(ssh, "sudo -n amq-host-broker status")[1] == "down\n"
    assert run(ssh, "sudo -n amq-host-broker stop")[0] == 0
    assert run(ssh, "test -e /run/amq/broker.pid")[0] != 0
    # and a broker started over it stops gracefully: SIGTERM, its shutdown hooks, gone well within the grace
    assert run(ssh, "sudo -n amq-host-broker start")[0] == 0
    status, pid, _ = run(ssh, "sudo -n amq-host-broker pid")
    assert status == 0
    deadline = time.monotonic() + STARTED_WITHIN
    while run(ssh, "amq-node-state")[1] != "live\n":
        assert time.monotonic() < deadline, run(ssh, "tail -n 30 /var/lib/amq/log/console.log")[1]
        time.sleep(0.5)
    started = time.monotonic()
    status, out, err = run(ssh, "sudo -n amq-host-broker stop")
    assert (status, out, err) == (0, "", "")
    assert time.monotonic() - started < 30
    assert run(ssh, "sudo -n amq-host-broker status")[1] == "down\n"
    assert run(ssh, f"test -e /proc/{pid.strip()}")[0] != 0
    assert run(ssh, "grep -c ') is shutdown' /var/lib/amq/log/activemq.log") == (0, "1\n", "")


@pytest.mark.docker
def test_hosts_without_a_mounted_key_each_make_their_own(host_image: str) -> None:
    client = docker.from_env()
    found = []
    for _ in range(2):
        container = client.containers.run(host_image, detach=True, labels=labels(), network_mode="none")
        try:
            deadline = time.monotonic() + 30
            while b"Server listening" not in container.logs():  # once every key is made
                assert time.monotonic() < deadline, container.logs().decode(errors="replace")
                time.sleep(0.2)
            found.append(container.exec_run(["cat", "/etc/ssh/ssh_host_ed25519_key.pub"]).output.split()[1])
            keys = container.exec_run(["sh", "-c", "ls /etc/ssh | grep '^ssh_host_.*_key$'"]).output.split()
            assert sorted(keys) == [b"ssh_host_ecdsa_key", b"ssh_host_ed25519_key", b"ssh_host_rsa_key"]
        finally:
            container.remove(force=True, v=True)
    assert found[0] != found[1]
