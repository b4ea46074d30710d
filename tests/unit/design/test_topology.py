from __future__ import annotations

import pytest

from harness.design.catalog import design
from harness.design.topology import Node, Topology
from harness.errors import HarnessError


def test_node_name_gives_group_pair_and_role() -> None:
    node = Node.parse("chaos-mq02-b")
    assert (node.group, node.pair, node.letter, node.role) == ("chaos", "02", "b", "slave")
    assert node.pair_name == "chaos-mq02"


@pytest.mark.parametrize("bad", ["chaos-mq01-c", "mq01-a", "chaos-mqxx-a", "Chaos-mq01-a"])
def test_malformed_node_names_are_rejected(bad: str) -> None:
    with pytest.raises(HarnessError, match="does not follow"):
        Node.parse(bad)


def test_bad_group_is_one_clear_error() -> None:
    with pytest.raises(HarnessError, match="group name"):
        Topology(group="Bad-Group")


def test_promised_bridges_at_bring_up_are_master_to_master() -> None:
    topology = Topology()
    live = {"chaos-mq01-a", "chaos-mq02-a"}
    assert topology.promised_bridges(live, design("seed")) == {
        ("chaos-mq01-a", "chaos-mq02-a"),
        ("chaos-mq02-a", "chaos-mq01-a"),
    }


def test_after_failover_the_slave_drains_to_the_other_master_only() -> None:
    topology = Topology()
    live = {"chaos-mq01-b", "chaos-mq02-a"}
    # 01-b advertises nothing (no transport connectors), so 02-a's connector finds no one
    assert topology.promised_bridges(live, design("seed")) == {("chaos-mq01-b", "chaos-mq02-a")}


def test_complete_partition_between_the_pairs() -> None:
    from harness.chaos.partition import complete

    grudge = complete([{"a1", "b1"}, {"a2", "b2"}])
    assert grudge == {
        "a1": frozenset({"a2", "b2"}),
        "b1": frozenset({"a2", "b2"}),
        "a2": frozenset({"a1", "b1"}),
        "b2": frozenset({"a1", "b1"}),
    }


def test_isolating_one_node_is_symmetric_and_leaves_the_rest_connected() -> None:
    from harness.chaos.partition import isolate, merge

    grudge = isolate("a1", ["a1", "a2", "vip"])
    assert grudge == {"a1": frozenset({"a2", "vip"}), "a2": frozenset({"a1"}), "vip": frozenset({"a1"})}
    assert merge(grudge, {"a2": frozenset({"b2"})})["a2"] == frozenset({"a1", "b2"})


def test_hardened_has_one_duplex_bridge_from_pair_01_whoever_is_live() -> None:
    topology = Topology()
    hardened = design("hardened")
    assert topology.promised_bridges({"chaos-mq01-a", "chaos-mq02-a"}, hardened) == {
        ("chaos-mq01-a", "chaos-mq02-a")
    }
    # a slave that took over serves clients and advertises, so the bridge reaches it too
    assert topology.promised_bridges({"chaos-mq01-b", "chaos-mq02-b"}, hardened) == {
        ("chaos-mq01-b", "chaos-mq02-b")
    }


def test_control_design_without_drain_promises_no_slave_bridge() -> None:
    assert (
        Topology().promised_bridges({"chaos-mq01-b", "chaos-mq02-a"}, design("control-no-slave-drain"))
        == set()
    )
