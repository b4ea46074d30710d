"""Fault kinds as units. Each kind says, in one place, how its arguments are read, how it is applied and
healed, whether it ends by itself, which targets a random schedule may draw for it, and its help line.

The nemesis applies every fault through `Nemesis.inject(kind, *args)`; schedules, the command line, replay,
the checkers and the report all read this registry. Adding a fault kind is one class here plus one line in
`FAULT_KINDS`; how it is realised is a call to a family of mechanism (harness.chaos.mechanisms: process,
network, store), reached through `FaultContext`, the interface this module declares and the nemesis fills.

Every fault is recorded in the history as an invoke and an ok (or fail / info) `fault` event whose `action`
is the kind's name; its heal as `heal` events whose `action` is the kind's heal and whose `heals` names the
kind. A fault's recorded invoke holds everything needed to redo it on the same nodes (`redo`), which is how
replay works.

This module imports nothing that reaches the cluster or Docker, nor the nemesis or its mechanisms (not even
for type hints): checking and reporting read it too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from harness.chaos.partition import Grudge, complete, isolate
from harness.errors import HarnessError

TARGET_HELP = "TARGET: a node name, live:NN, waiting:NN, live:random, waiting:random"


@dataclass
class Injected:
    """A fault in force, as the nemesis must remember it to heal it (and `fault heal` across processes)."""

    kind: str
    target: str  # the node, or the name of a partition ("between the pairs")
    detail: dict[str, Any] = field(default_factory=dict)  # what the heal needs: a grudge, ...

    def grudge(self) -> Grudge:
        return {node: frozenset(dropped) for node, dropped in self.detail.get("grudge", {}).items()}


class NetworkMechanism(Protocol):
    """What the kinds ask of the network family (harness.chaos.mechanisms.network)."""

    def partition(
        self,
        grudge: Grudge,
        name: str,
        *,
        kind: str = ...,
        never_heal: bool = ...,
        loss: float | None = ...,
        reject: bool = ...,
    ) -> Injected: ...

    def unpartition(self, injected: Injected, *, heals: str) -> None: ...

    def shape(self, node: str, rate: str) -> None: ...

    def netem(self, node: str, delay_ms: int, jitter_ms: int) -> None: ...

    def unshape(self, node: str, *, heals: str) -> None: ...


class ProcessMechanism(Protocol):
    """What the kinds ask of the process family (harness.chaos.mechanisms.process)."""

    def process_action(
        self, action: str, node: str, *, named_as: str | None = ..., heals: str | None = ...
    ) -> None: ...

    def cpu_limit(self, node: str, cpus: float) -> None: ...

    def cpu_unlimit(self, node: str, *, heals: str) -> None: ...


class StoreMechanism(Protocol):
    """What the kinds ask of the store family (harness.chaos.mechanisms.store)."""

    def fill_store(self, pair: str, free: int) -> None: ...

    def free_store(self, pair: str, *, heals: str) -> None: ...

    def delete_lock(self, pair: str, settle: float = ...) -> None: ...

    def hold_lock(self, pair: str) -> str: ...

    def release_lock(self, pair: str, node: str, *, heals: str) -> None: ...


class FaultContext(Protocol):
    """What a kind's unit needs to be applied: roles resolved now, and the three families of mechanism. The
    nemesis is one; said here so that this module, which checking and reporting read, names no mechanism."""

    @property
    def network(self) -> NetworkMechanism: ...

    @property
    def process(self) -> ProcessMechanism: ...

    @property
    def store(self) -> StoreMechanism: ...

    def resolve(self, target: str) -> str: ...

    def resolve_pair(self, target: str) -> str: ...

    def node_names(self) -> list[str]: ...

    def pairs(self) -> list[list[str]]: ...

    def live_nodes(self) -> dict[str, str]: ...


class FaultKind:
    """One kind of fault. Subclasses set the class attributes and implement `apply` (and `undo` unless the
    fault ends by itself)."""

    name: ClassVar[str]
    heal: ClassVar[str | None]  # the heal's action in the history; None: the fault ends by itself
    usage: ClassVar[str]  # its command line: "kill TARGET"
    help: ClassVar[str]
    draws: ClassVar[tuple[str, ...]] = ()  # targets a random schedule may draw it with; () never drawn
    # more targets the combined schedule (overlapping faults) may draw it with: kinds added after the random
    # schedule's menu was fixed go here, so that earlier seeds keep drawing what they drew
    combined: ClassVar[tuple[str, ...]] = ()
    # more targets a schedule may draw it with once a user names it in FAULTS= (a menu of their own): kinds the
    # plain menus never draw, because drawing them would change what every earlier seed draws
    chosen: ClassVar[tuple[str, ...]] = ()
    # the broker's process ends: what it held only in memory (non-persistent messages) is gone with it
    ends_process: ClassVar[bool] = False
    # the family of mechanism it needs of the backend (harness.cluster.backend.MECHANISMS); a backend without
    # it refuses the kind before a run starts
    needs: ClassVar[str]

    @property
    def targets(self) -> tuple[str, ...]:
        """Every target a schedule may draw it with, a user's menu (FAULTS=) included; () never drawn."""
        return self.draws + self.combined + self.chosen

    @property
    def ends_by_itself(self) -> bool:
        return self.heal is None

    def apply(self, nemesis: FaultContext, args: Sequence[str]) -> Injected:
        """Apply it from its command-line words; returns what it did (in force until healed, unless it ends
        by itself)."""
        raise NotImplementedError

    def undo(self, nemesis: FaultContext, injected: Injected) -> None:
        raise NotImplementedError

    def redo(self, nemesis: FaultContext, recorded: Mapping[str, Any]) -> Injected:
        """Apply it again exactly as a history recorded it (node names, not roles)."""
        return self.apply(nemesis, [str(recorded["target"])])

    def _args(self, args: Sequence[str], least: int, most: int) -> None:
        if not least <= len(args) <= most:
            raise HarnessError(f"usage: {self.usage}")


