"""What the harness asks a broker's console and its durable-subscription tool on each version line, and how it
reads the answers: literal `activemq query` output as each line prints it (no Docker; nothing here can run
ActiveMQ 5.5).

The shapes come from ActiveMQ's sources at their tags: the console prints each MBean as `Key = value` lines
in a Properties' hash order, then one blank line (CommandShellOutputFormatter, 5.5.1 to 5.8.0 alike), after
the launcher's own lines; 5.5 to 5.7 name MBeans `Type=...` and 5.8 on `type=Broker,brokerName=...`
(harness.cluster.jmx_names cites each)."""

from __future__ import annotations

import pytest

from harness.cluster import introspect
from harness.cluster.introspect import Bridge, QueueConsumer, QueueStats
from harness.cluster.jmx_names import MODERN, jmx_names
from harness.design.topology import Node
from harness.design.versions import version_line
from harness.settings import ROOT
from tests.support import S0, S1

LAUNCHER_5_5 = """\
Java Runtime: Oracle Corporation 17.0.9 /usr/lib/jvm/java-17-openjdk-amd64
  Heap sizes: current=62976k  free=61384k  max=65536k
    JVM args: -Xmx64m -Dactivemq.home=/opt/amq -Dactivemq.base=/opt/amq
ACTIVEMQ_HOME: /opt/amq
ACTIVEMQ_BASE: /opt/amq
Connecting to JMX URL: service:jmx:rmi:///jndi/rmi://127.0.0.1:1099/jmxrmi
"""
# 5.5.1 `query --objname Type=Queue,Destination=* --view Name,QueueSize,...`: no ForwardCount before 5.11
QUEUES_5_5 = (
    LAUNCHER_5_5
    + """\
DispatchCount = 40
Name = chaos.test
InFlightCount = 2
ConsumerCount = 1
QueueSize = 7
DequeueCount = 38
EnqueueCount = 45

DispatchCount = 0
Name = ActiveMQ.DLQ
InFlightCount = 0
ConsumerCount = 0
QueueSize = 0
DequeueCount = 0
EnqueueCount = 0

"""
)
# the same attributes on 5.17 with ForwardCount, in another hash order
QUEUES_5_17 = """\
Connecting to JMX URL: service:jmx:rmi:///jndi/rmi://127.0.0.1:1099/jmxrmi
QueueSize = 7
ForwardCount = 5
Name = chaos.test
EnqueueCount = 45
DequeueCount = 38
ConsumerCount = 1
InFlightCount = 2
DispatchCount = 40

"""
# 5.5.1 `query --objname Type=NetworkBridge,...`: the initiating side and a duplex bridge's accepting side
BRIDGES_5_5 = (
    LAUNCHER_5_5
    + """\
RemoteAddress = chaos-mq02-a/172.18.0.4:61616
CreatedByDuplex = false
RemoteBrokerName = chaos-mq02-a
LocalAddress = vm://chaos-mq01-a#0
DequeueCounter = 12
EnqueueCounter = 12

RemoteAddress = /172.18.0.4:45121
CreatedByDuplex = true
RemoteBrokerName = chaos-mq02-a
LocalAddress = vm://chaos-mq01-a#4
DequeueCounter = 3
EnqueueCounter = 3

"""
)
# 5.5.1 `query --objname Type=Subscription,persistentMode=Non-Durable,destinationType=Queue`: no Network
# attribute before 5.8; the bridge's connection is NC_<remote>_inbound_<this broker>
CONSUMERS_5_5 = (
    LAUNCHER_5_5
    + """\
ClientId = ID:chaos-mq01-a-40211-1796574310656-3:1
DispatchedQueueSize = 2
DestinationName = chaos.test

DestinationName = chaos.test
ClientId = NC_chaos-mq02-a_inbound_chaos-mq01-a
DispatchedQueueSize = 0

"""
)
CONSUMERS_5_17 = """\
Network = false
ClientId = ID:chaos-mq01-a-40211-1796574310656-3:1
DispatchedQueueSize = 2
DestinationName = chaos.test

Network = true
DestinationName = chaos.test
ClientId = NC_chaos-mq02-a_inbound_chaos-mq01-a
DispatchedQueueSize = 0

"""


class Console:
    """A node's tools: `amq-jmx query` answers by the --objname it is given, stomp-ping answers 0."""

    def __init__(self, answers: dict[str, str]) -> None:
        self.answers = answers
        self.asked: list[list[str]] = []

    def __call__(self, command: list[str], timeout: float) -> tuple[int, str]:
        self.asked.append(command)
        if command[0] == "stomp-ping":
            return 0, ""
        objname = command[command.index("--objname") + 1]
        if objname not in self.answers:
            return 1, f"ERROR: no answer for {objname}"
        return 0, self.answers[objname]


