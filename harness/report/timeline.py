"""A run's history folded into per-second series for the report: acknowledged sends, deliveries, end-to-end
latency percentiles, queue depth per broker, and the windows during which each fault was in force.

One pass over the file; memory grows with the run's seconds and its in-flight ids, not with its events'
total size, so a report can be drawn from a long history.
"""

from __future__ import annotations

import collections
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from harness.chaos.faults import FAULT_KINDS
from harness.history import Event

# faults that end by themselves (a restart is over when the container is back); the rest end at their heal
SELF_ENDING = frozenset(k.name for k in FAULT_KINDS.values() if k.ends_by_itself)


@dataclass(frozen=True)
class FaultWindow:
    start: float
    end: float
    label: str  # e.g. "kill chaos-mq01-a"
    healed: bool = True


@dataclass
class Timeline:
    duration: float = 0.0
    acknowledged: list[int] = field(default_factory=list)  # per second
    delivered: list[int] = field(default_factory=list)  # per second
    latency: dict[str, list[float | None]] = field(default_factory=dict)  # p50/p95/p99 per second, seconds
    overall_latency: dict[str, float] = field(default_factory=dict)  # p50/p95/p99/max over the whole run
    depth: dict[str, list[tuple[float, int]]] = field(default_factory=dict)  # broker -> (t, queue size)
    faults: list[FaultWindow] = field(default_factory=list)
    phases: list[tuple[float, str]] = field(default_factory=list)


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def build_timeline(events: Iterable[Event]) -> Timeline:
    timeline = Timeline()
    invoked_at: dict[str, float] = {}
    acked: collections.Counter[int] = collections.Counter()
    delivered: collections.Counter[int] = collections.Counter()
    latencies: dict[int, list[float]] = collections.defaultdict(list)
    open_faults: dict[str, tuple[float, str]] = {}  # target -> (start, label)
    last = 0.0
    for event in events:
        t = event["t"]
        last = t
        f = event["f"]
        second = int(t)
        if f == "send":
            kind = event["type"]
            if kind == "invoke":
                invoked_at[event["id"]] = t
            elif kind == "ok":
                acked[second] += 1
        elif f == "deliver":
            delivered[second] += 1
            sent = invoked_at.get(event["id"])
            if sent is not None:
                latencies[second].append(t - sent)
        elif f == "depth":
            timeline.depth.setdefault(event["broker"], []).append((t, event["size"]))
        elif f == "fault" and event["p"] == "nemesis":
            target = str(event.get("target", "?"))
            if event["type"] == "invoke":
                open_faults[target] = (t, f"{event.get('action', '?')} {target}")
            elif target in open_faults and (
                event["type"] == "fail" or (event["type"] == "ok" and event.get("action") in SELF_ENDING)
            ):
                start, label = open_faults.pop(target)
                timeline.faults.append(FaultWindow(start, t, label))
        elif f == "heal" and event["type"] == "ok":
            target = str(event.get("target", "?"))
            if target in open_faults:
                start, label = open_faults.pop(target)
                timeline.faults.append(FaultWindow(start, t, label))
        elif f == "phase":
            timeline.phases.append((t, str(event.get("phase"))))
    for start, label in open_faults.values():
        timeline.faults.append(FaultWindow(start, last, label, healed=False))
    timeline.faults.sort(key=lambda w: w.start)
    timeline.duration = last
    seconds = int(last) + 1
    timeline.acknowledged = [acked[s] for s in range(seconds)]
    timeline.delivered = [delivered[s] for s in range(seconds)]
    timeline.latency = {"p50": [], "p95": [], "p99": []}
    for s in range(seconds):
        ordered = sorted(latencies.get(s, ()))
        for name, series in timeline.latency.items():
            series.append(percentile(ordered, float(name[1:])) if ordered else None)
    everything = sorted(x for values in latencies.values() for x in values)
    if everything:
        timeline.overall_latency = {
            "p50": percentile(everything, 50),
            "p95": percentile(everything, 95),
            "p99": percentile(everything, 99),
            "max": everything[-1],
        }
    return timeline
