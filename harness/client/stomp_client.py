"""A STOMP connection that tracks receipts and deliveries, for probes and tests.

Thin over stomp.py: what it adds is waiting on what the broker answered (receipts, messages) with deadlines,
and the identity of the broker behind the connection (its session id carries the broker's host name).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import stomp
import stomp.exception
import stomp.utils

from harness.errors import HarnessError
from harness.wait import WaitTimeout

# stomp.py logs a traceback for every frame sent on a connection the nemesis just cut; the history records
# what each client saw, so those logs are noise in a chaos run
logging.getLogger("stomp.py").setLevel(logging.CRITICAL)


@dataclass
class Delivery:
    destination: str
    headers: dict[str, str]
    body: str


@dataclass
class _State:
    lock: threading.Condition = field(default_factory=threading.Condition)
    receipts: set[str] = field(default_factory=set)
    deliveries: list[Delivery] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    disconnected: bool = False
    connected_headers: dict[str, str] = field(default_factory=dict)
    callbacks: dict[str, Callable[[Delivery], None]] = field(default_factory=dict)
    # receipt id -> what to do when it arrives (ack confirmations), instead of keeping it in `receipts`
    receipt_callbacks: dict[str, Callable[[], None]] = field(default_factory=dict)
    # receipt id -> what to do when the broker answers that request with an ERROR instead (an ack it could not
    # store); such an ERROR is the request's answer, not the session's error
    refusal_callbacks: dict[str, Callable[[str], None]] = field(default_factory=dict)


HEARTBEAT_GRACE = 2.5  # intervals without a frame from the broker before the connection counts as dead

# "1.0" for brokers that speak nothing newer (ActiveMQ before 5.6 answers a STOMP frame with an ERROR)
PROTOCOLS = ("1.0", "1.2")


class BrokerError(HarnessError):
    """The broker answered with an ERROR frame: the operation certainly did not happen."""


class Disconnected(HarnessError):
    """The connection dropped: an operation in flight may or may not have happened."""


class _Connection10(stomp.Connection10):
    """stomp.py's STOMP 1.0 connection, with the CONNECT frame the 1.0 spec has.

    Protocol10.connect adds `accept-version: 1.0`, a 1.1 negotiation header that a 1.0 broker never asked for;
    and stomp.py's 1.0 flavour drops the vhost, which the VIP needs: it routes a client to the pair its
    CONNECT frame's `host` header names."""

    def __init__(self, host_and_ports: list[tuple[str, int]], *, vhost: str | None, **options: Any) -> None:
        super().__init__(host_and_ports, **options)
        self._vhost = vhost

    def connect(
        self,
        username: str | None = None,
        passcode: str | None = None,
        wait: bool = False,
        headers: dict[str, str] | None = None,
        **keyword_headers: str,
    ) -> None:
        self.transport.start()
        frame_headers = stomp.utils.merge_headers([headers, keyword_headers])
        frame_headers.pop("accept-version", None)
        frame_headers.pop("heart-beat", None)
        if self._vhost:
            frame_headers["host"] = self._vhost
        if username is not None:
            frame_headers["login"] = username
        if passcode is not None:
            frame_headers["passcode"] = passcode
        self.send_frame("CONNECT", frame_headers)
        # as Protocol10.connect: an ERROR before CONNECTED is a refused connect
        if wait:
            self.transport.wait_for_connection()
            if self.transport.connection_error:
                raise stomp.exception.ConnectFailedException()


class _Listener(stomp.ConnectionListener):
    def __init__(self, state: _State) -> None:
        self.state = state

    def on_connected(self, frame: stomp.utils.Frame) -> None:
        with self.state.lock:
            self.state.connected_headers = dict(frame.headers)
            self.state.lock.notify_all()

    def on_receipt(self, frame: stomp.utils.Frame) -> None:
        receipt_id = frame.headers.get("receipt-id", "")
        with self.state.lock:
            callback = self.state.receipt_callbacks.pop(receipt_id, None)
            self.state.refusal_callbacks.pop(receipt_id, None)
            if callback is None:
                self.state.receipts.add(receipt_id)
                self.state.lock.notify_all()
        if callback is not None:
            callback()

    def on_message(self, frame: stomp.utils.Frame) -> None:
        delivery = Delivery(frame.headers.get("destination", ""), dict(frame.headers), frame.body)
        callback = self.state.callbacks.get(frame.headers.get("subscription", ""))
        if callback is not None:
            callback(delivery)  # a workload consumer records and acks; nothing is kept here
            return
        with self.state.lock:
            self.state.deliveries.append(delivery)
            self.state.lock.notify_all()

    def on_error(self, frame: stomp.utils.Frame) -> None:
        message = frame.headers.get("message", frame.body)[:300]
        receipt_id = frame.headers.get("receipt-id", "")
        with self.state.lock:
            refused = self.state.refusal_callbacks.pop(receipt_id, None) if receipt_id else None
            if refused is not None:
                self.state.receipt_callbacks.pop(receipt_id, None)
            else:
                self.state.errors.append(message)
                self.state.lock.notify_all()
        if refused is not None:
            refused(message)

    def on_disconnected(self) -> None:
        with self.state.lock:
            self.state.disconnected = True
            self.state.lock.notify_all()


