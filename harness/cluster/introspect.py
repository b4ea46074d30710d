"""What each node is doing, read on the node itself by the tools its image (or host) carries: Debian's broker
has no Jolokia. Backend-neutral: every reading takes an `Exec`, the backend's way to run a command there.

- life-cycle state: the broker's own log, because a waiting slave opens no port; the lines that tell it are
  here (`state_of_line`), the reading of the log is the backend's (harness.cluster.containers reads a
  container's through the Docker API);
- STOMP: a CONNECT on the node's own loopback (`stomp-ping`);
- queues and network bridges: the ActiveMQ console over JMX on the node (`amq-jmx query`);
- the workload topic's durable subscriptions, their counts and the ids they hold: `amq-durable-ids`, a JMX
  client of the project's own (images/java/AmqDurableIds.java), since the console cannot print a browse.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from harness.cluster.jmx_names import MODERN, JmxNames
from harness.design.topology import Node
from harness.errors import HarnessError

T = TypeVar("T")
# how introspection reaches a node: run a command there with a deadline, (exit code, stdout then stderr)
Exec = Callable[[list[str], float], tuple[int, str]]

# the MBean names and queries of each version line: harness.cluster.jmx_names (5.8 on, unless told)
BRIDGE_VIEW = "RemoteBrokerName,RemoteAddress,LocalAddress,CreatedByDuplex,EnqueueCounter,DequeueCounter"
SUBSCRIPTION_VIEW = "ClientId,SubscriptionName,PendingQueueSize,DispatchedQueueSize,Active"
# a bridge's own connection to this broker: <connector>_<remote broker>_inbound_<this broker>
# (DemandForwardingBridgeSupport, 5.5 on); before 5.8 no `Network` attribute says it
NETWORK_CLIENT = re.compile(r"^[^_]*_(?P<remote>.+)_inbound_")


@dataclass(frozen=True)
class QueueStats:
    name: str
    size: int
    enqueued: int
    dequeued: int
    consumers: int
    forwarded: int | None  # None: the broker does not count it (before 5.11)
    dispatched: int
    in_flight: int  # dispatched to a consumer or a bridge and not acknowledged yet


@dataclass(frozen=True)
class QueueConsumer:
    queue: str
    client_id: str
    network: bool  # a bridge's subscription, for the broker at its other end
    dispatched: int  # messages it holds unacknowledged


@dataclass(frozen=True)
class Bridge:
    remote: str  # remote broker name
    remote_address: str
    created_by_duplex: bool  # accepted from a peer's duplex connector rather than started by our own
    enqueued: int
    dequeued: int


@dataclass
class NodeStatus:
    node: str
    state: str  # down | frozen | starting | waiting | replicating | live | stopping | unknown
    serves_stomp: bool = False
    queues: list[QueueStats] = field(default_factory=list)
    bridges: list[Bridge] = field(default_factory=list)
    error: str | None = None

    def queue(self, name: str) -> QueueStats | None:
        return next((q for q in self.queues if q.name == name), None)


class NodeNotRunning(HarnessError):
    """A command was sent to a node that is stopped, killed or frozen."""


# the lines amq-node-state looks for, folded in order (images/bin/amq-node-state): the last one wins, except
# that a pure master/slave slave's own "started" line leaves it replicating
_STATE_LINES = (
    # "is locked... waiting": the waiting slave's line before about 5.13 (5.5: KahaDB's own, at every retry)
    (re.compile(r"in slave mode waiting|is locked\.\.\. waiting"), "waiting"),
    # a pure master/slave slave (5.5 to 5.7, MasterConnector) attached to its master: it copies every
    # message, serves no client and starts no connector; it still logs "... started"
    (re.compile(r"Slave connection between .* has been (re)?established"), "replicating"),
    # its master gone (BrokerService.masterFailed): it starts its connectors and is the master now
    (re.compile(r"Master Failed - starting all connectors"), "live"),
    (re.compile(r"The Master has failed \.\.\. shutting down"), "stopping"),
    (_STARTED := re.compile(r"\) started$"), "live"),
    # ") stopped": 5.5's last line ("ActiveMQ JMS Message Broker (name, ID:...) stopped"), later ") is shutdown"
    (re.compile(r"\) is shutting down|\) is shutdown|\) uptime|\) stopped$"), "stopping"),
)
# a new life's first line: it ends a replicating slave's state, which its own "started" does not
_NEW_LIFE = re.compile(r"\) is starting$")


def state_of_line(line: str) -> str | None:
    for pattern, state in _STATE_LINES:
        if pattern.search(line):
            return state
    return None


def next_state(state: str, line: str) -> str:
    """The node's state after its log's next line."""
    if state == "replicating" and _NEW_LIFE.search(line):
        return "starting"
    found = state_of_line(line)
    if found is None or (state == "replicating" and _STARTED.search(line)):
        return state
    return found


def node_status(
    node: Node,
    run: Exec,
    state: str,
    *,
    queues: bool = True,
    bridges: bool = True,
    names: JmxNames = MODERN,
) -> NodeStatus:
    """The node's state and, when live, whether it answers STOMP, then what was asked for over JMX.

    `state` is the node's life-cycle state as its backend read it. Each JMX query starts the console's JVM on
    the node (about 0.4 CPU-seconds), so a caller that needs only the pairs (or only the bridges) asks for
    less."""
    status = NodeStatus(node=node.name, state=state)
    if status.state != "live":
        return status
    # the STOMP answer beside the JMX queries, not before them: a readiness or recovery check waits for both
    with ThreadPoolExecutor(max_workers=1) as pool:
        ping = pool.submit(run, ["stomp-ping", "127.0.0.1", "61613"], 10)
        if queues:
            parse = functools.partial(parse_queues, forward_count=names.forward_count)
            status.queues = _query(run, status, "queue", names.queues, names.queue_view, parse) or []
        if bridges and status.error is None:
            status.bridges = _query(run, status, "bridge", names.bridges, BRIDGE_VIEW, parse_bridges) or []
        status.serves_stomp = ping.result()[0] == 0
    return status


def _query(
    run: Exec,
    status: NodeStatus,
    what: str,
    objname: str,
    view: str,
    parse: Callable[[str], list[T]],
) -> list[T] | None:
    """One JMX query's parsed records; None, with `status.error` saying why, when it failed or is unreadable."""
    code, out = run(["amq-jmx", "query", "--objname", objname, "--view", view], 60)
    if code != 0:
        status.error = f"JMX {what} query failed ({code}): {out.strip().splitlines()[-1:] or ''}"
        return None
    try:
        return parse(out)
    except ValueError as exc:
        status.error = f"JMX {what} query unreadable: {exc}"
        return None


