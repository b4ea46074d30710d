"""The rendered configuration has exactly the connectors each role of the topology calls for."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from harness.cluster.render import discovery_uri, render_broker, render_run
from harness.design.topology import Node, Topology
from harness.settings import Settings

NS = {"amq": "http://activemq.apache.org/schema/core"}

ADMIN = ("harness-admin", "stomp://127.0.0.1:61614")


def broker_element(node: Node) -> ET.Element:
    root = ET.fromstring(render_broker(node))
    broker = root.find("amq:broker", NS)
    assert broker is not None
    return broker


@pytest.mark.parametrize("name", ["chaos-mq01-a", "chaos-mq02-a", "east-mq07-a"])
def test_master_has_duplex_connector_openwire_and_stomp(name: str) -> None:
    node = Node.parse(name)
    broker = broker_element(node)
    assert broker.get("brokerName") == name
    connectors = broker.findall("amq:networkConnectors/amq:networkConnector", NS)
    assert len(connectors) == 1
    (connector,) = connectors
    assert connector.get("uri") == f"multicast://224.1.2.3:6255?group={node.group}"
    assert connector.get("duplex") == "true"
    assert connector.get("networkTTL") == "3"
    assert connector.get("name") == f"{name}-{node.group}"
    transports = broker.findall("amq:transportConnectors/amq:transportConnector", NS)
    assert [(t.get("name"), t.get("uri")) for t in transports] == [
        ("openwire", "nio://0.0.0.0:61616"),
        ("stomp+nio", "stomp+nio://0.0.0.0:61613"),
        ADMIN,
    ]
    # only the openwire connector is advertised for discovery
    assert [t.get("discoveryUri") for t in transports] == [discovery_uri(node.group), None, None]


@pytest.mark.parametrize("name", ["chaos-mq01-b", "chaos-mq02-b"])
def test_slave_has_only_a_non_duplex_connector(name: str) -> None:
    broker = broker_element(Node.parse(name))
    (connector,) = broker.findall("amq:networkConnectors/amq:networkConnector", NS)
    assert connector.get("duplex") == "false"
    assert connector.get("uri") == "multicast://224.1.2.3:6255?group=chaos"
    # no client connector: only the harness's own, on the container's loopback and not advertised
    transports = broker.findall("amq:transportConnectors/amq:transportConnector", NS)
    assert [(t.get("name"), t.get("uri"), t.get("discoveryUri")) for t in transports] == [(*ADMIN, None)]


@pytest.mark.parametrize("name", ["chaos-mq01-a", "chaos-mq01-b"])
def test_every_node_has_statistics_plugin_auth_and_shared_store(name: str) -> None:
    broker = broker_element(Node.parse(name))
    assert broker.find("amq:plugins/amq:statisticsBrokerPlugin", NS) is not None
    users = broker.findall("amq:plugins/amq:simpleAuthenticationPlugin/amq:users/amq:authenticationUser", NS)
    assert [(u.get("username"), u.get("groups")) for u in users] == [
        ("${AMQ_NETWORK_USER}", "network"),
        ("${AMQ_CLIENT_USER}", "clients"),
    ]
    (connector,) = broker.findall("amq:networkConnectors/amq:networkConnector", NS)
    assert connector.get("userName") == "${AMQ_NETWORK_USER}"
    entries = broker.findall(".//amq:authorizationEntry", NS)
    assert any(e.get("queue") == ">" and "network" in e.get("write", "") for e in entries)
    assert any(e.get("topic") == ">" and "network" in e.get("write", "") for e in entries)
    assert broker.find("amq:persistenceAdapter/amq:kahaDB", NS).get("directory") == "/kahadb"


def test_a_size_limited_store_is_a_tmpfs_volume_held_by_a_keeper(tmp_path: Path) -> None:
    rendered = render_run(Settings(store_size="96m"), "unit", tmp_path, "broker:x", "vip:y")
    compose = yaml.safe_load(rendered.compose_file.read_text())
    assert compose["volumes"]["kahadb-01"]["driver_opts"] == {
        "type": "tmpfs",
        "device": "tmpfs",
        "o": "size=96m",
    }
    keeper = compose["services"]["store"]
    assert keeper["volumes"] == ["kahadb-01:/stores/01", "kahadb-02:/stores/02"]
    assert keeper["network_mode"] == "none" and "ports" not in keeper
    # the keeper mounts the volumes before any broker writes to them
    assert compose["services"]["chaos-mq01-a"]["depends_on"] == {"store": {"condition": "service_started"}}
    plain = yaml.safe_load(render_run(Settings(), "plain", tmp_path / "p", "b", "v").compose_file.read_text())
    assert "store" not in plain["services"] and "driver_opts" not in plain["volumes"]["kahadb-01"]


def test_rendered_run_keeps_secrets_out_and_ports_on_loopback(tmp_path: Path) -> None:
    settings = Settings.from_env()
    rendered = render_run(settings, "unit", tmp_path, "broker:x", "vip:y", tools_image="tools:z")
    secrets = [settings.credentials.network_password, settings.credentials.client_password]
    for path in tmp_path.rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert not any(secret in text for secret in secrets), path
    compose = yaml.safe_load(rendered.compose_file.read_text())
    services = compose["services"]
    assert sorted(services) == sorted([*(n.name for n in Topology().nodes), "vip", "netns"])
    for name, service in services.items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), (name, port)
    # the network faults come from the helper, in the harness's own image: the brokers need no capability
    helper = services.pop("netns")
    assert (helper["image"], helper["pid"], helper["network_mode"]) == ("tools:z", "host", "none")
    assert "ports" not in helper and set(helper["cap_add"]) == {"NET_ADMIN", "SYS_ADMIN", "SYS_PTRACE"}
    assert services["vip"]["image"] == "vip:y"
    assert not any("cap_add" in service for service in services.values())
    assert services["vip"]["ports"] == [f"127.0.0.1:{settings.vip_port}:61613"]
    # each pair shares one KahaDB volume
    assert "kahadb-01:/kahadb" in services["chaos-mq01-a"]["volumes"]
    assert "kahadb-01:/kahadb" in services["chaos-mq01-b"]["volumes"]
    assert "kahadb-02:/kahadb" in services["chaos-mq02-b"]["volumes"]
    # a slave starts with its master; its broker waits for the master's lock file (its config's gate bean)
    assert services["chaos-mq01-b"]["depends_on"] == {"chaos-mq01-a": {"condition": "service_started"}}
    gates = {
        n.name: "start-after-lock" in (rendered.directory / "config" / n.name / "activemq.xml").read_text()
        for n in Topology().nodes
    }
    assert gates == {n.name: not n.is_master for n in Topology().nodes}
    for service in services.values():
        assert service["healthcheck"]["test"]
        assert service["labels"] == {"io.amq-chaos.run": "unit", "io.amq-chaos.owner": "manual"}


def haproxy_sections(cfg: str) -> dict[str, list[str]]:
    """ "backend brokers" -> its lines, stripped, without comments."""
    sections: dict[str, list[str]] = {}
    current: list[str] = []
    for line in cfg.splitlines():
        if line and not line[0].isspace() and not line.startswith("#"):
            current = sections.setdefault(line.strip(), [])
        elif line.strip() and not line.strip().startswith("#"):
            current.append(line.strip())
    return sections


def servers(lines: list[str]) -> list[str]:
    return [" ".join(line.split()[1:2] + line.split()[3:]) for line in lines if line.startswith("server ")]


def test_vip_balances_over_masters_with_a_stomp_check(tmp_path: Path) -> None:
    render_run(Settings.from_env(), "unit", tmp_path, "broker:x", "vip:y")
    cfg = (tmp_path / "config" / "vip" / "haproxy.cfg").read_text()
    assert servers(haproxy_sections(cfg)["backend brokers"]) == ["chaos-mq01-a check", "chaos-mq02-a check"]
    assert "tcp-check expect string CONNECTED" in cfg
    assert "inter 500ms fastinter 100ms fall 2 rise 2" in cfg


def test_hardened_design_renders_its_fixes() -> None:
    from harness.design.catalog import design

    hardened = design("hardened")
    first = broker_element(Node.parse("chaos-mq01-b"))  # seed, for contrast
    assert first.find(".//amq:conditionalNetworkBridgeFilterFactory", NS) is None
    root = ET.fromstring(render_broker(Node.parse("chaos-mq01-b"), hardened))
    broker = root.find("amq:broker", NS)
    replay = broker.find(".//amq:policyEntry[@queue='>']//amq:conditionalNetworkBridgeFilterFactory", NS)
    assert replay.get("replayWhenNoConsumers") == "true"
    policy = broker.find(
        "amq:destinationPolicy/amq:policyMap/amq:policyEntries/amq:policyEntry[@queue='>']", NS
    )
    # a policy entry caps browsing at 400 unless raised: the harness must read every id after the drain
    assert policy.get("maxBrowsePageSize") == "100000"
    # a replay refused within replayDelay is retried at the queue's next expiry scan: every second, not 30 s
    assert policy.get("expireMessagesPeriod") == "1000"
    kahadb = broker.find("amq:persistenceAdapter/amq:kahaDB", NS)
    assert kahadb.get("lockKeepAlivePeriod") == "500"
    assert kahadb.find("amq:locker/amq:shared-file-locker", NS).get("lockAcquireSleepInterval") == "500"
    (connector,) = broker.findall("amq:networkConnectors/amq:networkConnector", NS)
    assert connector.get("duplex") == "true"
    assert connector.get("uri").endswith("&discovered.wireFormat.maxInactivityDuration=5000")
    # a hardened slave serves clients and advertises itself
    transports = broker.findall("amq:transportConnectors/amq:transportConnector", NS)
    assert [t.get("name") for t in transports] == ["openwire", "stomp+nio", "harness-admin"]
    # pair 02 accepts pair 01's single duplex bridge instead of running its own
    second = ET.fromstring(render_broker(Node.parse("chaos-mq02-a"), hardened)).find("amq:broker", NS)
    assert second.findall("amq:networkConnectors", NS) == []


def test_hardened_vip_balances_over_all_four(tmp_path: Path) -> None:
    import dataclasses

    from harness.design.catalog import design

    settings = dataclasses.replace(Settings.from_env(), design=design("hardened"))
    render_run(settings, "unit", tmp_path, "broker:x", "vip:y")
    cfg = (tmp_path / "config" / "vip" / "haproxy.cfg").read_text()
    assert servers(haproxy_sections(cfg)["backend brokers"]) == [f"{n.name} check" for n in Topology().nodes]


@pytest.mark.parametrize(
    ("design_name", "pair_01", "pair_02"),
    [
        ("seed", ["mq01-a", "mq02-a backup"], ["mq02-a", "mq01-a backup"]),
        (
            "hardened",
            ["mq01-a", "mq01-b", "mq02-a backup", "mq02-b backup"],
            ["mq02-a", "mq02-b", "mq01-a backup", "mq01-b backup"],
        ),
    ],
)
def test_the_vip_routes_a_client_that_names_a_pair_to_that_pair_then_to_the_next(
    tmp_path: Path, design_name: str, pair_01: list[str], pair_02: list[str]
) -> None:
    """Placement through the VIP: one backend per pair, chosen by the CONNECT frame's host header; its
    servers follow the round-robin backend's health checks, the first one up wins (no timing), and the next
    pair's nodes stand in only when none of the pair's is up."""
    import dataclasses

    from harness.design.catalog import design

    settings = dataclasses.replace(Settings.from_env(), design=design(design_name))
    render_run(settings, "unit", tmp_path, "broker:x", "vip:y")
    sections = haproxy_sections((tmp_path / "config" / "vip" / "haproxy.cfg").read_text())
    frontend = sections["frontend stomp"]
    for pair in ("chaos-mq01", "chaos-mq02"):
        # the pair's name must end where the header's value ends: chaos-mq01 never matches chaos-mq010
        assert f"use_backend {pair} if {{ req.payload(0,0) -m reg host:{pair}[^0-9] }}" in frontend
    assert frontend[-1] == "default_backend brokers"
    for pair, expected in (("chaos-mq01", pair_01), ("chaos-mq02", pair_02)):
        lines = sections[f"backend {pair}"]
        assert "balance first" in lines and "option allbackups" not in lines
        assert "on-marked-down shutdown-sessions" in " ".join(lines)
        assert servers(lines) == [
            f"chaos-{server.split()[0]} track brokers/chaos-{' '.join(server.split())}" for server in expected
        ]


def test_every_design_lets_a_topics_store_be_browsed_whole() -> None:
    """The durable subscriptions' ids are read by browsing the topic's store over JMX, which stops at 400
    messages unless a policy entry raises it: on every design, the seed's own included (a bridge's durable
    subscription alone held 576 after a failover on seed)."""
    from harness.cluster.introspect import TOPIC_BROWSE_CAP
    from harness.design.catalog import DESIGNS
    from harness.design.versions import version_line

    for name, chosen in DESIGNS.items():
        line = version_line("5.5.1" if chosen.pure_master_slave else "5.17.2")
        root = ET.fromstring(render_broker(Node.parse("chaos-mq01-a"), chosen, line=line))
        entry = root.find(".//amq:policyEntry[@topic='>']", NS)
        assert entry is not None and int(entry.get("maxBrowsePageSize")) == TOPIC_BROWSE_CAP, name


@pytest.mark.parametrize(
    ("design_name", "node", "peers"),
    [
        ("seed", "chaos-mq01-a", ["10.0.2.1"]),  # a seed slave serves nobody: only the other master is named
        ("seed", "chaos-mq02-b", ["10.0.1.1"]),  # the drain connector of pair 02's slave
        ("hardened", "chaos-mq01-a", ["10.0.2.1", "10.0.2.2"]),  # a hardened slave serves once it is live
    ],
)
def test_a_static_bridge_names_the_other_pairs_advertising_nodes_by_address(
    tmp_path: Path, design_name: str, node: str, peers: list[str]
) -> None:
    from harness.cluster.render import render_configs
    from harness.design.catalog import design

    addresses = {
        "chaos-mq01-a": "10.0.1.1",
        "chaos-mq01-b": "10.0.1.2",
        "chaos-mq02-a": "10.0.2.1",
        "chaos-mq02-b": "10.0.2.2",
    }
    settings = Settings(design=design(design_name))
    config = render_configs(settings, tmp_path, static_addresses=addresses)
    broker = ET.parse(config / node / "activemq.xml").getroot().find("amq:broker", NS)
    assert broker is not None
    uri = broker.find("amq:networkConnectors/amq:networkConnector", NS).get("uri")  # type: ignore[union-attr]
    assert uri.startswith("static:(") and "multicast" not in uri
    named = uri[len("static:(") : uri.index(")")].split(",")
    assert [u.split("//")[1].split(":")[0] for u in named] == peers
    assert "maxReconnectDelay=1000" in uri