# sessions are told apart by a serial, never by id(): CPython hands a freed session's address to the next
# object, and a workload that kept id(session) of a closed session took a new session's deliveries for late
# frames of an old one (another consumer's, even), so a redelivered copy was explained by the wrong close
_session_serials = itertools.count(1)


class StompSession:
    def __init__(
        self,
        host: str,
        port: int,
        user: str,
        password: str,
        *,
        timeout: float = 10.0,
        heartbeats: tuple[int, int] = (0, 0),
        vhost: str | None = None,
        client_id: str | None = None,
        protocol: str = "1.2",
    ) -> None:
        if protocol not in PROTOCOLS:
            raise HarnessError(f"unknown STOMP protocol {protocol!r}: expected one of {', '.join(PROTOCOLS)}")
        self.address = (host, port)
        self.serial = next(_session_serials)
        self._protocol = protocol
        self._state = _State()
        # receipt ids need only be unique on this connection: a counter, where uuid4 cost more than the rest of
        # a send's own work (benchmarks/workload_throughput.py)
        self._receipt_numbers = itertools.count()
        self._conn: stomp.Connection10 | stomp.Connection12
        if protocol == "1.0":
            # STOMP 1.0 has no heart-beats: `heartbeats` is not sent, and a dead peer is noticed only when a
            # receipt's deadline passes or TCP gives up on the socket
            self._conn = _Connection10([(host, port)], reconnect_attempts_max=1, timeout=timeout, vhost=vhost)
        else:
            self._conn = stomp.Connection12(
                [(host, port)],
                heartbeats=heartbeats,
                # ActiveMQ sends a heart-beat only when it wrote nothing since its previous check, so after
                # the last message a consumer hears nothing for two intervals (3.97 s at 2 s, every time
                # measured); stomp.py's default allowance of 1.5 intervals dropped healthy idle consumers
                # 3 s after the load stopped, a reconnect no fault caused (tests/docker/test_stomp_client.py
                # measures the silence)
                heart_beat_receive_scale=HEARTBEAT_GRACE,
                reconnect_attempts_max=1,
                timeout=timeout,
                # the CONNECT frame's `host` header: the VIP routes a client that names a pair there to it
                vhost=vhost,
            )
        self._conn.set_listener("harness", _Listener(self._state))
        try:
            # a durable subscriber's identity on the broker: its client id and subscription name
            headers = {"client-id": client_id} if client_id else {}
            self._conn.connect(user, password, wait=True, headers=headers)
        except (stomp.exception.StompException, OSError) as exc:
            refusal = self._connect_refusal()
            if not refusal:
                raise HarnessError(f"STOMP connect to {host}:{port} failed: {exc!r}") from exc
            if protocol != "1.0" and "Unknown STOMP action" in refusal:
                refusal += ' (a broker that speaks STOMP 1.0 only, e.g. ActiveMQ 5.5: use protocol="1.0")'
            raise HarnessError(f"STOMP {protocol} connect to {host}:{port} refused: {refusal}") from exc
        if not self._conn.is_connected():
            raise HarnessError(f"STOMP connect to {host}:{port} refused: {self._state.errors[-1:]}")
        # stomp.py wakes connect() before it hands CONNECTED to the listeners: without this wait a session
        # could report its broker as "" (once in a full make chaos: a consumer counted as nowhere)
        with self._state.lock:
            answered = self._state.lock.wait_for(lambda: self._state.connected_headers, timeout=timeout)
        if not answered:
            self.close()
            raise HarnessError(f"STOMP connect to {host}:{port}: CONNECTED never reached the session")
        self._subscriptions = 0
        self._error_mark = 0
        self._broker_name = ""
        self._parsed = ("", "")  # (CONNECTED's session header, the broker name in it)
        if client_id:
            # CONNECTED's session header is then the client id, not the broker's connection id: ask the
            # statistics plugin which broker this is, over a temporary queue gone with the connection
            try:
                self._broker_name = str(self.broker_statistics(timeout).get("brokerName", ""))
            except HarnessError:
                self.close()
                raise

    def _connect_refusal(self) -> str:
        """The broker's ERROR message if it refused the connect, else "" (the socket failed instead)."""
        if not self._conn.transport.connection_error:
            return ""
        # stomp.py wakes the connecting thread before it hands the ERROR to the listener: wait for the
        # listener, which is the receiver thread's very next step
        with self._state.lock:
            self._state.lock.wait_for(lambda: self._state.errors, timeout=1.0)
            return self._state.errors[-1] if self._state.errors else ""

    def _check_headers(self, headers: dict[str, str]) -> None:
        # 1.2 escapes a line break or a colon in a header (stomp.py does it); 1.0 has no escaping, so such a
        # header would end up as another header or a broken frame on the wire
        if self._protocol != "1.0":
            return
        for key, value in headers.items():
            if ":" in key or any(c in f"{key}{value}" for c in "\r\n"):
                raise HarnessError(
                    f"STOMP 1.0 cannot carry the header {key!r}: {value!r} (no escaping in 1.0)"
                )

    def __enter__(self) -> StompSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._conn.is_connected():
            with contextlib.suppress(stomp.exception.StompException, OSError):
                self._conn.disconnect()

    @property
    def protocol(self) -> str:
        """The STOMP version this session speaks: "1.0" or "1.2"."""
        return self._protocol

    @property
    def connected(self) -> bool:
        return self._conn.is_connected()

    @property
    def broker_session(self) -> str:
        """The broker's session id from CONNECTED, e.g. ID:chaos-mq01-a-40231-...: names the broker."""
        # read without the lock (asked twice per send, through broker_name): on_connected never mutates the
        # headers, it replaces them whole
        return self._state.connected_headers.get("session", "")

    @property
    def broker_name(self) -> str:
        """Host name of the broker behind this connection (through the VIP: the one it routed us to)."""
        if self._broker_name:
            return self._broker_name
        session = self.broker_session
        if session != self._parsed[0]:  # asked for every send and delivery: parsed once per CONNECTED
            match = re.match(r"^ID:(.+)-\d+-\d+-\d+:\d+$", session)
            self._parsed = (session, match.group(1) if match else "")
        return self._parsed[1]

    def send(
        self,
        queue: str,
        body: str,
        headers: dict[str, str] | None = None,
        *,
        receipt: bool = True,
        kind: str = "queue",
    ) -> str:
        """Send a persistent message to a queue (or, with kind="topic", a topic); returns its receipt id ("" when
        no receipt was asked for)."""
        receipt_id = f"r{next(self._receipt_numbers)}" if receipt else ""
        all_headers = {"persistent": "true", **(headers or {})}
        self._check_headers(all_headers)
        if receipt:
            all_headers["receipt"] = receipt_id
        with self._state.lock:
            self._error_mark = len(self._state.errors)  # an ERROR from here on answers this send
        self._conn.send(destination=f"/{kind}/{queue}", body=body, headers=all_headers)
        return receipt_id

    def wait_receipts(self, receipt_ids: list[str], timeout: float) -> None:
        wanted = set(receipt_ids)
        self._wait(
            lambda: wanted <= self._state.receipts, timeout, f"{len(wanted)} receipts", self._error_mark
        )
        with self._state.lock:  # seen: a producer's session of hours would otherwise keep every receipt id
            self._state.receipts -= wanted

    def subscribe(
        self,
        queue: str,
        *,
        ack: str = "client-individual",
        headers: dict[str, str] | None = None,
        on_delivery: Callable[[Delivery], None] | None = None,
        kind: str = "queue",
        receipt_timeout: float | None = None,
    ) -> str:
        """Subscribe to a queue (or a topic); deliveries go to `on_delivery` if given (from stomp.py's receiver
        thread), else are kept. With `receipt_timeout`, wait for the broker to confirm the subscription."""
        self._subscriptions += 1
        sub_id = f"sub-{self._subscriptions}"
        if on_delivery is not None:
            self._state.callbacks[sub_id] = on_delivery
        all_headers = dict(headers or {})
        self._check_headers(all_headers)
        receipt_id = ""
        if receipt_timeout is not None:
            receipt_id = all_headers["receipt"] = f"subscribe-{next(self._receipt_numbers)}"
            with self._state.lock:
                self._error_mark = len(self._state.errors)
        self._conn.subscribe(destination=f"/{kind}/{queue}", id=sub_id, ack=ack, headers=all_headers)
        if receipt_timeout is not None:
            self.wait_receipts([receipt_id], receipt_timeout)
        return sub_id

    def unsubscribe(self, sub_id: str) -> None:
        """End a subscription: the broker takes back what it delivered on it and the client has not acked."""
        self._state.callbacks.pop(sub_id, None)
        self._conn.unsubscribe(id=sub_id)

    def ack(
        self,
        delivery: Delivery,
        on_confirmed: Callable[[], None] | None = None,
        on_refused: Callable[[str], None] | None = None,
    ) -> None:
        """ACK a delivery; with `on_confirmed`, ask for a receipt and call it when the broker confirms, and
        `on_refused` with the broker's message if it answers with an ERROR instead."""
        # 1.2 acks by the MESSAGE frame's `ack` header; 1.0 has none and acks by its `message-id`
        ack_id = delivery.headers["message-id" if self._protocol == "1.0" else "ack"]
        if on_confirmed is None:
            self._conn.ack(ack_id)
            return
        receipt_id = f"ack-{next(self._receipt_numbers)}"
        with self._state.lock:
            self._state.receipt_callbacks[receipt_id] = on_confirmed
            if on_refused is not None:
                self._state.refusal_callbacks[receipt_id] = on_refused
        self._conn.ack(ack_id, receipt=receipt_id)

    def deliveries(self) -> list[Delivery]:
        with self._state.lock:
            return list(self._state.deliveries)

    def wait_deliveries(self, count: int, timeout: float) -> list[Delivery]:
        self._wait(lambda: len(self._state.deliveries) >= count, timeout, f"{count} deliveries")
        return self.deliveries()

    def _wait(self, predicate, timeout: float, what: str, errors_before: int | None = None) -> None:
        deadline = time.monotonic() + timeout
        with self._state.lock:
            if errors_before is None:
                errors_before = len(self._state.errors)
            while not predicate():
                if len(self._state.errors) > errors_before:
                    raise BrokerError(f"broker sent ERROR while waiting for {what}: {self._state.errors[-1]}")
                if self._state.disconnected:
                    raise Disconnected(f"connection to {self.address} lost while waiting for {what}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise WaitTimeout(
                        f"timed out after {timeout:.0f}s waiting for {what} from {self.address}"
                    )
                self._state.lock.wait(remaining)

    def browse(self, queue: str, timeout: float = 10.0) -> list[Delivery]:
        """Every message on `queue` on this broker, without consuming (ActiveMQ's STOMP queue browser)."""
        if self._protocol == "1.0":
            # ActiveMQ honours `browser:true` on 1.1+ only: on 1.0 it would be a consuming subscription
            raise HarnessError("queue browsing needs STOMP 1.1 or later; this session speaks 1.0")
        sub_id = self.subscribe(queue, ack="auto", headers={"browser": "true"})
        before = len(self.deliveries())
        self._wait(
            lambda: any(d.headers.get("browser") == "end" for d in self._state.deliveries[before:]),
            timeout,
            f"the end of a browse of {queue}",
        )
        self._conn.unsubscribe(id=sub_id)
        return [d for d in self.deliveries()[before:] if d.headers.get("browser") != "end"]

    def broker_statistics(self, timeout: float = 10.0) -> dict[str, object]:
        """Ask the statistics broker plugin about the broker itself (brokerName, ...)."""
        reply = f"harness.who.{uuid.uuid4().hex}"
        sub_id = self.subscribe(
            reply, ack="auto", kind="temp-queue", headers={"transformation": "jms-map-json"}
        )
        before = len(self.deliveries())
        self._conn.send(
            destination="/queue/ActiveMQ.Statistics.Broker",
            body="",
            headers={"reply-to": f"/temp-queue/{reply}", "persistent": "false"},
        )
        try:
            answer = self.wait_deliveries(before + 1, timeout)[before]
        except WaitTimeout as exc:
            raise HarnessError(f"the broker behind {self.address} did not say its name: {exc}") from None
        self._conn.unsubscribe(id=sub_id)
        return flatten_map_json(json.loads(answer.body))

    def destination_statistics(self, queue: str, timeout: float = 10.0) -> dict[str, object]:
        """Ask the statistics broker plugin about `queue`; returns its JSON map (size, consumerCount...)."""
        reply = f"harness.stats.{uuid.uuid4().hex}"
        self.subscribe(reply, ack="auto", headers={"transformation": "jms-map-json"})
        before = len(self.deliveries())
        self._conn.send(
            destination=f"/queue/ActiveMQ.Statistics.Destination.{queue}",
            body="",
            headers={"reply-to": f"/queue/{reply}"},
        )
        answer = self.wait_deliveries(before + 1, timeout)[before]
        return flatten_map_json(json.loads(answer.body))


def flatten_map_json(document: dict) -> dict[str, object]:
    """jms-map-json wraps the map as {"map": {"entry": [{"string": [key, value]} | {"string": key, "long": v}]}}."""
    entries = document.get("map", {}).get("entry", [])
    if isinstance(entries, dict):
        entries = [entries]
    flat: dict[str, object] = {}
    for entry in entries:
        if "string" in entry and isinstance(entry["string"], list):
            key, value = entry["string"][0], entry["string"][1]
        else:
            key = entry.get("string")
            value = next((v for k, v in entry.items() if k != "string"), None)
        flat[str(key)] = value
    return flat
