"""The client: producers and consumers over STOMP through the VIP, recording every operation in the history.

- A send is `invoke`d, then `ok` when its receipt arrives (the broker has written it to KahaDB), `fail` on an
  ERROR frame, `info` when the receipt never comes or the connection drops (it may or may not be stored).
- A consumer subscribes to every queue of the workload, records each delivery (id, broker, redelivered)
  *before* acking it (client-individual acks), acks with a receipt, and when its session ends records the
  ids whose ack was never confirmed: a copy of those coming back is the consumer's own redelivery, told
  apart from one the brokers made. A delivery whose queue, body or persistence is not what was sent for its
  id (harness.client.shape draws them from the seed) is recorded with `mismatch`.
- Ids carry the run's tag (`<tag>-p0-12`), so a message of another run on the same cluster is never taken
  for one of this run's.
- Every connection goes through the VIP, to the pair the placement gives its session (harness.client.placement),
  and records that route and the broker the VIP put it on. After a failure a client reconnects with back-off
  (the same session number, so the same route, until it connects), for as long as it runs: a client that
  stopped trying would leave the rest of a fault phase unmeasured (see `reconnect_deadline`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from harness.client.placement import Placement
from harness.client.shape import MessagePlan, body_of
from harness.client.stomp_client import BrokerError, Delivery, StompSession
from harness.errors import HarnessError
from harness.history import History

Connect = Callable[..., StompSession]


@dataclass(frozen=True)
class WorkloadConfig:
    producers: int = 2
    consumers: int = 2
    # acknowledged sends per second per producer, at most: loads 2 cores without saturating them
    rate: float = 50.0
    queue: str = "chaos.work"
    receipt_timeout: float = 5.0
    # seconds of failed connects after which a client gives up until the next revive(); None: it tries until
    # it is stopped. A give-up of 90 s left a soak window's last five minutes without a client while one
    # pair served again, and `available` counted the brokers unavailable for it (seed 2026 on seed, window 2)
    reconnect_deadline: float | None = None
    prefetch: int = 20
    heartbeat_ms: int = 2000
    run_tag: str = ""  # prefix of every id: unique per run
    # the shape people set (harness.client.shape): bodies of `size` bytes ("" = the id alone), spread over
    # `queues` queues, persistent or not; `key` is the run's seed key every per-message draw comes from
    size: str = ""
    queues: int = 1
    persistent: bool = True
    # consumer churn: a consumer stays subscribed about `churn` seconds (0: for good), then unsubscribes or
    # disconnects and comes back a little later, in a new session the placement puts anew; while producers run
    churn: float = 0.0
    # durable subscribers on the topic of the queue's name, fed by `publishers` (only when there are
    # subscribers): every subscriber must get every message published while its subscription existed
    subscribers: int = 0
    publishers: int = 1
    key: str = ""

    @property
    def destinations(self) -> list[str]:
        """The workload's queues: `queue` itself, or `queue.0` .. `queue.<n-1>`."""
        return [self.queue] if self.queues == 1 else [f"{self.queue}.{n}" for n in range(self.queues)]

    @property
    def topic(self) -> str:
        return self.queue

    def processes(self, role: str) -> list[str]:
        """The workload's processes of a role: producer, consumer, publisher, subscriber."""
        count = {
            "producer": self.producers,
            "consumer": self.consumers,
            "publisher": self.publishers if self.subscribers else 0,
            "subscriber": self.subscribers,
        }[role]
        return [f"{role}-{n}" for n in range(count)]


@dataclass
class Counters:
    invoked: int = 0
    acknowledged: int = 0
    failed: int = 0
    indeterminate: int = 0
    delivered: int = 0
    published: int = 0  # topic sends acknowledged
    received: int = 0  # topic deliveries to durable subscribers


