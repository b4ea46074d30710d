"""The SSH backend's inventory: the hosts a run may touch, and how to reach and control each node's broker.

A TOML file (docs/backends.md shows one). Every host the harness touches is in it; it holds no secret (keys
come from the SSH agent or a named key file, credentials from environment variables it names); and a bad
inventory is refused with one line before anything is touched.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.design.topology import GROUP_NAME, Topology
from harness.errors import HarnessError
from harness.settings import CREDENTIAL_VARS

MODES = {
    "install": "the harness renders the design's configuration, installs it on the hosts and runs the brokers",
    "observe": "the brokers and their configuration are the user's; faults that would change them are refused",
}
CONTROLS = {
    "command": "a service script on the host: `<service> start|stop|kill|freeze|thaw|status`",
    "systemd": "a systemd unit: systemctl start/stop/kill, freeze/thaw, set-property for a CPU quota",
}
DISCOVERIES = ("multicast", "static")
# words that say a secret is being written into the inventory's text: refused, never read
SECRET_KEYS = frozenset({"password", "passphrase", "secret", "private_key", "token"})

_TOP = {
    "group",
    "mode",
    "discovery",
    "trust_unknown_hosts",
    "mechanisms",
    "ssh",
    "broker",
    "vip",
    "credentials",
    "node",
}
_SSH = {"user", "port", "identity", "known_hosts", "sudo", "connect_timeout"}
_BROKER = {"control", "service", "unit", "log", "config", "store", "lock", "interface", "home"}
_VIP = {"stomp", "address"}
_NODE = {"pair", "role", "host", "address", "stomp", *_SSH, *_BROKER}


@dataclass(frozen=True)
class SshAccess:
    host: str  # what the harness connects to
    port: int = 22
    user: str = "amq"
    identity: Path | None = None  # a private key file; None: the SSH agent's keys
    sudo: bool = True  # the commands that need root run through `sudo -n`
    connect_timeout: float = 10.0

    @property
    def label(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"


@dataclass(frozen=True)
class BrokerControl:
    control: str = "command"
    service: str = "/usr/local/bin/amq-host-broker"  # command control: the script's path
    unit: str = "activemq"  # systemd control: the unit's name
    log: str = "/var/lib/amq/log/activemq.log"
    config: str = "/etc/amq/activemq.xml"
    store: str = "/kahadb"  # the pair's shared store, mounted on both of its hosts
    lock: str = ""  # the store's lock file; "" is `<store>/lock`
    interface: str = "eth0"  # where tc shapes the node's egress
    home: str = "/usr/share/activemq"

    @property
    def lock_file(self) -> str:
        return self.lock or f"{self.store.rstrip('/')}/lock"


@dataclass(frozen=True)
class HostNode:
    name: str  # <group>-mq<NN>-<a|b>: the broker's name too
    pair: str
    role: str  # master | slave
    address: str  # how the other nodes (bridges, partitions) reach it
    stomp: tuple[str, int]  # how the harness reaches its client STOMP connector
    ssh: SshAccess
    broker: BrokerControl


@dataclass(frozen=True)
class Inventory:
    path: Path
    group: str
    mode: str
    discovery: str
    nodes: tuple[HostNode, ...]
    vip_stomp: tuple[str, int]  # how clients reach the VIP
    vip_address: str  # how the nodes see the VIP's connections (the clients' side of a partition)
    known_hosts: Path | None
    trust_unknown_hosts: bool = False  # lab hosts only: accept and remember a host key never seen
    mechanisms: frozenset[str] | None = None  # what the user allows the harness to do; None: all it can
    credential_vars: tuple[str, ...] = CREDENTIAL_VARS

    @property
    def topology(self) -> Topology:
        return Topology(group=self.group, pairs=tuple(sorted({n.pair for n in self.nodes})))

    def node(self, name: str) -> HostNode:
        for node in self.nodes:
            if node.name == name:
                return node
        raise HarnessError(f"{name} is not in the inventory {self.path}")


def load_inventory(path: Path) -> Inventory:
    """Read and check an inventory; one line naming the file and the fault when it is bad."""
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise HarnessError(f"inventory {path} does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise HarnessError(f"inventory {path} is not TOML: {exc}") from None
    try:
        return _inventory(path, raw)
    except _Bad as bad:
        raise HarnessError(f"inventory {path}: {bad}") from None


class _Bad(Exception):
    pass


def _table(raw: dict[str, Any], key: str, allowed: set[str], where: str) -> dict[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise _Bad(f"{where}{key} must be a table")
    _known(value, allowed, f"{where}[{key}]")
    return value


def _known(table: dict[str, Any], allowed: set[str], where: str) -> None:
    secrets = sorted(SECRET_KEYS & set(table))
    if secrets:
        raise _Bad(
            f"{where} holds {', '.join(secrets)}: secrets never go in the inventory (keys come from the SSH "
            "agent or a key file named by `identity`, credentials from the environment)"
        )
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise _Bad(f"{where} has unknown field {unknown[0]!r}; known: {', '.join(sorted(allowed))}")


def _text(table: dict[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = table.get(key, default)
    if value is None:
        raise _Bad(f"{where} needs {key}")
    if not isinstance(value, str) or not value.strip():
        raise _Bad(f"{where}: {key} must be a non-empty string")
    return value


def _one_of(value: str, allowed: Any, what: str) -> str:
    if value not in allowed:
        raise _Bad(f"{what} {value!r} is not one of {', '.join(allowed)}")
    return value


def _endpoint(value: str, default_port: int, what: str) -> tuple[str, int]:
    host, colon, port = value.rpartition(":")
    if not colon:
        return value, default_port
    if not port.isdigit() or not 0 < int(port) < 65536 or not host:
        raise _Bad(f"{what} {value!r} must be HOST or HOST:PORT")
    return host, int(port)


def _ssh(defaults: dict[str, Any], table: dict[str, Any], host: str, where: str) -> SshAccess:
    merged = {**defaults, **{k: v for k, v in table.items() if k in _SSH}}
    port = merged.get("port", 22)
    if not isinstance(port, int) or not 0 < port < 65536:
        raise _Bad(f"{where}: port must be a port number")
    sudo = merged.get("sudo", True)
    if not isinstance(sudo, bool):
        raise _Bad(f"{where}: sudo must be true or false")
    timeout = merged.get("connect_timeout", 10.0)
    if not isinstance(timeout, int | float) or timeout <= 0:
        raise _Bad(f"{where}: connect_timeout must be seconds")
    identity = merged.get("identity")
    return SshAccess(
        host=host,
        port=port,
        user=_text(merged, "user", where, "amq"),
        identity=Path(_text(merged, "identity", where)).expanduser() if identity is not None else None,
        sudo=sudo,
        connect_timeout=float(timeout),
    )


def _broker(defaults: dict[str, Any], table: dict[str, Any], where: str) -> BrokerControl:
    merged = {**defaults, **{k: v for k, v in table.items() if k in _BROKER}}
    base = BrokerControl()
    values = {key: _text(merged, key, where, getattr(base, key) or None) for key in _BROKER - {"lock"}}
    if "lock" in merged:
        values["lock"] = _text(merged, "lock", where)
    _one_of(values["control"], tuple(CONTROLS), f"{where}: control")
    return BrokerControl(**values)


def _inventory(path: Path, raw: dict[str, Any]) -> Inventory:
    _known(raw, _TOP, "the top level")
    group = _text(raw, "group", "the top level", "chaos")
    if not GROUP_NAME.match(group):
        raise _Bad(f"group {group!r} must be lowercase letters and digits, starting with a letter")
    mode = _one_of(_text(raw, "mode", "the top level", "install"), tuple(MODES), "mode")
    discovery = _one_of(_text(raw, "discovery", "the top level", "multicast"), DISCOVERIES, "discovery")
    ssh_defaults = _table(raw, "ssh", _SSH | {"known_hosts"}, "")
    broker_defaults = _table(raw, "broker", _BROKER, "")
    vip = _table(raw, "vip", _VIP, "")
    credentials = _table(raw, "credentials", set(CREDENTIAL_VARS), "")
    nodes_raw = raw.get("node")
    if not isinstance(nodes_raw, list) or not nodes_raw:
        raise _Bad("no [[node]]: list each broker's host")
    nodes = []
    for number, table in enumerate(nodes_raw, 1):
        where = f"[[node]] #{number}"
        if not isinstance(table, dict):
            raise _Bad(f"{where} must be a table")
        _known(table, _NODE, where)
        pair = _text(table, "pair", where)
        if not (pair.isdigit() and len(pair) == 2):
            raise _Bad(f"{where}: pair {pair!r} must be two digits, as in the node names (01, 02)")
        role = _one_of(_text(table, "role", where), ("master", "slave"), f"{where}: role")
        name = f"{group}-mq{pair}-{'a' if role == 'master' else 'b'}"
        host = _text(table, "host", where)
        address = _text(table, "address", where, host)
        nodes.append(
            HostNode(
                name=name,
                pair=pair,
                role=role,
                address=address,
                stomp=_endpoint(_text(table, "stomp", where, address), 61613, f"{name}: stomp"),
                ssh=_ssh(ssh_defaults, table, host, f"{name} ({where})"),
                broker=_broker(broker_defaults, table, f"{name} ({where})"),
            )
        )
    _check_shape(nodes)
    mechanisms = raw.get("mechanisms")
    if mechanisms is not None:
        from harness.cluster.backend import MECHANISMS

        if not isinstance(mechanisms, list) or not all(isinstance(m, str) for m in mechanisms):
            raise _Bad("mechanisms must be a list of names")
        for mechanism in mechanisms:
            _one_of(mechanism, tuple(MECHANISMS), "mechanism")
    known_hosts = ssh_defaults.get("known_hosts", "~/.ssh/known_hosts")
    trust = raw.get("trust_unknown_hosts", False)
    if not isinstance(trust, bool):
        raise _Bad("trust_unknown_hosts must be true or false")
    vip_stomp = _endpoint(_text(vip, "stomp", "[vip]"), 61613, "[vip] stomp")
    return Inventory(
        path=path,
        group=group,
        mode=mode,
        discovery=discovery,
        nodes=tuple(sorted(nodes, key=lambda n: n.name)),
        vip_stomp=vip_stomp,
        vip_address=_text(vip, "address", "[vip]", vip_stomp[0]),
        known_hosts=Path(_text(ssh_defaults, "known_hosts", "[ssh]", known_hosts)).expanduser(),
        trust_unknown_hosts=trust,
        mechanisms=frozenset(mechanisms) if mechanisms is not None else None,
        credential_vars=tuple(_text(credentials, var, "[credentials]", var) for var in CREDENTIAL_VARS),
    )


def _check_shape(nodes: list[HostNode]) -> None:
    """Two nodes per pair, one master and one slave, two pairs or more, and no host named twice."""
    names = Counter(n.name for n in nodes)
    twice = sorted(name for name, count in names.items() if count > 1)
    if twice:
        node = twice[0]
        role = "masters" if node.endswith("-a") else "slaves"
        raise _Bad(f"two {role} named for pair {node.split('-mq')[1][:2]} ({node})")
    pairs = Counter(n.pair for n in nodes)
    lonely = sorted(pair for pair, count in pairs.items() if count != 2)
    if lonely:
        raise _Bad(f"pair {lonely[0]} needs a master and a slave")
    if len(pairs) < 2:
        raise _Bad("a network of brokers needs two pairs or more")
    for what, key in (("SSH host", lambda n: (n.ssh.host, n.ssh.port)), ("address", lambda n: n.address)):
        seen = Counter(key(n) for n in nodes)
        again = sorted(k for k, count in seen.items() if count > 1)
        if again:
            shown = ":".join(map(str, again[0])) if isinstance(again[0], tuple) else again[0]
            holders = ", ".join(n.name for n in nodes if key(n) == again[0])
            raise _Bad(f"{what} {shown} is named twice ({holders}): each node is a host of its own")
