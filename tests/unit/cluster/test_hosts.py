"""The SSH backend against stand-in hosts that record each command (no SSH, no Docker): what it runs for each
process action, how it reads a node's state from its process and its log since the last poll, what a sweep
removes, what it can do, and that an unreachable host stops a bring-up before anything is touched."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from harness.cluster.hosts import HostsCluster
from harness.cluster.inventory import load_inventory
from harness.cluster.ssh import HostUnreachable
from harness.errors import MachineError
from harness.settings import Settings
from tests.unit.cluster.test_inventory import GOOD

TAGGED = "-A INPUT -s 10.0.0.21/32 -m comment --comment amqchaos-20261206-1-abc -j DROP"
THEIRS = "-A INPUT -s 10.9.9.9/32 -j DROP"
EARLIER = "-A INPUT -s 10.0.0.22/32 -m comment --comment amqchaos-20261205-9-old -j DROP"


@dataclasses.dataclass
class FakeHost:
    """What HostsCluster asks of an SshHost; `status` and `log` stand for the broker's process and its log."""

    name: str
    commands: list[str] = dataclasses.field(default_factory=list)
    status: str = "running"
    pid: str = "4242"
    log: str = ""
    rules: list[str] = dataclasses.field(default_factory=lambda: [TAGGED, THEIRS, EARLIER])
    reachable: bool = True

    def connect(self) -> None:
        if not self.reachable:
            raise HostUnreachable(f"amq@{self.name}:22: cannot connect: timed out")

    def close(self) -> None:
        pass

    def run(
        self, command: list[str], timeout: float = 60, stdin: bytes | None = None, root: bool | None = None
    ) -> tuple[int, str]:
        self.commands.append(" ".join(command))
        if command[:2] == ["iptables", "-S"]:
            return 0, "-P INPUT ACCEPT\n" + "\n".join(self.rules) + "\n"
        return 0, ""

    def run_line(self, line: str, timeout: float = 60) -> tuple[int, str]:
        self.commands.append("probe")
        offset = int(line.split("tail -c +")[1].split()[0]) - 1 if "tail -c +" in line else None
        out = f"{self.status} {self.pid if self.status != 'down' else 0}\n"
        if offset is not None:
            data = self.log.encode()
            out += f"{len(data)}\n" + data[offset:].decode()
        return 0, out

    def start_detached(self, command: list[str]) -> None:
        self.commands.append("detached " + " ".join(command))

    def upload(self, data: bytes, path: str, mode: int = 0o644, root: bool = True) -> None:
        self.commands.append(f"upload {path} {mode:o}")


def cluster_of(tmp_path: Path, text: str = GOOD) -> tuple[HostsCluster, dict[str, FakeHost]]:
    path = tmp_path / "hosts.toml"
    path.write_text(text)
    inventory = load_inventory(path)
    hosts = {node.name: FakeHost(node.name) for node in inventory.nodes}
    settings = Settings(runs_dir=tmp_path / "runs")
    cluster = HostsCluster(settings, inventory, run_id="20261206-1-abc", log=lambda *_: None, hosts=hosts)  # type: ignore[arg-type]
    return cluster, hosts


def test_the_nodes_are_the_inventory_s_and_clients_reach_them_where_it_says(tmp_path: Path) -> None:
    cluster, _ = cluster_of(tmp_path)
    assert [n.name for n in cluster.topology.nodes] == [
        "prod-mq01-a",
        "prod-mq01-b",
        "prod-mq02-a",
        "prod-mq02-b",
    ]
    assert cluster.stomp_endpoint("prod-mq02-a") == ("10.0.0.21", 61623)
    assert cluster.vip_endpoint == ("10.0.0.10", 61613)
    assert cluster.address("prod-mq02-b") == "10.0.0.22" and cluster.address("vip") == "10.0.0.10"


def test_process_actions_go_to_the_unit_or_the_service_script(tmp_path: Path) -> None:
    cluster, hosts = cluster_of(tmp_path)
    cluster.node_process("prod-mq01-a", "kill")
    cluster.node_process("prod-mq01-a", "freeze")
    cluster.node_process("prod-mq02-b", "freeze")
    cluster.node_process("prod-mq02-b", "restart")
    assert hosts["prod-mq01-a"].commands == [
        "systemctl kill --signal=SIGKILL activemq",
        "systemctl freeze activemq",
    ]
    assert hosts["prod-mq02-b"].commands == [
        "/opt/amq/bin/service freeze",
        "/opt/amq/bin/service stop",
        "/opt/amq/bin/service start",
    ]