class ProcessFault(FaultKind):
    """A fault on one node's broker process (NodeControl.node_process), named by role or by name."""

    needs = "process"

    def apply(self, nemesis: FaultContext, args: Sequence[str]) -> Injected:
        self._args(args, 1, 1)
        node = nemesis.resolve(args[0])
        nemesis.process.process_action(self.name, node, named_as=args[0])
        return Injected(self.name, node)

    def undo(self, nemesis: FaultContext, injected: Injected) -> None:
        assert self.heal is not None
        nemesis.process.process_action(self.heal, injected.target, heals=self.name)


class Kill(ProcessFault):
    name, heal, usage = "kill", "start", "kill TARGET"
    ends_process = True
    help = "SIGKILL the node's broker (kill -9); healed by starting it again"
    draws = ("live:random",)


class Stop(ProcessFault):
    name, heal, usage = "stop", "start", "stop TARGET"
    ends_process = True
    help = "stop the node's broker gracefully (SIGTERM, 30 s); healed by starting it again"
    draws = ("live:random",)


class Restart(ProcessFault):
    name, heal, usage = "restart", None, "restart TARGET"
    ends_process = True
    help = "restart the node's broker (stop, then start); over when it is back"
    draws = ("live:random", "waiting:random")


class Freeze(ProcessFault):
    name, heal, usage = "freeze", "thaw", "freeze TARGET"
    help = "freeze every process of the node (docker pause): it keeps its lock and its sockets; healed by thawing"
    draws = ("live:random",)


