"""Partitions as data: a grudge maps each node to the nodes whose packets it drops (Jepsen's term).

Computed here, applied by the nemesis (iptables in each node's network namespace). Dropping, not rejecting:
a dropped peer sends no RST, so a TCP connection stays "established" and carries nothing, which is how a
bridge "reconnects but passes no messages".
"""

from __future__ import annotations

from collections.abc import Iterable

Grudge = dict[str, frozenset[str]]


def complete(components: Iterable[Iterable[str]]) -> Grudge:
    """Every node drops every node outside its own component."""
    parts = [frozenset(c) for c in components]
    everyone = frozenset().union(*parts)
    return {node: everyone - part for part in parts for node in part}


def isolate(node: str, others: Iterable[str]) -> Grudge:
    """`node` and `others` drop each other's packets; the others still talk among themselves."""
    others = frozenset(others) - {node}
    grudge: Grudge = {node: others}
    for other in others:
        grudge[other] = frozenset({node})
    return grudge


def merge(*grudges: Grudge) -> Grudge:
    merged: dict[str, frozenset[str]] = {}
    for grudge in grudges:
        for node, dropped in grudge.items():
            merged[node] = merged.get(node, frozenset()) | dropped
    return merged