def parse_mbeans(output: str) -> list[dict[str, str]]:
    """Split `activemq query` output ("Key = value" lines, one blank line between MBeans) into records."""
    records: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in output.splitlines():
        key, sep, value = line.partition(" = ")
        if sep and key and " " not in key.strip():
            current[key.strip()] = value.strip()
        elif not line.strip() and current:
            records.append(current)
            current = {}
    if current:
        records.append(current)
    return records


def _int(record: dict[str, str], key: str) -> int:
    """A counter the query printed; one it did not print, or printed garbled, is an error, never 0."""
    try:
        return int(record[key])
    except (KeyError, ValueError):
        raise ValueError(
            f"{record.get('Name', record.get('RemoteBrokerName', '?'))}: {key}={record.get(key)!r}"
        ) from None


def parse_queues(output: str, forward_count: bool = True) -> list[QueueStats]:
    """`forward_count`: the broker has ForwardCount (5.11 on); before, `forwarded` is None, not 0."""
    return sorted(
        (
            QueueStats(
                name=r["Name"],
                size=_int(r, "QueueSize"),
                enqueued=_int(r, "EnqueueCount"),
                dequeued=_int(r, "DequeueCount"),
                consumers=_int(r, "ConsumerCount"),
                forwarded=_int(r, "ForwardCount") if forward_count else None,
                dispatched=_int(r, "DispatchCount"),
                in_flight=_int(r, "InFlightCount"),
            )
            for r in parse_mbeans(output)
            if "Name" in r
        ),
        key=lambda q: q.name,
    )


