"""One chaos scenario run: load -> faults -> heal -> recovery -> drain -> final state -> checkers.

A scenario composes this in a few lines:

    with ChaosRun(cluster, RunSpec("kill-live-master", seed, directory)) as run:
        run.load(200)
        run.nemesis.inject("kill", "live:random")
        run.load(200)
    result = run.result   # verdicts, counts, artifacts in `directory`
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from harness import phases
from harness.chaos import settle
from harness.chaos.drain import Drain
from harness.chaos.final_state import read_final_state
from harness.chaos.nemesis import Nemesis
from harness.chaos.player import Player
from harness.chaos.probes import probe_bridges
from harness.chaos.recovery import Recovery
from harness.chaos.schedule import Step
from harness.chaos.spec import RunSpec
from harness.check.facts import RunFacts
from harness.check.judge import judge
from harness.check.ledger import Ledger
from harness.check.result import ScenarioResult
from harness.check.verdict import FinalState
from harness.client.placement import NamedPairs, Placement, parse_mode
from harness.client.sampler import DepthSampler
from harness.client.stomp_client import StompSession
from harness.client.workload import Workload, WorkloadConfig
from harness.cluster.brokers import BrokerCluster
from harness.cluster.provenance import provenance
from harness.history import History
from harness.progress import Progress, clock
from harness.wait import WaitTimeout, wait_until


class ChaosRun:
    def __init__(
        self,
        cluster: BrokerCluster,
        spec: RunSpec,
        *,
        workload_class: type[Workload] | None = None,
        progress: Progress | None = None,
        on_result: Callable[[ScenarioResult], None] | None = None,
    ) -> None:
        self.cluster = cluster
        self.spec = spec
        self.scenario = spec.scenario
        self.seed = spec.seed
        self.directory = spec.directory
        self.design = cluster.settings.design
        self.design_name = spec.design or self.design.name
        self.stream = spec.random_stream
        config = spec.workload or WorkloadConfig(queue=f"chaos.{spec.scenario}", **spec.shape)
        # ids carry a tag of this run's own: a message of an earlier run (a soak window, a replayed
        # history's ids) can never stand in for one of this run's
        self.config = dataclasses.replace(config, run_tag=secrets.token_hex(3), key=config.key or self.stream)
        self.expected = dict(spec.expected)
        self.recovery_timeout = spec.recovery_timeout
        self.drain_timeout = spec.drain_timeout
        self.probe_timeout = spec.probe_timeout
        self.facts = run_facts(cluster, self.config, spec.unavailable_after)
        # one stream per scenario: its choices do not depend on which other scenarios ran before it
        self.rng = random.Random(self.stream)
        self.pair = NamedPairs(cluster.topology.pairs, self.stream)
        self.placement = Placement(
            pairs=cluster.topology.pairs,
            key=self.stream,
            mode=parse_mode(spec.placement),
            pinned={who: self.pair(name) for who, name in spec.place.items()},
            recorded=spec.recorded_routes,
        )
        self.history = History(
            spec.directory / "history.jsonl",
            {
                "seed": spec.seed,
                "scenario": spec.scenario,
                "stream": self.stream,
                "design": self.design_name,
                "activemq_version": cluster.settings.version,
                "activemq_dist": cluster.settings.dist.name if cluster.settings.dist else None,
                "broker_image": cluster.settings.broker_image.ref if cluster.settings.broker_image else None,
                "store_size": cluster.settings.store_size,
                "workload": asdict(self.config),
                "placement": {**self.placement.to_json(), "named_pairs": self.pair.named},
                "fault_plan": dict(spec.fault_plan) if spec.fault_plan is not None else None,
                "expected": self.expected,
                "facts": self.facts.to_json(),
                "provenance": provenance(cluster),
                "group": cluster.topology.group,
                "cluster": cluster.name,
                "backend": cluster.backend,
                "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            },
        )
        self.nemesis = Nemesis(cluster, self.history, self.rng)
        self.workload = (workload_class or Workload)(self.history, self._connect, self.config, self.placement)
        self.result: ScenarioResult | None = None
        self.start_consumers = spec.start_consumers
        self.on_result = on_result
        self.progress = progress or Progress(None)
        self.deadline = spec.deadline
        self.sampler = DepthSampler(cluster, self.history, self.config.destinations)
        self._started = time.monotonic()
        self._context = contextlib.ExitStack()

    def _connect(self, route: str | None = None, **kwargs: Any) -> StompSession:
        return self.cluster.stomp(None, route=route, **kwargs)

    def phase(self, name: str, **value: Any) -> None:
        self.history.append("harness", "ok", "phase", phase=name, **value)

    def __enter__(self) -> ChaosRun:
        self._context.enter_context(self.progress.showing(self.status_line))
        self.sampler.start()
        self._context.callback(self.sampler.stop)
        try:
            if self.start_consumers:
                self.workload.start_consumers()
                if self.config.subscribers:
                    self.await_topic_demand()
            self.phase(phases.LOAD)
            self.workload.start_producers()
        except BaseException:  # __exit__ will not run: stop what started (Ctrl-C during the wait included)
            self.workload.stop()
            self._context.close()
            self.history.close()
            raise
        return self

    def await_topic_demand(self, timeout: float = 60.0) -> None:
        """Before anything is published: every durable subscription confirmed, and every live broker showing a
        consumer of the topic (its own subscriber, or a bridge's subscription on its behalf), as an operator
        would wait before publishing. A subscription that races its demand across the bridges is a bug
        pattern of its own; this wait keeps it out of runs that are not about it. Recorded either way."""
        topic = self.config.topic
        seen: dict[str, int] = {}

        def ready() -> bool:
            if len(self.workload.subscribed_since) < self.config.subscribers:
                return False
            seen.clear()
            for status in self.cluster.pair_status():
                if status.state == "live":
                    seen[status.node] = self.cluster.topic_consumers(status.node, topic)
            return bool(seen) and all(count > 0 for count in seen.values())

        try:
            wait_until(
                ready,
                timeout=timeout,
                what="durable subscriptions and topic demand",
                interval=0.5,
                max_interval=2.0,
            )
        except WaitTimeout as exc:
            self.phase(phases.TOPIC_DEMAND, ready=False, consumers=seen, error=str(exc)[:300])
        else:
            self.phase(phases.TOPIC_DEMAND, ready=True, consumers=seen)

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if exc_type is None:
                self.result = self.finish()
        finally:
            self.workload.stop()
            self.nemesis.heal()
            self._context.close()
            self.history.close()
        # the verdict is decided here, when the chaos block ends, not by a line each scenario must remember
        if self.result is not None and self.on_result is not None:
            self.on_result(self.result)

    def status_line(self) -> str:
        """What the live progress shows: the fault in force, the counters, time elapsed or left."""
        counters = self.workload.snapshot()
        faults = ", ".join(f"{a.kind} {a.target}" for a in self.nemesis.active) or "none"
        now = time.monotonic()
        when = (
            f"{clock(self.deadline - now)} left" if self.deadline else f"{clock(now - self._started)} elapsed"
        )
        return (
            f"[{self.scenario} {self.design_name}] fault: {faults} | sent {counters.invoked} "
            f"ack {counters.acknowledged} deliv {counters.delivered} in flight {self.workload.undelivered()} "
            f"| {when}"
        )

    def load(self, acknowledged: int, timeout: float | None = None) -> bool:
        """Wait until `acknowledged` more sends have their receipts (the workload keeps running).

        Never raises for want of receipts: a cluster that stops storing sends is the `available` checker's
        finding, so the wait outlasts the design's limit by 15 s and is then recorded: a gap past the limit is
        then on record whichever way it ends (it was twice the limit plus 15 s, 75 s on `seed`, which only made
        a run that cannot recover by itself, both slaves holding the stores, wait longer for the fail-back)."""
        timeout = timeout if timeout is not None else self.facts.unavailable_after + 15
        target = self.workload.snapshot().acknowledged + acknowledged
        try:
            wait_until(
                lambda: self.workload.snapshot().acknowledged >= target,
                timeout=timeout,
                what=f"{acknowledged} more acknowledged sends",
                interval=0.2,
                describe=lambda: str(self.workload.snapshot()),
            )
        except WaitTimeout as exc:
            self.phase(phases.LOAD_STALLED, wanted=acknowledged, error=str(exc)[:300])
            return False
        return True

    def play(self, steps: list[Step], *, overlapping: bool = False) -> None:
        """Apply a schedule: each step's fault at its offset, healed after its hold (harness.chaos.player);
        in turn by default, all on one clock when `overlapping` (the combined schedule)."""
        player = Player(self.nemesis, lambda: self.cluster.wait_pairs(self.recovery_timeout), self.phase)
        player.play(steps, overlapping=overlapping)

    def move(self, who: str, pair: str) -> str:
        """Move `who` ("consumer", "producer" or a process) to the pair named `pair` (a name such as
        "producers", or a pair's id) mid-load; returns the pair."""
        self.workload.move(who, self.pair(pair))
        return self.pair(pair)

    def await_takeover(self, victim: str, timeout: float = 60.0) -> str:
        """Wait until the partner of `victim` holds the pair's store (observable: its log says started)."""
        partner = self.cluster.topology.partner(self.cluster.topology.node(victim)).name
        wait_until(
            lambda: self.cluster.node_state(partner) == "live",
            timeout=timeout,
            what=f"{partner} to take over from {victim}",
            interval=0.3,
        )
        self.phase(phases.TOOK_OVER, node=partner, after=victim)
        return partner

    # ------------------------------------------------------------------------------------------ ending
    def recover(self, *, fail_back: bool = True) -> float | None:
        """Wait for the design's promised state and record what was found (harness.chaos.recovery)."""
        recovery = Recovery(
            self.cluster, self.facts, self.nemesis, self.phase, self.await_takeover, self.recovery_timeout
        )
        return recovery.recover(fail_back=fail_back)

    def finish(self) -> ScenarioResult:
        """Heal, recover, probe the bridges, load on after the heal, stop the load, drain, read, check."""
        self.nemesis.heal()
        self.phase(phases.HEALED)
        healed_at = time.monotonic()
        if not self.start_consumers:
            self.workload.start_consumers()
        revived = self.workload.revive()
        recovery = self.recover()
        bridges_carry = probe_bridges(
            self.cluster, self.history, healed_at, time.monotonic() + self.probe_timeout, self.scenario
        )
        may_settle = settle.may_settle(self.design, self.config.subscribers, bridges_carry)
        durable_may_settle = settle.durable_may_settle(self.config.subscribers, bridges_carry)
        # clients that gave up while the cluster was away come back now that it may serve again
        revived += self.workload.revive()
        # deliveries after the last heal are part of the evidence: the cluster must work again, not only hold
        self.load(self.facts.min_delivered_after_heal)
        self.workload.stop_producers()
        self.phase(phases.LOAD_ENDED)
        revived += self.workload.revive()
        ended, detail = self.drain(may_settle=may_settle, durable_may_settle=durable_may_settle)
        self.phase(phases.DRAIN_DEADLINE, ended=ended, **detail)
        final = self.final_state()
        self.phase(
            phases.FINAL_STATE,
            queues=final.queues,
            durable=final.durable,
            unreadable=final.reasons,
            states=final.states,
        )
        self.workload.stop_consumers()
        self._context.close()  # sampler and progress line end with the run's traffic
        self.history.close()
        notes = [f"clients revived after giving up: {', '.join(revived)}"] if revived else []
        result = judge(
            Ledger.from_path(self.history.path, self.facts),
            final,
            scenario=self.scenario,
            design=self.design_name,
            seed=self.seed,
            directory=str(self.directory),
            expected=self.expected,
            invoked=self.workload.snapshot().invoked,
            recovery_seconds=recovery,
            notes=notes,
        )
        (self.directory / "verdicts.json").write_text(json.dumps(result.to_json(), indent=2) + "\n")
        return result

    def drain(self, may_settle: bool = False, durable_may_settle: bool = False) -> tuple[str, dict[str, Any]]:
        """Wait until nothing the checkers read can change any more, or the drain deadline
        (harness.chaos.drain): how it ended, and what the history should keep of it."""
        return Drain(self.cluster, self.workload, self.config, self.drain_timeout).run(
            may_settle, durable_may_settle
        )

    def final_state(self) -> FinalState:
        return read_final_state(self.cluster, self.config, self.workload.plan.sizes.high)


def run_facts(cluster: BrokerCluster, config: WorkloadConfig, unavailable_after: float | None) -> RunFacts:
    design = cluster.settings.design
    nodes = cluster.topology.nodes
    return RunFacts(
        pairs={n.name: n.pair for n in nodes},
        vip_routes=tuple(n.name for n in nodes if design.vip_over_all_nodes or n.is_master),
        client_nodes=tuple(n.name for n in nodes if design.serves_clients(n)),
        masters=tuple(n.name for n in nodes if n.is_master),
        pure_master_slave=design.pure_master_slave,
        design=design.name,
        queue=config.queue,
        queues=config.queues,
        persistent=config.persistent,
        consumers=config.consumers,
        subscribers=config.subscribers,
        prefetch=config.prefetch,
        receipt_timeout=config.receipt_timeout,
        unavailable_after=design.unavailable_after if unavailable_after is None else unavailable_after,
    )
