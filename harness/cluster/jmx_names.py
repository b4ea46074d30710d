"""How each ActiveMQ version line names its MBeans, as the console's `activemq query --objname` and the
durable-subscription tool (images/java/AmqDurableIds.java) must ask for them.

Read from ActiveMQ's sources at the tags activemq-5.5.1, 5.6.0, 5.7.0 and 5.8.0:
- 5.5 to 5.7: `org.apache.activemq:BrokerName=B,Type=Queue,Destination=Q` (ManagedRegionBroker),
  `Type=NetworkBridge,NetworkConnectorName=NC,Name=<remote address>` (MBeanNetworkListener),
  `Type=Subscription,persistentMode=Durable,subscriptionID=S,destinationType=Topic,destinationName=T,
  clientId=C` for a durable subscription and `persistentMode=Non-Durable,...,consumerId=...` for any other
  consumer. In 5.5 only, an offline durable subscription is `Type=Subscription,active=false,name=C_S`, and
  its view has no subscription behind it: PendingQueueSize and DispatchedQueueSize read 0 whatever it holds.
  A subscription's `Network` attribute does not exist before 5.8: a bridge's is told by its client id
  (`<connector>_<remote broker>_inbound_<this broker>`, DemandForwardingBridgeSupport).
- 5.8 on (AMQ-4237): one hierarchy under `type=Broker,brokerName=B` (BrokerMBeanSupport).
- A destination's ForwardCount from 5.11.0 (AMQ-5289).

The console before 5.8 takes `--objname` as key=value pairs only: it prepends the domain, appends `,*`, and
matches a wildcard value afterwards as a regular expression (QueryCommand, MBeansObjectNameQueryFilter).
From 5.8 the pattern goes to JMX as given. The queries below are written so that both read them alike.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from harness.design.versions import VersionLine

DOMAIN = "org.apache.activemq"
_VIEW = "Name,QueueSize,EnqueueCount,DequeueCount,ConsumerCount,DispatchCount,InFlightCount"


@dataclass(frozen=True)
class JmxNames:
    """The console queries (`--objname`) of one MBean naming, and the JMX patterns of the durable
    subscriptions of a topic (`{topic}` in each is the topic's name)."""

    naming: str  # "5.5", "5.6" (5.6 and 5.7) or "5.8" (5.8 on)
    queues: str
    bridges: str
    topic: str
    durable: tuple[str, ...]  # full JMX ObjectName patterns, for amq-durable-ids
    durable_queries: tuple[str, ...]  # the same subscriptions, for the console
    queue_consumers: str
    topic_consumers: str  # every subscription on the broker's topics, the bridges' included
    forward_count: bool
    # a subscription's `Network` attribute (5.8): before it, a bridge's subscription is told by its client id
    network_attribute: bool = True
    # an offline durable subscription's counts are what it holds (not on 5.5, where they read 0)
    offline_counts: bool = True

    @property
    def queue_view(self) -> str:
        return _VIEW + (",ForwardCount" if self.forward_count else "")

    @property
    def queue_consumer_view(self) -> str:
        return "DestinationName,ClientId,DispatchedQueueSize" + (",Network" if self.network_attribute else "")

    def durable_patterns(self, topic: str) -> list[str]:
        return [pattern.format(topic=topic) for pattern in self.durable]


_HIERARCHY = "type=Broker,brokerName=*"
MODERN = JmxNames(
    naming="5.8",
    queues=f"{_HIERARCHY},destinationType=Queue,destinationName=*",
    bridges=f"{_HIERARCHY},connector=*,networkConnectorName=*,networkBridge=*",
    topic=f"{_HIERARCHY},destinationType=Topic,destinationName={{topic}}",
    durable=(
        f"{DOMAIN}:{_HIERARCHY},destinationType=Topic,destinationName={{topic}},endpoint=Consumer,"
        "clientId=*,consumerId=*",
    ),
    durable_queries=(
        f"{_HIERARCHY},destinationType=Topic,destinationName={{topic}},endpoint=Consumer,clientId=*,consumerId=*",
    ),
    queue_consumers=f"{_HIERARCHY},destinationType=Queue,destinationName=*,endpoint=Consumer,clientId=*,"
    "consumerId=*",
    topic_consumers=f"{_HIERARCHY},destinationType=Topic,destinationName=*,endpoint=Consumer,clientId=*,"
    "consumerId=*",
    forward_count=True,
)
_FLAT = JmxNames(
    naming="5.6",
    queues="Type=Queue,Destination=*",
    bridges="Type=NetworkBridge,NetworkConnectorName=*,Name=*",
    topic="Type=Topic,Destination={topic}",
    durable=(f"{DOMAIN}:Type=Subscription,persistentMode=Durable,destinationName={{topic}},*",),
    durable_queries=("Type=Subscription,persistentMode=Durable,destinationName={topic}",),
    queue_consumers="Type=Subscription,persistentMode=Non-Durable,destinationType=Queue",
    topic_consumers="Type=Subscription,persistentMode=Non-Durable,destinationType=Topic",
    forward_count=False,
    network_attribute=False,
)
_FIRST = dataclasses.replace(
    _FLAT,
    naming="5.5",
    # an offline subscription is named apart, by client id and subscription name only: of any topic
    durable=(*_FLAT.durable, f"{DOMAIN}:Type=Subscription,active=false,*"),
    durable_queries=(*_FLAT.durable_queries, "Type=Subscription,active=false"),
    offline_counts=False,
)
NAMINGS = {names.naming: names for names in (_FIRST, _FLAT, MODERN)}


def jmx_names(line: VersionLine) -> JmxNames:
    return dataclasses.replace(NAMINGS[line.mbean_names], forward_count=line.forward_count)