def parse_bridges(output: str) -> list[Bridge]:
    return sorted(
        (
            Bridge(
                remote=r["RemoteBrokerName"],
                remote_address=r.get("RemoteAddress", ""),
                created_by_duplex=r.get("CreatedByDuplex", "false").lower() == "true",
                # bridge counters are shown, never checked: absent is 0 here
                enqueued=int(r.get("EnqueueCounter", "0") or 0),
                dequeued=int(r.get("DequeueCounter", "0") or 0),
            )
            for r in parse_mbeans(output)
            if r.get("RemoteBrokerName")
        ),
        key=lambda b: (b.remote, b.created_by_duplex),
    )


def queue_consumers(run: Exec, names: JmxNames = MODERN) -> list[QueueConsumer]:
    """Every subscription on this broker's queues, the bridges' included."""
    return _consumers(run, names.queue_consumers, names, "consumer")


def topic_subscriptions(run: Exec, names: JmxNames = MODERN) -> list[QueueConsumer]:
    """Every non-durable subscription on this broker's topics, the bridges' included; a composite
    subscription's destination is named as the broker names it (`a,topic://b`)."""
    return _consumers(run, names.topic_consumers, names, "topic consumer")


def _consumers(run: Exec, objname: str, names: JmxNames, what: str) -> list[QueueConsumer]:
    code, out = run(["amq-jmx", "query", "--objname", objname, "--view", names.queue_consumer_view], 60)
    if code != 0:
        raise HarnessError(f"JMX {what} query failed ({code}): {out.strip().splitlines()[-1:] or ''}")
    try:
        return parse_queue_consumers(out, names.network_attribute)
    except ValueError as exc:
        raise HarnessError(f"JMX {what} query unreadable: {exc}") from None


def parse_queue_consumers(output: str, network_attribute: bool = True) -> list[QueueConsumer]:
    """`network_attribute`: the broker says which subscriptions are a bridge's (5.8 on); before, the
    bridge's connection's client id says it."""
    consumers = []
    for r in parse_mbeans(output):
        if "DestinationName" not in r:
            continue
        if network_attribute:
            network = r.get("Network", "").lower()
        elif "ClientId" in r:
            network = "true" if NETWORK_CLIENT.match(r["ClientId"]) else "false"
        else:
            network = ""
        if network not in ("true", "false"):  # unknown is not "a client": the caller must not guess
            raise ValueError(f"{r['DestinationName']}: Network={r.get('Network')!r}")
        consumers.append(
            QueueConsumer(
                queue=r["DestinationName"],
                client_id=r.get("ClientId", ""),
                network=network == "true",
                dispatched=_int(r, "DispatchedQueueSize"),
            )
        )
    return sorted(consumers, key=lambda c: (c.queue, c.client_id, c.network, c.dispatched))


@dataclass(frozen=True)
class QueueSubscription:
    """A subscription on one queue as the broker's dispatch sees it."""

    client_id: str
    network: bool
    prefetch: int
    dispatched: int  # delivered to it and not acknowledged
    slow: bool  # the broker marked it a slow consumer (advisories and slow-consumer strategies act on it)


SUBSCRIPTION_FLAGS_VIEW = "DestinationName,ClientId,PrefetchSize,DispatchedQueueSize,SlowConsumer"


def queue_subscriptions(run: Exec, queue: str, names: JmxNames = MODERN) -> list[QueueSubscription]:
    """Every subscription on `queue` on this broker, with its prefetch and whether it is marked slow."""
    view = SUBSCRIPTION_FLAGS_VIEW + (",Network" if names.network_attribute else "")
    code, out = run(["amq-jmx", "query", "--objname", names.queue_consumers, "--view", view], 60)
    if code != 0:
        raise HarnessError(f"JMX consumer query failed ({code}): {out.strip().splitlines()[-1:] or ''}")
    try:
        return parse_queue_subscriptions(out, queue, names.network_attribute)
    except ValueError as exc:
        raise HarnessError(f"JMX consumer query unreadable: {exc}") from None


