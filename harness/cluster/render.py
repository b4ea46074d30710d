"""Renders one run's configuration (compose file, broker XML per node, HAProxy) from compose/templates/.

The rendered folder is the run's artifact and the input of `docker compose`: what ran is what was kept.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import jinja2

from harness.design.catalog import DESIGNS, Design
from harness.design.topology import Node
from harness.design.versions import VersionLine, fit, version_line
from harness.settings import CREDENTIAL_VARS, DEFAULT_VERSION, ROOT, Settings

TEMPLATES = ROOT / "compose" / "templates"
_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def discovery_uri(group: str) -> str:
    return f"multicast://224.1.2.3:6255?group={group}"


def render_broker(
    node: Node,
    design: Design = DESIGNS["seed"],
    first_pair: str = "01",
    line: VersionLine | None = None,
    static_peers: list[str] | None = None,
) -> str:
    """One node's activemq.xml: `design` as its version `line` can have it (the rest left out, see fit).

    `static_peers`: the addresses of the other pairs' nodes that advertise, for a bridge that names them
    (`static:(...)`) where multicast discovery does not cross the network between the hosts; None: multicast."""
    line = line or version_line(DEFAULT_VERSION)
    design, _ = fit(design, line)
    inactivity = design.bridge_inactivity_ms
    # options for the transports a discovery agent creates carry the "discovered." prefix; 5.5 passes what
    # the agent leaves over on as it is
    prefix = "discovered." if line.discovered_prefix else ""
    if static_peers is not None:
        # each peer's own transport options, and a static reconnect that keeps trying a waiting slave (no port
        # open until it takes over) once a second, as multicast discovery would find it again
        options = f"?wireFormat.maxInactivityDuration={inactivity}" if inactivity else ""
        peers = ",".join(f"tcp://{peer}:61616{options}" for peer in static_peers)
        bridge_uri = f"static:({peers})?maxReconnectDelay=1000&amp;useExponentialBackOff=false"
        bridge_options = ""
    else:
        bridge_uri = discovery_uri(node.group)
        bridge_options = f"&amp;{prefix}wireFormat.maxInactivityDuration={inactivity}" if inactivity else ""
    return _env.get_template("activemq.xml.j2").render(
        node=node,
        design=design,
        line=line,
        master=f"{node.pair_name}-a",
        discovery_uri=discovery_uri(node.group),
        bridge_uri=bridge_uri,
        bridge_discovery="static" if static_peers is not None else "multicast",
        network_connector=design.has_network_connector(node, first_pair),
        discovered_options=bridge_options,
        transport_options=f"?wireFormat.maxInactivityDuration={inactivity}" if inactivity else "",
        kahadb_attributes=_kahadb_attributes(design, line),
    )


def _kahadb_attributes(design: Design, line: VersionLine) -> str:
    attributes = []
    if design.lock_keepalive_ms:
        attributes.append(f'lockKeepAlivePeriod="{design.lock_keepalive_ms}"')
    if design.store_before_dispatch:
        attributes.append('concurrentStoreAndDispatchQueues="false"')
    if design.lock_acquire_sleep_ms and not line.pluggable_locker:
        # before pluggable lockers (5.7) KahaDB itself retries the lock, every databaseLockedWaitDelay
        attributes.append(f'databaseLockedWaitDelay="{design.lock_acquire_sleep_ms}"')
    return "".join(f" {a}" for a in attributes)


@dataclass(frozen=True)
class VipPair:
    """One pair as the VIP routes placed clients: its nodes, then the other pairs' nodes as backups."""

    name: str
    nodes: list[Node]
    others: list[Node]


def render_haproxy(
    backends: list[Node], addresses: dict[str, str] | None = None, resolv_conf: bool = False
) -> str:
    """The VIP's haproxy.cfg. `addresses` (node -> the name HAProxy resolves; the node's own by default);
    `resolv_conf`: resolve with the host's resolv.conf instead of Docker's embedded DNS (Kubernetes)."""
    names = list(dict.fromkeys(node.pair_name for node in backends))
    pairs = []
    for index, name in enumerate(names):
        # backups in pair order after this pair's, wrapping: each pair falls back to its next neighbour
        order = names[index + 1 :] + names[:index]
        others = [node for other in order for node in backends if node.pair_name == other]
        pairs.append(VipPair(name, [node for node in backends if node.pair_name == name], others))
    address = {node.name: (addresses or {}).get(node.name, node.name) for node in backends}
    return _env.get_template("haproxy.cfg.j2").render(
        backends=backends, pairs=pairs, address=address, resolv_conf=resolv_conf
    )


def render_configs(
    settings: Settings, directory: Path, static_addresses: dict[str, str] | None = None
) -> Path:
    """Each node's configuration folder, `<directory>/config/<node>/` (what its /etc/amq holds), afresh.
    `static_addresses` (node -> address): bridges that name their peers instead of discovering them."""
    topology = settings.topology
    config = directory / "config"
    if config.exists():
        shutil.rmtree(config)
    for node in topology.nodes:
        node_dir = config / node.name
        node_dir.mkdir(parents=True)
        peers = (
            [
                static_addresses[n.name]
                for n in topology.nodes
                if n.pair != node.pair and settings.design.advertises(n)
            ]
            if static_addresses is not None
            else None
        )
        (node_dir / "activemq.xml").write_text(
            render_broker(node, settings.design, topology.pairs[0], settings.line, static_peers=peers)
        )
        # log4j 1.2 reads the first (Debian's package), log4j 2 the second (Apache's tarballs from 5.17.0)
        for logging_config in ("log4j.properties", "log4j2.properties"):
            shutil.copy(TEMPLATES / logging_config, node_dir / logging_config)
    return config


@dataclass(frozen=True)
class RenderedRun:
    directory: Path
    compose_file: Path


def render_run(
    settings: Settings,
    run_id: str,
    directory: Path,
    broker_image: str,
    vip_image: str,
    owner: str = "manual",
    tools_image: str | None = None,
) -> RenderedRun:
    topology = settings.topology
    config = render_configs(settings, directory)
    backends = topology.nodes if settings.design.vip_over_all_nodes else topology.masters
    (config / "vip").mkdir()
    (config / "vip" / "haproxy.cfg").write_text(render_haproxy(backends))
    # a pair shares one store volume; pure master/slave nodes each have their own (the slave's is its copy)
    store_of = {
        node.name: f"kahadb-{node.name if settings.design.pure_master_slave else node.pair}"
        for node in topology.nodes
    }
    compose_file = directory / "docker-compose.yml"
    compose_file.write_text(
        _env.get_template("docker-compose.yml.j2").render(
            run_id=run_id,
            owner=owner,
            nodes=topology.nodes,
            backends=backends,
            pairs=topology.pairs,
            broker_image=broker_image,
            vip_image=vip_image,
            # the helpers' image (the store holder, the netns helper): the harness's own, with its tools
            tools_image=tools_image or vip_image,
            vip_port=settings.vip_port,
            heap=settings.heap,
            store_size=settings.store_size,
            credential_vars=CREDENTIAL_VARS,
            stomp_protocol=settings.stomp_protocol,
            pure_master_slave=settings.design.pure_master_slave,
            store_of=store_of,
            stores=list(dict.fromkeys(store_of.values())),
        )
    )
    return RenderedRun(directory=directory, compose_file=compose_file)
