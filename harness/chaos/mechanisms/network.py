"""The network family: a grudge's rows (tagged iptables rules put in the nodes by exec, or the backend's own
rows, Chaos Mesh's on Kubernetes), put back on a node that starts again; a node's egress shaped with tc."""

from __future__ import annotations

import contextlib
from typing import Any

from harness.chaos.faults import Injected, fault_kind
from harness.chaos.mechanisms import FaultRefused, FaultUnsupported
from harness.chaos.partition import Grudge
from harness.cluster.backend import Grudges, NodeControl
from harness.errors import HarnessError
from harness.history import History


class NetworkFaults:
    def __init__(self, cluster: NodeControl, history: History, active: list[Injected]) -> None:
        self.cluster = cluster
        self.history = history
        self.active = active  # the nemesis's faults in force: a restarted node gets its partitions back

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

    def reapply_partitions(self, node: str) -> None:
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

    def _grudges(self, handle: str) -> Grudges:
        grudges = self.cluster.grudges
        if grudges is None:
            raise HarnessError(f"{handle} was held by the backend's own rules, and this backend has none")
        return grudges

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
        code, out = self.cluster.net_exec(
            node, "tc", "qdisc", "add", "dev", self.cluster.interface(node), "root", *qdisc
        )
        if code != 0:
            self.history.append(
                "nemesis", "info", "fault", action=kind, target=node, unsupported=out.strip()[:200]
            )
            raise FaultUnsupported(f"{kind} on {node} not applied: {out.strip()[:200]}")
        self.history.append("nemesis", "ok", "fault", action=kind, target=node)

    def unshape(self, node: str, *, heals: str) -> None:
        heal = fault_kind(heals).heal
        self.history.append("nemesis", "invoke", "heal", action=heal, target=node, heals=heals)
        self.cluster.net_exec(node, "tc", "qdisc", "del", "dev", self.cluster.interface(node), "root")
        self.history.append("nemesis", "ok", "heal", action=heal, target=node, heals=heals)

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
        code, out = self.cluster.net_exec(
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
        code, out = self.cluster.net_exec(node, "iptables", "-S", "INPUT")
        if code != 0:
            raise HarnessError(f"iptables -S on {node} failed: {out.strip()[:200]}")
        for line in out.splitlines():
            if self.rule_tag in line and line.startswith("-A "):
                args = line.split()
                args[0] = "-D"
                self.cluster.net_exec(node, "iptables", *args)
