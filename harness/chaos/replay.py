"""Replay the exact fault schedule of a recorded history: the same faults and heals on the same nodes (by
name, not role), in the same order, at the same offsets from the start, under the same workload.

The seed replays a run's *choices*; a history replays what was actually *done*, which is what to reach for
when a role resolved differently, a fault was driven by hand, or the run came from an older harness.
Only faults and heals that took effect are replayed (an invoke answered by ok). Each client's sessions are
routed to the pairs the history's sessions asked for, or landed on where the VIP balanced them
(harness.client.placement), so who was on which master is replayed too; what the brokers did is the run's
own, and is checked again.

A history cut short (a killed run's: a torn last line, no final-state phase) still replays, but only what it
recorded before the cut: the command says so first, and the result, its summary row and its report say so
beside the verdict (`source_incomplete`), which then judges the replay, never the recorded run.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import commands, phases
from harness.chaos.faults import kind_healed_by
from harness.chaos.run import ChaosRun
from harness.chaos.spec import RunSpec
from harness.check.result import ScenarioResult
from harness.check.weaknesses import SEED_WEAKNESSES
from harness.client.placement import VIP, recorded_routes
from harness.client.workload import WorkloadConfig
from harness.cluster.brokers import BrokerCluster
from harness.cluster.provenance import differences, provenance
from harness.errors import HarnessError
from harness.history import HistoryGaps, history_gaps, read_header, read_history
from harness.progress import Progress


@dataclass(frozen=True)
class RecordedFault:
    t: float  # seconds from the history's start to the invoke
    kind: str  # fault | heal
    action: str  # the fault kind's name, or the heal's action
    target: str  # a node name, or a partition's name ("between the pairs")
    event: tuple[tuple[str, Any], ...] = ()  # the invoke as recorded: all a fault kind needs to redo it

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.action, self.target)

    def value(self, name: str, default: Any = None) -> Any:
        return dict(self.event).get(name, default)


def recorded_moves(path: Path) -> list[RecordedFault]:
    """Clients moved to another pair mid-load (`run.move`): kind "move", the pair as target."""
    return [
        RecordedFault(e["t"], "move", "move", str(e["to"]), (("who", e["who"]),))
        for e in read_history(path)
        if e["f"] == "move" and e["p"] == "harness"
    ]


def recorded_faults(path: Path) -> list[RecordedFault]:
    """The nemesis's faults and heals that took effect, in order."""
    faults: list[RecordedFault] = []
    pending: RecordedFault | None = None
    for event in read_history(path):
        if event["p"] != "nemesis" or event["f"] not in ("fault", "heal"):
            continue
        if event["type"] == "invoke":
            recorded = tuple(
                sorted((k, v) for k, v in event.items() if k not in ("i", "t", "p", "type", "f"))
            )
            pending = RecordedFault(event["t"], event["f"], event["action"], str(event["target"]), recorded)
        elif pending is not None and (event["action"], str(event["target"])) == (
            pending.action,
            pending.target,
        ):
            if event["type"] == "ok":
                faults.append(pending)
            pending = None
    return faults


def incomplete_warning(path: Path, gaps: HistoryGaps, steps: int) -> str:
    """The one line a replay of a history cut short starts with, before any cluster."""
    return (
        f"warning: {path} is incomplete: it {gaps.describe()}; the run was cut short, so this replay redoes "
        f"only the {steps} faults and heals recorded before the cut, and its verdict judges this replay, not "
        "the recorded run"
    )


def note_incomplete_source(result: ScenarioResult, path: Path, gaps: HistoryGaps) -> None:
    """Mark a replay's result with what its history lacks, where summaries, reports and verdicts.json show it."""
    if not gaps:
        return
    result.source_incomplete = gaps.describe()
    result.notes.append(
        f"replayed an incomplete history: {path} {gaps.describe()}; only the faults recorded before the cut "
        "were redone, so this verdict judges the replay, not the recorded run"
    )


def replay_history(
    cluster: BrokerCluster,
    path: Path,
    directory: Path,
    *,
    progress: Progress | None = None,
    drain_timeout: float = 60.0,
) -> ScenarioResult:
    """Run the recorded workload on `cluster` and redo every recorded fault and heal at its offset.

    `drain_timeout` is for tests that judge the faults redone, not what was left on the brokers."""
    header = read_header(path)
    gaps = history_gaps(path)
    # a move is redone when it happened: its clients reconnect then, to the pairs their sessions recorded
    steps = sorted(recorded_faults(path) + recorded_moves(path), key=lambda step: step.t)
    group = header.get("group")
    if group and group != cluster.topology.group:
        raise HarnessError(
            f"{path} was recorded on group {group!r}, this cluster is {cluster.topology.group!r}: "
            f"set AMQ_GROUP={group}"
        )
    config = WorkloadConfig(**header.get("workload", {}))
    # each client's sessions go where the history's went; a session the history did not have is placed as
    # the recorded run placed its clients (histories from before placements were recorded: by the VIP)
    placement = header.get("placement") or {"mode": VIP}
    pair_of = {node.name: node.pair for node in cluster.topology.nodes}
    run = ChaosRun(
        cluster,
        RunSpec(
            f"replay-{header.get('scenario', 'run')}",
            int(header.get("seed", 0)),
            directory,
            design=str(header.get("design") or header.get("topology") or cluster.settings.design.name),
            workload=config,
            # histories from before the header carried it: the design's declared weaknesses
            expected=header["expected"]
            if "expected" in header
            else SEED_WEAKNESSES.get(str(header.get("design") or header.get("topology")), {}),
            drain_timeout=drain_timeout,
            # judged by the same limit as the recorded run (a control or a scenario may set its own)
            unavailable_after=(header.get("facts") or {}).get("unavailable_after"),
            placement=placement.get("mode", VIP),
            place=placement.get("pinned") or {},
            recorded_routes=recorded_routes(read_history(path), pair_of),
        ),
        progress=progress,
    )
    # the same faults on other code or other images may not give the same outcome: say so
    changed = differences(header.get("provenance") or {}, provenance(cluster))
    with run:
        run.phase(
            phases.REPLAY,
            source=str(path),
            steps=len(steps),
            provenance_differs=changed,
            source_incomplete=gaps.describe(),
        )
        for step in steps:
            time.sleep(max(0.0, step.t - run.history.now()))
            _redo(run, step)
    assert run.result is not None
    run.result.replay = commands.replay(path)
    run.result.notes += [f"replayed on different provenance: {line}" for line in changed]
    note_incomplete_source(run.result, path, gaps)
    # the run wrote its verdicts before it knew it was a replay: again, with what a replay adds
    verdicts = Path(run.result.directory) / "verdicts.json"
    verdicts.write_text(json.dumps(run.result.to_json(), indent=2) + "\n")
    return run.result


def _redo(run: ChaosRun, step: RecordedFault) -> None:
    """Redo one recorded fault or heal through the fault registry; what cannot be redone stops the replay."""
    nemesis = run.nemesis
    if step.kind == "move":
        run.workload.move(str(step.value("who")), step.target)
        return
    if step.kind == "fault":
        nemesis.redo(dict(step.event))
        return
    kinds = kind_healed_by(step.action, step.value("heals"))
    for injected in reversed(list(nemesis.active)):
        if injected.target == step.target and injected.kind in kinds:
            nemesis.heal_one(injected)
            return
    raise HarnessError(
        f"cannot replay the heal {step.action} of {step.target} at {step.t:.3f} s: "
        f"no {' or '.join(kinds) or 'fault'} in force there"
    )
