"""A soak: random faults from the seed for hours on one cluster, checked window by window.

The run is cut into checkpoint windows (5 minutes by default). Each window is a ChaosRun of its own: its own
queue, history file and schedule stream (`schedule:<seed>:w<N>`), faults for most of the window, then heal,
recovery, drain and the checkers. So a failure in hour 5 is reported in hour 5, a window's history can be
replayed on its own, and memory stays flat: nothing but a window's verdicts outlives the window.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import commands
from harness.chaos.faults import refused
from harness.chaos.run import ChaosRun
from harness.chaos.schedule import FaultPlan, Step
from harness.chaos.spec import RunSpec
from harness.check.result import ScenarioResult
from harness.check.weaknesses import SEED_WEAKNESSES, declared_for_shape
from harness.client.placement import SEEDED
from harness.client.shape import parse_shape
from harness.client.workload import WorkloadConfig
from harness.cluster.backends import open_cluster
from harness.errors import MACHINE_FAILED, OK, VIOLATION, HarnessError
from harness.longrun.memory import MemoryRecorder, limit_malloc_arenas, release_free_memory
from harness.progress import Progress, clock
from harness.report import summary
from harness.report.html import ReportInput, write_report
from harness.report.index import rewrite_index
from harness.report.junit import soak_junit, soak_markdown
from harness.settings import Settings, stamped_folder

# what a window needs after its last fault: heal, recovery, bridge probes, drain, final state, checkers
SETTLE_SECONDS = 60.0
MIN_WINDOW_SECONDS = 90.0


@dataclass(frozen=True)
class SoakPlan:
    seed: int
    duration: float  # seconds
    checkpoint: float = 300.0  # seconds per window
    faults: FaultPlan = field(default_factory=FaultPlan)  # what each window's schedule draws (FAULTS=...)
    placement: str = SEEDED  # each window's client sessions placed from the seed, or `vip`
    shape: dict[str, str] = field(default_factory=dict)  # the workload settings given (QUEUES=4, ...)

    def window_lengths(self) -> list[float]:
        lengths, left = [], self.duration
        while left >= MIN_WINDOW_SECONDS:
            length = min(self.checkpoint, left)
            if left - length < MIN_WINDOW_SECONDS:
                length = left  # a remainder too short for a window of its own joins the last one
            lengths.append(length)
            left -= length
        return lengths or [self.duration]


@dataclass
class SoakOutcome:
    directory: Path
    results: list[ScenarioResult] = field(default_factory=list)
    checkpoints: list[dict[str, object]] = field(default_factory=list)
    peak_rss_mib: float = 0.0

    @property
    def ok(self) -> bool:
        return (
            bool(self.results)
            and all(r.ok for r in self.results)
            and len(self.results) == len(self.checkpoints)
        )


def soak_replay(plan: SoakPlan, design: str) -> str:
    """The command that redoes this whole soak."""
    return commands.soak(
        plan.seed, plan.duration, plan.checkpoint, design, plan.placement, plan.shape, plan.faults.words()
    )


def run_soak(
    settings: Settings,
    plan: SoakPlan,
    directory: Path,
    progress: Progress,
    log: Callable[[str], None] = print,
) -> SoakOutcome:
    limit_malloc_arenas()  # before any client thread exists
    design_name = settings.design.name
    outcome = SoakOutcome(directory)
    lengths = plan.window_lengths()
    shape = parse_shape(plan.shape)
    log(
        f"soak seed {plan.seed} ({design_name}, ActiveMQ {settings.broker_label}): {len(lengths)} windows over "
        f"{clock(sum(lengths))}, a fault every {plan.faults.interval:g}s held {plan.faults.hold:g}s from "
        f"{', '.join(plan.faults.drawn_kinds())}, placement {plan.placement}; replay: {soak_replay(plan, design_name)}"
    )
    log(f"report: {directory / 'report.html'} (rewritten at every checkpoint)")
    started = time.monotonic()
    end = started + sum(lengths)
    cluster = open_cluster(settings)
    line = refused(plan.faults.drawn_kinds(), cluster.capabilities, cluster.backend)
    if line:  # before anything is started
        raise HarnessError(f"soak refused: {line}")
    with MemoryRecorder(directory / "memory.jsonl") as memory, cluster:
        for window, length in enumerate(lengths):
            name = f"soak-w{window:03d}"
            # faults and load until the window's settle time, on the soak's clock, so windows add up to DURATION
            load_until = started + sum(lengths[: window + 1]) - SETTLE_SECONDS
            steps = plan.faults.schedule(
                plan.seed, max(length - SETTLE_SECONDS, plan.faults.interval), stream=f"w{window}"
            )
            run = ChaosRun(
                cluster,
                RunSpec(
                    name,
                    plan.seed,
                    directory / name,
                    design=design_name,
                    workload=WorkloadConfig(queue=f"soak.w{window:03d}", **shape),
                    expected=declared_for_shape(SEED_WEAKNESSES.get(design_name, {}), shape),
                    deadline=end,
                    placement=plan.placement,
                    fault_plan=plan.faults.to_json(),
                ),
                progress=progress,
            )
            window_started = time.monotonic()
            result, error = _play_window(run, steps, load_until)
            replay = commands.replay(run.history.path)
            if result is not None:
                result.replay = replay
            del run  # the window's clients, sets and sessions go now, before memory is measured
            objects = release_free_memory()
            checkpoint: dict[str, object] = {
                "window": window,
                "ended_at": clock(time.monotonic() - started),
                "seconds": round(time.monotonic() - window_started, 1),
                "replay": replay,
                "scenario": name,
                "rss_mib": round(memory.sample(), 1),
                "python_objects": objects,
            }
            if result is not None:
                outcome.results.append(result)
                write_report(Path(result.directory), ReportInput(name, plan.seed, [result], replay=replay))
                checkpoint.update(
                    acknowledged=result.counts["acknowledged"],
                    verdict="ok" if result.ok else "FAIL",
                    unexpected=", ".join(sorted(result.unexpected)),
                )
                line = ", ".join(
                    f"{column} {value}"
                    for column, value in zip(summary.HEADER[2:], summary.row(result)[2:], strict=True)
                )
            else:
                checkpoint.update(verdict="ERROR", unexpected=error)
                line = f"ERROR {error}"
            outcome.checkpoints.append(checkpoint)
            log(f"checkpoint {window + 1}/{len(lengths)} at {checkpoint['ended_at']} {name}: {line}")
            if result is None or not result.ok:
                log(f"  replay this window: {replay}")
            _write(outcome, plan, settings, memory)
        outcome.peak_rss_mib = memory.peak
    _write(outcome, plan, settings, memory)
    return outcome


def _play_window(run: ChaosRun, steps: list[Step], load_until: float) -> tuple[ScenarioResult | None, str]:
    try:
        with run:
            run.load(run.facts.min_acknowledged_before_fault)  # the evidence the window's verdict needs
            run.play(steps)
            time.sleep(max(0.0, load_until - time.monotonic()))
    except Exception as exc:  # one broken window is reported; the soak goes on to the next
        return None, f"{type(exc).__name__}: {str(exc)[:300]}"
    return run.result, ""


def _write(outcome: SoakOutcome, plan: SoakPlan, settings: Settings, memory: MemoryRecorder) -> None:
    directory = outcome.directory
    (directory / "soak.json").write_text(
        json.dumps(
            {
                **dataclasses.asdict(plan),
                "faults": plan.faults.to_json(),
                "version": settings.version,
                "design": settings.design.name,
            },
            indent=2,
        )
        + "\n"
    )
    (directory / "summary.json").write_text(
        json.dumps([r.to_json() for r in outcome.results], indent=2) + "\n"
    )
    (directory / "checkpoints.json").write_text(json.dumps(outcome.checkpoints, indent=2) + "\n")
    junit = soak_junit(outcome.checkpoints, plan.seed, settings.design.name, settings.version)
    (directory / "junit.xml").write_text(junit)
    markdown = soak_markdown(
        outcome.checkpoints,
        plan.seed,
        settings.design.name,
        settings.version,
        soak_replay(plan, settings.design.name),
    )
    (directory / "summary.md").write_text(markdown)
    write_soak_report(directory, outcome.results, outcome.checkpoints, memory.samples, memory.peak)


def write_soak_report(
    directory: Path,
    results: list[ScenarioResult],
    checkpoints: list[dict[str, object]],
    memory: list[tuple[float, float]],
    peak_rss_mib: float,
) -> Path:
    """The soak's page, from what its folder holds (so `amq-chaos report` can redraw it)."""
    plan = json.loads((directory / "soak.json").read_text())
    # it details only the windows worth reading: every failing one (the last ten) and the latest
    detailed = [r for r in results if not r.ok][-10:]
    if results and results[-1] not in detailed:
        detailed.append(results[-1])
    return write_report(
        directory,
        ReportInput(
            f"soak {directory.name}",
            plan["seed"],
            results,
            replay=commands.soak(
                plan["seed"],
                plan["duration"],
                plan["checkpoint"],
                design_of(plan),
                plan.get("placement", ""),
                plan.get("shape"),
                FaultPlan.from_json(plan.get("faults")).words(),
            ),
            facts={
                "ActiveMQ": plan["version"],
                "workload": summary.workload_line(
                    dataclasses.asdict(WorkloadConfig(**parse_shape(plan.get("shape") or {})))
                ),
                "design": design_of(plan),
                "planned": f"{clock(plan['duration'])} in windows of {clock(plan['checkpoint'])}",
                "harness peak RSS": f"{peak_rss_mib:.1f} MiB",
            },
            memory=list(memory),
            checkpoints=checkpoints,
            detailed=detailed,
        ),
    )


