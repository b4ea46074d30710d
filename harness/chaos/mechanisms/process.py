"""The process family: a node's broker killed, stopped, restarted, frozen and brought back, and held to a share
of a CPU."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.chaos.faults import fault_kind
from harness.cluster.backend import NodeControl
from harness.errors import HarnessError
from harness.history import History


class ProcessFaults:
    def __init__(self, cluster: NodeControl, history: History, started: Callable[[str], None]) -> None:
        self.cluster = cluster
        self.history = history
        self.started = started  # called with a node whose broker started again (its partitions go back)

    def process_action(
        self, action: str, node: str, *, named_as: str | None = None, heals: str | None = None
    ) -> None:
        """kill, stop, restart, freeze (a fault named by `named_as`), or start, thaw (the heal of `heals`)."""
        phase = "heal" if heals else "fault"
        extra: dict[str, Any] = {"heals": heals} if heals else {"role": named_as or node}
        if not heals:
            extra["heal"] = fault_kind(action).heal
        self.history.append("nemesis", "invoke", phase, action=action, target=node, **extra)
        try:
            self.cluster.node_process(node, action)
        except Exception as exc:
            self.history.append("nemesis", "fail", phase, action=action, target=node, error=repr(exc)[:200])
            raise
        done: dict[str, Any] = {"heals": heals} if heals else {}
        self.history.append("nemesis", "ok", phase, action=action, target=node, **done)
        if action in ("start", "restart"):
            self.started(node)

    def cpu_limit(self, node: str, cpus: float) -> None:
        """Hold a node's container to `cpus` of one CPU (CFS quota per 100 ms period)."""
        self.history.append(
            "nemesis", "invoke", "fault", action="starve", target=node, cpus=cpus, heal="feed"
        )
        try:
            self.cluster.cpu_limit(node, cpus)
        except Exception as exc:
            self.history.append(
                "nemesis", "fail", "fault", action="starve", target=node, error=repr(exc)[:200]
            )
            raise HarnessError(f"starve {node}: {exc}") from exc
        self.history.append("nemesis", "ok", "fault", action="starve", target=node)

    def cpu_unlimit(self, node: str, *, heals: str) -> None:
        self.history.append("nemesis", "invoke", "heal", action="feed", target=node, heals=heals)
        self.cluster.cpu_limit(node, None)
        self.history.append("nemesis", "ok", "heal", action="feed", target=node, heals=heals)
