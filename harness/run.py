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
import functools
import json
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.checkers import (
    CHECKERS,
    UNAVAILABLE_AFTER,
    FinalState,
    Ledger,
    Verdict,
    check_all,
    check_available,
    merged_validity,
)
from harness.cluster import Cluster
from harness.errors import HarnessError
from harness.history import History, read_history
from harness.nemesis import Nemesis
from harness.probes import probe_bridges
from harness.progress import Progress, clock
from harness.sampler import DepthSampler
from harness.schedule import Step
from harness.stomp_client import StompSession
from harness.wait import WaitTimeout, wait_until
from harness.workload import Workload, WorkloadConfig


@dataclass
class ScenarioResult:
    scenario: str
    topology: str
    seed: int
    directory: str
    counts: dict[str, int]
    verdicts: list[Verdict]
    expected: dict[str, str] = field(default_factory=dict)  # checker -> why the seed design violates it
    recovery_seconds: float | None = None
    notes: list[str] = field(default_factory=list)
    replay: str = ""  # the command that replays it, where `make chaos` with its seed does not (a soak window)

    @property
    def violated(self) -> set[str]:
        return {v.checker for v in self.verdicts if v.valid is False}

    @property
    def unknown(self) -> set[str]:
        return {v.checker for v in self.verdicts if v.valid is None}

    @property
    def expected_and_seen(self) -> set[str]:
        return self.violated & self.expected.keys()

    @property
    def expected_not_seen(self) -> set[str]:
        return self.expected.keys() - self.violated

    @property
    def unexpected(self) -> set[str]:
        """Violations nobody declared, and checkers that could not decide (unknown is never a pass)."""
        return (self.violated - self.expected.keys()) | self.unknown

    @property
    def ok(self) -> bool:
        return not self.unexpected

    def verdict(self, name: str) -> Verdict:
        return next(v for v in self.verdicts if v.checker == name)

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "topology": self.topology,
            "seed": self.seed,
            "directory": self.directory,
            "counts": self.counts,
            "valid": merged_validity(self.verdicts),
            "verdicts": [v.to_json() for v in self.verdicts],
            "expected": self.expected,
            "expected_and_seen": sorted(self.expected_and_seen),
            "expected_not_seen": sorted(self.expected_not_seen),
            "unexpected": sorted(self.unexpected),
            "recovery_seconds": self.recovery_seconds,
            "notes": self.notes,
            "replay": self.replay,
        }

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> ScenarioResult:
        return cls(
            scenario=record["scenario"],
            topology=record["topology"],
            seed=record["seed"],
            directory=record.get("directory", ""),
            counts=record["counts"],
            verdicts=[Verdict.from_json(v) for v in record["verdicts"]],
            expected=record.get("expected", {}),
            recovery_seconds=record.get("recovery_seconds"),
            notes=record.get("notes", []),
            replay=record.get("replay", ""),
        )


