"""When a fault explains an extra copy of a message: the bounds in time and number that make the excuse local.

The mechanism REDELIVERED declares is a bridge or a session re-sending what was in flight when a fault hit:
an ack, or a bridge's forward, lost with a broker or a connection. So a fault window explains the copy after
an earlier one only when
- the fault touched the message's path (the broker that receipted it, the brokers that delivered either copy);
- the earlier copy was in flight when it hit: delivered before the fault ended, and at most
  `IN_FLIGHT_BEFORE` seconds before it began (an ack takes milliseconds to reach the broker);
- the extra copy came after the fault began, and no later than `REDELIVERY_DRAIN` seconds after the path
  came back: the fault's end, the bridges' reconnection after a heal (the run's own slowest probe, measured
  from its final heal, or `BRIDGE_BACK_DEFAULT` when it probed nothing), or the start of the consumer session
  that got the copy, whichever is last;
- the fault has not already explained as many copies as can be in flight on that path: per queue, the
  prefetch of each consumer with a session on the fault's nodes meanwhile, plus one bridge's prefetch.

The margins of each excuse (how close to its bounds a real run came) go into the verdict's evidence.

The other mechanism is the consumer's own (`consumer_side`): an ack it never saw confirmed, handed out again
by the broker once, to another session. Queue consumers and durable subscribers share both rules.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.check.ledger import FaultWindow, Ledger

# How long before a fault began the earlier copy may have been delivered and still have had its ack (or the
# bridge's ack upstream) in flight when the fault hit. An ack with its receipt takes milliseconds here; in
# the copies a fault explained on this cluster, the earlier copy came 0.02 to 0.2 s *after* the fault's
# invoke. A second is generous, and keeps messages acked long before a fault from being excused.
IN_FLIGHT_BEFORE = 1.0
# Seconds after the path came back within which what was in flight arrives again: the bridge re-sends its
# unacknowledged forwards, the broker re-dispatches what a lost session held.
REDELIVERY_DRAIN = 5.0
# A heal's bridge reconnection when the run measured none (no probe after its final heal): multicast
# discovery retries a lost bridge with back-off from one second.
BRIDGE_BACK_DEFAULT = 10.0


@dataclass(frozen=True)
class Excuse:
    window: FaultWindow
    before_start: float  # how long before the fault began the earlier copy came (negative: after)
    slack: float  # seconds left between the extra copy and its bound


def fault_excuse(
    ledger: Ledger, path: set[str], previous_t: float, copy_t: float, session_start: float
) -> Excuse | None:
    """The first fault window on `path` whose bounds hold the two copies, with its margins."""
    bridge_back = ledger.bridge_back_seconds()
    for window in ledger.faults:
        if not window.nodes & path:
            continue
        if not window.start - IN_FLIGHT_BEFORE <= previous_t <= window.end or copy_t < window.start:
            continue
        bound = max(window.end + bridge_back, session_start) + REDELIVERY_DRAIN
        if copy_t <= bound:
            return Excuse(window, window.start - previous_t, bound - copy_t)
    return None


Session = tuple[str, float, float]  # (broker, began, ended); ended is inf for one still open


class InFlight:
    """Copies charged against each fault, refused once a fault has explained what can be in flight on its
    path: per destination (the workload's queues by default), every consumer (or subscriber) with a session
    on the fault's nodes while it was in force (or just before) holds up to its prefetch, and one bridge
    consumer up to the bridge's, each of whose forwards reaches `copies_per_forward` consumers (a topic's
    every subscriber). `consumers`: process -> its sessions."""

    def __init__(
        self,
        ledger: Ledger,
        consumers: dict[str, list[Session]],
        destinations: int | None = None,
        copies_per_forward: int = 1,
    ) -> None:
        self.facts = ledger.facts
        self.consumers = consumers
        self.destinations = self.facts.queues if destinations is None else destinations
        self.copies_per_forward = copies_per_forward
        self.charged: dict[int, int] = {}
        self.caps: dict[int, int] = {}

    def admit(self, excuse: Excuse) -> bool:
        """Charge one more copy to the excuse's fault; whether it is still within the fault's cap."""
        slot = id(excuse.window)
        self.charged[slot] = self.charged.get(slot, 0) + 1
        if slot not in self.caps:
            self.caps[slot] = self.cap(excuse.window)
        return self.charged[slot] <= self.caps[slot]

    def cap(self, window: FaultWindow) -> int:
        since = window.start - IN_FLIGHT_BEFORE
        on_path = sum(
            1
            for sessions in self.consumers.values()
            if any(
                node in window.nodes and start <= window.end and end >= since for node, start, end in sessions
            )
        )
        forwarded = self.facts.bridge_prefetch * self.copies_per_forward
        return self.destinations * (on_path * self.facts.prefetch + forwarded)


def sessions_of(states: Iterable[tuple[float, str]]) -> list[Session]:
    """A client's sessions from its states in time order ((time, broker), "" for no connection)."""
    return [
        (broker, t, t_next)
        for (t, broker), (t_next, _) in itertools.pairwise([*states, (math.inf, "")])
        if broker
    ]


