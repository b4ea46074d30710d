"""The live broker of each pair, as a probe that talks to one broker and reads another needs them."""

from __future__ import annotations

from harness.cluster.brokers import BrokerCluster
from harness.errors import HarnessError


def live_by_pair(cluster: BrokerCluster) -> dict[str, str]:
    """pair -> its live node, for every pair with exactly one; a one-line error when a pair has none."""
    live: dict[str, list[str]] = {pair: [] for pair in cluster.topology.pairs}
    for status in cluster.pair_status():
        if status.state == "live":
            live[cluster.topology.node(status.node).pair].append(status.node)
    without = sorted(pair for pair, nodes in live.items() if len(nodes) != 1)
    if without:
        raise HarnessError(f"no single live broker in pair {', '.join(without)}: {live}")
    return {pair: nodes[0] for pair, nodes in live.items()}


def first_live(cluster: BrokerCluster) -> str:
    """The live node of the first pair: where a single-broker probe talks, so a seed always picks the same one."""
    live = live_by_pair(cluster)
    return live[sorted(live)[0]]