def parse_queue_subscriptions(
    output: str, queue: str, network_attribute: bool = True
) -> list[QueueSubscription]:
    """The records of `queue`'s subscriptions; a flag or count the console did not print is an error."""
    subscriptions = []
    for r in parse_mbeans(output):
        if r.get("DestinationName") != queue:
            continue
        slow = r.get("SlowConsumer", "").lower()
        if slow not in ("true", "false"):
            raise ValueError(f"{queue}: SlowConsumer={r.get('SlowConsumer')!r}")
        if network_attribute:
            network = r.get("Network", "").lower() == "true"
        else:
            network = bool(NETWORK_CLIENT.match(r.get("ClientId", "")))
        subscriptions.append(
            QueueSubscription(
                client_id=r.get("ClientId", ""),
                network=network,
                prefetch=_int(r, "PrefetchSize"),
                dispatched=_int(r, "DispatchedQueueSize"),
                slow=slow == "true",
            )
        )
    return sorted(subscriptions, key=lambda s: (s.client_id, s.network))


def topic_consumers(run: Exec, topic: str, names: JmxNames = MODERN) -> int:
    """Consumers of `topic` on this broker (its own subscribers and the bridges' subscriptions); 0 when the
    topic does not exist there yet."""
    code, out = run(
        ["amq-jmx", "query", "--objname", names.topic.format(topic=topic), "--view", "Name,ConsumerCount"],
        60,
    )
    if code != 0:
        raise HarnessError(f"JMX topic query failed ({code}): {out.strip().splitlines()[-1:] or ''}")
    records = [r for r in parse_mbeans(out) if "Name" in r]
    return sum(_int(r, "ConsumerCount") for r in records)


def class_counts(run: Exec, classes: list[str]) -> dict[str, int]:
    """Live instances of each class in the broker's heap, from its class histogram (amq-class-count, which
    runs a full collection first): what no MBean shows, such as a leak in a protocol converter."""
    code, out = run(["amq-class-count", *classes], 60)
    if code != 0:
        raise HarnessError(f"class histogram failed ({code}): {out.strip().splitlines()[-1:] or ''}")
    return parse_class_counts(out, classes)


def parse_class_counts(output: str, classes: list[str]) -> dict[str, int]:
    """amq-class-count's records; lines of any other kind (the JVM's own warnings) are skipped. Without its
    `end` line, or without a record for a class asked for, the output is unreadable, never a count of 0."""
    counts: dict[str, int] = {}
    ended = False
    for line in output.splitlines():
        fields = line.split("\t")
        if fields[0] == "class" and len(fields) == 4 and fields[2].isdigit():
            counts[fields[1]] = int(fields[2])
        elif fields[0] == "end":
            ended = True
    missing = [name for name in classes if name not in counts]
    if not ended or missing:
        raise HarnessError(
            "class histogram unreadable: "
            + ("no end line" if not ended else f"no count for {', '.join(missing)}")
        )
    return counts


def durable_subscriptions(run: Exec, topic: str, names: JmxNames = MODERN) -> list[DurableSubscription]:
    """Every durable subscription to `topic` on this broker (a bridge's own included), through the console."""
    found: list[DurableSubscription] = []
    for query in names.durable_queries:
        code, out = run(
            ["amq-jmx", "query", "--objname", query.format(topic=topic), "--view", SUBSCRIPTION_VIEW],
            60,
        )
        if code != 0:
            raise HarnessError(
                f"JMX subscription query failed ({code}): {out.strip().splitlines()[-1:] or ''}"
            )
        try:
            for record in parse_mbeans(out):
                name = record.get("SubscriptionName", "")
                if name:
                    found.append(
                        DurableSubscription(
                            client_id=record.get("ClientId", ""),
                            name=subscription_name(record.get("ClientId", ""), name),
                            pending=_int(record, "PendingQueueSize"),
                            dispatched=_int(record, "DispatchedQueueSize")
                            if "DispatchedQueueSize" in record
                            else 0,
                            active=record.get("Active", "").strip().lower() == "true",
                        )
                    )
        except ValueError as exc:
            raise HarnessError(f"JMX subscription query unreadable: {exc}") from None
    return found


