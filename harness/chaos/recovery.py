"""Recovery after the heal: wait for the design's promised state (each pair one live and one waiting node,
every promised bridge up, the VIP routing a client to a live broker), record what was found, and fail back as
an operator would where waiting cannot help."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness import phases
from harness.chaos.nemesis import Nemesis
from harness.check.facts import RunFacts
from harness.cluster.brokers import BrokerCluster
from harness.wait import WaitTimeout, wait_until


@dataclass
class Recovery:
    cluster: BrokerCluster
    facts: RunFacts
    nemesis: Nemesis
    phase: Callable[..., None]  # records a phase in the history
    await_takeover: Callable[..., str]  # (victim, timeout=) -> the partner, once it holds the store
    timeout: float

    def recovery_problems(self, *, first_only: bool = False) -> tuple[list[str], list[str], list[str]]:
        """(kinds, details, live nodes): empty kinds when every pair has a live and a waiting node, every
        bridge the design promises for the live nodes is up and the VIP routes a client to a live broker.

        `first_only` stops at the first kind of problem, cheapest first (the pairs from the logs, then the
        bridges over JMX, then the VIP): a poll every quarter second of JMX in every live node took as much CPU
        as the broker restarting beside it. A final call without it names every kind."""
        if first_only:
            statuses = self.cluster.pair_status()
            details = self.cluster.pair_problems(statuses)
            if details:
                return ["pairs"], details, sorted(s.node for s in statuses if s.state == "live")
        statuses = self.cluster.status(queues=False)
        live = sorted(s.node for s in statuses if s.state == "live")
        kinds: list[str] = []
        details = self.cluster.pair_problems(statuses)
        if details:
            kinds.append("pairs")
        missing = self.cluster.missing_bridges(statuses)
        if missing:
            kinds.append("bridges")
            details += [f"bridge {a} -> {b} is not up" for a, b in sorted(missing)]
        if kinds and first_only:
            return kinds, details, live
        routed = self.cluster.vip_routes_to()
        if routed not in live:
            kinds.append("vip")
            details.append(f"the VIP routes a client to {routed or 'nobody'} (live: {', '.join(live)})")
        return kinds, details, live

    def _where_it_stands(self) -> dict[str, Any]:
        """Every node's state and where the VIP routes a client, for the record of a failed recovery: what
        tells a design's own mechanism (a pure master/slave pair that does not fail back) from a bug."""
        found: dict[str, Any] = {}
        with contextlib.suppress(Exception):
            found["states"] = {s.node: s.state for s in self.cluster.pair_status()}
        with contextlib.suppress(Exception):
            found["routed"] = self.cluster.vip_routes_to()
        return found

    def recover(self, *, fail_back: bool = True) -> float | None:
        """Wait for the design's promised state; record `recovered` or `not-recovered` with what was wrong.

        A design that leaves no node the VIP routes to with a client connector (seed: both slaves hold the
        stores) cannot get out of it by waiting: that is recorded at once, and the run fails back as an
        operator would (stops the live nodes the VIP cannot reach until their partners hold the stores, then
        starts them again), so that it can still show what the cluster kept. `recovered` keeps the finding."""
        started = time.monotonic()
        seen: dict[str, Any] = {"kinds": ["unknown"], "details": [], "live": None}
        routable = set(self.facts.vip_routes) & set(self.facts.client_nodes)

        def unreachable() -> bool:
            return seen["kinds"] == ["vip"] and not set(seen["live"] or ()) & routable

        def settled() -> bool:
            seen["kinds"], seen["details"], seen["live"] = self.recovery_problems(first_only=True)
            return not seen["kinds"] or (fail_back and unreachable())

        try:
            wait_until(
                settled,
                timeout=self.timeout,
                what="the cluster to recover",
                interval=0.25,
            )
        except WaitTimeout as exc:
            with contextlib.suppress(Exception):  # every kind of problem left, for the record
                seen["kinds"], seen["details"], seen["live"] = self.recovery_problems()
            seen["details"] = seen["details"] or [str(exc)]
        if not seen["kinds"]:
            seconds = time.monotonic() - started
            self.phase(phases.RECOVERED, seconds=round(seconds, 3), live=seen["live"])
            return seconds
        self.phase(
            phases.NOT_RECOVERED,
            problems=seen["kinds"],
            live=seen["live"],
            error="; ".join(seen["details"])[:300],
            **self._where_it_stands(),
        )
        if not (fail_back and unreachable()):
            return None
        # a restarted slave takes its lock straight back (the master retries only every 10 s): stop each,
        # wait for its master to take the store, then start it again to wait on the master's lock
        self.phase(phases.FAIL_BACK, live=seen["live"])
        for node in seen["live"]:
            self.nemesis.inject("stop", node)
        for node in seen["live"]:
            with contextlib.suppress(WaitTimeout):  # recover() below records what did not come back
                self.await_takeover(node, timeout=30.0)
        self.nemesis.heal()
        return self.recover(fail_back=False)
