"""Where each client goes: the pair the VIP routes each session of each producer and consumer to.

Whether a fault strands messages depends on which master the producers and the consumers are on, so a seed
that only replays the faults does not replay the outcome. The placement is part of the run's choices:

- `seeded` (the default): session k of process p goes to a pair drawn from the run's seed, p and k alone,
  so the draw does not depend on thread timing or on how many other clients connected first;
- `vip`: the client names no pair and the VIP balances it round robin, as production clients are placed;
- pinned: a scenario names the pair of a role ("consumer") or of one process ("producer-1") for every
  session, e.g. the consumers on the pair whose master it will freeze;
- recorded: a replay sends session k of p to the pair the history's session k of p asked for, or, where it
  asked for none, to the pair it landed on.

The client still connects through the VIP: it names the pair as the STOMP virtual host (`host:` header of
CONNECT), and HAProxy routes it to that pair's node its health checks find serving, or, when it finds none, to
the first serving node of the next pair (compose/templates/haproxy.cfg.j2). The VIP's own decisions (a node
leaving the rotation, sessions shut down, the fallback) stay under test; only the round robin's timing is
taken out.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.errors import HarnessError

SEEDED = "seeded"
VIP = "vip"
MODES = (SEEDED, VIP)
ROLES = ("producer", "consumer", "publisher", "subscriber")


def role(process: str) -> str:
    """`consumer-1` -> `consumer`."""
    return process.rsplit("-", 1)[0]


def parse_mode(value: str) -> str:
    mode = value.strip().lower()
    if mode not in MODES:
        raise HarnessError(f"unknown PLACEMENT {value!r}: choose one of {', '.join(MODES)}")
    return mode


@dataclass(frozen=True)
class Placement:
    pairs: tuple[str, ...]
    key: str  # the seed's stream for this run: "<seed>:<scenario>"
    mode: str = SEEDED
    pinned: Mapping[str, str] = field(default_factory=dict)  # role or process -> pair
    recorded: Mapping[str, tuple[str | None, ...]] = field(default_factory=dict)  # process -> routes

    def __post_init__(self) -> None:
        parse_mode(self.mode)
        for who, pair in self.pinned.items():
            if pair not in self.pairs:
                raise HarnessError(
                    f"placement of {who!r} on pair {pair!r}: pairs are {', '.join(self.pairs)}"
                )

    def route(self, process: str, session: int) -> str | None:
        """The pair session `session` (0 for the first) of `process` asks the VIP for; None: balanced."""
        routes = self.recorded.get(process, ())
        if session < len(routes):
            return routes[session]
        pinned = self.pinned.get(process) or self.pinned.get(role(process))
        if pinned is not None:
            return pinned
        if self.mode == VIP:
            return None
        return random.Random(f"{self.key}:placement:{process}:{session}").choice(self.pairs)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mode": self.mode}
        if self.pinned:
            out["pinned"] = dict(self.pinned)
        if self.recorded:
            out["recorded_sessions"] = sum(len(r) for r in self.recorded.values())
        return out


class NamedPairs:
    """Pairs a scenario names by their role in it ("victim", "other"): each new name gets a pair drawn from
    the seed that no other name has while one is left, and keeps it; a pair's own id ("01") names itself."""

    def __init__(self, pairs: tuple[str, ...], key: str) -> None:
        self.pairs = pairs
        self.named: dict[str, str] = {}
        self._rng = random.Random(f"{key}:pairs")

    def __call__(self, name: str) -> str:
        if name in self.pairs:
            return name
        if name not in self.named:
            free = [p for p in self.pairs if p not in self.named.values()] or list(self.pairs)
            self.named[name] = self._rng.choice(free)
        return self.named[name]


def recorded_routes(
    events: Iterable[Mapping[str, Any]], pair_of: Mapping[str, str]
) -> dict[str, tuple[str | None, ...]]:
    """Each client's sessions in a history, in order: the pair it asked the VIP for (`route`); where it asked
    for none (the VIP balanced it, or the history is older than routes), the pair of the broker it landed on,
    so that a replay of a round-robin run puts its clients where the round robin did."""
    routes: dict[str, list[str | None]] = {}
    for event in events:
        if event.get("f") != "connect" or event.get("type") != "ok" or role(event["p"]) not in ROLES:
            continue
        route = event.get("route") or pair_of.get(str(event.get("broker")))
        routes.setdefault(event["p"], []).append(route)
    return {process: tuple(r) for process, r in routes.items()}
