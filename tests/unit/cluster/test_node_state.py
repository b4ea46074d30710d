"""A node's life-cycle state read from its container's log through the Docker API, on a fake container."""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from harness.cluster import containers, introspect
from harness.settings import ROOT

STARTED = "2026-11-28T01:58:46.547000000Z"


def line(stamp: str, text: str) -> str:
    return f"{stamp} 2026-11-28 01:58:49,000 INFO  [main] {text}\n"


@dataclass
class FakeContainer:
    """What node_state asks of a docker Container: reload, status, attrs and logs(since=...)."""

    id: str = "c1"
    status: str = "running"
    started: str = STARTED
    lines: list[str] = field(default_factory=list)
    asked_since: list[float] = field(default_factory=list)

    def reload(self) -> None:
        pass

    @property
    def attrs(self) -> dict:
        return {"State": {"StartedAt": self.started}}

    def logs(self, *, stdout: bool, stderr: bool, timestamps: bool, since: float) -> bytes:
        self.asked_since.append(since)
        return "".join(
            text for text in self.lines if containers._epoch(text.split(" ", 1)[0]) >= since
        ).encode()


def test_state_follows_the_last_telling_line_of_the_current_life() -> None:
    container = FakeContainer(id="life")
    container.lines.append(line("2026-11-28T01:58:47.000000001Z", "Loading message broker"))
    assert containers.node_state(container) == "starting"
    container.lines.append(
        line("2026-11-28T01:58:48.5Z", "SharedFileLocker - ... in slave mode waiting a lock")
    )
    assert containers.node_state(container) == "waiting"
    container.lines.append(
        line("2026-11-28T01:58:50.25Z", "BrokerService - Apache ActiveMQ 5.17.2 (x, ID:1) started")
    )
    container.lines.append(
        line("2026-11-28T01:58:50.5Z", "DemandForwardingBridgeSupport - Network connection")
    )
    assert containers.node_state(container) == "live"
    # nothing new: the state stands, and each read starts where the last one ended
    assert containers.node_state(container) == "live"
    assert container.asked_since[-1] == containers._epoch("2026-11-28T01:58:50.5Z")
    container.lines.append(
        line("2026-11-28T01:59:00Z", "BrokerService - Apache ActiveMQ 5.17.2 (x) is shutting down")
    )
    assert containers.node_state(container) == "stopping"


def test_a_restart_does_not_inherit_the_previous_life() -> None:
    container = FakeContainer(id="restarted")
    container.lines.append(
        line("2026-11-28T01:58:50Z", "BrokerService - Apache ActiveMQ 5.17.2 (x, ID:1) started")
    )
    assert containers.node_state(container) == "live"
    container.started = "2026-11-28T01:59:10.000000001Z"  # killed -9 (no shutdown line), then started again
    assert containers.node_state(container) == "starting"
    # the earlier life's read position is dropped, not kept for the harness's lifetime
    assert [k[1] for k in containers._log_cursors if k[0] == "restarted"] == [container.started]
    container.lines.append(line("2026-11-28T01:59:12Z", "SharedFileLocker - in slave mode waiting a lock"))
    assert containers.node_state(container) == "waiting"


def test_paused_and_stopped_containers_are_read_from_docker_alone() -> None:
    assert containers.node_state(FakeContainer(id="p", status="paused")) == "frozen"
    assert containers.node_state(FakeContainer(id="x", status="exited")) == "down"


def test_the_lines_are_those_of_the_healthcheck_script() -> None:
    text = (ROOT / "images" / "bin" / "amq-node-state").read_text()
    for fragment in (
        "in slave mode waiting",
        r"\) started$",
        r"\) is shutting down",
        r"\) is shutdown",
        r"\) uptime",
        r"is locked\.\.\. waiting",
        r"\) stopped$",
    ):
        assert fragment in text
    assert introspect.state_of_line("x (chaos-mq01-a, ID:1) uptime 3 minutes") == "stopping"
    assert introspect.state_of_line("x (chaos-mq01-a, ID:1) started") == "live"
    assert introspect.state_of_line("x (chaos-mq01-a, ID:1) started listening") is None