def soak_report_from_folder(directory: Path) -> Path:
    results = [ScenarioResult.from_json(r) for r in json.loads((directory / "summary.json").read_text())]
    checkpoints = json.loads((directory / "checkpoints.json").read_text())
    memory = [
        (float(s["t"]), float(s["rss_mib"]))
        for s in map(json.loads, (directory / "memory.jsonl").read_text().splitlines())
    ]
    return write_soak_report(
        directory, results, checkpoints, memory, max((m for _, m in memory), default=0.0)
    )


def design_of(plan: dict[str, Any]) -> str:
    """The design a soak's plan names ("topology" in soak folders from before the rename)."""
    return str(plan.get("design") or plan.get("topology") or "")


def soak_command(settings: Settings, plan: SoakPlan) -> int:
    """`make soak`: the plan in a folder of its own (runs/soak/<time>-seed<N>), its report, the index of runs;
    exit 1 if any window failed, 3 if a window did not finish (no verdict on the brokers)."""
    directory = stamped_folder(settings.runs_dir, "soak", f"seed{plan.seed}")
    directory.mkdir(parents=True)
    outcome = run_soak(
        dataclasses.replace(settings, runs_dir=directory), plan, directory, Progress.for_stdout()
    )
    windows = len(outcome.checkpoints)
    failed = sum(1 for c in outcome.checkpoints if c.get("verdict") != "ok")
    print(
        f"soak {'ok' if outcome.ok else 'FAILED'}: {windows} windows, {failed} failing; "
        f"harness peak RSS {outcome.peak_rss_mib:.1f} MiB; report {directory / 'report.html'}"
    )
    print(rewrite_index(directory.parent.parent))  # runs/soak/<this soak> -> runs/
    if any(c.get("verdict") == "FAIL" for c in outcome.checkpoints):
        return VIOLATION
    return OK if outcome.ok else MACHINE_FAILED
