"""What each ActiveMQ version line gets: the lines, the STOMP spoken to them, each design's configuration as
rendered for them, and the seed's own pure master/slave pairs (before 5.8 only)."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from harness.cluster.render import render_broker, render_run
from harness.design.catalog import design
from harness.design.topology import Node
from harness.design.versions import designs_for, version_line
from harness.errors import HarnessError
from harness.settings import ROOT, Settings

NS = {"amq": "http://activemq.apache.org/schema/core"}
CREDS = {
    "AMQ_NETWORK_USER": "n",
    "AMQ_NETWORK_PASSWORD": "np",
    "AMQ_CLIENT_USER": "c",
    "AMQ_CLIENT_PASSWORD": "cp",
}


def broker(name: str, design_name: str, version: str) -> ET.Element:
    root = ET.fromstring(render_broker(Node.parse(name), design(design_name), "01", version_line(version)))
    found = root.find("amq:broker", NS)
    assert found is not None
    return found


@pytest.mark.parametrize(
    ("version", "line", "stomp"),
    [
        ("5.5.1", "5.5", "1.0"),
        ("5.6.0", "5.6", "1.0"),
        ("5.7.0", "5.7", "1.0"),
        ("5.8.0", "5.8", "1.2"),
        ("5.9.1", "5.9-5.10", "1.2"),
        ("5.10.2", "5.9-5.10", "1.2"),
        ("5.11.0", "5.11+", "1.2"),
        ("5.16.1", "5.11+", "1.2"),
        ("5.17.6", "5.11+", "1.2"),
        ("6.1.4", "5.11+", "1.2"),
    ],
)
def test_each_version_has_its_line_and_stomp(version: str, line: str, stomp: str) -> None:
    assert version_line(version).name == line
    assert Settings(version=version).stomp_protocol == stomp


@pytest.mark.parametrize("version", ["5.4.3", "4.1.2", "7.0.0", "latest"])
def test_a_version_without_a_configuration_is_one_line(version: str) -> None:
    with pytest.raises(HarnessError) as info:
        version_line(version)
    assert "\n" not in str(info.value) and version in str(info.value)


def test_hardened_on_5_5_renders_only_what_5_5_has() -> None:
    node = broker("chaos-mq01-a", "hardened", "5.5.1")
    kahadb = node.find("amq:persistenceAdapter/amq:kahaDB", NS)
    # the lock retry as 5.5's KahaDB knows it; no keep-alive, no pluggable locker
    assert kahadb.get("databaseLockedWaitDelay") == "500"
    assert kahadb.get("lockKeepAlivePeriod") is None and kahadb.find("amq:locker", NS) is None
    assert kahadb.get("concurrentStoreAndDispatchQueues") == "false"  # since 5.3
    assert node.find(".//amq:conditionalNetworkBridgeFilterFactory", NS) is None  # 5.6
    assert node.find("amq:ioExceptionHandler", NS) is None
    (connector,) = node.findall("amq:networkConnectors/amq:networkConnector", NS)
    # 5.5 passes the options its discovery agent leaves over to each bridge as they are
    assert connector.get("uri").endswith("group=chaos&wireFormat.maxInactivityDuration=5000")
    assert [str(d) for d in Settings(version="5.5.1", design=design("hardened")).dropped] == [
        "kahaDB lockKeepAlivePeriod (ActiveMQ 5.9+)",
        "conditionalNetworkBridgeFilterFactory replayWhenNoConsumers (ActiveMQ 5.6+)",
        "defaultIOExceptionHandler stopStartConnectors (ActiveMQ 5.6+)",
    ]


def test_hardened_on_5_7_gets_the_pluggable_locker_but_no_keep_alive() -> None:
    kahadb = broker("chaos-mq01-b", "hardened", "5.7.0").find("amq:persistenceAdapter/amq:kahaDB", NS)
    assert kahadb.find("amq:locker/amq:shared-file-locker", NS).get("lockAcquireSleepInterval") == "500"
    assert kahadb.get("lockKeepAlivePeriod") is None and kahadb.get("databaseLockedWaitDelay") is None
    assert [str(d) for d in Settings(version="5.7.0", design=design("hardened")).dropped] == [
        "kahaDB lockKeepAlivePeriod (ActiveMQ 5.9+)"
    ]


@pytest.mark.parametrize("version", ["5.9.0", "5.16.1", "5.17.2", "5.17.6"])
def test_hardened_from_5_9_on_is_rendered_whole(version: str) -> None:
    node = broker("chaos-mq01-b", "hardened", version)
    kahadb = node.find("amq:persistenceAdapter/amq:kahaDB", NS)
    assert kahadb.get("lockKeepAlivePeriod") == "500" and kahadb.find("amq:locker", NS) is not None
    assert node.find(".//amq:conditionalNetworkBridgeFilterFactory", NS) is not None
    assert node.find("amq:ioExceptionHandler/amq:defaultIOExceptionHandler", NS) is not None
    (connector,) = node.findall("amq:networkConnectors/amq:networkConnector", NS)
    assert connector.get("uri").endswith("&discovered.wireFormat.maxInactivityDuration=5000")
    assert Settings(version=version, design=design("hardened")).dropped == []


def test_seed_is_the_same_on_every_line() -> None:
    """The seed design sets nothing a line could lack: its rendering differs by nothing across lines."""
    for name in ("chaos-mq01-a", "chaos-mq01-b"):
        rendered = {
            render_broker(Node.parse(name), design("seed"), "01", version_line(v))
            for v in ("5.5.1", "5.17.2")
        }
        assert len(rendered) == 1
    assert Settings(version="5.5.1").dropped == []


def test_pure_master_slave_renders_the_seed_posts_pairs() -> None:
    master = broker("chaos-mq01-a", "pure-master-slave", "5.5.1")
    assert (master.get("waitForSlave"), master.get("shutdownOnSlaveFailure")) == ("true", "false")
    transports = [(t.get("name"), t.get("uri")) for t in master.findall("amq:transportConnectors/*", NS)]
    assert ("replication", "nio://0.0.0.0:61618") in transports and transports[0][0] == "openwire"
    (bridge,) = master.findall("amq:networkConnectors/amq:networkConnector", NS)
    assert bridge.get("duplex") == "true"
    slave = broker("chaos-mq01-b", "pure-master-slave", "5.5.1")
    connector = slave.find("amq:services/amq:masterConnector", NS)
    assert connector.get("remoteURI") == "nio://chaos-mq01-a:61618"
    assert connector.get("userName") == "${AMQ_NETWORK_USER}"
    assert slave.get("waitForSlave") is None
    # no transports on a slave but the harness's own on its loopback; its drain bridge is not duplex
    assert [t.get("name") for t in slave.findall("amq:transportConnectors/*", NS)] == ["harness-admin"]
    (drain,) = slave.findall("amq:networkConnectors/amq:networkConnector", NS)
    assert drain.get("duplex") == "false"
    # its store is its own: it waits for its master's replication port instead of a shared lock file, as the
    # entrypoint reads it from the rendered file
    raw = render_broker(Node.parse("chaos-mq01-b"), design("pure-master-slave"), "01", version_line("5.5.1"))
    entrypoint = (ROOT / "images" / "bin" / "amq-entrypoint").read_text()
    (reader,) = [line for line in entrypoint.splitlines() if "after=$(sed" in line]
    command = reader.strip().removeprefix("after=$(").removesuffix(")").replace("/etc/amq/activemq.xml", "-")
    done = subprocess.run(["bash", "-c", command], input=raw, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "chaos-mq01-a:61618"
    shared = render_broker(Node.parse("chaos-mq01-b"), design("seed"), "01", version_line("5.5.1"))
    assert "/run/amq/start-after-lock" in shared and "amq-start-after:" not in shared


def test_pure_master_slave_compose_gives_each_node_its_store_and_starts_the_slave_with_its_master(
    tmp_path: Path,
) -> None:
    settings = Settings(version="5.5.1", design=design("pure-master-slave"))
    compose = yaml.safe_load(render_run(settings, "unit", tmp_path, "b", "v").compose_file.read_text())
    services = compose["services"]
    stores = {name: services[name]["volumes"][1] for name in ("chaos-mq01-a", "chaos-mq01-b")}
    assert stores == {n: f"kahadb-{n}:/kahadb" for n in stores}
    assert set(compose["volumes"]) == {f"kahadb-chaos-mq0{p}-{x}" for p in "12" for x in "ab"}
    assert services["chaos-mq01-b"]["depends_on"] == {"chaos-mq01-a": {"condition": "service_started"}}
    assert "AMQ_STOMP=1.0" in services["chaos-mq01-a"]["environment"]
    shared = yaml.safe_load(render_run(Settings(), "unit", tmp_path / "s", "b", "v").compose_file.read_text())
    assert shared["services"]["chaos-mq01-b"]["volumes"][1] == "kahadb-01:/kahadb"
    assert "AMQ_STOMP=1.2" in shared["services"]["chaos-mq01-a"]["environment"]


def test_pure_master_slave_is_refused_from_5_8_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(HarnessError) as info:
        Settings.from_env({**CREDS, "AMQ_CHAOS_DESIGN": "pure-master-slave"}, dotenv=tmp_path / "none")
    assert str(info.value).startswith("design pure-master-slave needs ActiveMQ before 5.8")
    assert "\n" not in str(info.value)
    with pytest.raises(HarnessError, match=r"needs ActiveMQ before 5\.8"):
        Settings(version="5.8.0", design=design("pure-master-slave"))


def test_each_design_means_those_the_line_can_run() -> None:
    assert designs_for(version_line("5.5.1")) == ["seed", "hardened", "pure-master-slave"]
    assert designs_for(version_line("5.17.2")) == ["seed", "hardened"]