def durable_pending(run: Exec, topic: str, names: JmxNames = MODERN) -> dict[str, int]:
    """Durable subscription name -> messages pending for it on this broker (a bridge's own durable
    subscription included, under its name), through the console: the final state reads the same counts with
    read_durable, and this reading stays as the independent one its Docker test compares them with."""
    pending: dict[str, int] = {}
    for subscription in durable_subscriptions(run, topic, names):
        pending[subscription.name] = pending.get(subscription.name, 0) + subscription.pending
    return pending


def subscription_name(client_id: str, name: str) -> str:
    """A durable subscription as the final state names it: the subscriber's subscription name, or
    bridge:<broker> for a bridge's own, held for the broker at the bridge's other end (its client id is
    <connector>_<that broker>_inbound_<this broker>)."""
    bridge = NETWORK_CLIENT.match(client_id)
    return f"bridge:{bridge['remote']}" if bridge else name


# ------------------------------------------------------------------------ the ids durable subscriptions hold
# A topic's browse stops at its maxBrowsePageSize: 400 unless a policy entry raises it, which the rendered
# configurations do (compose/templates/activemq.xml.j2), to this. A browse this long may have been cut short.
TOPIC_BROWSE_CAP = 100_000
BROWSE_STOPS = f"a topic's browse stops at its maxBrowsePageSize ({TOPIC_BROWSE_CAP})"
# What one browse may load into the broker's heap (256 MB by default), bodies and their copies included: the
# messages are read from the store and converted to JMX data, all of them at once.
BROWSE_BYTES = 16 * 1024 * 1024
MESSAGE_OVERHEAD = 1024  # headers, properties and ids beside the body


def browse_budget(largest_body: int) -> int:
    """How many messages a browse may return when each body is at most `largest_body` bytes."""
    return BROWSE_BYTES // (max(largest_body, 0) + MESSAGE_OVERHEAD)


@dataclass(frozen=True)
class DurableSubscription:
    client_id: str
    name: str  # as the final state names it (subscription_name)
    pending: int  # PendingQueueSize: waiting to be dispatched
    dispatched: int  # DispatchedQueueSize: dispatched to an active subscriber, not acknowledged yet
    active: bool = False  # a subscriber is attached to it now
    subscription: str = ""  # its own subscription name, as the broker knows it ("" where `name` is it)


@dataclass
class DurableBrowse:
    """What amq-durable-ids printed (images/java/AmqDurableIds.java)."""

    subscriptions: list[DurableSubscription]
    ids: list[str] | None  # the harness-id of every message browsed ("?" for none); None: not browsed
    not_browsed: str = ""  # why it was not browsed though something is held (too big, failed)
    unconverted: int = 0  # messages the broker could not convert for JMX: missing from `ids`
    stable: bool = True  # no subscription's counts changed while it browsed


@dataclass
class DurableReading:
    """One broker's durable subscriptions of the topic, as harness.check.verdict.FinalState keeps them."""

    pending: dict[str, int] = field(default_factory=dict)  # name -> PendingQueueSize (summed per name)
    # name -> the ids held for it (pending, or dispatched and not acknowledged): all of them unless `unread`
    # names it too
    ids: dict[str, list[str]] = field(default_factory=dict)
    held: list[str] | None = None  # every id the store holds, where they could not be split among several
    # name -> how many its counts say it holds beyond what the topic's store holds: counts the store does not
    # vouch for (AMQ-9435: a store recovered after a failover logs "Duplicate message add attempt rejected"
    # and its subscriptions count messages it does not hold; fixed in 5.17.7, 5.18.4, 6.1.0)
    phantom: dict[str, int] = field(default_factory=dict)

    def vouched(self) -> dict[str, int]:
        """The pending counts, with what the store does not hold taken off (a phantom count holds nothing)."""
        return {name: max(0, n - self.phantom.get(name, 0)) for name, n in self.pending.items()}

    unread: dict[str, str] = field(default_factory=dict)  # name -> why `ids` lacks it, or may lack some of it


