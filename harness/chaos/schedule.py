"""Fault schedules as pure functions of the seed: the same seed gives the same faults, on the same roles,
at the same offsets. A schedule is data; `ChaosRun.play` applies it."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from harness.chaos.faults import chosen_menu, schedule_menu
from harness.errors import HarnessError
from harness.settings import parse_duration

# each fault is held its schedule's hold, give or take this fraction of it
HOLD_JITTER = 0.25
# (fault kind, target role) pairs the random schedule draws from, as the kinds declare them; roles resolve
# to nodes when applied
MENU: tuple[tuple[str, str], ...] = tuple(schedule_menu())
COMBINED_MENU: tuple[tuple[str, str], ...] = tuple(schedule_menu(combined=True))
# the kinds each schedule may draw, for a scenario's chaos_faults marker
RANDOM_KINDS: tuple[str, ...] = tuple(dict.fromkeys(kind for kind, _ in MENU))
COMBINED_KINDS: tuple[str, ...] = tuple(dict.fromkeys(kind for kind, _ in COMBINED_MENU))


@dataclass(frozen=True)
class Step:
    offset: float  # seconds after the schedule starts
    fault: str
    target: str
    hold: float  # seconds the fault stays in force before its heal
    # a fault as a history recorded its invoke (node names, a partition's grudge, a loss): redone exactly, as
    # replay does, instead of applied from `fault` and `target` (shrunk schedules need it)
    recorded: dict[str, Any] | None = None

    def to_json(self) -> dict[str, object]:
        record = asdict(self)
        if self.recorded is None:
            del record["recorded"]
        return record


def random_schedule(
    seed: int,
    duration: float,
    interval: float = 20.0,
    hold: float = 8.0,
    *,
    stream: str = "",
    kinds: tuple[str, ...] = (),
) -> list[Step]:
    """One fault every `interval` seconds for `duration` seconds, each held `hold` seconds (±25 %), drawn
    from MENU, or from the targets of `kinds` where given (a user's FAULTS=).

    `stream` names an independent sequence under the same seed (a soak's windows: "w0", "w1"...)."""
    rng = random.Random(f"schedule:{seed}{':' + stream if stream else ''}")
    return _draw(rng, tuple(chosen_menu(kinds)) if kinds else MENU, duration, interval, hold)


@dataclass(frozen=True)
class FaultPlan:
    """What a random schedule draws, as a user chose it (FAULTS=, INTERVAL=, HOLD=): the fault kinds (none:
    MENU, what every earlier seed drew from), a fault every `interval` seconds, each held about `hold`."""

    kinds: tuple[str, ...] = ()
    interval: float = 20.0
    hold: float = 8.0

    def schedule(self, seed: int, duration: float, stream: str = "") -> list[Step]:
        return random_schedule(seed, duration, self.interval, self.hold, stream=stream, kinds=self.kinds)

    def drawn_kinds(self) -> tuple[str, ...]:
        return self.kinds or RANDOM_KINDS

    def words(self) -> list[str]:
        """The make variables that redo this plan (none for the default)."""
        default = FaultPlan()
        words = [f"FAULTS={','.join(self.kinds)}"] if self.kinds else []
        if self.interval != default.interval:
            words.append(f"INTERVAL={self.interval:g}s")
        if self.hold != default.hold:
            words.append(f"HOLD={self.hold:g}s")
        return words

    def to_json(self) -> dict[str, object]:
        """As a history's header and a soak's soak.json keep it: `chosen` says whether `kinds` were given."""
        return {
            "kinds": list(self.drawn_kinds()),
            "chosen": bool(self.kinds),
            "interval": self.interval,
            "hold": self.hold,
        }

    @classmethod
    def from_json(cls, data: Any) -> FaultPlan:
        """Back from to_json; the default plan where nothing was recorded (a soak.json from before plans)."""
        if not isinstance(data, dict):
            return cls()
        return cls(
            tuple(data.get("kinds") or ()) if data.get("chosen") else (),
            float(data.get("interval", cls.interval)),
            float(data.get("hold", cls.hold)),
        )


def fault_plan_from(given: Mapping[str, str]) -> FaultPlan:
    """FAULTS=, INTERVAL= and HOLD= as the harness reads its settings (make variables, AMQ_CHAOS_*): the
    default plan where none is given, a one-line error for a bad one."""
    try:
        interval = parse_duration(given["INTERVAL"], "INTERVAL") if given.get("INTERVAL") else None
        hold = parse_duration(given["HOLD"], "HOLD") if given.get("HOLD") else None
    except ValueError as exc:
        raise HarnessError(str(exc)) from None
    return parse_fault_plan(given.get("FAULTS", ""), interval, hold)


def parse_fault_plan(faults: str = "", interval: float | None = None, hold: float | None = None) -> FaultPlan:
    """A FaultPlan from FAULTS= (comma-separated kinds) and INTERVAL=/HOLD= in seconds; a one-line error for an
    unknown or undrawable kind, or a hold as long as the interval (the plain schedule holds one at a time)."""
    kinds = tuple(dict.fromkeys(k.strip() for k in faults.split(",") if k.strip()))
    try:
        chosen_menu(kinds)  # an unknown or undrawable kind stops here
    except HarnessError as exc:
        raise HarnessError(f"FAULTS={faults}: {exc}") from None
    plan = FaultPlan(
        kinds,
        interval if interval is not None else FaultPlan.interval,
        hold if hold is not None else FaultPlan.hold,
    )
    longest = 1 + HOLD_JITTER
    if plan.hold * longest >= plan.interval:
        raise HarnessError(
            f"HOLD={plan.hold:g}s with INTERVAL={plan.interval:g}s: a fault is held up to {longest:g} x HOLD, which "
            f"must end before the next one (INTERVAL at least {longest:g} x HOLD)"
        )
    return plan


def combined_schedule(
    seed: int, duration: float, interval: float = 20.0, *, at_once: int = 2, stream: str = ""
) -> list[Step]:
    """Jepsen's combined nemesis: faults drawn from the seed whose windows overlap, about `at_once` in force at
    a time: one every `interval / at_once` seconds (jittered by a quarter of that), each held about `interval`
    seconds (±25 %). Play it with `ChaosRun.play(steps, overlapping=True)`; the run's end heals everything."""
    rng = random.Random(f"combined:{seed}{':' + stream if stream else ''}")
    return _draw(rng, COMBINED_MENU, duration, interval / at_once, interval)


def _draw(
    rng: random.Random, menu: tuple[tuple[str, str], ...], duration: float, spacing: float, hold: float
) -> list[Step]:
    """A fault from `menu` every `spacing` seconds (jittered by a quarter of it), each held `hold` (±25 %).
    The order of the draws is what earlier seeds' schedules were made of: keep it."""
    steps = []
    offset = 0.0
    while offset + spacing <= duration:
        fault, target = rng.choice(menu)
        steps.append(
            Step(
                round(offset + rng.uniform(0, spacing / 4), 3),
                fault,
                target,
                round(hold * rng.uniform(1 - HOLD_JITTER, 1 + HOLD_JITTER), 3),
            )
        )
        offset += spacing
    return steps


def most_in_force(steps: list[Step]) -> int:
    """The most faults a schedule holds at once, as planned (a restart counts for no time)."""
    edges = sorted([(s.offset, 1) for s in steps] + [(s.offset + s.hold, -1) for s in steps])
    most = current = 0
    for _, change in edges:
        current += change
        most = max(most, current)
    return most
