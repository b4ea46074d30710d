"""What each node is doing, read from inside its container (Debian's broker has no Jolokia).

- life-cycle state: the broker's own log, because a waiting slave opens no port. The harness reads the
  container's log through the Docker API (3 ms of CPU) rather than running `amq-node-state` inside it (60 ms:
  at every quarter-second poll of four nodes, as much CPU as the brokers starting up had); the healthcheck
  runs the script, and a Docker test keeps the two agreeing;
- STOMP: a CONNECT on the node's own loopback (`stomp-ping`);
- queues and network bridges: the ActiveMQ console over JMX inside the container (`amq-jmx query`).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

import docker.errors
from docker.models.containers import Container

from harness.design.topology import Node
from harness.errors import HarnessError

T = TypeVar("T")

BRIDGE_QUERY = "type=Broker,brokerName=*,connector=*,networkConnectorName=*,networkBridge=*"
QUEUE_QUERY = "type=Broker,brokerName=*,destinationType=Queue,destinationName=*"
QUEUE_VIEW = "Name,QueueSize,EnqueueCount,DequeueCount,ConsumerCount,ForwardCount,DispatchCount,InFlightCount"
BRIDGE_VIEW = "RemoteBrokerName,RemoteAddress,LocalAddress,CreatedByDuplex,EnqueueCounter,DequeueCounter"
TOPIC_QUERY = "type=Broker,brokerName=*,destinationType=Topic,destinationName={topic}"
# every consumer of the topic with its subscription: a durable one (active or offline) carries its name
SUBSCRIPTION_QUERY = TOPIC_QUERY + ",endpoint=Consumer,clientId=*,consumerId=*"
SUBSCRIPTION_VIEW = "ClientId,SubscriptionName,PendingQueueSize,Active"
# every consumer of every queue: a bridge's subscription says Network = true
QUEUE_CONSUMER_QUERY = QUEUE_QUERY + ",endpoint=Consumer,clientId=*,consumerId=*"
QUEUE_CONSUMER_VIEW = "DestinationName,ClientId,Network,DispatchedQueueSize"
NETWORK_CLIENT = re.compile(r"^[^_]*_(?P<remote>.+)_inbound_")


@dataclass(frozen=True)
class QueueStats:
    name: str
    size: int
    enqueued: int
    dequeued: int
    consumers: int
    forwarded: int
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
    state: str  # down | frozen | starting | waiting | live | stopping | unknown
    serves_stomp: bool = False
    queues: list[QueueStats] = field(default_factory=list)
    bridges: list[Bridge] = field(default_factory=list)
    error: str | None = None

    def queue(self, name: str) -> QueueStats | None:
        return next((q for q in self.queues if q.name == name), None)


class NodeNotRunning(HarnessError):
    """A command was sent to a node whose container is stopped, killed or frozen."""


def exec_in(container: Container, command: list[str], timeout: float = 60) -> tuple[int, str]:
    """Run `command` in the container with a deadline (coreutils' timeout: docker exec has none); its
    standard output, then its standard error.

    Kept apart, not as Docker interleaves them: a tool that writes to stderr while its stdout is still
    buffered (stomp-browse's count) would otherwise land inside a line of the listing, cutting one id."""
    try:
        result = container.exec_run(["timeout", "--kill-after=2", str(int(timeout)), *command], demux=True)
    except docker.errors.APIError as exc:
        if exc.status_code == 409:  # the container is not running, or is paused: a fault's doing, not a bug
            raise NodeNotRunning(f"{container.name}: {exc.explanation or exc}") from exc
        raise
    stdout, stderr = result.output or (None, None)
    return result.exit_code, ((stdout or b"") + (stderr or b"")).decode(errors="replace")


# the lines amq-node-state looks for, last one wins (images/bin/amq-node-state)
_STATE_LINES = (
    # "is locked... waiting": the waiting slave's line before about 5.13 (5.5: KahaDB's own, at every retry)
    (re.compile(r"in slave mode waiting|is locked\.\.\. waiting"), "waiting"),
    (re.compile(r"\) started$"), "live"),
    # ") stopped": 5.5's last line ("ActiveMQ JMS Message Broker (name, ID:...) stopped"), later ") is shutdown"
    (re.compile(r"\) is shutting down|\) is shutdown|\) uptime|\) stopped$"), "stopping"),
)
# (container id, its current life's start) -> (state so far, timestamp of the last log line read): each poll
# reads only what the broker logged since the one before
_log_cursors: dict[tuple[str, str], tuple[str, float]] = {}
_log_cursors_lock = threading.Lock()


def state_of_line(line: str) -> str | None:
    for pattern, state in _STATE_LINES:
        if pattern.search(line):
            return state
    return None


def _epoch(stamp: str) -> float:
    """Docker's RFC 3339 time with nanoseconds ("2026-11-28T01:58:49.056610463Z") as epoch seconds."""
    return datetime.fromisoformat(stamp).timestamp()


def node_state(container: Container) -> str:
    """down | frozen | starting | waiting | live | stopping, from the container and its current life's log."""
    try:
        container.reload()
    except docker.errors.NotFound:
        return "down"
    status = container.status
    if status == "paused":
        return "frozen"
    if status != "running":
        return "down"
    started = container.attrs["State"]["StartedAt"]
    key = (container.id, started)
    with _log_cursors_lock:
        if key not in _log_cursors:  # a new life: the container's earlier lives are read no more
            for stale in [k for k in _log_cursors if k[0] == container.id]:
                del _log_cursors[stale]
        state, since = _log_cursors.get(key, ("starting", _epoch(started)))
    try:
        raw = container.logs(stdout=True, stderr=True, timestamps=True, since=since)
    except docker.errors.APIError:
        return "unknown"
    last = None
    for line in raw.decode(errors="replace").splitlines():
        stamp, _, text = line.partition(" ")
        state = state_of_line(text.rstrip()) or state
        last = stamp
    with _log_cursors_lock:
        _log_cursors[key] = (state, _epoch(last) if last else since)
    return state


def node_status(node: Node, container: Container, *, queues: bool = True, bridges: bool = True) -> NodeStatus:
    """The node's state and, when live, whether it answers STOMP, then what was asked for over JMX.

    Each JMX query starts the console's JVM in the container (about 0.4 CPU-seconds), so a caller that needs
    only the pairs (or only the bridges) asks for less."""
    status = NodeStatus(node=node.name, state=node_state(container))
    if status.state != "live":
        return status
    # the STOMP answer beside the JMX queries, not before them: a readiness or recovery check waits for both
    with ThreadPoolExecutor(max_workers=1) as pool:
        ping = pool.submit(exec_in, container, ["stomp-ping", "127.0.0.1", "61613"], timeout=10)
        if queues:
            status.queues = _query(container, status, "queue", QUEUE_QUERY, QUEUE_VIEW, parse_queues) or []
        if bridges and status.error is None:
            status.bridges = (
                _query(container, status, "bridge", BRIDGE_QUERY, BRIDGE_VIEW, parse_bridges) or []
            )
        status.serves_stomp = ping.result()[0] == 0
    return status


def _query(
    container: Container,
    status: NodeStatus,
    what: str,
    objname: str,
    view: str,
    parse: Callable[[str], list[T]],
) -> list[T] | None:
    """One JMX query's parsed records; None, with `status.error` saying why, when it failed or is unreadable."""
    code, out = exec_in(container, ["amq-jmx", "query", "--objname", objname, "--view", view], timeout=60)
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


def parse_queues(output: str) -> list[QueueStats]:
    return sorted(
        (
            QueueStats(
                name=r["Name"],
                size=_int(r, "QueueSize"),
                enqueued=_int(r, "EnqueueCount"),
                dequeued=_int(r, "DequeueCount"),
                consumers=_int(r, "ConsumerCount"),
                forwarded=_int(r, "ForwardCount"),
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


def queue_consumers(container: Container) -> list[QueueConsumer]:
    """Every subscription on this broker's queues, the bridges' included."""
    code, out = exec_in(
        container,
        ["amq-jmx", "query", "--objname", QUEUE_CONSUMER_QUERY, "--view", QUEUE_CONSUMER_VIEW],
        timeout=60,
    )
    if code != 0:
        raise HarnessError(f"JMX consumer query failed ({code}): {out.strip().splitlines()[-1:] or ''}")
    try:
        return parse_queue_consumers(out)
    except ValueError as exc:
        raise HarnessError(f"JMX consumer query unreadable: {exc}") from None


def parse_queue_consumers(output: str) -> list[QueueConsumer]:
    consumers = []
    for r in parse_mbeans(output):
        if "DestinationName" not in r:
            continue
        network = r.get("Network", "").lower()
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


def topic_consumers(container: Container, topic: str) -> int:
    """Consumers of `topic` on this broker (its own subscribers and the bridges' subscriptions); 0 when the
    topic does not exist there yet."""
    code, out = exec_in(
        container,
        ["amq-jmx", "query", "--objname", TOPIC_QUERY.format(topic=topic), "--view", "Name,ConsumerCount"],
        timeout=60,
    )
    if code != 0:
        raise HarnessError(f"JMX topic query failed ({code}): {out.strip().splitlines()[-1:] or ''}")
    records = [r for r in parse_mbeans(out) if "Name" in r]
    return sum(_int(r, "ConsumerCount") for r in records)


def durable_pending(container: Container, topic: str) -> dict[str, int]:
    """Durable subscription name -> messages pending for it on this broker (a bridge's own durable
    subscription included, under its name)."""
    code, out = exec_in(
        container,
        [
            "amq-jmx",
            "query",
            "--objname",
            SUBSCRIPTION_QUERY.format(topic=topic),
            "--view",
            SUBSCRIPTION_VIEW,
        ],
        timeout=60,
    )
    if code != 0:
        raise HarnessError(f"JMX subscription query failed ({code}): {out.strip().splitlines()[-1:] or ''}")
    pending: dict[str, int] = {}
    try:
        for record in parse_mbeans(out):
            name = record.get("SubscriptionName", "")
            if not name:
                continue
            # a bridge's own durable subscription, held for the broker at the bridge's other end: its client
            # id is <connector>_<that broker>_inbound_<this broker>
            bridge = NETWORK_CLIENT.match(record.get("ClientId", ""))
            if bridge:
                name = f"bridge:{bridge['remote']}"
            pending[name] = pending.get(name, 0) + _int(record, "PendingQueueSize")
    except ValueError as exc:
        raise HarnessError(f"JMX subscription query unreadable: {exc}") from None
    return pending