NODE = Node.parse("chaos-mq01-a")


@pytest.mark.parametrize(
    ("version", "queues", "bridges", "view"),
    [
        (
            "5.5.1",
            "Type=Queue,Destination=*",
            "Type=NetworkBridge,NetworkConnectorName=*,Name=*",
            "Name,QueueSize,EnqueueCount,DequeueCount,ConsumerCount,DispatchCount,InFlightCount",
        ),
        (
            "5.7.0",
            "Type=Queue,Destination=*",
            "Type=NetworkBridge,NetworkConnectorName=*,Name=*",
            "Name,QueueSize,EnqueueCount,DequeueCount,ConsumerCount,DispatchCount,InFlightCount",
        ),
        (
            "5.8.0",
            "type=Broker,brokerName=*,destinationType=Queue,destinationName=*",
            "type=Broker,brokerName=*,connector=*,networkConnectorName=*,networkBridge=*",
            "Name,QueueSize,EnqueueCount,DequeueCount,ConsumerCount,DispatchCount,InFlightCount",
        ),
        (
            "5.17.2",
            "type=Broker,brokerName=*,destinationType=Queue,destinationName=*",
            "type=Broker,brokerName=*,connector=*,networkConnectorName=*,networkBridge=*",
            "Name,QueueSize,EnqueueCount,DequeueCount,ConsumerCount,DispatchCount,InFlightCount,ForwardCount",
        ),
    ],
)
def test_each_line_is_asked_for_its_own_mbean_names(
    version: str, queues: str, bridges: str, view: str
) -> None:
    names = jmx_names(version_line(version))
    console = Console({queues: QUEUES_5_5, bridges: BRIDGES_5_5})
    if names.forward_count:
        console.answers[queues] = QUEUES_5_17
    status = introspect.node_status(NODE, console, "live", names=names)
    assert status.error is None, status.error
    asked = [c for c in console.asked if c[0] == "amq-jmx"]
    assert asked == [
        ["amq-jmx", "query", "--objname", queues, "--view", view],
        ["amq-jmx", "query", "--objname", bridges, "--view", introspect.BRIDGE_VIEW],
    ]
    queue = status.queue("chaos.test")
    assert queue == QueueStats(
        "chaos.test", 7, 45, 38, 1, 5 if names.forward_count else None, dispatched=40, in_flight=2
    )
    assert status.bridges == [
        Bridge("chaos-mq02-a", "chaos-mq02-a/172.18.0.4:61616", False, 12, 12),
        Bridge("chaos-mq02-a", "/172.18.0.4:45121", True, 3, 3),
    ]


def test_a_line_without_forward_count_is_not_read_as_zero_nor_as_an_error() -> None:
    """Before 5.11 a queue has no ForwardCount: asking for it, the console leaves it out, and a counter left
    out reads as an error; not asking, `forwarded` is None (not counted), never 0."""
    old = jmx_names(version_line("5.10.2"))
    assert "ForwardCount" not in old.queue_view and old.naming == "5.8"
    assert introspect.parse_queues(QUEUES_5_5, forward_count=False)[1].forwarded is None
    with pytest.raises(ValueError, match="ForwardCount"):
        introspect.parse_queues(QUEUES_5_5)


@pytest.mark.parametrize(("version", "output"), [("5.5.1", CONSUMERS_5_5), ("5.17.2", CONSUMERS_5_17)])
def test_a_bridges_queue_subscription_is_told_on_every_line(version: str, output: str) -> None:
    names = jmx_names(version_line(version))
    query = {
        "5.5": "Type=Subscription,persistentMode=Non-Durable,destinationType=Queue",
        "5.8": "type=Broker,brokerName=*,destinationType=Queue,destinationName=*,endpoint=Consumer,clientId=*,"
        "consumerId=*",
    }[names.naming]
    console = Console({query: output})
    assert introspect.queue_consumers(console, names) == [
        QueueConsumer("chaos.test", "ID:chaos-mq01-a-40211-1796574310656-3:1", False, 2),
        QueueConsumer("chaos.test", "NC_chaos-mq02-a_inbound_chaos-mq01-a", True, 0),
    ]
    # a record that names no client cannot be told apart: an error, not "a client"
    with pytest.raises(ValueError, match="Network"):
        introspect.parse_queue_consumers("DestinationName = chaos.test\nDispatchedQueueSize = 0\n\n", False)