def read_durable(
    run: Exec,
    topic: str,
    max_browse: int,
    persistent: bool,
    settle: float = 5.0,
    names: JmxNames = MODERN,
) -> DurableReading:
    """Durable subscription name -> messages pending for it on this broker, and the ids pending for each,
    read in one JVM; a browse of more than `max_browse` messages is not made (browse_budget). `persistent`:
    the run published persistent messages only (then the store holds every one still held). Where the
    browse, the topic's whole store, cannot be split among the subscriptions holding it, each offline
    subscriber's subscription is read on its own by reattaching to it (read_offline_subscriptions), and
    trusted once every count is back to what it was (within `settle` seconds). `names`: how the broker
    names its MBeans; where an offline subscription's counts are 0 whatever it holds (5.5), it is unread."""
    # the tool's own names are 5.8's: told others only where the line's differ
    patterns = [] if names.durable == MODERN.durable else names.durable_patterns(topic)
    browse = _browse_durable(run, topic, max_browse, patterns)
    reading = split_durable(browse, persistent, offline_counts=names.offline_counts)
    if reading.held is not None and names.offline_counts:
        # the store's ids, held for several subscriptions: each offline subscriber's own, read by reattaching
        attached = read_offline_subscriptions(run, topic, browse, reading)
        if attached:
            moved = _counts_moved(run, topic, browse, settle, patterns)
            if moved:
                for name in attached:
                    reading.unread[name] += f"; its own ids were read, but {moved}"
            else:
                attribute_held(reading, browse, attached)
    return reading


def _browse_durable(run: Exec, topic: str, max_browse: int, patterns: list[str]) -> DurableBrowse:
    """`patterns`: the JMX names of the topic's durable subscriptions, where they are not 5.8's."""
    code, out = run(["amq-durable-ids", topic, str(max_browse), *patterns], 60)
    if code != 0:
        raise HarnessError(
            f"durable subscription read failed ({code}): {out.strip().splitlines()[-1:] or ''}"
        )
    try:
        return parse_durable_ids(out)
    except ValueError as exc:
        raise HarnessError(f"durable subscription read unreadable: {exc}") from None


OFFLINE_UNCOUNTED = (
    "ActiveMQ 5.5 counts 0 for an offline durable subscription whatever it holds (its view has no "
    "subscription behind it), so what it and the store's other subscriptions hold cannot be split"
)
# How long a subscription's reattachment may take to hand over what it holds (stomp-subscription-ids)
ATTACH_DEADLINE = 30


def read_offline_subscriptions(
    run: Exec, topic: str, browse: DurableBrowse, reading: DurableReading
) -> dict[str, list[str]]:
    """Name -> the ids held for it, for each subscriber's subscription among those the store's ids could not
    be split between (`reading.unread`) that nobody is attached to: stomp-subscription-ids reattaches to it,
    takes what it holds and acknowledges nothing. A bridge's own subscription cannot be read so (its bridge
    is attached to it, or would be), nor an active one; a read that does not get exactly what the counts say
    leaves the name unread, with why."""
    attached: dict[str, list[str]] = {}
    for name in sorted(reading.unread):
        subs = [sub for sub in browse.subscriptions if sub.name == name and _holds(sub)]
        if name.startswith("bridge:") or not subs or any(sub.active for sub in subs):
            continue
        ids: list[str] = []
        for sub in subs:
            code, out = run(
                [
                    "stomp-subscription-ids",
                    topic,
                    sub.client_id,
                    sub.subscription or sub.name,
                    str(_holds(sub)),
                ],
                ATTACH_DEADLINE + 10,
            )
            if code != 0:
                why = out.strip().splitlines()[-1:] or [f"exit {code}"]
                reading.unread[name] += f"; reattaching to it to read its own ids failed: {why[0]}"[:300]
                break
            ids += [line.split("\t", 1)[1] or "?" for line in out.splitlines() if "\t" in line]
        else:
            attached[name] = ids
    return attached


def _counts_moved(run: Exec, topic: str, before: DurableBrowse, timeout: float, patterns: list[str]) -> str:
    """ "" once every subscription's counts are again what they were before its subscribers' subscriptions
    were read (a reattachment hands back what it took when it disconnects); else what changed, after
    `timeout` seconds."""
    want = sorted(map(_counted, before.subscriptions))
    deadline = time.monotonic() + timeout
    while True:
        if sorted(map(_counted, _browse_durable(run, topic, 0, patterns).subscriptions)) == want:
            return ""
        if time.monotonic() >= deadline:
            return "the subscriptions' counts were not the same afterwards"
        time.sleep(0.5)


