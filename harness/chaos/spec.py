"""What one run is, before any cluster exists: the scenario, its seed and random stream, its workload, what
it declares, its deadlines and where its clients go.

Built alike by the pytest plugin (a scenario's `chaos(...)` keywords are its fields), by replay (from a
history's header), by a soak (one per window), by shrink (one per candidate) and by tests; `ChaosRun` carries
it out against a cluster, and its history's header records it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.client.placement import SEEDED
from harness.client.workload import WorkloadConfig


@dataclass(frozen=True)
class RunSpec:
    scenario: str
    seed: int
    directory: Path  # the run's folder: history, logs, verdicts
    design: str | None = None  # the name results carry; default the cluster's design
    workload: WorkloadConfig | None = None  # default: the shape below on the queue chaos.<scenario>
    shape: Mapping[str, Any] = field(default_factory=dict)  # WorkloadConfig fields (harness.client.shape)
    expected: Mapping[str, str] = field(default_factory=dict)  # checker -> why the design may violate it
    recovery_timeout: float = 120.0
    drain_timeout: float = 60.0
    probe_timeout: float = 60.0
    start_consumers: bool = True  # False: the scenario starts them itself (a subscription race)
    deadline: float | None = None  # monotonic; the progress line shows the time left until it
    # longest stretch with no acknowledged send; default the design's measured takeover
    unavailable_after: float | None = None
    placement: str = SEEDED  # seeded or vip (harness.client.placement)
    # what its random schedule draws from, as the user chose it (FaultPlan.to_json); None: no such schedule
    fault_plan: Mapping[str, Any] | None = None
    place: Mapping[str, str] = field(default_factory=dict)  # a role -> a named pair ("consumer": "victim")
    # a replay's sessions go where the recorded history's went
    recorded_routes: Mapping[str, tuple[str | None, ...]] = field(default_factory=dict)
    # every random choice comes from this stream: default "<seed>:<scenario>"; a shrunk scenario names the
    # stream of the run it was shrunk from, so that it places its clients alike
    stream: str | None = None

    @property
    def random_stream(self) -> str:
        return self.stream or f"{self.seed}:{self.scenario}"
