"""The shape of a workload, as people set it: how many clients, how fast, how big, over how many queues.

`SHAPE_OPTIONS` names each setting once: its name (`SIZE`, read from `AMQ_CHAOS_SIZE`, which `make chaos` and
`make soak` pass through), its pytest option and how its text is read. `parse_shape` turns the settings given into keyword
arguments of `WorkloadConfig`, or stops at the first bad value with one line naming it, before any cluster
starts.

Per message, the queue it goes to and its size are drawn from the run's seed and the message's producer and
sequence number alone (`MessagePlan`): the same seed sends the same message to the same queue with the same
size whatever the thread timing, a consumer can tell what it should have received, and the checkers could
recompute it from the history header.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from harness.errors import HarnessError
from harness.settings import positive_number

UNTHROTTLED = ("max", "unthrottled")


@dataclass(frozen=True)
class ShapeOption:
    field: str  # WorkloadConfig's field
    name: str  # the setting's name (harness.settings.VARIABLES): SIZE, read from AMQ_CHAOS_SIZE
    flag: str
    help: str
    parse: Callable[[str, str], Any]  # (variable name, text) -> value


def _count(minimum: int) -> Callable[[str, str], int]:
    def parse(name: str, text: str) -> int:
        if not text.strip().isdigit() or int(text) < minimum:
            raise HarnessError(f"{name}={text!r} must be a whole number of at least {minimum}")
        return int(text)

    return parse


def _rate(name: str, text: str) -> float:
    if text.strip().lower() in UNTHROTTLED:
        return 0.0
    try:
        return positive_number(name, text)
    except HarnessError:
        raise HarnessError(f"{name}={text!r} must be sends per second per producer (> 0) or `max`") from None


def _size(name: str, text: str) -> str:
    try:
        SizeRange.parse(text)
    except ValueError as exc:
        raise HarnessError(f"{name}={text!r}: {exc}") from None
    return text.strip()


def _boolean(name: str, text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise HarnessError(f"{name}={text!r} must be true or false")


def _seconds(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value < 0:
        raise HarnessError(f"{name}={text!r} must be seconds (0 for none)")
    return value


SHAPE_OPTIONS: tuple[ShapeOption, ...] = (
    ShapeOption("producers", "PRODUCERS", "--chaos-producers", "producers (default 2)", _count(1)),
    ShapeOption("consumers", "CONSUMERS", "--chaos-consumers", "queue consumers (default 2)", _count(1)),
    ShapeOption(
        "rate",
        "RATE",
        "--chaos-rate",
        "acknowledged sends per second per producer, or max (default 50)",
        _rate,
    ),
    ShapeOption(
        "size",
        "SIZE",
        "--chaos-size",
        "message body in bytes: N, or LOW-HIGH drawn per message from the seed (default: the id alone)",
        _size,
    ),
    ShapeOption(
        "queues",
        "QUEUES",
        "--chaos-queues",
        "queues the messages are spread over by the seed (default 1)",
        _count(1),
    ),
    ShapeOption(
        "persistent",
        "PERSISTENT",
        "--chaos-persistent",
        "persistent sends, true or false (default true)",
        _boolean,
    ),
    ShapeOption(
        "subscribers",
        "SUBSCRIBERS",
        "--chaos-subscribers",
        "durable subscribers on the workload's topic, fed by one publisher (default 0)",
        _count(0),
    ),
    ShapeOption(
        "churn",
        "CHURN",
        "--chaos-churn",
        "seconds a consumer stays subscribed before it leaves and comes back elsewhere (default 0: stays)",
        _seconds,
    ),
)


def given_settings(values: Mapping[str, str]) -> dict[str, str]:
    """The shape settings that are set, by name, in SHAPE_OPTIONS' order (as reruns repeat them)."""
    return {o.name: values[o.name].strip() for o in SHAPE_OPTIONS if values.get(o.name, "").strip()}


def parse_shape(values: Mapping[str, str]) -> dict[str, Any]:
    """WorkloadConfig keyword arguments from settings given by variable name; empty ones are left at their
    defaults. The first bad value stops it with one line naming the variable."""
    given = given_settings(values)
    return {o.field: o.parse(o.name, given[o.name]) for o in SHAPE_OPTIONS if o.name in given}


@dataclass(frozen=True)
class SizeRange:
    low: int
    high: int

    @classmethod
    def parse(cls, text: str) -> SizeRange:
        """`N` bytes, or `LOW-HIGH` (uniform per message); the empty text is the id alone (0)."""
        text = text.strip()
        if not text:
            return cls(0, 0)
        low, dash, high = text.partition("-")
        if not low.isdigit() or (dash and not high.isdigit()):
            raise ValueError("a size is N bytes or LOW-HIGH, e.g. 1024 or 100-65536")
        bounds = cls(int(low), int(high) if dash else int(low))
        if bounds.low > bounds.high:
            raise ValueError(f"the low end {bounds.low} is above the high end {bounds.high}")
        if bounds.high > MAX_SIZE:
            raise ValueError(
                f"at most {MAX_SIZE} bytes (ActiveMQ's STOMP frame limit is far above, the 256 MB heap is not)"
            )
        return bounds

    @property
    def fixed(self) -> bool:
        return self.low == self.high


MAX_SIZE = 4 * 1024 * 1024


def body_of(message_id: str, size: int) -> str:
    """The body of a message: its id, padded to `size` bytes (a size below the id's length sends the id)."""
    padding = size - len(message_id) - 1
    return message_id if padding < 0 else f"{message_id} {'.' * padding}"


class MessagePlan:
    """Where message `seq` of producer `prefix` goes and how big it is, from the run's key alone."""

    def __init__(self, key: str, destinations: list[str], size: str) -> None:
        self.key = key
        self.destinations = destinations
        self.sizes = SizeRange.parse(size)
        self._constant = len(destinations) == 1 and self.sizes.fixed

    def draw(self, producer: str, seq: int) -> tuple[str, int]:
        if self._constant:  # the default shape: no draw, no cost per message
            return self.destinations[0], self.sizes.low
        rng = random.Random(f"{self.key}:message:{producer}:{seq}")
        destination = self.destinations[rng.randrange(len(self.destinations))]
        return destination, rng.randint(self.sizes.low, self.sizes.high)

    def of_id(self, message_id: str) -> tuple[str, str] | None:
        """(destination, body) the message with this id was sent with; None for an id not of this shape."""
        producer_and_seq = message_id.rsplit("-", 2)[-2:]
        if len(producer_and_seq) != 2 or not producer_and_seq[1].isdigit():
            return None
        producer, seq = producer_and_seq
        destination, size = self.draw(producer, int(seq))
        return destination, body_of(message_id, size)
