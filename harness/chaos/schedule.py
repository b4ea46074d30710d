"""Fault schedules as pure functions of the seed: the same seed gives the same faults, on the same roles,
at the same offsets. A schedule is data; `ChaosRun.play` applies it."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Any

from harness.chaos.faults import schedule_menu

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
    seed: int, duration: float, interval: float = 20.0, hold: float = 8.0, *, stream: str = ""
) -> list[Step]:
    """One fault every `interval` seconds for `duration` seconds, each held `hold` seconds (±25 %).

    `stream` names an independent sequence under the same seed (a soak's windows: "w0", "w1"...)."""
    rng = random.Random(f"schedule:{seed}{':' + stream if stream else ''}")
    return _draw(rng, MENU, duration, interval, hold)


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
                round(hold * rng.uniform(0.75, 1.25), 3),
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