class Slow(FaultKind):
    name, heal, usage = "slow", "unslow", "slow TARGET [RATE]"
    help = "limit the node's outgoing bandwidth (tc tbf, default 256kbit)"
    chosen = ("live:random",)

    needs = "tc"

    def apply(self, nemesis: FaultContext, args: Sequence[str]) -> Injected:
        self._args(args, 1, 2)
        rate = args[1] if len(args) == 2 else "256kbit"
        node = nemesis.resolve(args[0])
        nemesis.network.shape(node, rate)
        return Injected(self.name, node, {"rate": rate})

    def undo(self, nemesis: FaultContext, injected: Injected) -> None:
        nemesis.network.unshape(injected.target, heals=self.name)

    def redo(self, nemesis: FaultContext, recorded: Mapping[str, Any]) -> Injected:
        return self.apply(nemesis, [str(recorded["target"]), str(recorded.get("rate") or "256kbit")])


class Starve(FaultKind):
    name, heal, usage = "starve", "feed", "starve TARGET [CPUS]"
    help = (
        "CPU starvation: the node's container held to a fraction of one CPU (default 0.05) by its CFS quota; "
        "unlike freeze it keeps running, slowly (timers fire late, heart-beats and lock renewals lag)"
    )
    combined = ("live:random",)

    needs = "cpu"

    def apply(self, nemesis: FaultContext, args: Sequence[str]) -> Injected:
        self._args(args, 1, 2)
        try:
            cpus = float(args[1]) if len(args) == 2 else 0.05
        except ValueError:
            cpus = -1.0
        if not 0.01 <= cpus < 2:
            raise HarnessError(f"starve {args[1]!r}: give the CPUs left to the node, from 0.01 to under 2")
        node = nemesis.resolve(args[0])
        nemesis.process.cpu_limit(node, cpus)
        return Injected(self.name, node, {"cpus": cpus})

    def undo(self, nemesis: FaultContext, injected: Injected) -> None:
        nemesis.process.cpu_unlimit(injected.target, heals=self.name)

    def redo(self, nemesis: FaultContext, recorded: Mapping[str, Any]) -> Injected:
        return self.apply(nemesis, [str(recorded["target"]), str(recorded.get("cpus") or 0.05)])


class Delay(FaultKind):
    name, heal, usage = "delay", "undelay", "delay TARGET [MS] [JITTER_MS]"
    help = (
        "add latency and jitter to the node's outgoing packets (tc netem, default 200 ms +- 50 ms); a kernel "
        "without sch_netem records it as unsupported and the run goes on"
    )
    combined = ("live:random",)

    needs = "tc"

    def apply(self, nemesis: FaultContext, args: Sequence[str]) -> Injected:
        self._args(args, 1, 3)
        numbers = args[1:] or ["200", "50"]
        if not all(n.isdigit() for n in numbers):
            raise HarnessError(f"delay {' '.join(numbers)}: give milliseconds, e.g. delay live:01 200 50")
        delay, jitter = int(numbers[0]), int(numbers[1]) if len(numbers) == 2 else 0
        node = nemesis.resolve(args[0])
        nemesis.network.netem(node, delay, jitter)
        return Injected(self.name, node, {"delay_ms": delay, "jitter_ms": jitter})

    def undo(self, nemesis: FaultContext, injected: Injected) -> None:
        nemesis.network.unshape(injected.target, heals=self.name)

    def redo(self, nemesis: FaultContext, recorded: Mapping[str, Any]) -> Injected:
        words = [str(recorded.get("delay_ms", 200)), str(recorded.get("jitter_ms", 0))]
        return self.apply(nemesis, [str(recorded["target"]), *words])


