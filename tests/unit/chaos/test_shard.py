"""SHARD=K/N: every runner given the same items picks the same share, the shares cover every item once,
and their sizes differ by one at most."""

from __future__ import annotations

import random

import pytest

from harness.chaos.shard import Shard, parse_shard
from harness.errors import HarnessError

ITEMS = [
    f"scenarios/test_faults.py::test_{name}[{design}]"
    for name in "abcdefg"
    for design in ("seed", "hardened")
]


@pytest.mark.parametrize("count", [1, 2, 3, 5, 14, 20])
def test_the_shares_cover_every_item_once_and_are_even(count: int) -> None:
    shares = [Shard(k, count).pick(ITEMS) for k in range(1, count + 1)]
    assert sorted(i for share in shares for i in share) == sorted(ITEMS)
    assert max(map(len, shares)) - min(map(len, shares)) <= 1


def test_a_share_does_not_depend_on_the_order_the_items_were_collected_in() -> None:
    shuffled = random.Random(3).sample(ITEMS, len(ITEMS))
    assert Shard(2, 3).pick(shuffled) == Shard(2, 3).pick(ITEMS)
    # neighbours (one scenario's two designs) go to different runners, not a block of one file each
    assert not {ITEMS[0], ITEMS[1]} <= Shard(1, 2).pick(ITEMS)


@pytest.mark.parametrize("text", ["0/3", "4/3", "1/0", "1-3", "two/3", "1/3/5"])
def test_a_bad_shard_is_a_one_line_error(text: str) -> None:
    with pytest.raises(HarnessError, match="SHARD must be K/N"):
        parse_shard(text)


def test_no_shard_is_the_whole_suite() -> None:
    assert parse_shard("") is None and parse_shard(" 2/3 ") == Shard(2, 3)
    assert Shard(2, 3).label == "shard2of3" and str(Shard(2, 3)) == "2/3"
