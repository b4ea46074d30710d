"""The nemesis: faults on nodes named by their role in the topology, each with its heal.

Targets are resolved at the moment of the fault, because roles move: "live:01" is whichever node of pair 01
holds its store now, "waiting:02" the one blocked on pair 02's lock, "master:random" a live node of a pair
drawn from the run's seed. Every fault and heal is recorded in the history (invoke, then ok or fail), so the
checkers and a reader of the history see exactly what was done, when, to whom.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from harness.cluster import Cluster
from harness.errors import HarnessError
from harness.history import History

# fault -> heal; None when the fault heals itself (a restart)
FAULTS: dict[str, str | None] = {"kill": "start", "stop": "start", "restart": None, "freeze": "thaw"}


@dataclass
class ActiveFault:
    fault: str
    target: str


class Nemesis:
    def __init__(self, cluster: Cluster, history: History, rng: random.Random) -> None:
        self.cluster = cluster
        self.history = history
        self.rng = rng
        self.active: list[ActiveFault] = []

    def resolve(self, target: str) -> str:
        """A node name from a role: live:NN, waiting:NN, live:random, or a node name itself."""
        role, _, pair = target.partition(":")
        if role not in ("live", "waiting"):
            return self.cluster.topology.node(target).name
        pairs = list(self.cluster.topology.pairs)
        if pair == "random":
            pair = self.rng.choice(pairs)
        if pair not in pairs:
            raise HarnessError(f"unknown pair {pair!r} in target {target!r}; pairs are {', '.join(pairs)}")
        members = [n.name for n in self.cluster.topology.nodes if n.pair == pair]
        states = {name: self.cluster.node_state(name) for name in members}
        matching = [name for name, state in states.items() if state == role]
        if len(matching) != 1:
            raise HarnessError(f"no single {role} node in pair {pair}: {states}")
        return matching[0]

    def inject(self, fault: str, target: str) -> str:
        if fault not in FAULTS:
            raise HarnessError(f"unknown fault {fault!r}; faults are {', '.join(FAULTS)}")
        node = self.resolve(target)
        self._apply(fault, node, target)
        if FAULTS[fault] is not None:
            self.active.append(ActiveFault(fault, node))
        return node

    def heal(self, node: str | None = None) -> None:
        """Heal the faults in force (on `node` only, if given), most recent first."""
        for active in reversed(list(self.active)):
            if node is None or active.target == node:
                self._apply(FAULTS[active.fault] or "", active.target, active.target)
                self.active.remove(active)

    def _apply(self, action: str, node: str, named_as: str) -> None:
        phase = "fault" if action in FAULTS else "heal"
        self.history.append("nemesis", "invoke", phase, action=action, target=node, role=named_as)
        container = self.cluster.container(node)
        try:
            match action:
                case "kill":
                    container.kill(signal="SIGKILL")
                case "stop":
                    container.stop(timeout=30)  # SIGTERM: the broker's own graceful shutdown
                case "restart":
                    container.restart(timeout=30)
                case "freeze":
                    container.pause()
                case "start":
                    container.start()
                case "thaw":
                    container.unpause()
                case _:
                    raise HarnessError(f"no action {action!r}")
        except Exception as exc:
            self.history.append("nemesis", "fail", phase, action=action, target=node, error=repr(exc)[:200])
            raise
        self.history.append("nemesis", "ok", phase, action=action, target=node)
