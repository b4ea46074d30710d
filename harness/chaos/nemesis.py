"""The nemesis: faults on nodes named by their role in the topology, each with its heal.

Targets are resolved at the moment of the fault, because roles move: "live:01" is whichever node of pair 01
holds its store now, "waiting:02" the one blocked on pair 02's lock, "master:random" a live node of a pair
drawn from the run's seed. Every fault and heal is recorded in the history (invoke, then ok or fail), so the
checkers and a reader of the history see exactly what was done, when, to whom.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from harness.chaos.partition import Grudge, complete, isolate
from harness.cluster.control import Cluster
from harness.errors import HarnessError
from harness.history import History

# fault -> heal; None when the fault heals itself (a restart)
FAULTS: dict[str, str | None] = {"kill": "start", "stop": "start", "restart": None, "freeze": "thaw"}
PARTITION_HEAL = "unpartition"


class FaultUnsupported(HarnessError):
    """This machine's kernel cannot apply the fault; the history says so."""


@dataclass
class ActiveFault:
    fault: str
    target: str
    grudge: Grudge | None = None


class Nemesis:
    def __init__(self, cluster: Cluster, history: History, rng: random.Random) -> None:
        self.cluster = cluster
        self.history = history
        self.rng = rng
        self.active: list[ActiveFault] = []

    def save_active(self, path: Path) -> None:
        """Persist the faults in force, so that another process (`python -m harness fault heal`) can heal them."""
        records = [
            {
                "fault": a.fault,
                "target": a.target,
                "grudge": None if a.grudge is None else {n: sorted(d) for n, d in a.grudge.items()},
            }
            for a in self.active
        ]
        path.write_text(json.dumps(records, indent=2) + "\n")

    def load_active(self, path: Path) -> None:
        if not path.exists():
            return
        try:
            records = json.loads(path.read_text())
            self.active = [
                ActiveFault(
                    r["fault"],
                    r["target"],
                    None if r["grudge"] is None else {n: frozenset(d) for n, d in r["grudge"].items()},
                )
                for r in records
            ]
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise HarnessError(f"{path} is malformed: {exc!r}") from None

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

    def apply_named(self, fault: str, args: list[str]) -> str:
        """Any fault by its name, as schedules and the command line spell it; returns what it hit.

        kill|stop|restart|freeze|slow TARGET, isolate TARGET [peers|clients|both], partition-pairs,
        lossy [FRACTION].
        """
        if fault in FAULTS and len(args) == 1:
            return self.inject(fault, args[0])
        if fault == "slow" and len(args) == 1:
            return self.slow(args[0])
        if fault == "isolate" and len(args) in (1, 2):
            return self.isolate(args[0], args[1] if len(args) == 2 else "both")
        if fault == "partition-pairs" and not args:
            self.partition_pairs()
            return "the pairs"
        if fault == "lossy" and len(args) <= 1:
            try:
                loss = float(args[0]) if args else 0.3
            except ValueError:
                raise HarnessError(
                    f"lossy {args[0]!r}: give the fraction of packets to drop, e.g. 0.3"
                ) from None
            self.lossy_bridge(loss)
            return "the bridges between the pairs"
        raise HarnessError(f"unknown fault {fault!r} with arguments {args!r}")

    def heal(self, node: str | None = None) -> None:
        """Heal the faults in force (on `node` only, if given), most recent first."""
        for active in reversed(list(self.active)):
            if node is None or active.target == node:
                self.heal_one(active)

    def heal_one(self, active: ActiveFault) -> None:
        if active.grudge is not None:
            self._unpartition(active)
        elif active.fault == "slow":
            self.history.append("nemesis", "invoke", "heal", action="unslow", target=active.target)
            self.cluster.exec(active.target, "tc", "qdisc", "del", "dev", "eth0", "root")
            self.history.append("nemesis", "ok", "heal", action="unslow", target=active.target)
        else:
            self._apply(FAULTS[active.fault] or "", active.target, active.target)
        self.active.remove(active)

    # ---------------------------------------------------------------------------------------- partitions
    @property
    def rule_tag(self) -> str:
        # every rule carries the run's id; the rules live in the containers' own network namespaces, so
        # removing the containers (teardown, or the label sweep after an interrupted run) removes them too
        return f"amqchaos-{self.cluster.run_id}"

    def partition(
        self, grudge: Grudge, name: str, *, never_heal: bool = False, loss: float | None = None
    ) -> None:
        """Apply `grudge`: each node drops (no RST) every packet from the nodes it holds a grudge against.

        `loss` drops only that fraction of the packets (a lossy link) instead of all of them. `never_heal`
        leaves it in force through the run's heal phase (negative controls); teardown still removes it with
        the containers.
        """
        if loss is not None and not 0 < loss < 1:
            raise HarnessError(f"loss {loss!r} must be a fraction between 0 and 1")
        action = "partition" if loss is None else "lossy"
        description = {node: sorted(dropped) for node, dropped in sorted(grudge.items()) if dropped}
        self.history.append(
            "nemesis",
            "invoke",
            "fault",
            action=action,
            target=name,
            grudge=description,
            never_heal=never_heal,
            loss=loss,
        )
        match = [] if loss is None else ["-m", "statistic", "--mode", "random", "--probability", str(loss)]
        try:
            for node, dropped in grudge.items():
                for peer in sorted(dropped):
                    self._iptables(node, self.cluster.address(peer), match)
        except Exception as exc:
            self.history.append("nemesis", "fail", "fault", action=action, target=name, error=repr(exc)[:200])
            raise
        self.history.append("nemesis", "ok", "fault", action=action, target=name)
        if not never_heal:
            self.active.append(ActiveFault(action, name, grudge))

    def lossy_bridge(self, loss: float = 0.3) -> None:
        """Drop a fraction of the packets between the live nodes of different pairs (where the bridges run)."""
        live = [n for n in self.cluster.topology.nodes if self.cluster.node_state(n.name) == "live"]
        grudge = {n.name: frozenset(m.name for m in live if m.pair != n.pair) for n in live}
        self.partition(grudge, "the bridges between the pairs", loss=loss)

    def slow(self, target: str, rate: str = "256kbit") -> str:
        """Limit a node's outgoing bandwidth (tc tbf). Delay and jitter need sch_netem, absent on this kernel."""
        node = self.resolve(target)
        self.history.append("nemesis", "invoke", "fault", action="slow", target=node, rate=rate)
        code, out = self.cluster.exec(
            node,
            "tc",
            "qdisc",
            "add",
            "dev",
            "eth0",
            "root",
            "tbf",
            "rate",
            rate,
            "burst",
            "32kbit",
            "latency",
            "400ms",
        )
        if code != 0:
            self.history.append(
                "nemesis", "info", "fault", action="slow", target=node, unsupported=out.strip()[:200]
            )
            raise FaultUnsupported(f"slow link on {node} not applied: {out.strip()[:200]}")
        self.history.append("nemesis", "ok", "fault", action="slow", target=node)
        self.active.append(ActiveFault("slow", node))
        return node

    def partition_pairs(self) -> None:
        """Each pair drops the other pair's packets; the VIP still reaches everyone (the client path is up)."""
        pairs = [
            [n.name for n in self.cluster.topology.nodes if n.pair == p] for p in self.cluster.topology.pairs
        ]
        self.partition(complete(pairs), "between the pairs")

    def isolate(self, target: str, from_: str = "both", *, never_heal: bool = False) -> str:
        """Cut one node off from its peers (the other brokers), its clients (the VIP), or both."""
        if from_ not in ("peers", "clients", "both"):
            raise HarnessError(f"isolate from {from_!r}: choose peers, clients or both")
        node = self.resolve(target)
        others = [] if from_ == "clients" else [n.name for n in self.cluster.topology.nodes]
        if from_ != "peers":
            others.append("vip")
        self.partition(isolate(node, others), f"{node} from {from_}", never_heal=never_heal)
        return node

    def _unpartition(self, active: ActiveFault) -> None:
        self.history.append("nemesis", "invoke", "heal", action=PARTITION_HEAL, target=active.target)
        errors = []
        for node in active.grudge or {}:
            try:
                self._flush(node)
            except Exception as exc:  # a node that died meanwhile took its rules with it
                errors.append(f"{node}: {exc!r}"[:200])
        self.history.append(
            "nemesis", "ok", "heal", action=PARTITION_HEAL, target=active.target, errors=errors
        )

    def _iptables(self, node: str, source: str, match: list[str]) -> None:
        code, out = self.cluster.exec(
            node,
            "iptables",
            "-A",
            "INPUT",
            "-s",
            source,
            *match,
            "-j",
            "DROP",
            "-m",
            "comment",
            "--comment",
            self.rule_tag,
        )
        if code != 0:
            raise HarnessError(f"iptables on {node} failed: {out.strip()[:200]}")

    def _flush(self, node: str) -> None:
        code, out = self.cluster.exec(node, "iptables", "-S", "INPUT")
        if code != 0:
            raise HarnessError(f"iptables -S on {node} failed: {out.strip()[:200]}")
        for line in out.splitlines():
            if self.rule_tag in line and line.startswith("-A "):
                args = line.split()
                args[0] = "-D"
                self.cluster.exec(node, "iptables", *args)

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
