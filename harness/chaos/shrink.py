"""Shrinking a failing run: the smallest fault schedule that still fails the same way.

A failing chaos run or soak window hands over a history with many faults; most do not matter. The shrinker
takes the faults that took effect (each with its heal, as recorded), and searches, by replaying candidate
histories on fresh clusters (harness.chaos.replay: the same nodes, offsets and client placements):

1. which faults matter: delta debugging (Zeller's ddmin) over the faults, down to a schedule from which no
   single fault can be removed;
2. how long each must hold: each remaining heal moved earlier, halving the hold while it still fails (down to
   one second);
3. how much load: the producers' rate halved while it still fails (down to 5 per second each).

"Fails the same way" means the candidate's run shows every undeclared violation the original showed, per
checker (`signature`), and leaves no other property undecided (`same_failure`): a pass, or a run too thin to
judge, is not the same failure. Outcomes depend on timing, so
each candidate is run up to `tries` times and counts as failing if any run fails (a flaky failure is kept,
never shrunk away by one lucky pass); the search stops after `budget` candidates and says so. Every attempt
is a folder of its own (its candidate history, each try's run with its report) and a line in
`attempts.jsonl`; the result is `minimal.jsonl` (a history `make replay` redoes) and `scenario.py` (a
scenario to paste into `scenarios/`).

The search itself is pure (`ddmin`, `shorter_holds`, `lower_rate` take a predicate), so it is tested without
a cluster; `Shrinker` runs the candidates through a function given to it.

A history cut short (a killed run's: a torn last line, no final-state phase) is refused: its run wrote no
verdicts (they come after the final state), and verdicts found beside it judge a whole run whose later faults
it no longer holds, so there is no failure its faults could be shown to reproduce. Candidates and
`minimal.jsonl` are written whole and say so in their header (`harness.history.BUILT`), so a replay of them is
no replay of a history cut short.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from harness import commands
from harness.chaos.faults import FAULT_KINDS, kind_healed_by
from harness.check.result import ScenarioResult
from harness.design.catalog import DESIGNS
from harness.history import BUILT, history_gaps, read_header, read_history

Event = dict[str, Any]
T = TypeVar("T")

MIN_HOLD = 1.0  # seconds: a shorter fault is a different fault (the VIP's checks and lock retries are slower)
MIN_RATE = 5.0  # sends per second per producer: below this a run has too little evidence to judge
# events a replay reads besides the faults: where each client session went, and clients moved by the scenario
KEPT = frozenset({"connect", "move"})


@dataclass(frozen=True)
class FaultStep:
    """One fault that took effect, with its heal as recorded (none for a fault that ends by itself)."""

    fault: tuple[Event, ...]  # its invoke and ok
    heal: tuple[Event, ...] = ()  # its heal's invoke and ok

    @property
    def start(self) -> float:
        return float(self.fault[0]["t"])

    @property
    def action(self) -> str:
        return str(self.fault[0]["action"])

    @property
    def target(self) -> str:
        return str(self.fault[0]["target"])

    @property
    def hold(self) -> float | None:
        return float(self.heal[0]["t"]) - self.start if self.heal else None

    def label(self) -> str:
        hold = f", held {self.hold:.1f} s" if self.hold is not None else ""
        return f"{self.action} {self.target} at {self.start:.1f} s{hold}"

    def held(self, hold: float) -> FaultStep:
        """The same fault healed `hold` seconds after it began."""
        if not self.heal:
            return self
        shift = self.start + hold - float(self.heal[0]["t"])
        return FaultStep(self.fault, tuple({**e, "t": round(float(e["t"]) + shift, 6)} for e in self.heal))

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "target": self.target, "start": self.start, "hold": self.hold}


def fault_steps(events: Iterable[Event]) -> list[FaultStep]:
    """The nemesis's faults that took effect (invoke answered by ok), each paired with the first heal of its
    target that heals its kind."""
    steps: list[FaultStep] = []
    open_faults: dict[str, list[int]] = {}  # target -> indexes of its faults awaiting a heal
    pending: Event | None = None
    for event in events:
        if event.get("p") != "nemesis" or event.get("f") not in ("fault", "heal"):
            continue
        if event["type"] == "invoke":
            pending = event
            continue
        if pending is None or (event["action"], event["target"]) != (pending["action"], pending["target"]):
            continue
        invoke, pending = pending, None
        if event["type"] != "ok":
            continue
        target = str(invoke["target"])
        if invoke["f"] == "fault":
            kind = FAULT_KINDS.get(str(invoke["action"]))
            steps.append(FaultStep((invoke, event)))
            if kind is not None and not kind.ends_by_itself:
                open_faults.setdefault(target, []).append(len(steps) - 1)
            continue
        heals = kind_healed_by(str(invoke["action"]), invoke.get("heals"))
        for index in reversed(open_faults.get(target, [])):
            if steps[index].action in heals:
                steps[index] = FaultStep(steps[index].fault, (invoke, event))
                open_faults[target].remove(index)
                break
    return steps


def candidate(
    header: dict[str, Any], events: Sequence[Event], steps: Sequence[FaultStep], rate: float | None = None
) -> list[Event]:
    """A history a replay can redo: the header (with the producers' rate, if given), every client's
    sessions and moves, and only `steps`' faults and heals, in time order."""
    chosen = [e for step in steps for e in (*step.fault, *step.heal)]
    kept = [e for e in events if e.get("f") in KEPT and e.get("p") != "nemesis"]
    body = sorted(kept + chosen, key=lambda e: float(e["t"]))
    if rate is not None:
        header = {**header, "workload": {**header.get("workload", {}), "rate": rate}}
    return [{**header, "type": "header", BUILT: "shrink"}, *({**e, "i": i} for i, e in enumerate(body))]


def write_history(path: Path, lines: Sequence[Event]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def signature(result: ScenarioResult) -> frozenset[str]:
    """What a run's failure consists of: each checker whose verdict the design did not accept, with whether
    it was violated or undecided."""
    return frozenset(
        f"{v.checker}:{'violated' if v.valid is False else 'unknown'}"
        for v in result.verdicts
        if v.checker in result.unexpected
    )


def same_failure(target: frozenset[str], seen: frozenset[str]) -> bool:
    """The candidate shows every violation of the original and adds no undecided property: a schedule (or a
    rate) too thin to give the verdict its evidence fails for another reason, and is not a smaller case."""
    return target <= seen and not any(s.endswith(":unknown") for s in seen - target)


# ---------------------------------------------------------------------------------------------- search
def ddmin(items: Sequence[T], fails: Callable[[list[T]], bool]) -> list[T]:
    """Zeller's delta debugging: a subsequence of `items` that still fails and from which no single item can
    be removed (1-minimal), given that `items` fails. Order is kept."""
    current = list(items)
    granularity = 2
    while len(current) >= 2:
        chunks = _split(current, granularity)
        for chunk in chunks:
            if fails(chunk):
                current, granularity = chunk, 2
                break
        else:
            for index in range(len(chunks)):
                complement = [item for i, chunk in enumerate(chunks) if i != index for item in chunk]
                if fails(complement):
                    current, granularity = complement, max(granularity - 1, 2)
                    break
            else:
                if granularity >= len(current):
                    break
                granularity = min(granularity * 2, len(current))
    if len(current) == 1 and fails([]):
        return []
    return current


def _split(items: list[T], parts: int) -> list[list[T]]:
    size, extra = divmod(len(items), parts)
    chunks, start = [], 0
    for n in range(parts):
        end = start + size + (1 if n < extra else 0)
        if end > start:
            chunks.append(items[start:end])
        start = end
    return chunks


def shorter_holds(steps: list[FaultStep], fails: Callable[[list[FaultStep]], bool]) -> list[FaultStep]:
    """Each healed fault's hold halved while the schedule still fails, never below MIN_HOLD."""
    steps = list(steps)
    for index, step in enumerate(steps):
        while step.hold is not None and step.hold / 2 >= MIN_HOLD:
            shorter = step.held(round(step.hold / 2, 3))
            trial = [*steps[:index], shorter, *steps[index + 1 :]]
            if not fails(trial):
                break
            steps, step = trial, shorter
    return steps


def lower_rate(rate: float, fails: Callable[[float], bool]) -> float:
    """The producers' rate halved while it still fails, never below MIN_RATE (an unthrottled rate, 0, is
    first tried at the default 50)."""
    current = rate if rate > 0 else math.inf
    proposal = 50.0 if current == math.inf else current / 2
    while proposal >= MIN_RATE and fails(proposal):
        current, proposal = proposal, proposal / 2
    return 0.0 if current == math.inf else current


# ---------------------------------------------------------------------------------------------- running
RunCandidate = Callable[[Path, Path], ScenarioResult]  # (candidate history, attempt folder) -> result


@dataclass
class ShrinkOutcome:
    directory: Path
    source: Path
    original: list[FaultStep]
    minimal: list[FaultStep]
    rate: float
    target: frozenset[str]
    attempts: int
    runs: int
    seconds: float
    exhausted: bool  # the budget ran out before the search finished
    history: Path = field(default_factory=Path)
    scenario: Path = field(default_factory=Path)


class BudgetExhausted(Exception):
    pass


class Shrinker:
    def __init__(
        self,
        source: Path,
        directory: Path,
        run: RunCandidate,
        *,
        tries: int = 2,
        budget: int = 30,
        target: frozenset[str] | None = None,
        phases: Sequence[str] = ("faults", "holds", "rate"),
        verify: bool = True,
        log: Callable[[str], None] = print,
    ) -> None:
        self.source = source
        self.directory = directory
        self.run = run
        self.tries = tries
        self.budget = budget
        self.phases = tuple(phases)
        self.verify = (
            verify  # run the recorded schedule once more first (a test that just recorded it may skip)
        )
        self.log = log
        gaps = history_gaps(source)
        if gaps:
            raise ValueError(
                f"{source} is incomplete: it {gaps.describe()}; shrinking needs a run recorded to its end (a killed "
                f"run wrote no verdicts, and any beside it judge faults it no longer holds): to see what its "
                f"recorded faults do now, {commands.replay(source)}"
            )
        self.header = read_header(source)
        self.events = list(read_history(source))
        self.steps = fault_steps(self.events)
        self.target = target if target is not None else self._recorded_signature()
        self.rate = float(self.header.get("workload", {}).get("rate", 50.0))
        self.attempts = 0
        self.runs = 0
        self._seen: dict[tuple[Any, ...], bool] = {}

    def _recorded_signature(self) -> frozenset[str]:
        verdicts = self.source.with_name("verdicts.json")
        if not verdicts.exists():
            raise ValueError(f"{verdicts} is missing: the shrinker needs the failing run's verdicts")
        return signature(ScenarioResult.from_json(json.loads(verdicts.read_text())))

    def fails(self, steps: Sequence[FaultStep], rate: float | None = None) -> bool:
        """Whether this candidate fails the same way in any of up to `tries` runs (each one recorded)."""
        rate = self.rate if rate is None else rate
        key = (tuple((s.start, s.action, s.target, s.hold) for s in steps), rate)
        if key in self._seen:
            return self._seen[key]
        if self.attempts >= self.budget:
            raise BudgetExhausted
        self.attempts += 1
        folder = self.directory / f"attempt-{self.attempts:03d}"
        history = write_history(folder / "candidate.jsonl", candidate(self.header, self.events, steps, rate))
        failed, seen = False, []
        for attempt in range(1, self.tries + 1):
            self.runs += 1
            result = self.run(history, folder / f"try-{attempt}")
            seen.append(sorted(signature(result)))
            if same_failure(self.target, signature(result)):
                failed = True
                break
        self._seen[key] = failed
        record = {
            "attempt": self.attempts,
            "faults": [s.to_json() for s in steps],
            "rate": rate,
            "failed": failed,
            "signatures": seen,
            "folder": str(folder),
        }
        with (self.directory / "attempts.jsonl").open("a") as out:
            out.write(json.dumps(record) + "\n")
        self.log(
            f"  attempt {self.attempts:>3}: {len(steps)} faults"
            f"{'' if rate == self.rate else f', rate {rate:g}/s'} -> {'FAILS' if failed else 'passes'}"
            f" ({len(seen)} run{'s' if len(seen) > 1 else ''})"
        )
        return failed

    def shrink(self) -> ShrinkOutcome:
        started = time.monotonic()
        if not self.target:
            raise ValueError(f"{self.source} shows no undeclared violation: nothing to shrink")
        self.directory.mkdir(parents=True, exist_ok=True)
        self.log(
            f"shrinking {len(self.steps)} faults from {self.source} (fails: {', '.join(sorted(self.target))}); "
            f"up to {self.tries} runs per candidate, {self.budget} candidates"
        )
        minimal, rate, exhausted = list(self.steps), self.rate, False
        try:
            if self.verify and not self.fails(minimal):
                raise ValueError("the recorded schedule did not fail again in any try: nothing to shrink")
            if "faults" in self.phases:
                minimal = ddmin(minimal, lambda steps: self.fails(steps))
            if "holds" in self.phases:
                minimal = shorter_holds(minimal, lambda steps: self.fails(steps))
            if "rate" in self.phases:
                rate = lower_rate(self.rate, lambda r: self.fails(minimal, r))
        except BudgetExhausted:
            exhausted = True
        outcome = ShrinkOutcome(
            self.directory,
            self.source,
            self.steps,
            minimal,
            rate,
            self.target,
            self.attempts,
            self.runs,
            time.monotonic() - started,
            exhausted,
        )
        outcome.history = write_history(
            self.directory / "minimal.jsonl", candidate(self.header, self.events, minimal, rate)
        )
        outcome.scenario = self.directory / "scenario.py"
        load = next((float(e["t"]) for e in self.events if e.get("phase") == "load"), 0.0)
        outcome.scenario.write_text(scenario_text(self.header, outcome, load))
        (self.directory / "shrink.json").write_text(
            json.dumps(
                {
                    "source": str(self.source),
                    "target": sorted(self.target),
                    "original": [s.to_json() for s in self.steps],
                    "minimal": [s.to_json() for s in minimal],
                    "rate": rate,
                    "attempts": self.attempts,
                    "runs": self.runs,
                    "seconds": round(outcome.seconds, 1),
                    "exhausted": exhausted,
                    "tries": self.tries,
                    "budget": self.budget,
                },
                indent=2,
            )
            + "\n"
        )
        return outcome


# ---------------------------------------------------------------------------------------------- output
SHAPE_DEFAULTS: dict[str, Any] = {
    "producers": 2,
    "consumers": 2,
    "rate": 50.0,
    "size": "",
    "queues": 1,
    "persistent": True,
    "churn": 0.0,
    "subscribers": 0,
}


def scenario_text(header: dict[str, Any], outcome: ShrinkOutcome, load_started: float) -> str:
    """A scenario to paste into scenarios/: the original run's random stream (so the same client placement
    and message plan under seeded placement), its declarations, and the minimal faults at their offsets from
    the start of the load."""
    scenario = str(header.get("scenario", "run"))
    name = "shrunk_" + "".join(c if c.isalnum() else "_" for c in scenario)
    workload = header.get("workload", {})
    shape = {k: workload[k] for k in SHAPE_DEFAULTS if k in workload and workload[k] != SHAPE_DEFAULTS[k]}
    shape.pop("rate", None)
    if outcome.rate != SHAPE_DEFAULTS["rate"]:
        shape["rate"] = outcome.rate
    placement = header.get("placement") or {}
    stream = workload.get("key") or f"{header.get('seed')}:{scenario}"
    options = [f"stream={stream!r}"]
    if shape:
        options.append(f"shape={shape!r}")
    if placement.get("pinned"):
        options.append(f"place={placement['pinned']!r}")
    if placement.get("mode") == "vip":
        options.append("placement='vip'")  # round robin: where the VIP put each session may differ
    design = str(header.get("design", ""))
    limit = (header.get("facts") or {}).get("unavailable_after")
    if limit is not None and design in DESIGNS and limit != DESIGNS[design].unavailable_after:
        options.append(f"unavailable_after={limit!r}")  # the run set its own `available` limit
    declared = ", ".join(f"{k!r}: {_weakness(v)}" for k, v in sorted((header.get("expected") or {}).items()))
    lines = [
        "import pytest",
        "",
        "from harness.chaos.schedule import Step",
        "from harness.check import weaknesses",
        "",
        "",
        f"@pytest.mark.chaos_declares({{{design!r}: {{{declared}}}}})",
        f"def test_{name}(chaos) -> None:",
        f'    """Shrunk from {outcome.source} (seed {header.get("seed")}, {design}): {len(outcome.minimal)} of',
        f"    {len(outcome.original)} faults, in {outcome.attempts} candidates and {outcome.runs} runs.",
        f'    Fails with {", ".join(sorted(outcome.target))}. Run it with DESIGN={design}."""',
        f"    with chaos({', '.join(options)}) as run:",
        "        run.play(",
        "            [",
    ]
    for step in outcome.minimal:
        offset = round(step.start - load_started, 3)
        hold = round(step.hold, 3) if step.hold is not None else 0.0
        recorded = {k: v for k, v in step.fault[0].items() if k not in ("i", "t", "p", "type", "f")}
        # what the kind's name and a node cannot say (a partition's grudge, a loss, a rate) goes as recorded
        needs = set(recorded) - {"action", "target", "heal", "named_as", "heals"}
        extra = f", recorded={recorded!r}" if needs else ""
        lines.append(f"                Step({offset}, {step.action!r}, {step.target!r}, {hold}{extra}),")
    lines += ["            ]", "        )", ""]
    return "\n".join(lines)


def _weakness(text: str) -> str:
    """The name a declaration's text has in harness.check.weaknesses, else the text itself."""
    from harness.check import weaknesses

    name = next((n for n, v in vars(weaknesses).items() if v == text and n.isupper()), None)
    return f"weaknesses.{name}" if name else repr(text)