def _counted(sub: DurableSubscription) -> tuple[str, str, int]:
    return sub.client_id, sub.name, _holds(sub)


def attribute_held(reading: DurableReading, browse: DurableBrowse, attached: dict[str, list[str]]) -> None:
    """What the store holds for several subscriptions, with some of them read on their own (`attached`): theirs
    are known. When one holding name is left unread and the store holds as many ids beyond the known ones as
    that name's counts say it holds, those are its ids: a store keeps a message only while a subscription
    holds it, so each of them is held by it, and it holds no more. Otherwise it stays unread, and the checker
    weighs each stored id the known subscriptions do not account for as held by what is left unread."""
    for name, ids in attached.items():
        reading.ids[name] = ids
        del reading.unread[name]
    if len(reading.unread) == 1 and reading.held is not None:
        (name,) = reading.unread
        known = {i for n, ids in reading.ids.items() if n not in reading.unread for i in ids}
        beyond = [i for i in reading.held if i not in known]
        holds = [_holds(sub) for sub in browse.subscriptions if sub.name == name]
        if len(holds) == 1 and not reading.phantom.get(name) and len(beyond) == holds[0]:
            reading.ids[name] = beyond
            del reading.unread[name]
    if not reading.unread:
        reading.held = None


def parse_durable_ids(output: str) -> DurableBrowse:
    """amq-durable-ids' records; lines of any other kind (the JVM's own warnings) are skipped. No `end`
    record means the tool stopped part way: nothing read is trusted."""
    browse = DurableBrowse(subscriptions=[], ids=None)
    for line in output.splitlines():
        kind, *fields = line.split("\t")
        if kind == "sub" and len(fields) == 5:
            client_id, name, pending, dispatched, active = fields
            browse.subscriptions.append(
                DurableSubscription(
                    client_id,
                    subscription_name(client_id, name),
                    int(pending),
                    int(dispatched),
                    active == "true",
                    name,
                )
            )
        elif kind == "browsed" and len(fields) == 1:
            browse.ids = []
        elif kind == "skipped" and len(fields) == 2:
            browse.not_browsed = f"not browsed: it would load {fields[0]} messages, more than {fields[1]}"
        elif kind == "failed" and len(fields) == 1:
            browse.not_browsed = f"browse failed: {fields[0]}"[:200]
        elif kind == "msg" and len(fields) == 2 and browse.ids is not None:
            browse.ids.append(fields[1] or "?")
        elif kind == "end" and len(fields) == 3:
            if int(fields[0]) != len(browse.ids or ()):
                raise ValueError(f"{len(browse.ids or ())} messages listed, {fields[0]} counted")
            browse.unconverted, browse.stable = int(fields[1]), fields[2] == "stable"
            return browse
    raise ValueError("no end record: the listing stopped part way")