def session_started(sessions: list[Session], t: float) -> float:
    """When the session that got a copy at `t` began (-inf when none is on record)."""
    return max((start for _, start, end in sessions if start <= t), default=-math.inf)


def one_session(boundaries: Iterable[float], a: float, b: float) -> bool:
    """Whether times `a` and `b` fall in one session of a client whose sessions began or ended at
    `boundaries`."""
    low, high = sorted((a, b))
    return not any(low < t <= high for t in boundaries)


# ------------------------------------------------------------------------------- the consumer's own
@dataclass(frozen=True, slots=True)
class Unconfirmed:
    """An ack a consumer never saw confirmed: its session ended with it pending (`handover` False), or its
    closing connection handed the frame over after the close began and it was never acked (True). From
    `since`, when the close began, the broker may hand the message out again: once."""

    since: float
    ended: float  # when it was recorded
    process: str
    handover: bool


@dataclass
class ConsumerSide:
    """The consumer-side rule, each unconfirmed ack used once across a checker's pass (`used`). Copies are a
    queue's Deliveries or a subscriber's Receipts (anything with a time `t`): `owner` says which process
    received one, `boundaries` when a process's sessions began or ended."""

    owner: Callable[[Any], str]
    boundaries: Callable[[str], Iterable[float]]
    used: set[tuple[str, int]] = field(default_factory=set)

    def excuse(
        self, message_id: str, entries: Sequence[Unconfirmed], copies: Sequence[Any], index: int
    ) -> Unconfirmed | None:
        """The unconfirmed ack that explains copy `index` of a message, if one does:
        - an earlier copy is the one a session never saw acked (its last copy of the id before the ack was
          recorded unconfirmed), and that session began closing before this copy came: the broker was free
          to hand the message out again (other consumers' copies may come between the two: a closing
          connection's late frame, say);
        - or this copy is the unconfirmed one (a frame a closing session handed over, or one that reached it
          while its close was under way, its ack never confirmed), and the copy before it came after that
          close began: the broker had taken the message back and gave it to another session first, whose
          receiver thread recorded its copy before the closing session's recorded its own.
        Two copies in one session were given twice by the broker: nothing here excuses them. A frame a
        closing session handed over belongs to that session, however late it was recorded (after the
        consumer's next session had begun, even)."""
        previous, copy = copies[index - 1], copies[index]
        process = self.owner(copy)
        if self.owner(previous) == process and one_session(
            self.boundaries(process),
            self._session_time(entries, copies, previous),
            self._session_time(entries, copies, copy),
        ):
            return None
        for entry in entries:
            key = (message_id, id(entry))  # one entry stands for every id its session left unconfirmed
            if key in self.used:
                continue
            unacked = self._unconfirmed_copy(copies, entry)
            earlier = any(unacked is c for c in copies[:index])
            if (entry.since <= copy.t and earlier) or (unacked is copy and previous.t >= entry.since):
                self.used.add(key)
                return entry
        return None

    def _unconfirmed_copy(self, copies: Sequence[Any], entry: Unconfirmed) -> Any:
        """The copy whose ack `entry` says was never confirmed: its consumer's last copy of the id recorded by
        then (a session's unconfirmed ids are recorded as it ends, a handed-over frame right after it came)."""
        return next(
            (c for c in reversed(copies) if self.owner(c) == entry.process and c.t <= entry.ended), None
        )

    def _session_time(self, entries: Sequence[Unconfirmed], copies: Sequence[Any], copy: Any) -> float:
        """When the session a copy came in was current: the close's start for a frame a closing session
        handed over, else the copy's own time."""
        for entry in entries:
            if entry.handover and self._unconfirmed_copy(copies, entry) is copy:
                return entry.since
        return copy.t
