"""A fault menu of the user's own (FAULTS=, INTERVAL=, HOLD=): what it draws, what it refuses, how it is
written down for a replay, and that a shrink reads a schedule drawn from it like any other (no Docker)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import commands
from harness.chaos.faults import FAULT_KINDS, refused
from harness.chaos.schedule import (
    MENU,
    RANDOM_KINDS,
    FaultPlan,
    fault_plan_from,
    parse_fault_plan,
    random_schedule,
)
from harness.chaos.shrink import fault_steps
from harness.errors import HarnessError
from tests.support import assert_one_line_error, harness


def test_the_default_plan_draws_what_every_earlier_seed_drew() -> None:
    assert FaultPlan().schedule(7, 300, "w0") == random_schedule(7, 300, stream="w0")
    assert fault_plan_from({}) == FaultPlan() and FaultPlan().words() == []
    assert FaultPlan().drawn_kinds() == RANDOM_KINDS


def test_a_chosen_menu_draws_only_its_kinds_and_the_ones_the_plain_menu_never_draws() -> None:
    plan = fault_plan_from({"FAULTS": "slow,freeze, lose-lock", "INTERVAL": "30s", "HOLD": "10"})
    assert plan == FaultPlan(("slow", "freeze", "lose-lock"), 30.0, 10.0)
    steps = plan.schedule(7, 600)
    assert len(steps) == 20 and {s.fault for s in steps} == {"slow", "freeze", "lose-lock"}
    assert {(s.fault, s.target) for s in steps} <= {
        ("slow", "live:random"),
        ("freeze", "live:random"),
        ("lose-lock", "random"),
    }
    assert all(7.5 <= s.hold <= 12.5 for s in steps)
    # offsets one interval apart, each jittered by at most a quarter of it
    assert all(30 * n <= s.offset <= 30 * n + 7.5 for n, s in enumerate(steps))
    assert plan.schedule(7, 600) == steps and plan.schedule(8, 600) != steps  # a pure function of the seed
    # the plain menu never draws these three: naming them is what lets a schedule draw them
    assert not {"slow", "lose-lock", "lossy"} & {kind for kind, _ in MENU}


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"FAULTS": "kill,nope"}, "FAULTS=kill,nope: unknown fault 'nope'"),
        ({"FAULTS": "hold-lock"}, "FAULTS=hold-lock: hold-lock is never drawn by a schedule"),
        ({"FAULTS": "partition"}, "FAULTS=partition: partition is never drawn by a schedule"),
        ({"INTERVAL": "10s", "HOLD": "8s"}, "HOLD=8s with INTERVAL=10s"),
        ({"INTERVAL": "soon"}, "INTERVAL='soon' is not a duration"),
        ({"HOLD": "0"}, "HOLD='0' must be longer than zero"),
    ],
)
def test_a_bad_plan_is_one_line(given: dict[str, str], message: str) -> None:
    with pytest.raises(HarnessError, match=message.replace("(", r"\(").replace(")", r"\)")) as caught:
        fault_plan_from(given)
    assert "\n" not in str(caught.value)


def test_a_plan_is_written_down_so_that_a_replay_redoes_it() -> None:
    plan = parse_fault_plan("kill,restart", 30.0, 10.0)
    assert plan.words() == ["FAULTS=kill,restart", "INTERVAL=30s", "HOLD=10s"]
    assert FaultPlan.from_json(json.loads(json.dumps(plan.to_json()))) == plan
    assert FaultPlan.from_json(FaultPlan().to_json()) == FaultPlan()  # the default stays the default
    assert FaultPlan.from_json(None) == FaultPlan()  # a soak.json from before plans were recorded
    assert commands.soak(3, 600, 300, "seed", faults=plan.words()) == (
        "SEED=3 DURATION=600s CHECKPOINT=300s DESIGN=seed FAULTS=kill,restart INTERVAL=30s HOLD=10s make soak"
    )
    assert (
        commands.chaos(3, faults=plan.words())
        == "SEED=3 FAULTS=kill,restart INTERVAL=30s HOLD=10s make chaos"
    )


def test_a_backend_without_a_kinds_mechanism_refuses_the_plan() -> None:
    plan = parse_fault_plan("kill,starve")
    line = refused(plan.drawn_kinds(), frozenset({"process", "filter"}), "ssh")
    assert line is not None and "starve (needs cpu)" in line and "kill" not in line
    assert refused(plan.drawn_kinds(), frozenset(k.needs for k in FAULT_KINDS.values()), "compose") is None


def test_a_schedule_drawn_from_a_chosen_menu_shrinks_like_any_other() -> None:
    # a soak window's faults as the history records them: a slow (healed) and a lose-lock (over at once)
    def fault(
        t: float, action: str, target: str, heal: str | None, heal_at: float | None = None
    ) -> list[dict]:
        events = [
            {"t": t, "p": "nemesis", "type": "invoke", "f": "fault", "action": action, "target": target},
            {"t": t + 0.1, "p": "nemesis", "type": "ok", "f": "fault", "action": action, "target": target},
        ]
        if heal and heal_at is not None:
            healed = {"p": "nemesis", "f": "heal", "action": heal, "target": target, "heals": action}
            events += [
                {"t": heal_at, "type": "invoke", **healed},
                {"t": heal_at + 0.1, "type": "ok", **healed},
            ]
        return events

    history = [*fault(2.0, "slow", "chaos-mq01-a", "unslow", 11.0), *fault(31.0, "lose-lock", "01", None)]
    steps = fault_steps(history)
    assert [(s.action, s.target) for s in steps] == [("slow", "chaos-mq01-a"), ("lose-lock", "01")]
    assert steps[0].hold == pytest.approx(9.0, abs=0.2)


def test_make_soak_stops_on_a_bad_plan_before_any_cluster(tmp_path: Path) -> None:
    done = harness("soak", "--duration", "10m", timeout=60, FAULTS="kill,teleport", RUNS_DIR=str(tmp_path))
    assert_one_line_error(done, "FAULTS=kill,teleport: unknown fault 'teleport'")
    assert not any(tmp_path.iterdir())