class GrudgeFault(FaultKind):
    """A partition: each node drops the packets of the nodes it holds a grudge against. Recorded with its
    grudge, so that replay redoes the same cut between the same nodes whatever the roles are then."""

    heal = "unpartition"
    loss: ClassVar[bool] = False  # whether the grudge drops only a fraction of the packets
    reject: ClassVar[bool] = False  # refuse TCP with a reset instead of dropping silently

    needs = "filter"

    def undo(self, nemesis: FaultContext, injected: Injected) -> None:
        nemesis.network.unpartition(injected, heals=self.name)

    def redo(self, nemesis: FaultContext, recorded: Mapping[str, Any]) -> Injected:
        grudge = {node: frozenset(dropped) for node, dropped in (recorded.get("grudge") or {}).items()}
        if not grudge:
            raise HarnessError(f"cannot redo {self.name} {recorded.get('target')}: no grudge recorded")
        return nemesis.network.partition(
            grudge,
            str(recorded["target"]),
            kind=self.name,
            loss=recorded.get("loss"),
            never_heal=bool(recorded.get("never_heal")),
            reject=self.reject,
        )

    def _node_and_side(
        self, nemesis: FaultContext, args: Sequence[str], preposition: str
    ) -> tuple[str, str, list[str]]:
        """TARGET [peers|clients|both] -> (the node, the side, the others on that side: its peers, the VIP)."""
        self._args(args, 1, 2)
        side = args[1] if len(args) == 2 else "both"
        if side not in ("peers", "clients", "both"):
            raise HarnessError(f"{self.name} {preposition} {side!r}: choose peers, clients or both")
        node = nemesis.resolve(args[0])
        others = [] if side == "clients" else [n for n in nemesis.node_names() if n != node]
        if side != "peers":
            others.append("vip")
        return node, side, others


class Partition(GrudgeFault):
    name, usage = "partition", "partition (a grudge given by a test; recorded and replayed as such)"
    help = "any grudge between named nodes; what isolate and partition-pairs record before this registry"

    def apply(self, nemesis: FaultContext, args: Sequence[str]) -> Injected:
        raise HarnessError(
            "a partition needs a grudge: use Nemesis.inject_grudge, or isolate / partition-pairs"
        )


class Isolate(GrudgeFault):
    name, usage = "isolate", "isolate TARGET [peers|clients|both]"
    help = "cut one node off from its peers (the other brokers), its clients (the VIP), or both; packets dropped, no reset"
    draws = ("live:random",)

    def apply(self, nemesis: FaultContext, args: Sequence[str]) -> Injected:
        node, side, others = self._node_and_side(nemesis, args, "from")
        return nemesis.network.partition(isolate(node, others), f"{node} from {side}", kind=self.name)


class PartitionPairs(GrudgeFault):
    name, usage = "partition-pairs", "partition-pairs"
    help = "each pair drops the other pair's packets; the VIP still reaches everyone (clients carry on)"
    draws = ("pairs",)

    def apply(self, nemesis: FaultContext, args: Sequence[str]) -> Injected:
        if list(args) not in ([], ["pairs"]):
            raise HarnessError(f"usage: {self.usage}")
        return nemesis.network.partition(complete(nemesis.pairs()), "between the pairs", kind=self.name)


class Lossy(GrudgeFault):
    name, usage = "lossy", "lossy [FRACTION]"
    help = "drop a fraction (default 0.3) of the packets between the pairs' live nodes, where the bridges run"
    loss = True
    chosen = ("0.3",)

    def apply(self, nemesis: FaultContext, args: Sequence[str]) -> Injected:
        self._args(args, 0, 1)
        try:
            loss = float(args[0]) if args else 0.3
        except ValueError:
            raise HarnessError(f"lossy {args[0]!r}: give the fraction of packets to drop, e.g. 0.3") from None
        live = nemesis.live_nodes()
        grudge = {node: frozenset(m for m, q in live.items() if q != pair) for node, pair in live.items()}
        return nemesis.network.partition(grudge, "the bridges between the pairs", kind=self.name, loss=loss)


class Mute(GrudgeFault):
    name, usage = "mute", "mute TARGET [peers|clients|both]"
    help = "a one-way partition: the node hears everyone, nobody hears it (the others drop its packets)"
    # not drawn by random schedules: a longer menu would change what every earlier seed draws
    combined = ("live:random",)

    def apply(self, nemesis: FaultContext, args: Sequence[str]) -> Injected:
        node, side, others = self._node_and_side(nemesis, args, "towards")
        grudge = {other: frozenset({node}) for other in others}
        return nemesis.network.partition(grudge, f"{node} unheard by {side}", kind=self.name)


