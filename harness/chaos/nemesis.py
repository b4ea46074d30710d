"""The nemesis: applies and heals faults on nodes named by their role in the topology.

Targets are resolved at the moment of the fault, because roles move: "live:01" is whichever node of pair 01
holds its store now, "waiting:02" the one blocked on pair 02's lock, "live:random" the live node of a pair
drawn from the run's seed. What each fault kind is, and how its words are read, is its unit in
`harness.chaos.faults`; how it is realised is a family of mechanism in `harness.chaos.mechanisms` (process,
network, store), which this class composes, with what is in force and how roles resolve. Every fault and heal
is recorded in the history (invoke, then ok or fail), so the checkers and a reader of the history see exactly
what was done, when, to whom.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.chaos.faults import FAULT_KINDS, Injected, fault_kind, refused
from harness.chaos.mechanisms import FaultRefused
from harness.chaos.mechanisms.network import NetworkFaults
from harness.chaos.mechanisms.process import ProcessFaults
from harness.chaos.mechanisms.store import StoreFaults
from harness.chaos.partition import Grudge
from harness.cluster.backend import STANDBY_STATES, NodeControl
from harness.errors import HarnessError
from harness.history import History


class Nemesis:
    def __init__(self, cluster: NodeControl, history: History, rng: random.Random) -> None:
        self.cluster = cluster
        self.history = history
        self.rng = rng
        self.active: list[Injected] = []
        # the kinds the scenario declared (its chaos_faults marker), checked before its cluster came up; a
        # kind injected beyond them is the declaration gone stale, refused. None: anything the backend can do
        self.declared: frozenset[str] | None = None
        self.network = NetworkFaults(cluster, history, self.active)
        self.process = ProcessFaults(cluster, history, started=self.network.reapply_partitions)
        self.store = StoreFaults(cluster, history, resolve=self.resolve)

    # ------------------------------------------------------------------------------------- the entry point
    def inject(self, kind: str, *args: str) -> str:
        """Apply a fault by its kind's name and command-line words (`inject("isolate", "live:random",
        "peers")`); returns what it hit: a node, or the partition's name."""
        self.refuse_unless_able(kind)
        injected = fault_kind(kind).apply(self, list(args))
        return self._in_force(injected, kind)

    def refuse_unless_able(self, kind: str) -> None:
        """One line, before anything is touched, when the backend cannot realise `kind` or the scenario did
        not declare it."""
        line = refused([kind], self.cluster.capabilities, self.cluster.backend)
        if line:
            raise FaultRefused(line)
        if self.declared is not None and kind not in self.declared:
            raise HarnessError(
                f"this scenario injects {kind}, which its chaos_faults marker does not declare "
                f"({', '.join(sorted(self.declared)) or 'none'}): add it there"
            )

    def redo(self, recorded: Mapping[str, Any]) -> str:
        """Apply a fault again exactly as a history's invoke event recorded it (replay)."""
        kind = FAULT_KINDS.get(str(recorded.get("action")))
        if kind is None:
            raise HarnessError(f"cannot replay fault {recorded.get('action')!r}: no such fault kind")
        self.refuse_unless_able(kind.name)
        return self._in_force(kind.redo(self, recorded), kind.name)

    def _in_force(self, injected: Injected, kind: str) -> str:
        if not fault_kind(kind).ends_by_itself and not injected.detail.get("never_heal"):
            self.active.append(injected)
        return injected.target

    def inject_grudge(
        self, grudge: Grudge, name: str, *, never_heal: bool = False, loss: float | None = None
    ) -> str:
        """A partition of any shape (the `partition` kind), for tests and controls whose grudge no other
        kind draws; recorded with its grudge, so replay redoes it."""
        injected = self.network.partition(grudge, name, never_heal=never_heal, loss=loss)
        return self._in_force(injected, "partition")

    def heal(self) -> None:
        """Heal every fault in force, most recent first."""
        for injected in reversed(list(self.active)):
            self.heal_one(injected)

    def heal_one(self, injected: Injected) -> None:
        fault_kind(injected.kind).undo(self, injected)
        self.active.remove(injected)

    # ------------------------------------------------------------------------- faults in force, on disk
    def save_active(self, path: Path) -> None:
        """Persist the faults in force, so that another process (`amq-chaos fault heal`) can heal them."""
        records = [{"kind": a.kind, "target": a.target, "detail": a.detail} for a in self.active]
        path.write_text(json.dumps(records, indent=2) + "\n")

    def load_active(self, path: Path) -> None:
        if not path.exists():
            return
        try:
            records = json.loads(path.read_text())
            self.active[:] = [Injected(r["kind"], r["target"], dict(r["detail"])) for r in records]
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError) as exc:
            raise HarnessError(f"{path} is malformed: {exc!r}") from None

    # --------------------------------------------------------------------------------- what faults share
    def resolve(self, target: str) -> str:
        """A node name from a role: live:NN, waiting:NN, live:random, waiting:random, or a node name itself.
        `waiting` is the pair's standby, whether it waits on the lock or replicates (pure master/slave)."""
        role, _, pair = target.partition(":")
        if role not in ("live", "waiting", "replicating"):
            return self.cluster.topology.node(target).name
        pairs = list(self.cluster.topology.pairs)
        if pair == "random":
            pair = self.rng.choice(pairs)
        if pair not in pairs:
            raise HarnessError(f"unknown pair {pair!r} in target {target!r}; pairs are {', '.join(pairs)}")
        members = [n.name for n in self.cluster.topology.nodes if n.pair == pair]
        states = {name: self.cluster.node_state(name) for name in members}
        wanted = {"live"} if role == "live" else set(STANDBY_STATES)
        matching = [name for name, state in states.items() if state in wanted]
        if len(matching) != 1:
            raise HarnessError(f"no single {role} node in pair {pair}: {states}")
        return matching[0]

    def resolve_pair(self, target: str) -> str:
        """A pair's name from a pair (01, random), or from a node or role in it (live:02, chaos-mq01-b)."""
        pairs = list(self.cluster.topology.pairs)
        if target in pairs:
            return target
        if target == "random":
            return self.rng.choice(pairs)
        return self.cluster.topology.node(self.resolve(target)).pair

    def node_names(self) -> list[str]:
        return [n.name for n in self.cluster.topology.nodes]

    def pairs(self) -> list[list[str]]:
        topology = self.cluster.topology
        return [[n.name for n in topology.nodes if n.pair == p] for p in topology.pairs]

    def live_nodes(self) -> dict[str, str]:
        """Live node -> its pair, as the nodes report it now."""
        nodes = self.cluster.topology.nodes
        return {n.name: n.pair for n in nodes if self.cluster.node_state(n.name) == "live"}
