"""Queue depth over time: every few seconds each broker's depth of the workload's queues (summed), read from
the statistics broker plugin over STOMP, recorded in the history as `depth` events for the report's timeline,
and after each sweep a `serving` event naming the nodes that answered over their client connector, with every
node's life-cycle state read from its log then (`states`: live, waiting, down, frozen, ...).

A broker that does not answer within the timeout (frozen, dead, a waiting slave with no connector) gives
no sample: the gap in the plot is the finding. Replies go to one callback per session, never into a list,
so a sampler running for hours holds nothing but its sessions.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import uuid

from harness.client.stomp_client import Delivery, StompSession, flatten_map_json
from harness.cluster.brokers import BrokerCluster
from harness.history import History


class _StatisticsChannel:
    """A session to one broker with its own reply queue subscribed once."""

    def __init__(self, session: StompSession) -> None:
        self.session = session
        self.replies: queue.SimpleQueue[Delivery] = queue.SimpleQueue()
        self.reply_queue = f"harness.depth.{uuid.uuid4().hex[:12]}"
        session.subscribe(
            self.reply_queue,
            ack="auto",
            headers={"transformation": "jms-map-json"},
            on_delivery=self.replies.put,
        )

    def size(self, destination: str, timeout: float) -> int:
        while not self.replies.empty():  # a reply that came after an earlier timeout answers nothing now
            self.replies.get_nowait()
        self.session.send(
            f"ActiveMQ.Statistics.Destination.{destination}",
            "",
            {"reply-to": f"/queue/{self.reply_queue}", "persistent": "false"},
            receipt=False,
        )
        reply = self.replies.get(timeout=timeout)
        return int(str(flatten_map_json(json.loads(reply.body)).get("size", 0)))


class DepthSampler:
    def __init__(
        self,
        cluster: BrokerCluster,
        history: History,
        destinations: list[str],
        interval: float = 2.0,
        timeout: float = 1.0,
    ) -> None:
        self.cluster = cluster
        self.history = history
        self.destinations = destinations
        self.interval = interval
        self.timeout = timeout
        self._channels: dict[str, _StatisticsChannel] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="depth-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval + 4 * self.timeout + 5)
        for channel in self._channels.values():
            channel.session.close()
        self._channels.clear()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            serving = []
            for node in self.cluster.topology.nodes:
                if self._stop.is_set():
                    return
                if self.sample(node.name) is not None:
                    serving.append(node.name)
            # which nodes answered as client connectors, and which were live: the evidence `available` needs
            # to excuse a gap in which no node the VIP routes to could serve, and `one-live` to see two live
            # brokers in one pair
            states = self.states()
            with contextlib.suppress(RuntimeError):
                self.history.append("sampler", "ok", "serving", nodes=serving, states=states)

    def states(self) -> dict[str, str]:
        """Every node's life-cycle state from its log (a few milliseconds a node: no JMX, no exec)."""
        states = {}
        for node in self.cluster.topology.nodes:
            try:
                states[node.name] = self.cluster.node_state(node.name)
            except Exception:  # a container gone or an API hiccup: unknown for this sweep, never the end
                states[node.name] = "unknown"
        return states

    def sample(self, node: str) -> int | None:
        try:
            channel = self._channels.get(node)
            if channel is None:
                channel = _StatisticsChannel(self.cluster.stomp(node, timeout=self.timeout))
                self._channels[node] = channel
            # a broker that misses one answer gives no sample: a frozen one costs one timeout, not one per queue
            size = sum(channel.size(destination, self.timeout) for destination in self.destinations)
        except (
            Exception
        ):  # any failure (refused, timed out, dropped mid-send) is a gap, never the end of sampling
            dropped = self._channels.pop(node, None)
            if dropped is not None:
                with contextlib.suppress(Exception):
                    dropped.session.close()
            return None
        with contextlib.suppress(RuntimeError):  # the history closed under us at the end of the run
            self.history.append("sampler", "ok", "depth", broker=node, size=size)
        return size