class OneWay(GrudgeFault):
    name, usage = "one-way", "one-way FROM TO (or FROM->TO)"
    help = (
        "TO stops hearing FROM (FROM's packets dropped at TO) while FROM still hears TO: one direction of a "
        "bridge cut on its own; an established connection between them goes half-open"
    )
    combined = ("live:01->live:02", "live:02->live:01")

    def apply(self, nemesis: FaultContext, args: Sequence[str]) -> Injected:
        words = list(args[0].split("->")) if len(args) == 1 else list(args)
        if len(words) != 2:
            raise HarnessError(f"usage: {self.usage}")
        source, deaf = (nemesis.resolve(w) for w in words)
        if source == deaf:
            raise HarnessError(f"one-way {source} -> {deaf}: name two different nodes")
        return nemesis.network.partition({deaf: frozenset({source})}, f"{source}->{deaf}", kind=self.name)


class Reset(GrudgeFault):
    name, usage = "reset", "reset TARGET [peers|clients|both]"
    help = (
        "the node answers TCP from its peers, its clients (the VIP) or both with resets (REJECT tcp-reset): "
        "their connects to it are refused at once and established connections reset, as when a firewall or "
        "a dead port answers"
    )
    reject = True
    combined = ("live:random",)

    def apply(self, nemesis: FaultContext, args: Sequence[str]) -> Injected:
        node, side, others = self._node_and_side(nemesis, args, "from")
        # on the node alone: were the others to refuse its packets too, they would drop the very resets it
        # sends, and connects would hang instead of failing
        return nemesis.network.partition(
            {node: frozenset(others)}, f"{node} resets {side}", kind=self.name, reject=True
        )


class StoreFault(FaultKind):
    """A fault on a pair's shared store, named by the pair (01, random) or by a node or role in it."""

    needs = "store"

    def _pair(self, nemesis: FaultContext, args: Sequence[str], least: int = 1, most: int = 1) -> str:
        self._args(args, least, most)
        return nemesis.resolve_pair(args[0])


class FillStore(StoreFault):
    name, heal, usage = "fill-store", "free-store", "fill-store PAIR [FREE]"
    help = (
        "fill the pair's store volume with a ballast file, leaving FREE (default 0; e.g. 64k, 2m): KahaDB's "
        "writes fail with no space left; healed by deleting the ballast. Needs a size-limited store "
        "(STORE_SIZE=128m, or a scenario's chaos_cluster(store_size=...)): an ordinary one is the host's disk"
    )
    chosen = ("random",)

    def apply(self, nemesis: FaultContext, args: Sequence[str]) -> Injected:
        pair = self._pair(nemesis, args, 1, 2)
        free = parse_bytes(args[1]) if len(args) == 2 else 0
        nemesis.store.fill_store(pair, free)
        return Injected(self.name, pair, {"free": free})

    def undo(self, nemesis: FaultContext, injected: Injected) -> None:
        nemesis.store.free_store(injected.target, heals=self.name)

    def redo(self, nemesis: FaultContext, recorded: Mapping[str, Any]) -> Injected:
        return self.apply(nemesis, [str(recorded["target"]), str(recorded.get("free") or 0)])


class LoseLock(StoreFault):
    name, heal, usage = "lose-lock", None, "lose-lock PAIR"
    help = (
        "delete the pair's store lock file under its live broker (a clean-up script, a store re-mounted "
        "under it): a broker that checks its lock (lockKeepAlivePeriod) stops and its partner takes over; one "
        "that does not serves on while its partner locks a new file, two live brokers on one store. Over at once"
    )
    chosen = ("random",)

    def apply(self, nemesis: FaultContext, args: Sequence[str]) -> Injected:
        pair = self._pair(nemesis, args)
        nemesis.store.delete_lock(pair)
        return Injected(self.name, pair)


