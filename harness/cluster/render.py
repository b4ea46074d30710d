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
from harness.settings import CREDENTIAL_VARS, ROOT, Settings

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


def render_broker(node: Node, design: Design = DESIGNS["seed"], first_pair: str = "01") -> str:
    inactivity = design.bridge_inactivity_ms
    return _env.get_template("activemq.xml.j2").render(
        node=node,
        design=design,
        discovery_uri=discovery_uri(node.group),
        network_connector=design.has_network_connector(node, first_pair),
        # options for the transports a discovery agent creates carry the "discovered." prefix
        discovered_options=f"&amp;discovered.wireFormat.maxInactivityDuration={inactivity}"
        if inactivity
        else "",
        transport_options=f"?wireFormat.maxInactivityDuration={inactivity}" if inactivity else "",
    )


@dataclass(frozen=True)
class VipPair:
    """One pair as the VIP routes placed clients: its nodes, then the other pairs' nodes as backups."""

    name: str
    nodes: list[Node]
    others: list[Node]


def render_haproxy(backends: list[Node]) -> str:
    names = list(dict.fromkeys(node.pair_name for node in backends))
    pairs = []
    for index, name in enumerate(names):
        # backups in pair order after this pair's, wrapping: each pair falls back to its next neighbour
        order = names[index + 1 :] + names[:index]
        others = [node for other in order for node in backends if node.pair_name == other]
        pairs.append(VipPair(name, [node for node in backends if node.pair_name == name], others))
    return _env.get_template("haproxy.cfg.j2").render(backends=backends, pairs=pairs)


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
) -> RenderedRun:
    topology = settings.topology
    config = directory / "config"
    if config.exists():
        shutil.rmtree(config)
    for node in topology.nodes:
        node_dir = config / node.name
        node_dir.mkdir(parents=True)
        (node_dir / "activemq.xml").write_text(render_broker(node, settings.design, topology.pairs[0]))
        shutil.copy(TEMPLATES / "log4j.properties", node_dir / "log4j.properties")
    backends = topology.nodes if settings.design.vip_over_all_nodes else topology.masters
    (config / "vip").mkdir()
    (config / "vip" / "haproxy.cfg").write_text(render_haproxy(backends))
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
            vip_port=settings.vip_port,
            heap=settings.heap,
            store_size=settings.store_size,
            credential_vars=CREDENTIAL_VARS,
        )
    )
    return RenderedRun(directory=directory, compose_file=compose_file)
