"""The nemesis: applies and heals faults on nodes named by their role in the topology.

Targets are resolved at the moment of the fault, because roles move: "live:01" is whichever node of pair 01
holds its store now, "waiting:02" the one blocked on pair 02's lock, "live:random" the live node of a pair
drawn from the run's seed. What each fault kind does is its unit in `harness.chaos.faults`; this class holds
what they share (resolving roles, containers, iptables, tc) and what is in force. Every fault and heal is
recorded in the history (invoke, then ok or fail), so the checkers and a reader of the history see exactly
what was done, when, to whom.
"""

from __future__ import annotations

import contextlib
import json
import random
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.chaos.faults import FAULT_KINDS, Injected, fault_kind, refused
from harness.chaos.partition import Grudge
from harness.cluster.backend import Grudges, NodeControl
from harness.errors import HarnessError
from harness.history import History

BALLAST = "amqchaos-ballast"  # the file fill-store writes into a store volume
MAX_FILLED = 4 * 1024**3  # the largest store fill-store fills: STORE_SIZE's upper bound
HOLDER_TAG = "amqchaos-hold-lock"
LOCK_HELD = "/tmp/amqchaos-lock-held"
# a POSIX (fcntl) write lock on the whole file, the kind Java's FileChannel.tryLock takes on Linux: a flock(1)
# lock would not stop a broker. struct flock on x86-64: short type, short whence, pad, off_t start, off_t
# len, pid_t pid, pad.
HOLD_LOCK = f"""# {HOLDER_TAG}
use Fcntl qw(F_SETLKW F_WRLCK SEEK_SET O_RDWR O_CREAT);
sysopen(my $fh, $ARGV[0], O_RDWR | O_CREAT) or die "open: $!";
my $lock = pack("s s x4 q q l x4", F_WRLCK, SEEK_SET, 0, 0, 0);
fcntl($fh, F_SETLKW, $lock) or die "lock: $!";
open(my $held, ">", "{LOCK_HELD}"); close($held);
sleep 3600 while 1;
"""


class FaultUnsupported(HarnessError):
    """This machine's kernel cannot apply the fault; the history says so."""


class FaultRefused(HarnessError):
    """The backend has no mechanism for the fault kind: refused before anything is touched."""