def split_durable(
    browse: DurableBrowse, persistent: bool = False, offline_counts: bool = True
) -> DurableReading:
    """Each subscription's ids, where the browse can tell them. A browse returns what the topic's store holds
    for every durable subscription of the topic on the broker (AmqDurableIds.java says why), so: a
    subscription that holds nothing has no ids; when the subscriptions of one name alone hold anything, every
    id browsed is theirs; when those of several names do, the browse is only what any of them may hold
    (`held`). Whatever the browse cannot vouch for is named in `unread`.

    A browse lists the store, so a non-persistent message pending is in none: a subscription that holds more
    than the browse lists is unread. Several subscriptions that each hold no more than it lists could still
    hide one among them, were persistent and non-persistent messages mixed on the topic; a run's publishers
    send all of one kind (PERSISTENT). When they sent persistent ones only (`persistent`) and the browse was
    not cut short, the store holds every message still held: what the counts say beyond it is a count the
    store does not vouch for (`phantom`), not a message that may hide."""
    reading = DurableReading()
    holding: dict[str, list[DurableSubscription]] = {}
    for sub in browse.subscriptions:
        reading.pending[sub.name] = reading.pending.get(sub.name, 0) + sub.pending
        if sub.pending + sub.dispatched:
            holding.setdefault(sub.name, []).append(sub)
    uncounted = set() if offline_counts else {sub.name for sub in browse.subscriptions if not sub.active}
    reading.ids = {name: [] for name in reading.pending if name not in holding.keys() | uncounted}
    if uncounted:  # what any subscription holds is unknown: the store's ids are what any of them may hold
        reading.held = browse.ids
        reading.unread = dict.fromkeys(sorted(uncounted | holding.keys()), OFFLINE_UNCOUNTED)
        return reading
    if not holding:
        return reading
    if browse.ids is None or browse.unconverted or not browse.stable:
        reading.unread = dict.fromkeys(holding, _not_vouched(browse))
    else:
        whole = persistent and len(browse.ids) < TOPIC_BROWSE_CAP
        if whole:
            for name, subs in holding.items():
                beyond = max(map(_holds, subs)) - len(browse.ids)
                if beyond > 0:
                    reading.phantom[name] = beyond
        if len(holding) == 1:
            _one_name_holds(reading, *next(iter(holding.items())), browse.ids, whole)
        else:
            _several_hold(reading, holding, browse.ids, whole)
    return reading


def _not_vouched(browse: DurableBrowse) -> str:
    if browse.ids is None:
        return browse.not_browsed or "not browsed"
    if browse.unconverted:
        return f"the broker could not convert {browse.unconverted} of the messages browsed"
    return "its counts changed while the topic was browsed"


def _holds(sub: DurableSubscription) -> int:
    return sub.pending + sub.dispatched


def _counts(sub: DurableSubscription) -> str:
    dispatched = f", DispatchedQueueSize {sub.dispatched}" if sub.dispatched else ""
    return f"PendingQueueSize {sub.pending}{dispatched} for {sub.name}"


def _one_name_holds(
    reading: DurableReading, name: str, subs: list[DurableSubscription], ids: list[str], whole: bool = False
) -> None:
    """Every id browsed is held for this name (pending for it, or dispatched to it and not acknowledged):
    nothing else holds any. Whether they are all it holds is another matter."""
    most = max(subs, key=_holds)
    if len(ids) > sum(_holds(sub) for sub in subs):  # held by nobody, by its counts: vouch for none
        reading.unread[name] = (
            f"the topic's store holds {len(ids)} messages here, more than its counts ({_counts(most)})"
        )
        return
    reading.ids[name] = ids
    if whole:  # the store's every message, and nothing else holds any
        return
    if len(ids) < _holds(most):  # cut short (maxBrowsePageSize, memory), or not in the store (non-persistent)
        reading.unread[name] = f"browsed {len(ids)} messages, {_counts(most)}"
    elif len(ids) >= TOPIC_BROWSE_CAP and len(ids) > _holds(most):
        # several of one name, each holding part of what was browsed: their union may go on past the cut
        reading.unread[name] = f"browsed {len(ids)} messages: {BROWSE_STOPS}"


def _several_hold(
    reading: DurableReading,
    holding: dict[str, list[DurableSubscription]],
    ids: list[str],
    whole: bool = False,
) -> None:
    most = {name: max(subs, key=_holds) for name, subs in holding.items()}
    short = {} if whole else {name: sub for name, sub in most.items() if len(ids) < _holds(sub)}
    if short:  # a subscription holds more than was browsed: an id not browsed may be held for any of them
        fallback = max(short.values(), key=_holds)
        reading.unread = {
            n: f"browsed {len(ids)} messages, {_counts(short.get(n, fallback))}" for n in holding
        }
    elif len(ids) >= TOPIC_BROWSE_CAP:
        reading.unread = dict.fromkeys(holding, f"browsed {len(ids)} messages: {BROWSE_STOPS}")
    else:  # complete: an id not browsed is held for none of them
        reading.held = ids
        names = ", ".join(holding)
        why = f"the topic's store holds {len(ids)} messages here for {names}; a browse does not say whose"
        reading.unread = dict.fromkeys(holding, why)
