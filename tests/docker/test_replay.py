"""Replaying on the real cluster: a recorded run's faults redone on the same nodes in the same order, and one
seed placing the clients and drawing the faults alike twice."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from harness.chaos.replay import recorded_faults, replay_history
from harness.chaos.run import ChaosRun
from harness.chaos.schedule import Step
from harness.chaos.spec import RunSpec
from harness.client.workload import WorkloadConfig
from harness.cluster.control import Cluster
from harness.history import history_gaps, read_history

ARTIFACTS = Path(__file__).resolve().parents[2] / "runs" / "tests" / "replay"


@pytest.mark.docker
def test_replaying_a_history_redoes_its_fault_schedule(cluster: Cluster) -> None:
    # the drain is short: this test compares the faults and the placements, not what stayed on the brokers
    # (on the seed design a freeze strands messages, and the default drain would wait 60 s for them)
    original = ChaosRun(cluster, RunSpec("replay-source", 3, ARTIFACTS / "original", drain_timeout=5))
    with original:
        original.load(100)
        original.play(
            [
                Step(1.0, "freeze", "live:01", 3.0),
                Step(2.0, "partition-pairs", "pairs", 3.0),
                Step(1.0, "restart", "waiting:02", 0.5),
            ]
        )
    recorded = recorded_faults(original.history.path)
    assert [s.key[:2] for s in recorded][:3] == [
        ("fault", "freeze"),
        ("heal", "thaw"),
        ("fault", "partition-pairs"),
    ]

    replay = replay_history(cluster, original.history.path, ARTIFACTS / "replay", drain_timeout=5)
    replayed = recorded_faults(Path(replay.directory) / "history.jsonl")
    assert [s.key for s in replayed] == [s.key for s in recorded]  # same faults, same nodes, same order
    # the first fault comes at its offset, and every fault is held as long as its recorded one (within 1 s).
    # A later fault waits for the pairs to be back from the one before, as in the original, and that recovery
    # takes what the machine gives it: its time is not compared (a fresh clone's run under two workers: the
    # restart 1.25 s later than recorded, after a slower recovery from the partition)
    offsets = [round(b.t - a.t, 3) for a, b in zip(recorded, replayed, strict=True)]
    assert abs(offsets[0]) <= 1.0, offsets

    def holds(steps: list) -> list[float]:
        return [b.t - a.t for a, b in itertools.pairwise(steps) if a.key[0] == "fault" and b.key[0] == "heal"]

    assert len(holds(recorded)) >= 2 and len(holds(replayed)) == len(holds(recorded))
    assert all(abs(b - a) <= 1.0 for a, b in zip(holds(recorded), holds(replayed), strict=True)), (
        holds(recorded),
        holds(replayed),
    )
    # each client's sessions asked for the pairs the history's did, in the same order
    original_routes, replayed_routes = (
        sessions(original.history.path),
        sessions(Path(replay.directory) / "history.jsonl"),
    )
    assert set(replayed_routes) == set(original_routes) == set(CLIENTS)
    for process in CLIENTS:
        n = min(len(original_routes[process]), len(replayed_routes[process]))
        assert n >= 1 and [r for r, _ in replayed_routes[process][:n]] == [
            r for r, _ in original_routes[process][:n]
        ]
    # what the brokers then did is the replay's own: checked, not compared
    assert replay.counts["acknowledged"] > 0 and {v.checker for v in replay.verdicts} >= {"lost", "stuck"}
    assert replay.source_incomplete == "" and not history_gaps(original.history.path)  # a whole run's history


CLIENTS = {"producer-0", "producer-1", "consumer-0", "consumer-1"}


def sessions(path: Path) -> dict[str, list[tuple[str | None, str]]]:
    """Each client's sessions in order: (the pair it asked the VIP for, the broker it landed on)."""
    found: dict[str, list[tuple[str | None, str]]] = {}
    for event in read_history(path):
        if event["f"] == "connect" and event["type"] == "ok" and event["p"] in CLIENTS:
            found.setdefault(event["p"], []).append((event["route"], event["broker"]))
    return found


@pytest.mark.docker
def test_one_seed_places_the_clients_and_draws_the_faults_alike_twice(cluster: Cluster) -> None:
    """The same seed twice: the same fault on the same node at the same offset, and every client session
    asking for the same pair; the first sessions, on a healthy cluster, land on the same brokers."""
    runs = []
    for n in (1, 2):
        # a queue each: what the first run stranded must not reach the second's consumers
        queue = WorkloadConfig(queue=f"chaos.placement-twice-{n}")
        run = ChaosRun(  # a short drain: placements and faults are compared, not what was stranded
            cluster, RunSpec("placement-twice", 8, ARTIFACTS / f"twice-{n}", workload=queue, drain_timeout=5)
        )
        with run:
            run.load(100)
            run.play([Step(0.5, "freeze", "live:random", 6.0)])
        runs.append(run)
    first, second = (sessions(run.history.path) for run in runs)
    assert set(first) == set(second) == CLIENTS
    for process in CLIENTS:
        n = min(len(first[process]), len(second[process]))
        assert n >= 1 and [r for r, _ in first[process][:n]] == [r for r, _ in second[process][:n]], process
        assert first[process][0] == second[process][0]
        assert first[process][0][1] == f"{cluster.topology.group}-mq{first[process][0][0]}-a"
    # the seed placed them (no route left to the VIP), on both pairs for this seed
    assert {first[process][0][0] for process in CLIENTS} == {"01", "02"}
    faults = [[(s.kind, s.action, s.target) for s in recorded_faults(run.history.path)] for run in runs]
    assert faults[0] == faults[1] and faults[0][0][:2] == ("fault", "freeze")