class Nemesis:
    def __init__(self, cluster: NodeControl, history: History, rng: random.Random) -> None:
        self.cluster = cluster
        self.history = history
        self.rng = rng
        self.active: list[Injected] = []
        # the kinds the scenario declared (its chaos_faults marker), checked before its cluster came up; a
        # kind injected beyond them is the declaration gone stale, refused. None: anything the backend can do
        self.declared: frozenset[str] | None = None

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
        injected = self.partition(grudge, name, never_heal=never_heal, loss=loss)
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
            self.active = [Injected(r["kind"], r["target"], dict(r["detail"])) for r in records]
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError) as exc:
            raise HarnessError(f"{path} is malformed: {exc!r}") from None

    # --------------------------------------------------------------------------------- what faults share
    def resolve(self, target: str) -> str:
        """A node name from a role: live:NN, waiting:NN, live:random, waiting:random, or a node name itself."""
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

    # ------------------------------------------------------------------------ primitives the kinds use
    def partition(
        self,
        grudge: Grudge,
        name: str,
        *,
        kind: str = "partition",
        never_heal: bool = False,
        loss: float | None = None,
        reject: bool = False,
    ) -> Injected:
        """Apply `grudge`: each node drops (no RST) every packet from the nodes it holds a grudge against, or,
        with `reject`, refuses their TCP with a reset (other protocols pass).

        `loss` drops only that fraction of the packets (a lossy link) instead of all of them. `never_heal`
        leaves it in force through the run's heal phase (negative controls); teardown still removes it with
        the containers. Recorded as `kind`. This is the primitive the partition kinds use; a grudge of one's
        own goes through `inject_grudge`.
        """
        if loss is not None and not 0 < loss < 1:
            raise HarnessError(f"loss {loss!r} must be a fraction between 0 and 1")
        grudge = self._held_where_reachable(grudge, kind)
        description = {node: sorted(dropped) for node, dropped in sorted(grudge.items()) if dropped}
        self.history.append(
            "nemesis",
            "invoke",
            "fault",
            action=kind,
            target=name,
            grudge=description,
            never_heal=never_heal,
            loss=loss,
            heal=fault_kind(kind).heal,
            **({"reject": True} if reject else {}),
        )
        match = [] if loss is None else ["-m", "statistic", "--mode", "random", "--probability", str(loss)]
        jump = ["-p", "tcp", "-j", "REJECT", "--reject-with", "tcp-reset"] if reject else ["-j", "DROP"]
        spec = [*match, *jump]
        # [node, source address, the peer at that address]: what the heal removes, rule by rule, and what a
        # node that starts again gets back
        applied: list[list[str]] = []
        # a backend with grudge rows of its own (Chaos Mesh) holds drops and losses; resets stay iptables
        grudges = None if reject else self.cluster.grudges
        held: list[list[str]] = []  # [its handle, the holder, the peers...] per row
        try:
            # every node of the grudge must be there: a killed or stopped node has no network namespace to
            # hold rules (nor an address to drop), a frozen one runs no iptables; with overlapping faults
            # one may be down when this comes (the fault is then recorded as not applied, and the run goes on)
            involved = set(grudge) | {peer for d in grudge.values() for peer in d}
            down = self._not_running(sorted(n for n in involved if self.cluster.controls(n)))
            if down:
                raise HarnessError(f"cannot partition now: {', '.join(down)}")
            for node, dropped in grudge.items():
                if grudges is not None and dropped:
                    held.append([grudges.hold(node, sorted(dropped), loss), node, *sorted(dropped)])
                    continue
                for peer in sorted(dropped):
                    source = self.cluster.address(peer)
                    self._iptables(node, source, spec)
                    applied.append([node, source, peer])
        except Exception as exc:
            for node, source, _peer in applied:  # none of it stays in force: nothing would ever heal it
                with contextlib.suppress(Exception):
                    self._iptables(node, source, spec, delete=True)
            for handle, *_row in held:
                with contextlib.suppress(Exception):
                    grudges.release(handle)  # type: ignore[union-attr]  # held only with grudges
            self.history.append("nemesis", "fail", "fault", action=kind, target=name, error=repr(exc)[:200])
            raise
        self.history.append("nemesis", "ok", "fault", action=kind, target=name)
        detail: dict[str, Any] = {"grudge": description, "rules": applied, "spec": spec}
        if held:
            detail["held"] = held
        injected = Injected(kind, name, detail)
        if never_heal:
            injected.detail["never_heal"] = True
        return injected

    def _held_where_reachable(self, grudge: Grudge, kind: str) -> Grudge:
        """The grudge without the rules of a node the backend cannot reach (an SSH backend's VIP), where the
        other side's rules already cut the same link (a partition is symmetric: one side dropping is enough
        for TCP); refused when a rule there is the only one (a one-way partition held by that node)."""
        kept: dict[str, frozenset[str]] = {}
        for holder, dropped in grudge.items():
            if self.cluster.controls(holder):
                kept[holder] = dropped
                continue
            alone = sorted(peer for peer in dropped if holder not in grudge.get(peer, frozenset()))
            if alone:
                raise FaultRefused(
                    f"{kind} needs {holder} to drop packets from {', '.join(alone)}, and the "
                    f"{self.cluster.backend} backend cannot reach {holder} to put rules there"
                )
        return kept

    def unpartition(self, injected: Injected, *, heals: str) -> None:
        heal = fault_kind(heals).heal
        self.history.append("nemesis", "invoke", "heal", action=heal, target=injected.target, heals=heals)
        errors = []
        rules, spec = injected.detail.get("rules"), injected.detail.get("spec")
        if (rules is None or spec is None) and "held" not in injected.detail:
            # in force since before the rules were kept (`fault heal` of a run from an older harness)
            for node in injected.grudge():
                try:
                    self._flush(node)
                except Exception as exc:  # a node that died meanwhile took its rules with it
                    errors.append(f"{node}: {exc!r}"[:200])
        for handle, *_row in injected.detail.get("held", []):
            try:
                self._grudges(handle).release(handle)
            except Exception as exc:
                errors.append(f"{handle}: {exc!r}"[:200])
        # its own rules only, one by one: another partition in force on the same node keeps its own (two equal
        # rules are two lines, and a delete removes one)
        for node, source, *_peer in rules or []:  # rules kept before the peer was: [node, source]
            if not source:  # not in place: putting it back after a start failed, and the history says so
                continue
            try:
                self._iptables(node, source, list(spec or ()), delete=True)
            except Exception as exc:  # a node that died or restarted meanwhile took its rules with it
                errors.append(f"{node}: {exc!r}"[:200])
        self.history.append(
            "nemesis", "ok", "heal", action=heal, target=injected.target, heals=heals, errors=errors
        )

    def shape(self, node: str, rate: str) -> None:
        """Limit a node's outgoing bandwidth (tc tbf)."""
        self._qdisc(node, "slow", ["tbf", "rate", rate, "burst", "32kbit", "latency", "400ms"], rate=rate)

    def netem(self, node: str, delay_ms: int, jitter_ms: int) -> None:
        """Delay a node's outgoing packets (tc netem): unsupported where the kernel has no sch_netem."""
        jitter = [f"{jitter_ms}ms"] if jitter_ms else []
        self._qdisc(
            node,
            "delay",
            ["netem", "delay", f"{delay_ms}ms", *jitter],
            delay_ms=delay_ms,
            jitter_ms=jitter_ms,
        )

    def _qdisc(self, node: str, kind: str, qdisc: list[str], **record: Any) -> None:
        heal = fault_kind(kind).heal
        self.history.append("nemesis", "invoke", "fault", action=kind, target=node, heal=heal, **record)
        code, out = self.cluster.exec(
            node, "tc", "qdisc", "add", "dev", self.cluster.interface(node), "root", *qdisc
        )
        if code != 0:
            self.history.append(
                "nemesis", "info", "fault", action=kind, target=node, unsupported=out.strip()[:200]
            )
            raise FaultUnsupported(f"{kind} on {node} not applied: {out.strip()[:200]}")
        self.history.append("nemesis", "ok", "fault", action=kind, target=node)

    def cpu_limit(self, node: str, cpus: float) -> None:
        """Hold a node's container to `cpus` of one CPU (CFS quota per 100 ms period)."""
        self.history.append(
            "nemesis", "invoke", "fault", action="starve", target=node, cpus=cpus, heal="feed"
        )
        try:
            self.cluster.cpu_limit(node, cpus)
        except Exception as exc:
            self.history.append(
                "nemesis", "fail", "fault", action="starve", target=node, error=repr(exc)[:200]
            )
            raise HarnessError(f"starve {node}: {exc}") from exc
        self.history.append("nemesis", "ok", "fault", action="starve", target=node)

    def cpu_unlimit(self, node: str, *, heals: str) -> None:
        self.history.append("nemesis", "invoke", "heal", action="feed", target=node, heals=heals)
        self.cluster.cpu_limit(node, None)
        self.history.append("nemesis", "ok", "heal", action="feed", target=node, heals=heals)

    def unshape(self, node: str, *, heals: str) -> None:
        heal = fault_kind(heals).heal
        self.history.append("nemesis", "invoke", "heal", action=heal, target=node, heals=heals)
        self.cluster.exec(node, "tc", "qdisc", "del", "dev", self.cluster.interface(node), "root")
        self.history.append("nemesis", "ok", "heal", action=heal, target=node, heals=heals)

    def process_action(
        self, action: str, node: str, *, named_as: str | None = None, heals: str | None = None
    ) -> None:
        """kill, stop, restart, freeze (a fault named by `named_as`), or start, thaw (the heal of `heals`)."""
        phase = "heal" if heals else "fault"
        extra: dict[str, Any] = {"heals": heals} if heals else {"role": named_as or node}
        if not heals:
            extra["heal"] = fault_kind(action).heal
        self.history.append("nemesis", "invoke", phase, action=action, target=node, **extra)
        try:
            self.cluster.node_process(node, action)
        except Exception as exc:
            self.history.append("nemesis", "fail", phase, action=action, target=node, error=repr(exc)[:200])
            raise
        done: dict[str, Any] = {"heals": heals} if heals else {}
        self.history.append("nemesis", "ok", phase, action=action, target=node, **done)
        if action in ("start", "restart"):
            self._reapply_partitions(node)

    def _reapply_partitions(self, node: str) -> None:
        """Put back the partitions in force over `node` after its container started again.

        A container that starts again has a new network namespace: the rules it held went with the old one,
        and its address may have changed under the rules other nodes hold against it. Without this, a
        partition the history says is in force would not be, and a checker could excuse a message by a
        fault that was not there. Each partition's rules over the node are put back (the history records
        when, and any that could not be), so it lapsed only between the start and this."""
        for injected in self.active:
            self._reapply_held(injected, node)
            rules, spec = injected.detail.get("rules"), injected.detail.get("spec")
            if not rules or spec is None:
                continue
            mine = [i for i, rule in enumerate(rules) if node in (rule[0], *rule[2:])]
            if not mine:
                continue
            self.history.append("nemesis", "invoke", "reapply", target=injected.target, node=node)
            errors, put_back = [], 0
            for i in mine:
                holder, old_source, *peer = rules[i]
                try:
                    source = self.cluster.address(peer[0]) if peer else old_source
                    # a rule on another node is still there (unless putting it back failed before: no source),
                    # but against the node's old address
                    if holder != node and old_source:
                        if source == old_source:
                            continue
                        with contextlib.suppress(Exception):
                            self._iptables(holder, old_source, list(spec), delete=True)
                    self._iptables(holder, source, list(spec))
                    rules[i] = [holder, source, *peer]
                    put_back += 1
                # a node down or frozen now: the start of the rule's other node tries it again
                except Exception as exc:
                    rules[i] = [holder, "", *peer]
                    errors.append(f"{holder}: {exc!r}"[:200])
            self.history.append(
                "nemesis", "ok", "reapply", target=injected.target, node=node, rules=put_back, errors=errors
            )

    def _grudges(self, handle: str) -> Grudges:
        grudges = self.cluster.grudges
        if grudges is None:
            raise HarnessError(f"{handle} was held by the backend's own rules, and this backend has none")
        return grudges

    def _reapply_held(self, injected: Injected, node: str) -> None:
        """The backend's own rows over `node` put back if its start lost them (Chaos Mesh does not always
        carry a partition across a restart), recorded as the iptables rules' are."""
        for handle, *row in injected.detail.get("held", []):
            if node not in row:
                continue
            self.history.append("nemesis", "invoke", "reapply", target=injected.target, node=node)
            errors, put_back = [], 0
            try:
                put_back = int(self._grudges(handle).restarted(handle, node))
            except Exception as exc:
                errors.append(f"{handle}: {exc!r}"[:200])
            self.history.append(
                "nemesis", "ok", "reapply", target=injected.target, node=node, rules=put_back, errors=errors
            )

    # ---------------------------------------------------------------------------------------- the stores
    def fill_store(self, pair: str, free: int) -> None:
        """Fill the pair's store volume with a ballast file, leaving `free` bytes (from the `store` container,
        which holds the size-limited volumes whichever broker is up)."""
        if not self.cluster.settings.store_size:
            raise HarnessError(
                "fill-store needs a size-limited store: run with STORE_SIZE=128m (a scenario marks it with "
                "chaos_cluster(store_size=...)); an ordinary store is on the host's disk"
            )
        if self.cluster.settings.design.pure_master_slave:
            raise HarnessError(
                "fill-store fills a pair's shared store; pure-master-slave nodes have one each"
            )
        where, folder = self.cluster.store_folder(pair)
        # the broker writes meanwhile: a ballast sized from df can find less room than df said, so it is
        # retried smaller, and with nothing to be left free the last pages are taken by writing until ENOSPC
        top_up = f"dd if=/dev/zero of={folder}/{BALLAST}.rest bs=4096 2>/dev/null; " if free == 0 else ""
        # never a disk that holds more than the store (a server's own, an SSH host whose store is not a mount of
        # its own): only a filesystem no bigger than the largest STORE_SIZE is filled
        script = (
            f"total=$(df -B1 --output=size {folder} | tail -1); "
            f'[ "$total" -le {MAX_FILLED} ] || {{ echo "{folder} is $total bytes: fill-store fills only a store '
            f'of at most 4g (a size-limited mount of its own)"; exit 1; }}; '
            f"for try in 0 1 2 3 4 5 6 7; do "
            f"avail=$(df -B1 --output=avail {folder} | tail -1); size=$((avail - {free} - try * 262144)); "
            f'[ "$size" -gt 0 ] || {{ echo "only $avail bytes free"; exit 1; }}; '
            f"fallocate -l $size {folder}/{BALLAST} 2>/dev/null && break; done; "
            f"[ -e {folder}/{BALLAST} ] || {{ echo 'no ballast fitted'; exit 1; }}; "
            f"{top_up}df -B1 --output=avail {folder} | tail -1"
        )
        self._recorded(
            "fault", "fill-store", pair, where, ["sh", "-c", script], free=free, nodes=self._members(pair)
        )

    def free_store(self, pair: str, *, heals: str) -> None:
        where, folder = self.cluster.store_folder(pair)
        command = ["rm", "-f", f"{folder}/{BALLAST}", f"{folder}/{BALLAST}.rest"]
        self._recorded("heal", "free-store", pair, where, command, heals=heals)

    def delete_lock(self, pair: str, settle: float = 3.0) -> None:
        """Delete the pair's lock file, from its live node (any running one if none is live). The fault is
        over when its consequence is: the live broker stopped (a design that checks its lock) or it is still
        live `settle` seconds later (one that does not); recorded in the ok as `live_after`. Until then the
        checkers count it in force on the pair's nodes, as a kill is while its broker goes.

        "Stopped" is read from the broker's log, not its state: ActiveMQ restarts a broker that gave up its
        lock in the same JVM, and the restarted one took the new lock file 35 ms later, before its partner's
        next try (seen), too fast for a state polled every 0.1 s."""
        node = self._member(pair, "live")
        shutdowns_before = self._shutdowns(node)
        self.history.append(
            "nemesis", "invoke", "fault", action="lose-lock", target=pair, node=node,
            nodes=self._members(pair), heal=None,
        )  # fmt: skip
        code, out = self.cluster.exec(node, "rm", self.cluster.lock_file(pair))
        if code != 0:
            self.history.append("nemesis", "fail", "fault", action="lose-lock", target=pair, error=out[:200])
            raise HarnessError(f"lose-lock {pair} failed in {node}: {out.strip()[:200]}")
        deadline = time.monotonic() + settle
        while not (stopped := self._shutdowns(node) > shutdowns_before) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.history.append("nemesis", "ok", "fault", action="lose-lock", target=pair, live_after=not stopped)

    def _shutdowns(self, node: str) -> int:
        """How many times the node's broker began to shut down since its container started (its log)."""
        code, out = self.cluster.exec(
            node, "grep", "-c", r") is shutting down", self.cluster.broker_log(node)
        )
        return int(out.split()[0]) if code in (0, 1) and out.split() else 0

    def _members(self, pair: str) -> list[str]:
        return [n.name for n in self.cluster.topology.nodes if n.pair == pair]

    def hold_lock(self, pair: str) -> str:
        """Start a process in the pair's waiting node that takes the store's lock as soon as it is free and
        keeps it; returns that node. The process shows it holds the lock by a file (`LOCK_HELD`)."""
        node = self._member(pair, "waiting")
        self.history.append(
            "nemesis",
            "invoke",
            "fault",
            action="hold-lock",
            target=pair,
            node=node,
            nodes=self._members(pair),
            heal="release-lock",
        )
        try:
            self.cluster.exec_detached(node, "perl", "-e", HOLD_LOCK, self.cluster.lock_file(pair))
        except Exception as exc:
            self.history.append(
                "nemesis", "fail", "fault", action="hold-lock", target=pair, error=repr(exc)[:200]
            )
            raise HarnessError(f"hold-lock {pair}: {exc}") from exc
        self.history.append("nemesis", "ok", "fault", action="hold-lock", target=pair, node=node)
        return node

    def release_lock(self, pair: str, node: str, *, heals: str) -> None:
        # a holder whose container has died since released the lock with it
        # the pattern in brackets matches the holder, not this shell, whose own command line holds the pattern
        command = ["sh", "-c", f"pkill -f '{HOLDER_TAG[:-1]}[{HOLDER_TAG[-1]}]'; rm -f {LOCK_HELD}; true"]
        self._recorded("heal", "release-lock", pair, node, command, heals=heals, node=node)

    def _member(self, pair: str, role: str) -> str:
        """The pair's node in `role` now, else any of its running nodes."""
        try:
            return self.resolve(f"{role}:{pair}")
        except HarnessError:
            running = [m for m in self._members(pair) if self.cluster.process_running(m)]
            if not running:
                raise HarnessError(f"pair {pair} has no running node") from None
            return running[0]

    def _recorded(
        self, phase: str, action: str, target: str, where: str, command: list[str], **record: Any
    ) -> str:
        """Run `command` in the container `where` as a recorded fault or heal (invoke, then ok with what it
        printed, or fail); returns its output."""
        heals = record.get("heals")
        if phase == "fault":
            record["heal"] = fault_kind(action).heal
        self.history.append("nemesis", "invoke", phase, action=action, target=target, **record)
        code, out = self.cluster.exec(where, *command)
        done = {"heals": heals} if heals else {}
        if code != 0:
            error = out.strip()[:200]
            self.history.append("nemesis", "fail", phase, action=action, target=target, error=error, **done)
            raise HarnessError(f"{action} {target} failed in {where}: {error}")
        self.history.append(
            "nemesis", "ok", phase, action=action, target=target, output=out.strip()[:200], **done
        )
        return out

    # ------------------------------------------------------------------------------------------ iptables
    @property
    def rule_tag(self) -> str:
        # every rule carries the run's id; the rules live in the containers' own network namespaces, so
        # removing the containers (teardown, or the label sweep after an interrupted run) removes them too
        return f"amqchaos-{self.cluster.run_id}"

    def _not_running(self, nodes: list[str]) -> list[str]:
        """The nodes whose container is not running now (down) or frozen, each with that state."""
        states = {node: self.cluster.node_state(node) for node in nodes}
        return [f"{node} {state}" for node, state in states.items() if state in ("down", "frozen")]

    def _iptables(self, node: str, source: str, rule: list[str], *, delete: bool = False) -> None:
        code, out = self.cluster.exec(
            node,
            "iptables",
            "-D" if delete else "-A",
            "INPUT",
            "-s",
            source,
            *rule,
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