class Workload:
    def __init__(
        self, history: History, connect: Connect, config: WorkloadConfig, placement: Placement | None = None
    ) -> None:
        self.history = history
        self.connect = connect
        self.config = config
        self.placement = placement
        self.plan = MessagePlan(config.key, config.destinations, config.size)
        self._sessions: dict[str, int] = {}  # process -> sessions it has had
        self.counters = Counters()
        self._lock = threading.Lock()
        self._stop_producers = threading.Event()
        self._stop_consumers = threading.Event()
        self._producers: list[threading.Thread] = []
        self._consumers: list[threading.Thread] = []
        # ids, for the drain phase to know when every acknowledged send has arrived
        self.acknowledged_ids: set[str] = set()
        self.delivered_ids: set[str] = set()
        self._reconnect_requests: dict[str, threading.Event] = {}
        # by session.serial: deliveries not yet confirmed acked, sessions closing or closed, when a close began
        self._pending: dict[int, set[str]] = {}
        self._closed: set[int] = set()
        self._closing_since: dict[int, float] = {}
        self._next_seq: dict[str, int] = {}
        self._subscribed: set[str] = set()  # consumers and subscribers with a live subscription now
        self._subscribed_at: dict[str, str] = {}  # ...and the broker each one's subscription is on
        # durable subscribers: when each one's subscription was first confirmed, what it received, and the
        # receipt time of each acknowledged publish (for the drain to know what each one still awaits)
        self.subscribed_since: dict[str, float] = {}
        self.received: dict[str, set[str]] = {}
        self.published: list[tuple[float, str]] = []

    # ------------------------------------------------------------------------------------------ control
    def start_consumers(self) -> None:
        """Consumers, and durable subscribers."""
        for process in self.config.processes("consumer") + self.config.processes("subscriber"):
            self._consumers.append(self._thread(process, self._consume))

    def revive(self) -> list[str]:
        """Start again every client that gave up (its reconnect deadline passed); returns their names."""
        revived = []
        for threads, stop, target in (
            (self._producers, self._stop_producers, self._produce),
            (self._consumers, self._stop_consumers, self._consume),
        ):
            for index, thread in enumerate(threads):
                if not thread.is_alive() and not stop.is_set():
                    self.history.append(thread.name, "info", "revive", reason="gave up earlier")
                    threads[index] = self._thread(thread.name, target)
                    revived.append(thread.name)
        return revived

    def start_producers(self) -> None:
        """Producers, and the topic's publishers."""
        for process in self.config.processes("producer") + self.config.processes("publisher"):
            self._producers.append(self._thread(process, self._produce))

    def _thread(self, name: str, target: Callable[[str], None]) -> threading.Thread:
        thread = threading.Thread(target=target, args=(name,), name=name, daemon=True)
        thread.start()
        return thread

    def stop_producers(self, timeout: float = 30) -> None:
        self._stop_producers.set()
        for thread in self._producers:
            thread.join(timeout)

    def stop_consumers(self, timeout: float = 30) -> None:
        self._stop_consumers.set()
        for thread in self._consumers:
            thread.join(timeout)

    def stop(self) -> None:
        self.stop_producers()
        self.stop_consumers()

    def snapshot(self) -> Counters:
        with self._lock:
            return Counters(**vars(self.counters))

    def consumers_subscribed(self) -> bool:
        """Every consumer and subscriber has a live subscription (the drain and the final state need all of
        them there)."""
        with self._lock:
            return len(self._subscribed) >= self.config.consumers + self.config.subscribers

    def activity(self) -> tuple[int, int, tuple[tuple[str, int], ...]]:
        """Deliveries so far and every process's session count: equal values mean nothing arrived and no
        client reconnected in between."""
        with self._lock:
            return self.counters.delivered, self.counters.received, tuple(sorted(self._sessions.items()))

    def undelivered(self) -> int:
        """Acknowledged queue messages not delivered yet, plus, per durable subscriber, messages published
        since its subscription that it has not received yet."""
        return sum(self.undelivered_by_kind())

    def undelivered_by_kind(self) -> tuple[int, int]:
        """(acknowledged queue messages not delivered yet, messages durable subscribers are owed and have
        not received yet, summed over the subscribers)."""
        with self._lock:
            queue = len(self.acknowledged_ids - self.delivered_ids)
            durable = 0
            for process, since in self.subscribed_since.items():
                got = self.received.get(process, set())
                durable += sum(1 for t, i in self.published if t >= since and i not in got)
            return queue, durable

    def subscribed_at(self) -> dict[str, str]:
        """Consumer or subscriber -> the broker its live subscription is on."""
        with self._lock:
            return dict(self._subscribed_at)

    def _count(self, field: str) -> None:
        with self._lock:
            setattr(self.counters, field, getattr(self.counters, field) + 1)

    # --------------------------------------------------------------------------------------- connecting
    def route(self, process: str, session: int) -> str | None:
        """The pair session `session` of `process` asks the VIP for; None lets the VIP balance it."""
        return self.placement.route(process, session) if self.placement else None

    def _session(self, process: str, stop: threading.Event, **kwargs: object) -> StompSession | None:
        """Connect through the VIP with back-off; None once stopped or past the reconnect deadline."""
        deadline = time.monotonic() + (self.config.reconnect_deadline or float("inf"))
        delay = 0.1
        number = self._sessions.get(process, 0)
        route = self.route(process, number)
        where = {"route": route, "session": number}
        while not stop.is_set():
            try:
                session = self.connect(
                    route=route, heartbeats=(self.config.heartbeat_ms, self.config.heartbeat_ms), **kwargs
                )
            except HarnessError as exc:
                self.history.append(process, "fail", "connect", error=str(exc)[:200], **where)
            else:
                self._sessions[process] = number + 1
                # conn: the broker's id for this connection (CONNECTED's session header): the broker names the
                # n-th SEND on it <conn>:-1:1:<n> in its logs (ProtocolConverter), which ties a log line to an id
                conn = getattr(session, "broker_session", "")
                self.history.append(process, "ok", "connect", broker=session.broker_name, conn=conn, **where)
                return session
            if time.monotonic() > deadline:
                self.history.append(process, "info", "give-up", reason="reconnect deadline passed")
                return None
            stop.wait(delay)
            delay = min(delay * 2, 2.0)
        return None

    # ---------------------------------------------------------------------------------------- producers
    def _produce(self, process: str) -> None:
        topic = process.startswith("publisher")
        f, kind = ("publish", "topic") if topic else ("send", "queue")
        prefix = ("t" if topic else "p") + process.rsplit("-", 1)[1]
        if self.config.run_tag:
            prefix = f"{self.config.run_tag}-{prefix}"
        producer = prefix.rsplit("-", 1)[-1]  # what the message plan draws by
        interval = 1.0 / self.config.rate if self.config.rate > 0 else 0.0
        session: StompSession | None = None
        next_send = time.monotonic()
        while not self._stop_producers.is_set():
            if session is None:
                session = self._session(process, self._stop_producers)
                if session is None:
                    return
            seq = self._next_seq.get(process, 0)  # a revived producer goes on where it stopped
            self._next_seq[process] = seq + 1
            message_id = f"{prefix}-{seq}"
            destination, size = self.plan.draw(producer, seq)
            # where and how big, in the history only when the shape makes it vary or differ from the id
            shaped: dict[str, str | int] = (
                {"dest": destination} if len(self.plan.destinations) > 1 and not topic else {}
            )
            if size:
                shaped["size"] = size
            self.history.append(process, "invoke", f, id=message_id, **shaped)
            if not topic:
                with self._lock:
                    self.counters.invoked += 1
            try:
                receipt = session.send(
                    self.config.topic if topic else destination,
                    body_of(message_id, size),
                    {"harness-id": message_id, "persistent": "true" if self.config.persistent else "false"},
                    kind=kind,
                )
                session.wait_receipts([receipt], timeout=self.config.receipt_timeout)
            except BrokerError as exc:
                self.history.append(
                    process, "fail", f, id=message_id, broker=session.broker_name, error=str(exc)[:200]
                )
                if not topic:
                    self._count("failed")
                session = self._drop(session)
            except Exception as exc:  # timeout, dropped connection, stomp.py's own errors: may have happened
                self.history.append(
                    process,
                    "info",
                    f,
                    id=message_id,
                    broker=session.broker_name,
                    error=f"{type(exc).__name__}: {exc}"[:200],
                )
                if not topic:
                    self._count("indeterminate")
                session = self._drop(session)
            else:
                self.history.append(process, "ok", f, id=message_id, broker=session.broker_name)
                with self._lock:
                    if topic:
                        self.counters.published += 1
                        self.published.append((time.monotonic(), message_id))
                    else:
                        self.counters.acknowledged += 1
                        self.acknowledged_ids.add(message_id)
            next_send = max(next_send + interval, time.monotonic() - 1.0)
            delay = next_send - time.monotonic()
            if delay > 0:  # unpaced (rate 0), the next send goes at once: no wait to set up per send
                self._stop_producers.wait(delay)
        if session is not None:
            session.close()

    @staticmethod
    def _drop(session: StompSession) -> None:
        session.close()
        return None

    # ---------------------------------------------------------------------------------------- consumers
    def handle_delivery(self, process: str, session: StompSession | None, delivery: Delivery) -> None:
        """Record the delivery, then ack it with a receipt. Runs on the connection's receiver thread."""
        message_id = delivery.headers.get("harness-id", "?")
        self.record_delivery(process, session, delivery)
        if session is not None:
            self.ack(process, session, delivery, message_id)

    def ack(self, process: str, session: StompSession, delivery: Delivery, message_id: str) -> None:
        key = session.serial

        def confirmed() -> None:
            with self._lock:
                pending = self._pending.get(key)
                if pending is not None:
                    pending.discard(message_id)

        def refused(error: str) -> None:
            # the broker could not record the ack (its store full): it keeps the message as delivered to this
            # session for as long as the session lives. A JMS client's acknowledge() would throw and its
            # session recover; the STOMP equivalent is a new session, after which the broker delivers it again
            self.history.append(process, "info", "ack", id=message_id, refused=error[:200])
            self.request_reconnect(process)

        try:
            session.ack(delivery, on_confirmed=confirmed, on_refused=refused)
        except Exception as exc:  # the connection died; the broker will redeliver
            self.history.append(process, "info", "ack", id=message_id, error=repr(exc)[:200])

    def record_delivery(self, process: str, session: StompSession | None, delivery: Delivery) -> None:
        message_id = delivery.headers.get("harness-id", "?")
        subscriber = process.startswith("subscriber")
        extra: dict[str, object] = {"sub": process} if subscriber else {}
        sent = self.plan.of_id(message_id)
        wanted = f"/topic/{self.config.topic}" if subscriber else f"/queue/{sent[0]}" if sent else ""
        persistent = delivery.headers.get("persistent") == "true"  # ActiveMQ leaves it out when false
        if (
            sent is None
            or delivery.destination != wanted
            or delivery.body != sent[1]
            or persistent != self.config.persistent
        ):
            extra["mismatch"] = {
                "destination": delivery.destination,
                "body": delivery.body[:80],
                "body_end": delivery.body[-80:],  # a body that ran into the next frame shows it here
                "length": len(delivery.body),
                "persistent": persistent,
                # what the frame said of itself: a frame without the broker's ids was not the broker's whole
                "headers": {
                    k: delivery.headers[k]
                    for k in ("message-id", "ack", "subscription", "content-length")
                    if k in delivery.headers
                },
            }
        self.history.append(
            process,
            "ok",
            "receive" if subscriber else "deliver",
            id=message_id,
            broker=session.broker_name if session else "?",
            redelivered=delivery.headers.get("redelivered") == "true",
            **extra,
        )
        closing_since = None
        with self._lock:
            if subscriber:
                self.counters.received += 1
                self.received.setdefault(process, set()).add(message_id)
            else:
                self.counters.delivered += 1
                self.delivered_ids.add(message_id)
            if session is not None:
                # recorded, not yet confirmed acked: if its session ends now, a copy coming back is ours
                if session.serial in self._closed:
                    closing_since = self._closing_since.get(session.serial, self.history.now())
                else:
                    self._pending.setdefault(session.serial, set()).add(message_id)
        if closing_since is not None:
            # a frame the connection handed over after its close began: never acked, and the broker may
            # already have handed the message to another consumer (that copy can even be recorded first)
            self.history.append(
                process, "info", "unconfirmed", ids=[message_id], since=round(closing_since, 6)
            )

    def request_reconnect(self, process: str) -> None:
        """Make the consumer drop its connection (unacked messages go back to the broker) and reconnect."""
        self._reconnect_requests.setdefault(process, threading.Event()).set()

    def _end_session(self, process: str, session: StompSession, f: str, **value: object) -> None:
        """Close the session and record which deliveries on it never had their ack confirmed: the broker may
        hand those out again from the moment the close began (`since`)."""
        since = self.history.now()
        with self._lock:
            self._subscribed.discard(process)
            self._subscribed_at.pop(process, None)
            self._closing_since[session.serial] = since
        session.close()
        with self._lock:
            self._closed.add(session.serial)
            unconfirmed = sorted(self._pending.pop(session.serial, set()))
        self.history.append(
            process,
            "info",
            f,
            broker=session.broker_name,
            unconfirmed=unconfirmed,
            since=round(since, 6),
            **value,
        )

    def move(self, who: str, pair: str) -> None:
        """Send every later session of `who` (a role or a process) to `pair`, and make its consumers reconnect
        now: the demand moves to the other brokers mid-load. Recorded in the history."""
        if self.placement is None:
            raise HarnessError("moving clients needs a placement")
        self.placement = dataclasses.replace(self.placement, pinned={**self.placement.pinned, who: pair})
        self.history.append("harness", "ok", "move", who=who, to=pair)
        for n in range(self.config.consumers):
            process = f"consumer-{n}"
            if who in (process, "consumer"):
                self.request_reconnect(process)

    def _subscribe_durable(
        self, process: str, session: StompSession, on_delivery: Callable[[Delivery], None]
    ) -> str:
        """(Re)activate the subscriber's durable subscription and wait for the broker to confirm it: from the
        first confirmation on, every message published is one it must get."""
        sub_id = session.subscribe(
            self.config.topic,
            kind="topic",
            headers={
                "activemq.subscriptionName": process,
                "activemq.prefetchSize": str(self.config.prefetch),
            },
            on_delivery=on_delivery,
            receipt_timeout=self.config.receipt_timeout,
        )
        with self._lock:
            self.subscribed_since.setdefault(process, time.monotonic())
        self.history.append(
            process,
            "ok",
            "subscribed",
            broker=session.broker_name,
            sub=process,
            client=f"{self.config.run_tag}-{process}",
        )
        return sub_id

    def churn_plan(self, process: str, session: int) -> tuple[float, str, float] | None:
        """(stay, how, away) for this consumer session, from the seed: how long it stays subscribed, whether it
        leaves by unsubscribing or by disconnecting, and how long it is gone; None without churn."""
        churn = self.config.churn
        if churn <= 0:
            return None
        rng = random.Random(f"{self.config.key}:churn:{process}:{session}")
        stay = churn * rng.uniform(0.5, 1.5)
        how = rng.choice(("unsubscribe", "disconnect"))
        return stay, how, max(0.2, churn * rng.uniform(0.1, 0.5))

    def _consume(self, process: str) -> None:
        reconnect = self._reconnect_requests.setdefault(process, threading.Event())
        while not self._stop_consumers.is_set():
            reconnect.clear()
            holder: dict[str, StompSession] = {}

            def on_delivery(delivery: Delivery, holder: dict[str, StompSession] = holder) -> None:
                self.handle_delivery(process, holder.get("session"), delivery)

            number = self._sessions.get(process, 0)
            durable = process.startswith("subscriber")
            # a durable subscriber is its client id and subscription name, the same in every session
            identity = {"client_id": f"{self.config.run_tag}-{process}"} if durable else {}
            session = self._session(process, self._stop_consumers, **identity)
            if session is None:
                return
            holder["session"] = session
            subscriptions = []
            try:
                if durable:
                    subscriptions.append(self._subscribe_durable(process, session, on_delivery))
                else:
                    for destination in self.config.destinations:
                        subscriptions.append(
                            session.subscribe(
                                destination,
                                headers={"activemq.prefetchSize": str(self.config.prefetch)},
                                on_delivery=on_delivery,
                            )
                        )
            except Exception as exc:
                self.history.append(process, "fail", "subscribe", error=repr(exc)[:200])
                self._end_session(process, session, "disconnected")
                continue
            with self._lock:
                self._subscribed.add(process)
                self._subscribed_at[process] = session.broker_name
            churn = self.churn_plan(process, number)
            leave_at = time.monotonic() + churn[0] if churn else None
            while session.connected and not self._stop_consumers.is_set() and not reconnect.is_set():
                # churn only while the producers run: the drain needs every consumer there
                if (
                    leave_at is not None
                    and time.monotonic() >= leave_at
                    and not self._stop_producers.is_set()
                ):
                    break
                self._stop_consumers.wait(0.2)
            else:
                self._end_session(
                    process, session, "session-end" if self._stop_consumers.is_set() else "disconnected"
                )
                continue
            assert churn is not None
            stay, how, away = churn
            if durable:
                how = "disconnect"  # its subscription stays, offline: what it misses meanwhile is the point
            if how == "unsubscribe":
                for sub_id in subscriptions:
                    with contextlib.suppress(Exception):  # a dropped connection takes them back as well
                        session.unsubscribe(sub_id)
            self._end_session(process, session, "leave", how=how, stayed=round(stay, 3), away=round(away, 3))
            self._stop_consumers.wait(away)
