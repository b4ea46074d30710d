"""Node names, roles and the bridges the topology promises (docs/designs.md), as plain data."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from harness.errors import HarnessError

if TYPE_CHECKING:
    from harness.design.catalog import Design

# The seed's ERB template derives everything from the host name: <group>-mq<NN>-<a|b>.
NODE_NAME = re.compile(r"^(?P<group>[a-z][a-z0-9]*)-mq(?P<pair>[0-9]+)-(?P<letter>[ab])$")
GROUP_NAME = re.compile(r"^[a-z][a-z0-9]{0,15}$")


@dataclass(frozen=True, order=True)
class Node:
    name: str
    group: str
    pair: str
    letter: str

    @classmethod
    def parse(cls, name: str) -> Node:
        match = NODE_NAME.match(name)
        if match is None:
            raise HarnessError(f"node name {name!r} does not follow <group>-mq<NN>-<a|b>")
        return cls(name=name, **match.groupdict())

    @property
    def is_master(self) -> bool:
        """Configured as master ("a"). Which node of a pair is *live* is a runtime fact, not this."""
        return self.letter == "a"

    @property
    def role(self) -> str:
        return "master" if self.is_master else "slave"

    @property
    def pair_name(self) -> str:
        return f"{self.group}-mq{self.pair}"


@dataclass(frozen=True)
class Topology:
    group: str = "chaos"
    pairs: tuple[str, ...] = ("01", "02")

    def __post_init__(self) -> None:
        if not GROUP_NAME.match(self.group):
            raise HarnessError(
                f"group name {self.group!r} must be lowercase letters and digits, starting with a letter"
            )

    @property
    def nodes(self) -> list[Node]:
        return [Node.parse(f"{self.group}-mq{pair}-{letter}") for pair in self.pairs for letter in "ab"]

    def pair_name(self, pair: str) -> str:
        """`01` -> `chaos-mq01`, what its nodes' names start with."""
        return f"{self.group}-mq{pair}"

    @property
    def masters(self) -> list[Node]:
        return [node for node in self.nodes if node.is_master]

    def node(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise HarnessError(f"unknown node {name!r}; nodes are {', '.join(n.name for n in self.nodes)}")

    def partner(self, node: Node) -> Node:
        return self.node(f"{node.pair_name}-{'b' if node.is_master else 'a'}")

    def promised_bridges(self, live: set[str], design: Design) -> set[tuple[str, str]]:
        """Bridges (connector owner, remote broker) that must be up when exactly `live` nodes serve.

        Every live node with a network connector finds, by multicast discovery, every live node that
        advertises (has the openwire connector with the discoveryUri) in another pair. A node never bridges
        to its own pair: its partner is either dead or waiting on the shared lock.
        """
        first_pair = self.pairs[0]
        live_nodes = [node for node in self.nodes if node.name in live]
        return {
            (local.name, remote.name)
            for local in live_nodes
            if design.has_network_connector(local, first_pair)
            for remote in live_nodes
            if design.advertises(remote) and remote.pair != local.pair
        }

    def promised_directions(self, live: set[str], design: Design) -> list[tuple[str, str]]:
        """(from, to): every direction a message can cross a promised bridge between the `live` nodes. A
        connector forwards from its owner to the remote; a duplex one also back."""
        directions: set[tuple[str, str]] = set()
        for owner, remote in self.promised_bridges(live, design):
            directions.add((owner, remote))
            if design.duplex(self.node(owner)):
                directions.add((remote, owner))
        return sorted(directions)