def test_the_lines_of_activemq_5_5_are_read_too() -> None:
    """5.5's texts (its BrokerService and KahaDB), for a user's own old distribution: never run here."""
    waiting = (
        "Database /kahadb/lock is locked... waiting 10 seconds for the database to be unlocked. Reason: "
        "java.io.IOException: File '/kahadb/lock' could not be locked."
    )
    assert introspect.state_of_line(waiting) == "waiting"
    started = "ActiveMQ JMS Message Broker (chaos-mq01-a, ID:chaos-mq01-a-1-2-3:1) started"
    assert introspect.state_of_line(started) == "live"
    stopped = "ActiveMQ JMS Message Broker (chaos-mq01-a, ID:chaos-mq01-a-1-2-3:1) stopped"
    assert introspect.state_of_line(stopped) == "stopping"
    # and the script the healthcheck runs says the same of each
    for text, state in ((waiting, "waiting"), (started, "live"), (stopped, "stopping")):
        assert node_state_script(text) == state


def node_state_script(*texts: str) -> str:
    """images/bin/amq-node-state on a log holding these lines."""
    script = (ROOT / "images" / "bin" / "amq-node-state").read_text()
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "activemq.log"
        log.write_text("".join(f"2026-11-28 01:58:49,000 INFO  [main] BrokerService - {t}\n" for t in texts))
        done = subprocess.run(
            ["bash", "-c", script.replace("/var/lib/amq/log/activemq.log", str(log))],
            capture_output=True, text=True, timeout=10, check=True,
        )  # fmt: skip
    return done.stdout.strip()


def test_a_pure_slave_is_replicating_until_its_master_fails() -> None:
    """ActiveMQ 5.5.1's pure master/slave (MasterConnector, BrokerService.masterFailed): the slave attaches,
    then logs "started" like a master though it starts no connector; when its master dies it logs the bridge
    shutdown, then "Master Failed - starting all connectors", and serves clients. Never run here (5.5)."""
    attached = (
        "Slave connection between vm://chaos-mq01-b#0 and tcp://chaos-mq01-a/172.18.0.3:61618 has been "
        "established."
    )
    started = "ActiveMQ JMS Message Broker (chaos-mq01-b, ID:chaos-mq01-b-1-2-3:1) started"
    shutdown = (
        "Network connection between vm://chaos-mq01-b#0 and tcp://chaos-mq01-a/172.18.0.3:61618 shutdown: "
        "java.io.EOFException"
    )
    promoted = "Master Failed - starting all connectors"
    lives = [
        ([attached, started], "replicating"),
        ([attached, started, shutdown], "replicating"),  # its bridge gone: not the master yet
        ([attached, started, shutdown, promoted], "live"),
        ([attached, started, "The Master has shutdown", "The Master has failed ... shutting down"], "stopping"),
        # killed -9 while replicating, then started again with no master to attach to: a new life
        ([attached, started, "ActiveMQ 5.5.1 JMS Message Broker (chaos-mq01-b) is starting", started], "live"),
        # a master's own lines: it stays live whatever its slave does
        ([started, "Active Slave Broker chaos-mq01-b is attached", "Slave Failed"], "live"),
        # 5.17's shared-store slave that got the lock: unchanged by the new-life line
        (["Database /kahadb/lock is locked... waiting 10 seconds", "Apache ActiveMQ 5.17.2 (b, ID:1) is starting"],
         "waiting"),
    ]  # fmt: skip
    for lines, state in lives:
        folded = "starting"
        for text in lines:
            folded = containers.next_state(folded, text)
        assert folded == state, lines
        assert node_state_script(*lines) == state, lines


def test_a_pure_slave_is_read_from_its_container_log_as_replicating() -> None:
    container = FakeContainer(id="pure")
    container.lines += [
        line("2026-11-28T01:58:48Z", "MasterConnector - Slave connection between vm://b#0 and tcp://a has been established."),
        line("2026-11-28T01:58:49Z", "BrokerService - ActiveMQ JMS Message Broker (b, ID:1) started"),
    ]  # fmt: skip
    assert containers.node_state(container) == "replicating"
    container.lines.append(
        line("2026-11-28T01:59:00Z", "BrokerService - Master Failed - starting all connectors")
    )
    assert containers.node_state(container) == "live"
