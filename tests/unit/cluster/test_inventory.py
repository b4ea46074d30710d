"""The SSH backend's inventory: what a good one gives, and a one-line refusal, naming the file, for each way
an inventory can be wrong, before anything is touched."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cluster.inventory import load_inventory
from harness.errors import HarnessError

GOOD = """
group = "prod"
mode = "install"

[ssh]
user = "ops"
identity = "~/.ssh/chaos_ed25519"
known_hosts = "/etc/chaos/known_hosts"

[broker]
control = "systemd"
unit = "activemq"

[vip]
stomp = "10.0.0.10:61613"

[[node]]
pair = "01"
role = "master"
host = "10.0.0.11"

[[node]]
pair = "01"
role = "slave"
host = "10.0.0.12"
port = 2222

[[node]]
pair = "02"
role = "master"
host = "10.0.0.21"
stomp = "10.0.0.21:61623"

[[node]]
pair = "02"
role = "slave"
host = "bastion.example"
address = "10.0.0.22"
control = "command"
service = "/opt/amq/bin/service"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hosts.toml"
    path.write_text(text)
    return path


def test_a_good_inventory_names_the_nodes_as_the_topology_does(tmp_path: Path) -> None:
    inventory = load_inventory(write(tmp_path, GOOD))
    assert [n.name for n in inventory.nodes] == ["prod-mq01-a", "prod-mq01-b", "prod-mq02-a", "prod-mq02-b"]
    assert [n.name for n in inventory.topology.nodes] == [n.name for n in inventory.nodes]
    slave = inventory.node("prod-mq01-b")
    assert (slave.ssh.user, slave.ssh.host, slave.ssh.port) == ("ops", "10.0.0.12", 2222)
    assert slave.ssh.identity == Path("~/.ssh/chaos_ed25519").expanduser()
    assert slave.broker.control == "systemd" and slave.broker.lock_file == "/kahadb/lock"
    assert inventory.node("prod-mq02-a").stomp == ("10.0.0.21", 61623)
    assert inventory.node("prod-mq01-a").stomp == ("10.0.0.11", 61613)
    other = inventory.node("prod-mq02-b")
    assert other.address == "10.0.0.22" and other.ssh.host == "bastion.example"
    assert (other.broker.control, other.broker.service) == ("command", "/opt/amq/bin/service")
    assert inventory.vip_stomp == ("10.0.0.10", 61613) and inventory.vip_address == "10.0.0.10"
    assert inventory.known_hosts == Path("/etc/chaos/known_hosts")
    assert not inventory.trust_unknown_hosts and inventory.mechanisms is None


def replace(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new, 1)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("not = [toml", "is not TOML"),
        (GOOD.split("[[node]]")[0], "no [[node]]: list each broker's host"),
        (
            replace('role = "slave"\nhost = "10.0.0.12"', 'role = "master"\nhost = "10.0.0.12"'),
            "two masters named for pair 01 (prod-mq01-a)",
        ),
        (
            replace('pair = "02"\nrole = "master"', 'pair = "03"\nrole = "master"'),
            "pair 02 needs a master and a slave",
        ),
        (
            replace('pair = "01"\nrole = "master"', 'pair = "1"\nrole = "master"'),
            "pair '1' must be two digits",
        ),
        (
            replace('role = "master"\nhost = "10.0.0.11"', 'role = "primary"\nhost = "10.0.0.11"'),
            "role 'primary' is not one of master, slave",
        ),
        (replace('host = "10.0.0.11"', ""), "prod-mq01-a? needs host"),
        (
            replace('host = "10.0.0.21"', 'host = "10.0.0.11"'),
            "SSH host 10.0.0.11:22 is named twice (prod-mq01-a, prod-mq02-a)",
        ),
        (replace('address = "10.0.0.22"', 'address = "10.0.0.11"'), "address 10.0.0.11 is named twice"),
        (
            replace('user = "ops"', 'user = "ops"\npassword = "hunter2"'),
            "[ssh] holds password: secrets never go in the inventory",
        ),
        (
            replace('stomp = "10.0.0.10:61613"', 'stomp = "10.0.0.10:61613"\nhost = "x"'),
            "[vip] has unknown field 'host'",
        ),
        (
            replace('stomp = "10.0.0.10:61613"', 'stomp = "10.0.0.10:port"'),
            "[vip] stomp '10.0.0.10:port' must be HOST or HOST:PORT",
        ),
        (replace('[vip]\nstomp = "10.0.0.10:61613"', ""), "[vip] needs stomp"),
        (
            replace('control = "systemd"', 'control = "upstart"'),
            "control 'upstart' is not one of command, systemd",
        ),
        (replace('mode = "install"', 'mode = "watch"'), "mode 'watch' is not one of install, observe"),
        (replace('group = "prod"', 'group = "Prod"'), "group 'Prod' must be lowercase"),
        (
            replace('mode = "install"', 'mode = "install"\nmechanisms = ["process", "chaos"]'),
            "mechanism 'chaos' is not one of",
        ),
        (
            replace('mode = "install"', 'mode = "install"\nhosts = 4'),
            "the top level has unknown field 'hosts'",
        ),
        (replace("port = 2222", 'port = "2222"'), "port must be a port number"),
    ],
    ids=lambda value: value.split(":")[0][:40] if len(value) < 120 else "",
)
def test_a_bad_inventory_is_one_line_naming_the_file(tmp_path: Path, text: str, error: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(HarnessError) as raised:
        load_inventory(path)
    message = str(raised.value)
    assert "\n" not in message and message.startswith(f"inventory {path}")
    if error.endswith("? needs host"):  # the node is named by its number before its name is known
        assert "needs host" in message
    else:
        assert error in message, message


def test_a_missing_inventory_says_so(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="does not exist"):
        load_inventory(tmp_path / "nowhere.toml")
