"""One chaos scenario run: load -> faults -> heal -> recovery -> drain -> final state -> checkers.

A scenario composes this in a few lines:

    with ChaosRun(cluster, "kill-live-master", seed, directory) as run:
        run.load(200)
        run.nemesis.inject("kill", "live:random")
        run.load(200)
    result = run.result   # verdicts, counts, artifacts in `directory`
"""

from __future__ import annotations

import contextlib
import dataclasses
import heapq
import json
import random
import secrets
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from harness import phases
from harness.chaos import settle
from harness.chaos.nemesis import Nemesis
from harness.chaos.probes import probe_bridges
from harness.chaos.schedule import Step
from harness.chaos.settle import SETTLED, Reading, SettleWatch, read, why_not_settled
from harness.check.checkers import FinalState, Ledger, check_all
from harness.check.facts import RunFacts
from harness.check.result import ScenarioResult
from harness.client.placement import SEEDED, NamedPairs, Placement, parse_mode
from harness.client.sampler import DepthSampler
from harness.client.stomp_client import StompSession
from harness.client.workload import Workload, WorkloadConfig
from harness.cluster.control import Cluster
from harness.cluster.provenance import provenance
from harness.errors import HarnessError
from harness.history import History
from harness.progress import Progress, clock
from harness.wait import WaitTimeout, wait_until