class HoldLock(StoreFault):
    name, heal, usage = "hold-lock", "release-lock", "hold-lock PAIR"
    help = (
        "a stale lock: a process that is no broker (in the pair's waiting node) takes the store's lock as soon "
        "as it is free and keeps it, as an NFS server keeps a crashed client's lock until its lease ends; "
        "with the live broker killed, neither node can serve; healed by ending that process"
    )

    def apply(self, nemesis: FaultContext, args: Sequence[str]) -> Injected:
        pair = self._pair(nemesis, args)
        holder = nemesis.store.hold_lock(pair)
        return Injected(self.name, pair, {"holder": holder})

    def undo(self, nemesis: FaultContext, injected: Injected) -> None:
        nemesis.store.release_lock(injected.target, str(injected.detail.get("holder", "")), heals=self.name)


def parse_bytes(text: str) -> int:
    """0, 4096, 64k, 2m -> bytes; anything else is a one-line error."""
    units = {"k": 1024, "m": 1024 * 1024}
    number, unit = (text[:-1], text[-1].lower()) if text[-1:].lower() in units else (text, "")
    if not number.isdigit():
        raise HarnessError(f"{text!r} is not a size in bytes such as 0, 64k or 2m")
    return int(number) * units.get(unit, 1)


# the order is the random schedule's menu order: seeds drawn before this registry draw the same faults
FAULT_KINDS: dict[str, FaultKind] = {
    kind.name: kind
    for kind in (
        Kill(),
        Stop(),
        Restart(),
        Freeze(),
        Isolate(),
        PartitionPairs(),
        Lossy(),
        Slow(),
        Partition(),
        Mute(),
        OneWay(),
        Reset(),
        Starve(),
        Delay(),
        FillStore(),
        LoseLock(),
        HoldLock(),
    )
}


def refused(kinds: Sequence[str], capabilities: frozenset[str], backend: str) -> str | None:
    """One line saying which of `kinds` the backend cannot realise, or None when it can do them all."""
    missing = [k for k in dict.fromkeys(kinds) if fault_kind(k).needs not in capabilities]
    if not missing:
        return None
    needs = ", ".join(f"{k} (needs {fault_kind(k).needs})" for k in missing)
    return (
        f"the {backend} backend cannot realise {needs}; it has {', '.join(sorted(capabilities)) or 'nothing'}"
    )


def fault_kind(name: str) -> FaultKind:
    kind = FAULT_KINDS.get(name)
    if kind is None:
        raise HarnessError(f"unknown fault {name!r}; faults are {', '.join(FAULT_KINDS)}")
    return kind


def kind_healed_by(heal: str, heals: str | None = None) -> list[str]:
    """The kinds a recorded heal can undo: the one it names, or (histories from before heals were named)
    every kind whose heal has that action."""
    if heals is not None:
        return [heals]
    return [k.name for k in FAULT_KINDS.values() if k.heal == heal]


def schedule_menu(*, combined: bool = False) -> list[tuple[str, str]]:
    """(kind, target) pairs a random schedule draws from; the combined schedule draws from more."""
    return [
        (kind.name, target)
        for kind in FAULT_KINDS.values()
        for target in kind.draws + (kind.combined if combined else ())
    ]


def chosen_menu(kinds: Sequence[str]) -> list[tuple[str, str]]:
    """(kind, target) pairs a schedule draws from when a user names its kinds (FAULTS=kill,freeze): every
    target any schedule draws each with, in the registry's order; a one-line error for a kind no schedule can
    draw (it needs what a scenario sets up around it)."""
    for name in kinds:
        if not fault_kind(name).targets:
            drawable = ", ".join(k.name for k in FAULT_KINDS.values() if k.targets)
            raise HarnessError(
                f"{name} is never drawn by a schedule (a scenario sets it up); drawn: {drawable}"
            )
    return [
        (kind.name, target) for kind in FAULT_KINDS.values() if kind.name in kinds for target in kind.targets
    ]