def test_the_topic_and_its_durable_subscriptions_are_asked_for_by_each_lines_names() -> None:
    topic = "chaos.durable-topic"
    for version, objname in (
        ("5.5.1", "Type=Topic,Destination=chaos.durable-topic"),
        ("5.17.2", "type=Broker,brokerName=*,destinationType=Topic,destinationName=chaos.durable-topic"),
    ):
        console = Console({objname: LAUNCHER_5_5 + "ConsumerCount = 3\nName = chaos.durable-topic\n\n"})
        assert introspect.topic_consumers(console, topic, jmx_names(version_line(version))) == 3
    # 5.5's offline durable subscriptions are named apart (Type=Subscription,active=false,name=C_S)
    first = jmx_names(version_line("5.5.1"))
    assert first.durable_patterns(topic) == [
        "org.apache.activemq:Type=Subscription,persistentMode=Durable,destinationName=chaos.durable-topic,*",
        "org.apache.activemq:Type=Subscription,active=false,*",
    ]
    assert jmx_names(version_line("5.6.0")).durable_patterns(topic) == first.durable_patterns(topic)[:1]
    assert MODERN.durable_patterns(topic) == [
        "org.apache.activemq:type=Broker,brokerName=*,destinationType=Topic,destinationName=chaos.durable-topic,"
        "endpoint=Consumer,clientId=*,consumerId=*"
    ]
    online = (
        "Active = true\nSubscriptionName = subscriber-0\nClientId = r1-subscriber-0\nPendingQueueSize = 0\n\n"
    )
    offline = "ClientId = r1-subscriber-1\nActive = false\nPendingQueueSize = 0\nSubscriptionName = subscriber-1\n\n"
    console = Console(
        {
            "Type=Subscription,persistentMode=Durable,destinationName=chaos.durable-topic": LAUNCHER_5_5
            + online,
            "Type=Subscription,active=false": LAUNCHER_5_5 + offline,
        }
    )
    assert introspect.durable_pending(console, topic, first) == {S0: 0, S1: 0}


# amq-durable-ids on 5.5: subscriber-1 offline (its view counts 0 whatever it holds), nothing browsed
OFFLINE_5_5 = """\
sub	r1-subscriber-0	subscriber-0	0	0	true
sub	r1-subscriber-1	subscriber-1	0	0	false
end	0	0	stable
"""


def test_an_offline_durable_subscription_on_5_5_is_unread_not_empty() -> None:
    """ActiveMQ 5.5's offline durable subscription reports PendingQueueSize 0 (InactiveDurableSubscriptionView
    has no subscription behind it): read as holding nothing, every message it holds would be lost. It is
    unread, and so is what the store holds for the others; no reattachment is tried (it needs a count)."""
    asked: list[list[str]] = []

    def run(command: list[str], timeout: float) -> tuple[int, str]:
        asked.append(command)
        return 0, OFFLINE_5_5

    names = jmx_names(version_line("5.5.1"))
    reading = introspect.read_durable(run, "chaos.durable-topic", 100, True, names=names)
    assert reading.ids == {S0: []} and reading.held is None  # attached and counted: it holds nothing
    assert set(reading.unread) == {S1} and "counts 0 for an offline" in reading.unread[S1]
    assert asked == [
        ["amq-durable-ids", "chaos.durable-topic", "100", *names.durable_patterns("chaos.durable-topic")]
    ]
    # the same listing from 5.17, where an offline subscription's 0 is what it holds: both hold nothing
    modern = introspect.read_durable(run, "chaos.durable-topic", 100, True)
    assert modern.ids == {S0: [], S1: []} and modern.unread == {}
    assert asked[-1] == ["amq-durable-ids", "chaos.durable-topic", "100"]


def test_the_durable_tools_own_names_are_5_8_s_so_a_5_8_broker_is_not_told_them() -> None:
    """read_durable leaves out the patterns where they are 5.8's: the tool's default must be those very names."""
    source = (ROOT / "images" / "java" / "AmqDurableIds.java").read_text()
    (pattern,) = MODERN.durable_patterns("TOPIC")
    assert pattern.replace("TOPIC", '"+args[0]+"') in "".join(source.split())  # whitespace aside
    for version in ("5.8.0", "5.10.2", "5.17.2", "6.1.4"):
        assert jmx_names(version_line(version)).durable == MODERN.durable
