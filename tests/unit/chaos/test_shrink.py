"""The shrinker's search without a cluster: delta debugging, shorter holds and lower rates against a predicate,
fault/heal pairing from a history, candidate histories, and a whole shrink against a fake runner whose runs
fail only when a given fault is there and held long enough."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from harness.chaos.shrink import (
    MIN_HOLD,
    Shrinker,
    ShrinkOutcome,
    candidate,
    ddmin,
    fault_steps,
    lower_rate,
    same_failure,
    scenario_text,
    shorter_holds,
    signature,
)
from harness.check.result import ScenarioResult
from harness.check.verdict import Verdict
from harness.history import history_gaps, read_header, read_history
from tests.support import assert_one_line_error, harness, recorded_run


def test_ddmin_finds_the_one_item_that_matters_and_keeps_order() -> None:
    calls: list[list[int]] = []

    def fails(items: list[int]) -> bool:
        calls.append(items)
        return 7 in items

    assert ddmin(list(range(12)), fails) == [7]
    assert all(c == sorted(c) for c in calls)


def test_ddmin_keeps_every_item_of_a_failure_that_needs_several() -> None:
    assert ddmin(list(range(10)), lambda items: {2, 5, 9} <= set(items)) == [2, 5, 9]
    # no single item can be removed from what it returns
    needs = {1, 4}
    found = ddmin(list(range(8)), lambda items: needs <= set(items))
    assert all(not needs <= set(found) - {item} for item in found)


def test_ddmin_empties_a_schedule_whose_failure_needs_no_fault() -> None:
    assert ddmin([1, 2, 3], lambda items: True) == []


def test_holds_halve_while_failing_and_rates_too() -> None:
    history = [*kill("chaos-mq01-a", 2.0, heal_at=18.0)]
    steps = fault_steps(history)
    shorter = shorter_holds(steps, lambda s: s[0].hold is not None and s[0].hold >= 3.0)
    assert shorter[0].hold == 4.0  # 16 -> 8 -> 4; 2 passes
    assert shorter_holds(steps, lambda s: True)[0].hold >= MIN_HOLD
    assert lower_rate(50.0, lambda r: r >= 10) == 12.5
    assert lower_rate(0.0, lambda r: False) == 0.0  # unthrottled stays unthrottled when 50/s passes


def kill(node: str, at: float, heal_at: float | None = None, action: str = "kill") -> list[dict]:
    events = [
        {"t": at, "p": "nemesis", "type": "invoke", "f": "fault", "action": action, "target": node},
        {"t": at + 0.1, "p": "nemesis", "type": "ok", "f": "fault", "action": action, "target": node},
    ]
    if heal_at is not None:
        heal = {"p": "nemesis", "f": "heal", "action": "start", "target": node, "heals": action}
        events += [{"t": heal_at, "type": "invoke", **heal}, {"t": heal_at + 0.1, "type": "ok", **heal}]
    return events


def test_faults_pair_with_their_heals_and_failed_ones_are_left_out() -> None:
    events = [
        *kill("chaos-mq01-a", 1.0, heal_at=5.0),
        {
            "t": 2.0,
            "p": "nemesis",
            "type": "invoke",
            "f": "fault",
            "action": "freeze",
            "target": "chaos-mq02-b",
        },
        {
            "t": 2.1,
            "p": "nemesis",
            "type": "fail",
            "f": "fault",
            "action": "freeze",
            "target": "chaos-mq02-b",
        },
        *kill("chaos-mq02-a", 6.0, action="restart"),
    ]
    steps = fault_steps(events)
    assert [(s.action, s.target, s.hold) for s in steps] == [
        ("kill", "chaos-mq01-a", 4.0),
        ("restart", "chaos-mq02-a", None),
    ]


def source_history(tmp_path: Path, failing: frozenset[str] = frozenset({"stuck:violated"})) -> Path:
    header = {
        "type": "header",
        "seed": 9,
        "scenario": "random-chaos",
        "design": "seed",
        "stream": "9:random-chaos",
    }
    header |= {"workload": {"rate": 50.0, "key": "9:random-chaos"}, "expected": {}}
    events = [
        {"t": 0.0, "p": "harness", "type": "ok", "f": "phase", "phase": "load"},
        {
            "t": 0.1,
            "p": "consumer-0",
            "type": "ok",
            "f": "connect",
            "route": "01",
            "session": 0,
            "broker": "b",
        },
        *kill("chaos-mq01-a", 2.0, heal_at=12.0),
        *kill("chaos-mq02-b", 20.0, heal_at=28.0),
        *kill("chaos-mq02-a", 40.0, action="restart"),
        {"t": 60.0, "p": "consumer-0", "type": "ok", "f": "deliver", "id": "x-p0-1", "broker": "b"},
        {"t": 70.0, "p": "harness", "type": "ok", "f": "phase", "phase": "final-state", "queues": {}},
    ]
    path = tmp_path / "run" / "history.jsonl"
    path.parent.mkdir()
    path.write_text(
        "".join(json.dumps(e) + "\n" for e in [header, *({**e, "i": i} for i, e in enumerate(events))])
    )
    verdicts = [Verdict(name.split(":")[0], False, {}) for name in failing]
    result = ScenarioResult("random-chaos", "seed", 9, str(path.parent), {}, verdicts)
    (path.parent / "verdicts.json").write_text(json.dumps(result.to_json()))
    return path


def test_a_candidate_keeps_the_sessions_and_only_the_chosen_faults(tmp_path: Path) -> None:
    path = source_history(tmp_path)
    events = list(read_history(path))
    steps = fault_steps(events)
    lines = candidate(read_header(path), events, steps[1:2], rate=25.0)
    assert lines[0]["type"] == "header" and lines[0]["workload"]["rate"] == 25.0
    assert [e["f"] for e in lines[1:]] == ["connect", "fault", "fault", "heal", "heal"]
    assert [e["i"] for e in lines[1:]] == [0, 1, 2, 3, 4]


def fake_runner(needed: str, min_hold: float, flaky: list[bool] | None = None):
    """Runs fail (stuck) when the fault on `needed` is in the candidate held at least `min_hold` s; `flaky`
    makes the first runs pass regardless."""
    runs: list[Path] = []

    def run(history: Path, folder: Path) -> ScenarioResult:
        runs.append(history)
        steps = fault_steps(read_history(history))
        hit = any(s.target == needed and (s.hold or 0) >= min_hold for s in steps)
        if flaky and flaky.pop(0):
            hit = False
        verdicts = [Verdict("stuck", not hit, {}), Verdict("lost", True, {})]
        return ScenarioResult("random-chaos", "seed", 9, str(folder), {}, verdicts)

    run.runs = runs  # type: ignore[attr-defined]
    return run


def test_a_whole_shrink_finds_the_fault_its_hold_and_writes_what_reruns_it(tmp_path: Path) -> None:
    source = source_history(tmp_path)
    run = fake_runner("chaos-mq02-b", min_hold=3.0)
    outcome = Shrinker(source, tmp_path / "shrink", run, tries=2, budget=40, log=lambda _: None).shrink()
    assert [(s.target, s.hold) for s in outcome.minimal] == [("chaos-mq02-b", 4.0)]  # 8 -> 4; 2 passes
    assert outcome.rate == 6.25 and not outcome.exhausted
    attempts = [
        json.loads(line) for line in (tmp_path / "shrink" / "attempts.jsonl").read_text().splitlines()
    ]
    assert len(attempts) == outcome.attempts and attempts[0]["failed"]
    # a passing candidate was tried twice, a failing one once
    assert outcome.runs == sum(1 if a["failed"] else 2 for a in attempts)
    minimal = fault_steps(read_history(outcome.history))
    assert [(s.target, s.hold) for s in minimal] == [("chaos-mq02-b", 4.0)]
    # written whole, with no phases: `make replay` of it is no replay of a history cut short
    assert not history_gaps(outcome.history) and not history_gaps(run.runs[0])
    text = outcome.scenario.read_text()
    ast.parse(text)
    assert "Step(20.0, 'kill', 'chaos-mq02-b', 4.0)" in text
    assert "stream='9:random-chaos'" in text and "shape={'rate': 6.25}" in text
    assert "@pytest.mark.chaos_declares({'seed': {}})" in text


def test_a_failure_that_shows_once_in_two_runs_is_still_a_failure(tmp_path: Path) -> None:
    source = source_history(tmp_path)
    run = fake_runner("chaos-mq01-a", min_hold=1.0, flaky=[False, True, False, True, False, True])
    outcome = Shrinker(source, tmp_path / "shrink", run, tries=2, budget=40, log=lambda _: None).shrink()
    assert [s.target for s in outcome.minimal] == ["chaos-mq01-a"]


def test_a_budget_stops_the_search_and_says_so(tmp_path: Path) -> None:
    source = source_history(tmp_path)
    outcome = Shrinker(
        source, tmp_path / "shrink", fake_runner("chaos-mq02-b", 3.0), tries=1, budget=2, log=lambda _: None
    ).shrink()
    assert outcome.exhausted and outcome.attempts == 2
    assert json.loads((tmp_path / "shrink" / "shrink.json").read_text())["exhausted"] is True


def test_a_run_that_does_not_fail_again_or_never_failed_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="did not fail again"):
        Shrinker(
            source_history(tmp_path), tmp_path / "s", fake_runner("nowhere", 1.0), log=lambda _: None
        ).shrink()
    (tmp_path / "p").mkdir()
    passing = source_history(tmp_path / "p", frozenset())
    with pytest.raises(ValueError, match="no undeclared violation"):
        Shrinker(passing, tmp_path / "s2", fake_runner("x", 1.0), log=lambda _: None).shrink()


def test_a_candidate_too_thin_to_judge_is_not_the_same_failure() -> None:
    target = frozenset({"available:violated"})
    assert same_failure(target, frozenset({"available:violated", "stuck:violated"}))
    assert not same_failure(target, frozenset({"available:violated", "exercised:unknown"}))
    assert not same_failure(target, frozenset({"stuck:violated"}))
    assert same_failure(frozenset({"lost:unknown"}), frozenset({"lost:unknown"}))


def test_the_signature_is_what_the_design_did_not_accept() -> None:
    result = ScenarioResult(
        "x",
        "seed",
        1,
        ".",
        {},
        [Verdict("stuck", False, {}, explained=True), Verdict("lost", None, {})],
        expected={"stuck": "declared"},
    )
    assert signature(result) == {"lost:unknown"}


def test_the_printed_scenario_keeps_an_availability_limit_the_run_set_itself(tmp_path: Path) -> None:
    """A run judged with its own `available` limit (a control's 5 s) prints a scenario judged alike, and a
    replay of it is judged alike (harness.chaos.replay reads the limit from the header's facts)."""
    steps = fault_steps(kill("chaos-mq01-a", 2.0, heal_at=12.0))
    outcome = ShrinkOutcome(
        tmp_path, tmp_path / "h.jsonl", steps, steps, 50.0, frozenset({"available"}), 2, 2, 1.0, False
    )
    header = {"scenario": "x", "seed": 3, "design": "hardened", "workload": {"rate": 50.0}}
    own_limit = scenario_text(header | {"facts": {"unavailable_after": 5}}, outcome, 0.0)
    ast.parse(own_limit)
    assert "unavailable_after=5" in own_limit
    assert "unavailable_after" not in scenario_text(
        header | {"facts": {"unavailable_after": 15.0}}, outcome, 0.0
    )
    assert "unavailable_after" not in scenario_text(header, outcome, 0.0)


def test_a_torn_history_is_refused_first_saying_what_it_lacks(tmp_path: Path) -> None:
    """A killed run's history has no verdicts of its own (they are written after its final state): there is
    no failure to shrink to. Even beside a failing run's verdicts (a copy cut short) it would shrink only the
    faults before the cut, against verdicts on the whole run: refused, saying so, before any folder."""
    torn = recorded_run(tmp_path / "killed" / "history.jsonl", killed=True)
    runs = tmp_path / "runs"
    lacks = f"{torn} is incomplete: it ends mid-line after 23 whole events (the last at t=4.2 s) and has no final-state phase"
    assert_one_line_error(harness("shrink", str(torn), RUNS_DIR=str(runs)), lacks)
    failing = ScenarioResult(
        "kill-live-master", "seed", 7, str(torn.parent), {}, [Verdict("stuck", False, {})]
    )
    (torn.parent / "verdicts.json").write_text(json.dumps(failing.to_json()))
    done = harness("shrink", str(torn), RUNS_DIR=str(runs))
    assert_one_line_error(done, lacks)
    assert (
        "shrinking needs a run recorded to its end" in done.stderr
        and f"make replay HISTORY={torn}" in done.stderr
    )
    assert not runs.exists()
    with pytest.raises(ValueError, match="is incomplete"):
        Shrinker(torn, tmp_path / "s", fake_runner("x", 1.0), log=lambda _: None)
