"""SHARD=K/N: every runner given the same items picks the same share, the shares cover every item once,
and their sizes differ by one at most."""

from __future__ import annotations

import random

import pytest

from harness.chaos.shard import Shard, heaviest_first, parse_shard, split, weigh
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


# times as a chaos run of both designs records them: two long random-chaos items and many short ones
TIMED = {
    "scenarios/test_faults.py::test_combined_chaos[seed]": 146.0,
    "scenarios/test_faults.py::test_combined_chaos[hardened]": 120.0,
    **{f"scenarios/test_faults.py::test_short_{i}[seed]": 20.0 + i for i in range(12)},
}


@pytest.mark.parametrize("count", [2, 3, 4])
def test_with_durations_the_shares_take_about_equal_time(count: int) -> None:
    shares = split(TIMED, count, TIMED)
    assert sorted(i for share in shares for i in share.node_ids) == sorted(TIMED)
    assert [share.seconds for share in shares] == [sum(TIMED[i] for i in s.node_ids) for s in shares]
    # longest-first onto the lightest share is within a third of the best split (Graham's bound), and the
    # best cannot beat the total over N
    assert max(s.seconds for s in shares) <= sum(TIMED.values()) / count * 4 / 3
    # by count, the same items are far apart: the two long ones land together on the 2-way split
    by_count = [sum(TIMED[i] for i in Shard(k, count).pick(TIMED)) for k in range(1, count + 1)]
    assert max(s.seconds for s in shares) < max(by_count)


def test_the_two_longest_items_go_to_different_shares_and_ties_go_by_name() -> None:
    shares = split(TIMED, 2, TIMED)
    assert "scenarios/test_faults.py::test_combined_chaos[seed]" in shares[0].node_ids
    assert "scenarios/test_faults.py::test_combined_chaos[hardened]" in shares[1].node_ids
    shuffled = dict(random.Random(5).sample(sorted(TIMED.items()), len(TIMED)))
    assert [s.node_ids for s in split(shuffled, 3, shuffled)] == [s.node_ids for s in split(TIMED, 3, TIMED)]


def test_an_item_with_no_recorded_time_weighs_the_mean_of_those_with_one() -> None:
    durations = {"a.py::test_long": 90.0, "a.py::test_short": 10.0}
    shares = split([*durations, "b.py::test_new"], 2, durations)
    assert [s.seconds for s in shares] == [90.0, 60.0]  # the new item counts 50 s
    assert shares[1].node_ids == {"a.py::test_short", "b.py::test_new"}


def by_file(node_id: str) -> str:
    return node_id.split("::")[0]


def test_a_group_goes_to_one_share_whole() -> None:
    """make test's files: a file's tests share its clusters, so a share takes a file or none of it."""
    ids = [f"tests/docker/test_{f}.py::test_{i}" for f in "abcd" for i in range(3)]
    shares = split(ids, 2, {}, by_file)
    for share in shares:
        assert {by_file(i) for i in share.node_ids}.isdisjoint(
            {by_file(i) for other in shares if other is not share for i in other.node_ids}
        )
    assert [s.seconds for s in shares] == [6.0, 6.0]


def test_the_heaviest_group_comes_first_and_equals_keep_their_order() -> None:
    ids = ["t.py::a", "u.py::b", "t.py::c", "v.py::d"]
    durations = {"t.py::a": 5.0, "t.py::c": 5.0, "u.py::b": 30.0, "v.py::d": 10.0}
    _, weight = weigh(ids, durations, by_file)
    assert heaviest_first(ids, weight, by_file) == ["u.py::b", "t.py::a", "t.py::c", "v.py::d"]
    _, equal = weigh(ids, {}, by_file)
    assert heaviest_first(ids, equal, by_file) == ["t.py::a", "t.py::c", "u.py::b", "v.py::d"]
    assert heaviest_first(ids, weigh(ids)[1]) == ids  # nothing recorded: the order collected
