"""The workload's shape as people set it: each setting read, each bad one refused in one line, and the draws
per message that come from the seed alone."""

from __future__ import annotations

import collections
import dataclasses

import pytest

from harness import commands
from harness.check.queues import check_lost
from harness.check.verdict import FinalState
from harness.check.weaknesses import DURABLE_AWAY, STRANDED, VOLATILE, declared_for_shape
from harness.client.shape import MessagePlan, SizeRange, body_of, given_settings, parse_shape
from harness.client.workload import WorkloadConfig
from harness.errors import HarnessError
from harness.report.summary import workload_line
from tests.unit.check.test_checkers import FACTS, deadline, delivered, fault, ledger, sent


def test_every_setting_is_read_into_the_workload() -> None:
    shape = parse_shape(
        {
            "PRODUCERS": "4",
            "CONSUMERS": "3",
            "RATE": "max",
            "SIZE": "100-2000",
            "QUEUES": "12",
            "PERSISTENT": "no",
        }
    )
    config = WorkloadConfig(**shape)
    assert (config.producers, config.consumers, config.rate) == (4, 3, 0.0)
    assert (config.size, config.queues, config.persistent) == ("100-2000", 12, False)
    assert config.destinations[0] == "chaos.work.0" and len(config.destinations) == 12
    assert workload_line(dataclasses.asdict(config)) == (
        "4 producers x unthrottled, 3 consumers, 12 queues, 100-2000 bytes, non-persistent"
    )
    assert parse_shape({"RATE": "120.5", "PERSISTENT": "true"}) == {"rate": 120.5, "persistent": True}
    churning = WorkloadConfig(**parse_shape({"SUBSCRIBERS": "2", "CHURN": "3.5"}))
    assert (churning.subscribers, churning.churn) == (2, 3.5)
    assert (
        churning.processes("publisher") == ["publisher-0"] and WorkloadConfig().processes("publisher") == []
    )
    assert workload_line(dataclasses.asdict(churning)).endswith(
        "persistent, 2 durable subscribers, consumers churn every ~3.5 s"
    )
    assert parse_shape({"RATE": " ", "QUEUES": ""}) == {}  # empty is the default, as for every setting
    assert WorkloadConfig().destinations == ["chaos.work"]  # one queue keeps its plain name


@pytest.mark.parametrize(
    ("values", "error"),
    [
        ({"PRODUCERS": "0"}, "PRODUCERS='0' must be a whole number of at least 1"),
        ({"CONSUMERS": "1.5"}, "CONSUMERS='1.5' must be a whole number of at least 1"),
        ({"RATE": "fast"}, "RATE='fast' must be sends per second per producer (> 0) or `max`"),
        ({"SIZE": "big"}, "SIZE='big': a size is N bytes or LOW-HIGH, e.g. 1024 or 100-65536"),
        ({"SIZE": "99999999"}, "SIZE='99999999': at most 4194304 bytes"),
        ({"QUEUES": "-2"}, "QUEUES='-2' must be a whole number of at least 1"),
        ({"PERSISTENT": "2"}, "PERSISTENT='2' must be true or false"),
        ({"SUBSCRIBERS": "x"}, "SUBSCRIBERS='x' must be a whole number of at least 0"),
        ({"CHURN": "-1"}, "CHURN='-1' must be seconds (0 for none)"),
    ],
)
def test_a_bad_setting_is_one_line_naming_it(values: dict[str, str], error: str) -> None:
    with pytest.raises(HarnessError) as raised:
        parse_shape(values)
    assert str(raised.value).startswith(error) and "\n" not in str(raised.value)


def test_the_settings_given_are_repeated_by_the_rerun_commands_in_a_fixed_order() -> None:
    given = given_settings({"QUEUES": "4", "HOME": "/root", "RATE": "max", "SIZE": ""})
    assert given == {"RATE": "max", "QUEUES": "4"}
    assert commands.chaos(3, shape=given) == "SEED=3 RATE=max QUEUES=4 make chaos"
    assert commands.soak(3, 600, 300, "seed", shape=given).endswith("RATE=max QUEUES=4 make soak")


