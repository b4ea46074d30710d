"""amq-class-count's output, and a queue's subscriptions with their slow-consumer flag, read: a count or flag
for each thing asked for, or a one-line error, never a 0 or a false made up."""

from __future__ import annotations

import pytest

from harness.cluster.introspect import QueueSubscription, parse_class_counts, parse_queue_subscriptions
from harness.errors import HarnessError

STOMP_SUB = "org.apache.activemq.transport.stomp.StompSubscription"


def test_counts_are_read_per_class() -> None:
    output = f"OpenJDK warning: sharing\nclass\t{STOMP_SUB}\t224\t10752\nclass\tjava.lang.String\t9\t216\nend\t2100\n"
    assert parse_class_counts(output, [STOMP_SUB, "java.lang.String"]) == {
        STOMP_SUB: 224,
        "java.lang.String": 9,
    }


@pytest.mark.parametrize(
    ("output", "why"),
    [
        (f"class\t{STOMP_SUB}\t224\t10752\n", "no end line"),
        ("end\t2100\n", "no count for " + STOMP_SUB),
        (f"class\t{STOMP_SUB}\tmany\t0\nend\t2100\n", "no count for " + STOMP_SUB),
    ],
)
def test_a_cut_or_garbled_histogram_is_an_error(output: str, why: str) -> None:
    with pytest.raises(HarnessError, match=why):
        parse_class_counts(output, [STOMP_SUB])


CONSUMERS = """DestinationName = chaos.probe.full
ClientId = ID:probe-1
PrefetchSize = 5
DispatchedQueueSize = 5
SlowConsumer = false
Network = false

DestinationName = chaos.probe.full
ClientId = nc_chaos-mq02-a_inbound_chaos-mq01-a
PrefetchSize = 1000
DispatchedQueueSize = 0
SlowConsumer = false
Network = true

DestinationName = chaos.workload
ClientId = ID:consumer-0
PrefetchSize = 20
DispatchedQueueSize = 20
SlowConsumer = true
Network = false
"""


def test_a_queues_subscriptions_are_read_with_their_prefetch_and_flag() -> None:
    assert parse_queue_subscriptions(CONSUMERS, "chaos.probe.full") == [
        QueueSubscription("ID:probe-1", network=False, prefetch=5, dispatched=5, slow=False),
        QueueSubscription(
            "nc_chaos-mq02-a_inbound_chaos-mq01-a", network=True, prefetch=1000, dispatched=0, slow=False
        ),
    ]
    assert [s.slow for s in parse_queue_subscriptions(CONSUMERS, "chaos.workload")] == [True]


def test_a_subscription_without_its_flag_or_counts_is_an_error() -> None:
    with pytest.raises(ValueError, match="SlowConsumer=None"):
        parse_queue_subscriptions(
            CONSUMERS.replace("SlowConsumer = false\nNetwork = false", "Network = false"), "chaos.probe.full"
        )
    with pytest.raises(ValueError, match="PrefetchSize"):
        parse_queue_subscriptions(CONSUMERS.replace("PrefetchSize = 5\n", ""), "chaos.probe.full")
    # before 5.8 no Network attribute: a bridge's subscription is told by its client id
    flat = parse_queue_subscriptions(
        CONSUMERS.replace("Network = false\n", "").replace("Network = true\n", ""),
        "chaos.probe.full",
        network_attribute=False,
    )
    assert [s.network for s in flat] == [False, True]
