"""Shards: a suite's items split deterministically into N shares, so that N runners of a CI matrix (or N
machines, or Kubernetes Jobs) each run one share and a merge puts the runs back together
(harness.report.merge).

The split balances time, not count: the items' recorded durations (`durations.json` at the checkout's root,
refreshed by `make durations` from a run's JUnit files) are packed longest first onto the share that has
least so far, as pytest-split does. An item with no recorded duration counts as the mean of those that have
one. Items that must run together (the tests of a file that share a module's fixture) form one group and
go to one share. Every runner given the same items, the same durations file and the same K/N
picks the same share: nothing depends on the order the items were collected in, and ties go by name."""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from harness.errors import HarnessError

SHARD_RECORD = "shard.json"  # in a shard's run folder: what it ran of which items (harness.report.merge)


@dataclass(frozen=True)
class Shard:
    index: int  # K, from 1
    count: int  # N

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    @property
    def label(self) -> str:
        """For a folder's name: shard2of3."""
        return f"shard{self.index}of{self.count}"

    def pick(
        self,
        node_ids: Iterable[str],
        durations: Mapping[str, float] | None = None,
        group: Callable[[str], str] | None = None,
    ) -> set[str]:
        """The node ids of this share."""
        return split(node_ids, self.count, durations, group)[self.index - 1].node_ids


@dataclass
class Share:
    node_ids: set[str]
    seconds: float  # its items' expected time, from the durations (or the mean where none is recorded)


def split(
    node_ids: Iterable[str],
    count: int,
    durations: Mapping[str, float] | None = None,
    group: Callable[[str], str] | None = None,
) -> list[Share]:
    """Every item in exactly one of `count` shares, the heaviest group first onto the lightest share. With no
    durations every item weighs the same, and the i-th item by name goes to share i mod N."""
    return split_weighed(*weigh(node_ids, durations, group), count)


def split_weighed(groups: Mapping[str, list[str]], weight: Mapping[str, float], count: int) -> list[Share]:
    shares = [Share(set(), 0.0) for _ in range(count)]
    for key in sorted(groups, key=lambda key: (-weight[key], key)):
        lightest = min(shares, key=lambda share: share.seconds)  # the first of equals: the lowest K
        lightest.node_ids.update(groups[key])
        lightest.seconds += weight[key]
    return shares


def heaviest_first(
    node_ids: list[str], weight: Mapping[str, float], group: Callable[[str], str] | None = None
) -> list[str]:
    """The node ids, the heaviest group first (weight: each group's, from weigh) and each group's in the
    order given. pytest-xdist hands items out in the order collected, so the workers end close together
    rather than one waiting on a long scenario drawn last. Groups of equal weight (all of them, with no
    durations) keep the order given."""
    groups = _grouped(node_ids, group)
    order = {key: i for i, key in enumerate(groups)}  # groups' first appearance in node_ids
    return [i for key in sorted(groups, key=lambda key: (-weight[key], order[key])) for i in groups[key]]


def weigh(
    node_ids: Iterable[str],
    durations: Mapping[str, float] | None = None,
    group: Callable[[str], str] | None = None,
) -> tuple[dict[str, list[str]], dict[str, float]]:
    """The node ids by group (in the order given), and each group's seconds: its items' durations, the mean of
    the known ones for an item with none recorded (1 s each where none is)."""
    durations = durations or {}
    unique = list(dict.fromkeys(node_ids))
    known = [durations[node_id] for node_id in unique if node_id in durations]
    unknown = statistics.fmean(known) if known else 1.0
    groups = _grouped(unique, group)
    weight = {key: sum(durations.get(i, unknown) for i in members) for key, members in groups.items()}
    return groups, weight


def _grouped(node_ids: Iterable[str], group: Callable[[str], str] | None) -> dict[str, list[str]]:
    """The node ids by group, groups and members in the order given (each id its own group by default)."""
    groups: dict[str, list[str]] = {}
    for node_id in node_ids:
        groups.setdefault(group(node_id) if group else node_id, []).append(node_id)
    return groups


def parse_shard(text: str) -> Shard | None:
    """`K/N` (1 <= K <= N), or None for "", the whole suite."""
    text = text.strip()
    if not text:
        return None
    match = re.fullmatch(r"(\d+)/(\d+)", text)
    if match is None or not 1 <= int(match[1]) <= int(match[2]):
        raise HarnessError(
            f"SHARD must be K/N with 1 <= K <= N (2/3: the second of three shares), not {text!r}"
        )
    return Shard(int(match[1]), int(match[2]))