def test_queues_and_sizes_are_drawn_per_message_from_the_seed_alone() -> None:
    destinations = [f"q.{n}" for n in range(5)]
    plan = MessagePlan("7:many", destinations, "10-5000")
    draws = [plan.draw("p0", n) for n in range(2000)]
    assert draws == [MessagePlan("7:many", destinations, "10-5000").draw("p0", n) for n in range(2000)]
    assert draws != [MessagePlan("8:many", destinations, "10-5000").draw("p0", n) for n in range(2000)]
    assert draws[:50] != [plan.draw("p1", n) for n in range(50)]  # each producer its own stream
    per_queue = collections.Counter(d for d, _ in draws)
    assert set(per_queue) == set(destinations) and min(per_queue.values()) > 300  # spread, not piled up
    sizes = [size for _, size in draws]
    assert 10 <= min(sizes) < 100 and 4900 < max(sizes) <= 5000


def test_a_consumer_can_tell_what_each_id_was_sent_with() -> None:
    plan = MessagePlan("7:many", ["a", "b", "c"], "300")
    destination, size = plan.draw("p1", 41)
    assert plan.of_id("1f2e3d-p1-41") == (destination, body_of("1f2e3d-p1-41", size))
    assert len(body_of("1f2e3d-p1-41", size)) == 300 and body_of("1f2e3d-p1-41", size).startswith(
        "1f2e3d-p1-41 "
    )
    assert body_of("1f2e3d-p1-41", 5) == "1f2e3d-p1-41"  # too small for the id: the id alone
    assert plan.of_id("ghost") is None
    assert MessagePlan("k", ["only"], "").draw("p0", 9) == ("only", 0)  # the default shape: the id alone


def test_size_ranges() -> None:
    assert SizeRange.parse("") == SizeRange(0, 0) and SizeRange.parse("64").fixed
    assert SizeRange.parse("1-9") == SizeRange(1, 9) and not SizeRange.parse("1-9").fixed


VOLATILE_FACTS = dataclasses.replace(FACTS, persistent=False)


def test_a_non_persistent_message_lost_after_its_broker_was_killed_is_explained() -> None:
    history = ledger(
        sent("p0-0", 1),
        sent("p0-1", 2),
        delivered("p0-0", 3),
        fault("kill", "chaos-mq01-a", 4, 9),
        deadline(20),
        facts=VOLATILE_FACTS,
    )
    verdict = check_lost(history, FinalState())
    assert verdict.valid is False and verdict.explained
    assert "1 lost after a broker process ended" in verdict.note


def test_a_non_persistent_message_lost_with_no_process_ending_after_it_still_fails() -> None:
    """The declared weakness excuses each message by its own history: a kill before the receipt, or a freeze
    (memory kept), explains nothing."""
    for faults in (fault("kill", "chaos-mq01-a", 0.5, 0.8), fault("freeze", "chaos-mq01-a", 4, 9)):
        history = ledger(sent("p0-0", 1), faults, deadline(20), facts=VOLATILE_FACTS)
        verdict = check_lost(history, FinalState())
        assert verdict.valid is False and not verdict.explained
        assert verdict.evidence["lost_without_a_process_ending"] == ["p0-0"]


def test_a_persistent_message_lost_after_a_kill_is_never_explained() -> None:
    history = ledger(sent("p0-0", 1), fault("kill", "chaos-mq01-a", 4, 9), deadline(20))
    verdict = check_lost(history, FinalState())
    assert verdict.valid is False and not verdict.explained


def test_the_shape_adds_what_it_makes_expected_and_the_scenario_keeps_its_own() -> None:
    scenario = {"stuck": STRANDED}
    assert declared_for_shape(scenario, {}) == scenario
    assert declared_for_shape(scenario, {"persistent": False}) == {"lost": VOLATILE, "stuck": STRANDED}
    with_subscribers = declared_for_shape(scenario, {"subscribers": 2})
    assert with_subscribers["durable-stuck"] == DURABLE_AWAY and "lost" not in with_subscribers