def test_a_cpu_quota_needs_systemd_so_a_service_script_host_leaves_it_out(tmp_path: Path) -> None:
    cluster, hosts = cluster_of(tmp_path)
    assert cluster.capabilities == {"process", "tc", "filter", "store"}  # prod-mq02-b runs a script
    everywhere = GOOD.replace('control = "command"\nservice = "/opt/amq/bin/service"\n', "")
    systemd, hosts = cluster_of(tmp_path, everywhere)
    assert "cpu" in systemd.capabilities
    systemd.cpu_limit("prod-mq01-a", 0.1)
    systemd.cpu_limit("prod-mq01-a", None)
    assert hosts["prod-mq01-a"].commands == [
        "systemctl set-property --runtime activemq CPUQuota=10%",
        "systemctl set-property --runtime activemq CPUQuota=",
    ]
    narrowed, _ = cluster_of(
        tmp_path, everywhere.replace('mode = "install"', 'mode = "install"\nmechanisms = ["process"]')
    )
    assert narrowed.capabilities == {"process"}


def test_state_is_the_process_s_then_the_log_s_since_the_last_poll(tmp_path: Path) -> None:
    cluster, hosts = cluster_of(tmp_path)
    host = hosts["prod-mq01-b"]
    host.log = "INFO Using Persistence Adapter\n"
    assert cluster.node_state("prod-mq01-b") == "starting"
    host.log += (
        "INFO Database /kahadb/lock is locked by another server. This broker is now in slave mode waiting\n"
    )
    assert cluster.node_state("prod-mq01-b") == "waiting"
    # the broker half-way through writing the line that says it took over: read whole at the next poll
    host.log += "INFO Apache ActiveMQ 5.17.2 (prod-mq01-b, ID:x) sta"
    assert cluster.node_state("prod-mq01-b") == "waiting"
    host.log += "rted\n"
    assert cluster.node_state("prod-mq01-b") == "live"
    assert cluster.node_state("prod-mq01-b") == "live"  # nothing new: the state so far
    host.status = "frozen"
    assert cluster.node_state("prod-mq01-b") == "frozen"
    host.status, host.pid, host.log = "running", "5151", "INFO starting\n"  # a new life, its log started over
    assert cluster.node_state("prod-mq01-b") == "starting"
    host.status = "down"
    assert cluster.node_state("prod-mq01-b") == "down"


def test_a_sweep_removes_the_run_s_rules_and_nobody_else_s(tmp_path: Path) -> None:
    cluster, hosts = cluster_of(tmp_path)
    cluster.sweep()
    removed = [c for c in hosts["prod-mq01-a"].commands if c.startswith("iptables -D")]
    assert removed == [
        "iptables -D INPUT -s 10.0.0.21/32 -m comment --comment amqchaos-20261206-1-abc -j DROP"
    ]
    cluster.sweep_left_behind()  # at bring-up: what any run of this harness left, never the host's own rules
    removed = [c for c in hosts["prod-mq01-a"].commands if c.startswith("iptables -D")]
    assert len(removed) == 3 and not any("10.9.9.9" in c for c in removed)
    assert any(c.startswith("tc qdisc del dev eth0 root") for c in hosts["prod-mq01-a"].commands)


def test_an_unreachable_host_stops_bring_up_before_anything_is_touched(tmp_path: Path) -> None:
    cluster, hosts = cluster_of(tmp_path)
    hosts["prod-mq02-a"].reachable = False
    with pytest.raises(MachineError, match="cannot reach every host of the inventory: amq@prod-mq02-a:22"):
        cluster.up()
    # nothing was changed on any host: the teardown read logs and swept this run's own tag only
    for host in hosts.values():
        assert not any(c.split()[0] in ("systemctl", "/opt/amq/bin/service", "upload") for c in host.commands)
        assert not any(c.startswith("iptables -D") and "old" in c for c in host.commands)


def test_a_pair_is_ready_with_its_designs_standby_a_pure_slave_replicating(tmp_path: Path) -> None:
    """Shared store: live and waiting. Pure master/slave (5.5 to 5.7): live and replicating, the slave
    attached to its master; the same pair read as live/waiting there is not ready, nor live/live."""
    from harness.cluster.introspect import NodeStatus
    from harness.design.catalog import DESIGNS

    def statuses(a: str, b: str) -> list[NodeStatus]:
        return [
            NodeStatus(f"prod-mq{pair}-{side}", (a, b)[i], serves_stomp=True)
            for pair in ("01", "02")
            for i, side in enumerate("ab")
        ]

    cluster, _ = cluster_of(tmp_path)
    assert cluster.pair_problems(statuses("live", "waiting")) == []
    assert cluster.pair_problems(statuses("live", "replicating")) == [
        "pair 01 is live/replicating (want live/waiting)",
        "pair 02 is live/replicating (want live/waiting)",
    ]
    cluster.settings = Settings(
        runs_dir=tmp_path / "runs", version="5.5.1", design=DESIGNS["pure-master-slave"]
    )
    assert cluster.pair_problems(statuses("live", "replicating")) == []
    assert (
        cluster.pair_problems(statuses("replicating", "live")) == []
    )  # after a failover, as the post has it
    assert (
        cluster.pair_problems(statuses("live", "waiting"))[0]
        == "pair 01 is live/waiting (want live/replicating)"
    )
    assert (
        cluster.pair_problems(statuses("live", "live"))[0] == "pair 01 is live/live (want live/replicating)"
    )
