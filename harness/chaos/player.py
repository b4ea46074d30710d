"""Playing a fault schedule against the cluster: each step's fault at its offset, healed `hold` seconds later.

One runner for both ways a schedule is played. In turn (the default), a step's fault is injected once the step
before it is healed and the pairs are back, and no sooner than its own offset. Overlapping (the combined
schedule), every inject and every heal sit on one clock, so faults are in force together, and a heal undoes
only its own fault. The pairs are waited for whenever no fault is left in force: while one is, they cannot
all be back.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from harness import phases
from harness.chaos.faults import Injected
from harness.chaos.nemesis import Nemesis
from harness.chaos.schedule import Step
from harness.errors import HarnessError

HEAL, INJECT = 0, 1  # at the same moment a heal goes first


@dataclass
class Player:
    nemesis: Nemesis
    wait_pairs: Callable[[], None]  # raises when the pairs do not come back in time
    phase: Callable[..., None]  # records a phase in the history

    def play(self, steps: list[Step], *, overlapping: bool = False) -> None:
        started = time.monotonic()
        schedule = [step.to_json() for step in steps]
        self.phase(phases.SCHEDULE, steps=schedule, **({"overlapping": True} if overlapping else {}))
        # (when, HEAL or INJECT, step index); in turn, only the next step's inject is ever waiting
        timeline = [(started + step.offset, INJECT, index) for index, step in enumerate(steps)]
        if not overlapping:
            timeline = timeline[:1]
        heapq.heapify(timeline)
        in_force: dict[int, Injected] = {}
        while timeline:
            when, action, index = heapq.heappop(timeline)
            _sleep_until(when)
            step = steps[index]
            if action == INJECT:
                injected = self._inject(step)
                if injected is False:  # not applied: the next step comes at its own offset
                    if not overlapping and index + 1 < len(steps):
                        heapq.heappush(timeline, (started + steps[index + 1].offset, INJECT, index + 1))
                    continue
                if injected is not None:
                    in_force[index] = injected
                heapq.heappush(timeline, (time.monotonic() + step.hold, HEAL, index))
                continue
            own = in_force.pop(index, None)
            if not overlapping:
                self.nemesis.heal()  # in turn, whatever is in force is this step's
            elif own is not None and any(a is own for a in self.nemesis.active):
                self.nemesis.heal_one(own)
            if not self.nemesis.active:
                try:
                    self.wait_pairs()
                except Exception as exc:
                    self.phase(phases.NOT_RECOVERED, problems=["pairs"], error=str(exc)[:300])
            if not overlapping and index + 1 < len(steps):
                heapq.heappush(timeline, (started + steps[index + 1].offset, INJECT, index + 1))

    def _inject(self, step: Step) -> Injected | Literal[False] | None:
        """The fault the step put in force (None: one that ends by itself), or False when it was not applied
        (no live node in the pair right now, the node it drew frozen already): recorded, the schedule goes
        on."""
        before = {id(a) for a in self.nemesis.active}
        try:
            if step.recorded is not None:
                self.nemesis.redo({**step.recorded, "action": step.fault, "target": step.target})
            else:
                self.nemesis.inject(step.fault, step.target)
        except HarnessError as exc:
            self.nemesis.history.append(
                "nemesis", "info", "fault", action=step.fault, target=step.target, error=str(exc)[:200]
            )
            return False
        added = [a for a in self.nemesis.active if id(a) not in before]
        return added[-1] if added else None


def _sleep_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.monotonic()))