class ChaosRun:
    def __init__(
        self,
        cluster: Cluster,
        scenario: str,
        seed: int,
        directory: Path,
        *,
        design: str | None = None,
        workload: WorkloadConfig | None = None,
        shape: Mapping[str, Any] | None = None,
        expected: dict[str, str] | None = None,
        recovery_timeout: float = 120.0,
        drain_timeout: float = 60.0,
        probe_timeout: float = 60.0,
        workload_class: type[Workload] | None = None,
        start_consumers: bool = True,
        progress: Progress | None = None,
        deadline: float | None = None,
        unavailable_after: float | None = None,
        on_result: Callable[[ScenarioResult], None] | None = None,
        placement: str = SEEDED,
        place: Mapping[str, str] | None = None,
        recorded_routes: Mapping[str, tuple[str | None, ...]] | None = None,
        stream: str | None = None,
    ) -> None:
        self.cluster = cluster
        self.scenario = scenario
        self.seed = seed
        self.directory = directory
        self.design = cluster.settings.design
        self.design_name = design or self.design.name
        # ids carry a tag of this run's own: a message of an earlier run (a soak window, a replayed
        # history's ids) can never stand in for one of this run's
        # every random choice of the run comes from this stream: by default the seed and the scenario's name;
        # a shrunk scenario names the stream of the run it was shrunk from, so it places clients alike
        self.stream = stream or f"{seed}:{scenario}"
        config = workload or WorkloadConfig(queue=f"chaos.{scenario}", **(shape or {}))
        self.config = dataclasses.replace(config, run_tag=secrets.token_hex(3), key=config.key or self.stream)
        self.expected = expected or {}
        self.recovery_timeout = recovery_timeout
        self.drain_timeout = drain_timeout
        self.probe_timeout = probe_timeout
        self.facts = run_facts(cluster, self.config, unavailable_after)
        # one stream per scenario: its choices do not depend on which other scenarios ran before it
        self.rng = random.Random(self.stream)
        self.pair = NamedPairs(cluster.topology.pairs, self.stream)
        self.placement = Placement(
            pairs=cluster.topology.pairs,
            key=self.stream,
            mode=parse_mode(placement),
            pinned={who: self.pair(name) for who, name in (place or {}).items()},
            recorded=recorded_routes or {},
        )
        self.history = History(
            directory / "history.jsonl",
            {
                "seed": seed,
                "scenario": scenario,
                "stream": self.stream,
                "design": self.design_name,
                "activemq_version": cluster.settings.version,
                "activemq_dist": cluster.settings.dist.name if cluster.settings.dist else None,
                "store_size": cluster.settings.store_size,
                "workload": asdict(self.config),
                "placement": {**self.placement.to_json(), "named_pairs": self.pair.named},
                "expected": self.expected,
                "facts": self.facts.to_json(),
                "provenance": provenance(cluster),
                "group": cluster.topology.group,
                "cluster": cluster.project,
                "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            },
        )
        self.nemesis = Nemesis(cluster, self.history, self.rng)
        self.workload = (workload_class or Workload)(self.history, self._connect, self.config, self.placement)
        self.result: ScenarioResult | None = None
        self.start_consumers = start_consumers
        self.on_result = on_result
        self.progress = progress or Progress(None)
        self.deadline = deadline  # monotonic; the progress line shows time left until it
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
        """Apply a schedule: each step's fault at its offset, healed after its hold; waits on the clock only
        between steps, which is what a schedule is. Steps run one after another (a step starts once the one
        before it is healed and the pairs are back); `overlapping` puts every fault and heal on one clock
        instead, so faults are in force together (combined_schedule)."""
        if overlapping:
            self._play_overlapping(steps)
            return
        started = time.monotonic()
        self.phase(phases.SCHEDULE, steps=[step.to_json() for step in steps])
        for step in steps:
            self._sleep_until(started + step.offset)
            try:
                if step.recorded is not None:
                    self.nemesis.redo({**step.recorded, "action": step.fault, "target": step.target})
                else:
                    self.nemesis.inject(step.fault, step.target)
            except HarnessError as exc:  # e.g. no live node in the pair right now: recorded, schedule goes on
                self.history.append(
                    "nemesis", "info", "fault", action=step.fault, target=step.target, error=str(exc)[:200]
                )
                continue
            self._sleep_until(time.monotonic() + step.hold)
            self.nemesis.heal()
            try:
                self.cluster.wait_pairs(self.recovery_timeout)
            except Exception as exc:
                self.phase(phases.NOT_RECOVERED, problems=["pairs"], error=str(exc)[:300])

    def _play_overlapping(self, steps: list[Step]) -> None:
        """Every inject at its offset and every heal `hold` seconds after its own inject, on one clock; a heal
        undoes only its own fault. The pairs are waited for only when no fault is left in force (while one
        is, they cannot all be back)."""
        started = time.monotonic()
        self.phase(phases.SCHEDULE, steps=[step.to_json() for step in steps], overlapping=True)
        # (when, 0 for a heal / 1 for an inject, step index): at the same moment a heal goes first
        timeline = [(started + step.offset, 1, index) for index, step in enumerate(steps)]
        heapq.heapify(timeline)
        in_force: dict[int, Any] = {}
        while timeline:
            when, action, index = heapq.heappop(timeline)
            self._sleep_until(when)
            step = steps[index]
            if action == 1:
                before = {id(a) for a in self.nemesis.active}
                try:
                    if step.recorded is not None:
                        self.nemesis.redo({**step.recorded, "action": step.fault, "target": step.target})
                    else:
                        self.nemesis.inject(step.fault, step.target)
                except (
                    HarnessError
                ) as exc:  # e.g. the node it drew is frozen already: recorded, schedule goes on
                    self.history.append(
                        "nemesis",
                        "info",
                        "fault",
                        action=step.fault,
                        target=step.target,
                        error=str(exc)[:200],
                    )
                    continue
                added = [a for a in self.nemesis.active if id(a) not in before]
                if added:
                    in_force[index] = added[-1]
                heapq.heappush(timeline, (time.monotonic() + step.hold, 0, index))
                continue
            injected = in_force.pop(index, None)
            if injected is not None and any(a is injected for a in self.nemesis.active):
                self.nemesis.heal_one(injected)
            if not self.nemesis.active:
                try:
                    self.cluster.wait_pairs(self.recovery_timeout)
                except Exception as exc:
                    self.phase(phases.NOT_RECOVERED, problems=["pairs"], error=str(exc)[:300])

    def move(self, who: str, pair: str) -> str:
        """Move `who` ("consumer", "producer" or a process) to the pair named `pair` (a name such as
        "producers", or a pair's id) mid-load; returns the pair."""
        self.workload.move(who, self.pair(pair))
        return self.pair(pair)

    @staticmethod
    def _sleep_until(moment: float) -> None:
        time.sleep(max(0.0, moment - time.monotonic()))

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
    def recovery_problems(self, *, first_only: bool = False) -> tuple[list[str], list[str], list[str]]:
        """(kinds, details, live nodes): empty kinds when every pair has a live and a waiting node, every
        bridge the design promises for the live nodes is up and the VIP routes a client to a live broker.

        `first_only` stops at the first kind of problem, cheapest first (the pairs from the logs, then the
        bridges over JMX, then the VIP): a poll every quarter second of JMX in every live node took as much CPU
        as the broker restarting beside it. A final call without it names every kind."""
        if first_only:
            statuses = self.cluster.pair_status()
            details = self.cluster.pair_problems(statuses)
            if details:
                return ["pairs"], details, sorted(s.node for s in statuses if s.state == "live")
        statuses = self.cluster.status(queues=False)
        live = sorted(s.node for s in statuses if s.state == "live")
        kinds: list[str] = []
        details = self.cluster.pair_problems(statuses)
        if details:
            kinds.append("pairs")
        missing = self.cluster.missing_bridges(statuses)
        if missing:
            kinds.append("bridges")
            details += [f"bridge {a} -> {b} is not up" for a, b in sorted(missing)]
        if kinds and first_only:
            return kinds, details, live
        routed = self.cluster.vip_routes_to()
        if routed not in live:
            kinds.append("vip")
            details.append(f"the VIP routes a client to {routed or 'nobody'} (live: {', '.join(live)})")
        return kinds, details, live

    def recover(self, *, fail_back: bool = True) -> float | None:
        """Wait for the design's promised state; record `recovered` or `not-recovered` with what was wrong.

        A design that leaves no node the VIP routes to with a client connector (seed: both slaves hold the
        stores) cannot get out of it by waiting: that is recorded at once, and the run fails back as an
        operator would (stops the live nodes the VIP cannot reach until their partners hold the stores, then
        starts them again), so that it can still show what the cluster kept. `recovered` keeps the finding."""
        started = time.monotonic()
        seen: dict[str, Any] = {"kinds": ["unknown"], "details": [], "live": None}
        routable = set(self.facts.vip_routes) & set(self.facts.client_nodes)

        def unreachable() -> bool:
            return seen["kinds"] == ["vip"] and not set(seen["live"] or ()) & routable

        def settled() -> bool:
            seen["kinds"], seen["details"], seen["live"] = self.recovery_problems(first_only=True)
            return not seen["kinds"] or (fail_back and unreachable())

        try:
            wait_until(
                settled,
                timeout=self.recovery_timeout,
                what="the cluster to recover",
                interval=0.25,
            )
        except WaitTimeout as exc:
            with contextlib.suppress(Exception):  # every kind of problem left, for the record
                seen["kinds"], seen["details"], seen["live"] = self.recovery_problems()
            seen["details"] = seen["details"] or [str(exc)]
        if not seen["kinds"]:
            seconds = time.monotonic() - started
            self.phase(phases.RECOVERED, seconds=round(seconds, 3))
            return seconds
        self.phase(
            phases.NOT_RECOVERED,
            problems=seen["kinds"],
            live=seen["live"],
            error="; ".join(seen["details"])[:300],
        )
        if not (fail_back and unreachable()):
            return None
        # a restarted slave takes its lock straight back (the master retries only every 10 s): stop each,
        # wait for its master to take the store, then start it again to wait on the master's lock
        self.phase(phases.FAIL_BACK, live=seen["live"])
        for node in seen["live"]:
            self.nemesis.inject("stop", node)
        for node in seen["live"]:
            with contextlib.suppress(WaitTimeout):  # recover() below records what did not come back
                self.await_takeover(node, timeout=30.0)
        self.nemesis.heal()
        return self.recover(fail_back=False)

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
        # clients that gave up while the cluster was away come back now that it may serve again
        revived += self.workload.revive()
        # deliveries after the last heal are part of the evidence: the cluster must work again, not only hold
        self.load(self.facts.min_delivered_after_heal)
        self.workload.stop_producers()
        self.phase(phases.LOAD_ENDED)
        revived += self.workload.revive()
        ended, detail = self.drain(may_settle=may_settle)
        self.phase(phases.DRAIN_DEADLINE, ended=ended, **detail)
        final = self.final_state()
        self.phase(phases.FINAL_STATE, queues=final.queues, durable=final.durable, unreadable=final.reasons)
        self.workload.stop_consumers()
        self._context.close()  # sampler and progress line end with the run's traffic
        self.history.close()
        ledger = Ledger.from_path(self.history.path, self.facts)
        verdicts = check_all(ledger, final)
        counters = self.workload.snapshot()
        notes = [f"clients revived after giving up: {', '.join(revived)}"] if revived else []
        result = ScenarioResult(
            scenario=self.scenario,
            design=self.design_name,
            seed=self.seed,
            directory=str(self.directory),
            counts={
                "acknowledged": len(ledger.acknowledged),
                "delivered": len(ledger.delivery_times),
                "indeterminate": len(ledger.indeterminate),
                "failed": len(ledger.failed),
                "invoked": counters.invoked,
                **(
                    {
                        "published": len(ledger.topic.published),
                        "received": sum(
                            len(copies) for got in ledger.topic.received.values() for copies in got.values()
                        ),
                    }
                    if self.config.subscribers
                    else {}
                ),
            },
            verdicts=verdicts,
            expected=self.expected,
            recovery_seconds=recovery,
            notes=notes,
        )
        (self.directory / "verdicts.json").write_text(json.dumps(result.to_json(), indent=2) + "\n")
        return result

    def drain(self, may_settle: bool = False) -> tuple[str, dict[str, Any]]:
        """Wait until nothing the checkers read can change any more, or the drain deadline: how it ended
        ("delivered", "settled" or "deadline") and what the history should keep of it: what the brokers
        held when it settled, or why it did not settle by the deadline.

        Nothing can change once every acknowledged message has been delivered (and every durable subscriber
        has what it is owed), every consumer is subscribed, and every live broker's queue depth over JMX is
        0 with every pair's store read: there is then no message left for a consumer, a bridge or a
        redelivery to bring, and the producers have stopped. The depth is read only once the workload's own
        counts say so, since an extra copy (an ack that died with its session) sits on a broker while its
        first delivery is already counted: ending on the counts alone read such a copy as stuck a moment
        before the broker delivered it again.

        With `may_settle`, it also ends once the messages still held cannot move (harness.chaos.settle): the
        brokers are read for that only after the workload has seen no delivery for a while."""
        watch = SettleWatch()
        ended = "deadline"
        last_activity, quiet_since = self.workload.activity(), time.monotonic()

        def done() -> bool:
            nonlocal ended, last_activity, quiet_since
            if not self.workload.consumers_subscribed():
                return False
            if self.workload.undelivered() == 0 and self.brokers_hold_nothing():
                ended = "delivered"
                return True
            if not may_settle:
                return False
            now, activity = time.monotonic(), self.workload.activity()
            if activity != last_activity:
                last_activity, quiet_since = activity, now
                return False
            if now - quiet_since < settle.ACTIVITY_QUIET_SECONDS or not watch.settled(
                *self.settle_reading(activity), now
            ):
                return False
            ended = SETTLED
            return True

        with contextlib.suppress(WaitTimeout):  # what is left is the checkers' finding (late, stuck, lost)
            wait_until(
                done,
                timeout=self.drain_timeout,
                what="every message delivered and off the brokers, with every consumer subscribed",
                interval=0.1,
                max_interval=1.0,  # each poll past the counts is a JMX query per live node
            )
        if ended == SETTLED:
            return ended, {"held": watch.held()}
        return ended, ({"unsettled": watch.reason} if may_settle and ended == "deadline" else {})

    def settle_reading(self, activity: Hashable) -> tuple[Reading | None, str | None]:
        """One reading of the brokers for SettleWatch, and why its messages may still move (None: they cannot)."""
        statuses = self.cluster.status()
        holding = [
            s.node
            for s in statuses
            if s.state == "live" and not s.error and any((q.size or q.in_flight) for q in s.queues)
        ]
        consumers = {}
        for node in holding:
            try:
                consumers[node] = self.cluster.queue_consumers(node)
            except HarnessError as exc:
                return None, f"consumers of {node} unreadable: {exc}"[:200]
        pair_of = {n.name: n.pair for n in self.cluster.topology.nodes}
        reason = why_not_settled(
            statuses, consumers, pair_of, self.config.destinations, self.cluster.missing_bridges(statuses)
        )
        return read(statuses, consumers, self.config.destinations, activity), reason

    def brokers_hold_nothing(self) -> bool:
        """Every pair has a live node, each answers JMX, and none holds a message of the workload's queues."""
        statuses = self.cluster.status(bridges=False)
        live = [s for s in statuses if s.state == "live"]
        if any(s.state not in ("live", "waiting", "down") for s in statuses):
            return False  # starting, frozen, stopping: may hold messages nobody can read now
        if {self.cluster.topology.node(s.node).pair for s in live} != set(self.cluster.topology.pairs):
            return False
        for status in live:
            if status.error:
                return False
            for queue in self.config.destinations:
                stats = status.queue(queue)
                if stats is not None and stats.size > 0:
                    return False
        return True

    def final_state(self) -> FinalState:
        """The workload's queues on every node that is or may be live: their depths over JMX and the id of
        every message on them, read inside the node. Whatever cannot be read in full is named, never taken
        as 0."""
        final = FinalState()
        statuses = self.cluster.status(bridges=False)
        for status in statuses:
            if status.state in ("waiting", "down"):
                continue  # holds nothing of its own: the pair's store is read through its live node
            if status.state != "live":
                final.unreadable[status.node] = None
                final.reasons[status.node] = f"{status.state}, may be live"
                continue
            if status.error:
                final.unreadable[status.node] = None
                final.reasons[status.node] = status.error[:200]
                continue
            dead = status.queue(DEAD_LETTER_QUEUE)
            if dead is not None and dead.size > 0:
                with contextlib.suppress(HarnessError):  # evidence only: where a lost message went
                    final.dead_letters[status.node] = self.cluster.browse_ids(status.node, DEAD_LETTER_QUEUE)
            final.queues[status.node] = {}
            for queue in self.config.destinations:
                stats = status.queue(queue)
                size = stats.size if stats else 0
                final.queues[status.node][queue] = size
                if size == 0:
                    continue
                try:
                    ids = self.cluster.browse_ids(status.node, queue)
                except HarnessError as exc:
                    final.unreadable[status.node] = (final.unreadable.get(status.node) or 0) + size
                    final.reasons[status.node] = f"browse of {queue} failed: {exc}"[:200]
                    continue
                final.messages.setdefault(status.node, []).extend(ids)
                if len(ids) < size:
                    final.unreadable[status.node] = (final.unreadable.get(status.node) or 0) + size - len(ids)
                    final.reasons[status.node] = f"browsed {len(ids)} of {size} messages on {queue}"
        if self.config.subscribers:
            for status in statuses:
                if status.state == "live" and status.node not in final.unreadable:
                    try:
                        final.durable[status.node] = self.cluster.durable_pending(
                            status.node, self.config.topic
                        )
                    except HarnessError as exc:
                        final.unreadable[status.node] = None
                        final.reasons[status.node] = f"durable subscriptions unreadable: {exc}"[:200]
        topology = self.cluster.topology
        for pair in topology.pairs:
            members = [s for s in statuses if topology.node(s.node).pair == pair]
            if not any(s.state == "live" for s in members) and not any(
                s.node in final.unreadable for s in members
            ):
                name = f"pair {pair}"
                final.unreadable[name] = None
                final.reasons[name] = "no live node: its store was read by nobody"
        return final


DEAD_LETTER_QUEUE = "ActiveMQ.DLQ"


def run_facts(cluster: Cluster, config: WorkloadConfig, unavailable_after: float | None) -> RunFacts:
    design = cluster.settings.design
    nodes = cluster.topology.nodes
    return RunFacts(
        pairs={n.name: n.pair for n in nodes},
        vip_routes=tuple(n.name for n in nodes if design.vip_over_all_nodes or n.is_master),
        client_nodes=tuple(n.name for n in nodes if design.serves_clients(n)),
        design=design.name,
        queue=config.queue,
        queues=config.queues,
        persistent=config.persistent,
        consumers=config.consumers,
        subscribers=config.subscribers,
        prefetch=config.prefetch,
        unavailable_after=design.unavailable_after if unavailable_after is None else unavailable_after,
    )
