"""Shards: a suite's items split deterministically into N shares, so that N runners of a CI matrix (or N
machines, or Kubernetes Jobs) each run one share and a merge puts the runs back together
(harness.report.merge). Every runner given the same items and the same K/N picks the same share: the
items are ordered by their node ids, and the i-th goes to share i mod N, so each share mixes scenarios and
designs rather than taking a block of the slowest file."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from harness.errors import HarnessError


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

    def pick(self, node_ids: Iterable[str]) -> set[str]:
        """The node ids of this share."""
        ordered = sorted(set(node_ids))
        return {node_id for i, node_id in enumerate(ordered) if i % self.count == self.index - 1}


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