class ChaosRun:
    def __init__(
        self,
        cluster: Cluster,
        scenario: str,
        seed: int,
        directory: Path,
        *,
        topology: str = "seed",
        workload: WorkloadConfig | None = None,
        expected: dict[str, str] | None = None,
        recovery_timeout: float = 120.0,
        drain_timeout: float = 60.0,
        probe_timeout: float = 60.0,
        workload_class: type[Workload] | None = None,
        start_consumers: bool = True,
        progress: Progress | None = None,
        deadline: float | None = None,
        unavailable_after: float = UNAVAILABLE_AFTER,
    ) -> None:
        self.cluster = cluster
        self.scenario = scenario
        self.seed = seed
        self.directory = directory
        self.topology = topology
        self.config = workload or WorkloadConfig(queue=f"chaos.{scenario}")
        self.expected = expected or {}
        self.recovery_timeout = recovery_timeout
        self.drain_timeout = drain_timeout
        self.probe_timeout = probe_timeout
        # one stream per scenario: its choices do not depend on which other scenarios ran before it
        self.rng = random.Random(f"{seed}:{scenario}")
        self.history = History(
            directory / "history.jsonl",
            {
                "seed": seed,
                "scenario": scenario,
                "topology": topology,
                "activemq_version": cluster.settings.version,
                "workload": asdict(self.config),
                "expected": self.expected,
                "group": cluster.topology.group,
                "cluster": cluster.project,
                "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            },
        )
        self.nemesis = Nemesis(cluster, self.history, self.rng)
        self.workload = (workload_class or Workload)(self.history, self._connect, self.config)
        self.result: ScenarioResult | None = None
        self.start_consumers = start_consumers
        self.checkers = {**CHECKERS, "available": functools.partial(check_available, limit=unavailable_after)}
        self.progress = progress or Progress(None)
        self.deadline = deadline  # monotonic; the progress line shows time left until it
        self.sampler = DepthSampler(cluster, self.history, self.config.queue)
        self._started = time.monotonic()
        self._context = contextlib.ExitStack()

    def _connect(self, **kwargs: Any) -> StompSession:
        return self.cluster.stomp(None, **kwargs)

    def phase(self, name: str, **value: Any) -> None:
        self.history.append("harness", "ok", "phase", phase=name, **value)

    def __enter__(self) -> ChaosRun:
        self.phase("load")
        self._context.enter_context(self.progress.showing(self.status_line))
        self.sampler.start()
        self._context.callback(self.sampler.stop)
        if self.start_consumers:
            self.workload.start_consumers()
        self.workload.start_producers()
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if exc_type is None:
                self.result = self.finish()
        finally:
            self.workload.stop()
            self.nemesis.heal()
            self._context.close()
            self.history.close()

    def status_line(self) -> str:
        """What the live progress shows: the fault in force, the counters, time elapsed or left."""
        counters = self.workload.snapshot()
        faults = ", ".join(f"{a.fault} {a.target}" for a in self.nemesis.active) or "none"
        now = time.monotonic()
        when = (
            f"{clock(self.deadline - now)} left" if self.deadline else f"{clock(now - self._started)} elapsed"
        )
        return (
            f"[{self.scenario} {self.topology}] fault: {faults} | sent {counters.invoked} "
            f"ack {counters.acknowledged} deliv {counters.delivered} in flight {self.workload.undelivered()} "
            f"| {when}"
        )

    def load(self, acknowledged: int, timeout: float = 120.0) -> None:
        """Wait until `acknowledged` more sends have their receipts (the workload keeps running)."""
        target = self.workload.snapshot().acknowledged + acknowledged
        wait_until(
            lambda: self.workload.snapshot().acknowledged >= target,
            timeout=timeout,
            what=f"{acknowledged} more acknowledged sends",
            interval=0.2,
            describe=lambda: str(self.workload.snapshot()),
        )

    def play(self, steps: list[Step]) -> None:
        """Apply a schedule: each step's fault at its offset, healed after its hold; waits on the clock only
        between steps, which is what a schedule is."""
        started = time.monotonic()
        self.phase("schedule", steps=[step.to_json() for step in steps])
        for step in steps:
            self._sleep_until(started + step.offset)
            try:
                self.nemesis.apply_named(step.fault, [] if step.target == "pairs" else [step.target])
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
                self.phase("not-recovered", error=str(exc)[:300])

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
        self.phase("took-over", node=partner, after=victim)
        return partner

    def finish(self) -> ScenarioResult:
        notes: list[str] = []
        self.nemesis.heal()
        self.workload.stop_producers()
        self.phase("healed")
        healed_at = time.monotonic()
        if not self.start_consumers:
            self.workload.start_consumers()
        recovery: float | None = None
        try:
            self.cluster.wait_pairs(self.recovery_timeout)
            probe_bridges(
                self.cluster, self.history, healed_at, healed_at + self.probe_timeout, self.scenario
            )
            self.cluster.wait_ready(self.recovery_timeout)
            recovery = time.monotonic() - healed_at
            self.phase("recovered", seconds=round(recovery, 3))
        except Exception as exc:  # not recovered: record it and go on to drain and check what is there
            notes.append(str(exc))
            self.phase("not-recovered", error=str(exc)[:300])
        try:
            wait_until(
                lambda: self.workload.undelivered() == 0,
                timeout=self.drain_timeout,
                what="every acknowledged message to be delivered",
                interval=0.5,
            )
        except WaitTimeout:
            notes.append(
                f"{self.workload.undelivered()} acknowledged messages undelivered at the drain deadline"
            )
        self.phase("drain-deadline")
        final = self.final_state()
        self.phase("final-state", queues=final.queues, unbrowsable=final.unbrowsable)
        self.workload.stop_consumers()
        self._context.close()  # sampler and progress line end with the run's traffic
        self.history.close()
        ledger = Ledger.from_history(read_history(self.history.path))
        verdicts = check_all(ledger, final, self.checkers)
        counters = self.workload.snapshot()
        result = ScenarioResult(
            scenario=self.scenario,
            topology=self.topology,
            seed=self.seed,
            directory=str(self.directory),
            counts={
                "acknowledged": len(ledger.acknowledged),
                "delivered": sum(len(d) for d in ledger.deliveries.values()),
                "indeterminate": len(ledger.indeterminate),
                "failed": len(ledger.failed),
                "invoked": counters.invoked,
            },
            verdicts=verdicts,
            expected=self.expected,
            recovery_seconds=recovery,
            notes=notes,
        )
        (self.directory / "verdicts.json").write_text(json.dumps(result.to_json(), indent=2) + "\n")
        return result

    def final_state(self) -> FinalState:
        """Workload-queue depth on every live broker; ids read by browsing where the broker speaks STOMP."""
        final = FinalState()
        for status in self.cluster.status():
            if status.state != "live":
                continue
            queue = status.queue(self.config.queue)
            size = queue.size if queue else 0
            final.queues[status.node] = {self.config.queue: size}
            if size == 0:
                continue
            if not status.serves_stomp:
                final.unbrowsable.append(status.node)
                continue
            with self.cluster.stomp(status.node) as browser:
                for message in browser.browse(self.config.queue):
                    final.located[message.headers.get("harness-id", "?")] = status.node
        return final
