"""StompSession's STOMP 1.0 flavour against a fake broker that answers like ActiveMQ 5.5 (no Docker)."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from harness.client import stomp_client
from harness.client.stomp_client import Delivery, StompSession
from harness.errors import HarnessError
from harness.settings import ROOT
from tests.support import stomp_frames

# a backstop only: every wait below has its own deadline of a few seconds
pytestmark = pytest.mark.timeout(20)

WAIT = 3.0
SESSION_ID = "ID:fake-broker-1234-1-1-1:1"
MESSAGE_ID = "ID:fake-broker-1234-1-1-1:1:1:1:7"


def parse(raw: str) -> tuple[str, dict[str, str]]:
    """A frame's command and headers (the first of a repeated header wins, as in STOMP)."""
    command, *lines = raw.split("\n\n", 1)[0].split("\n")
    headers: dict[str, str] = {}
    for line in lines:
        key, _, value = line.partition(":")
        headers.setdefault(key, value)
    return command, headers


class FakeBroker:
    """Speaks STOMP 1.0 only, as ActiveMQ 5.5 does: CONNECT is answered, a STOMP frame is an ERROR. Records
    every frame it receives, raw."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.05)  # so that close() stops the accept loop at once
        self.port: int = self._server.getsockname()[1]
        self._frames: list[str] = []
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def close(self) -> None:
        self._stop.set()
        self._server.close()
        for thread in list(self._threads):
            thread.join(WAIT)

    def frames(self) -> list[tuple[str, dict[str, str]]]:
        with self._changed:
            return [parse(raw) for raw in self._frames]

    def raw_frames(self) -> list[str]:
        with self._changed:
            return list(self._frames)

    def wait_for(self, command: str) -> dict[str, str]:
        """The headers of the first frame received with `command`, waiting up to WAIT seconds for it."""
        deadline = time.monotonic() + WAIT
        with self._changed:
            while True:
                found = [headers for cmd, headers in map(parse, self._frames) if cmd == command]
                if found:
                    return found[0]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no {command} frame within {WAIT}s; got {self._frames}")
                self._changed.wait(remaining)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except OSError:  # the timeout, or the listening socket closed
                continue
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            for text in stomp_frames(conn, self._stop):
                if not self._answer(conn, text):
                    return

    def _answer(self, conn: socket.socket, raw: str) -> bool:
        """Answer one frame as ActiveMQ 5.5 would; False once the broker closes the connection."""
        with self._changed:
            self._frames.append(raw)
            self._changed.notify_all()
        command, headers = parse(raw)
        if command == "STOMP":
            conn.sendall(b"ERROR\nmessage:Unknown STOMP action: STOMP\n\nUnknown STOMP action: STOMP\0")
            return False
        if command == "CONNECT":
            conn.sendall(f"CONNECTED\nsession:{SESSION_ID}\n\n\0".encode())
        if command == "SUBSCRIBE":
            subscription = f"subscription:{headers['id']}\n" if "id" in headers else ""
            message = (
                f"MESSAGE\ndestination:{headers['destination']}\nmessage-id:{MESSAGE_ID}\n"
                f"{subscription}\nhello\0"
            )
            conn.sendall(message.encode())
        if "receipt" in headers:
            conn.sendall(f"RECEIPT\nreceipt-id:{headers['receipt']}\n\n\0".encode())
        return command != "DISCONNECT"


@pytest.fixture
def broker() -> Iterator[FakeBroker]:
    fake = FakeBroker()
    yield fake
    fake.close()


def session(broker: FakeBroker, protocol: str, **options: Any) -> StompSession:
    return StompSession(
        "127.0.0.1", broker.port, "client", "secret", timeout=WAIT, protocol=protocol, **options
    )


def wait_until(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {WAIT}s waiting for {what}")
        time.sleep(0.01)


def test_a_1_0_session_connects_with_connect_and_no_1_1_negotiation(broker: FakeBroker) -> None:
    with session(broker, "1.0", heartbeats=(2000, 2000), vhost="chaos-mq01") as stomp:
        assert stomp.protocol == "1.0" and stomp.connected
        assert stomp.broker_session == SESSION_ID
    command, headers = broker.frames()[0]
    assert command == "CONNECT"
    assert headers == {"login": "client", "passcode": "secret", "host": "chaos-mq01"}
    assert broker.raw_frames()[0].startswith("CONNECT\n")


def test_a_session_knows_its_broker_when_connect_returns(
    broker: FakeBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    # stomp.py wakes connect() before it hands CONNECTED to the listeners; a slow listener made a workload
    # consumer record its broker as "" and count as connected nowhere (a full make chaos, 2026-11-28)
    original = stomp_client._Listener.on_connected

    def late(self: Any, frame: Any) -> None:
        time.sleep(0.3)
        original(self, frame)

    monkeypatch.setattr(stomp_client._Listener, "on_connected", late)
    with session(broker, "1.0") as stomp:
        assert stomp.broker_name == "fake-broker-1234"


def test_a_1_0_session_without_a_vhost_sends_no_host_header(broker: FakeBroker) -> None:
    with session(broker, "1.0"):
        pass
    command, headers = broker.frames()[0]
    assert command == "CONNECT" and headers == {"login": "client", "passcode": "secret"}


def test_a_1_2_session_is_refused_by_a_1_0_only_broker(broker: FakeBroker) -> None:
    with pytest.raises(HarnessError, match="Unknown STOMP action: STOMP") as refused:
        session(broker, "1.2")
    assert "\n" not in str(refused.value) and 'protocol="1.0"' in str(refused.value)


def test_a_1_2_session_still_connects_with_a_stomp_frame(broker: FakeBroker) -> None:
    with pytest.raises(HarnessError):
        session(broker, "1.2", heartbeats=(2000, 2000))
    command, headers = broker.frames()[0]
    assert command == "STOMP"
    assert headers["accept-version"] == "1.2" and headers["heart-beat"] == "2000,2000"
    assert headers["login"] == "client" and headers["passcode"] == "secret"


def test_a_send_over_1_0_is_receipted(broker: FakeBroker) -> None:
    with session(broker, "1.0") as stomp:
        receipt = stomp.send("orders", "body-1")
        stomp.wait_receipts([receipt], WAIT)
        headers = broker.wait_for("SEND")
    assert headers["destination"] == "/queue/orders" and headers["persistent"] == "true"
    assert headers["receipt"] == receipt


def test_an_ack_over_1_0_names_the_message_id_and_is_confirmed(broker: FakeBroker) -> None:
    delivered: list[Delivery] = []
    confirmed, refused = threading.Event(), []
    with session(broker, "1.0") as stomp:
        sub_id = stomp.subscribe("orders", on_delivery=delivered.append, receipt_timeout=WAIT)
        wait_until(lambda: bool(delivered), "the delivery")
        stomp.ack(delivered[0], on_confirmed=confirmed.set, on_refused=refused.append)
        assert confirmed.wait(WAIT), "the ack's receipt never reached its callback"
        stomp.unsubscribe(sub_id)
        broker.wait_for("UNSUBSCRIBE")
    subscribe = broker.wait_for("SUBSCRIBE")
    assert subscribe["id"] == sub_id and subscribe["ack"] == "client-individual"
    ack = broker.wait_for("ACK")
    assert ack["message-id"] == MESSAGE_ID and ack["receipt"].startswith("ack-") and "id" not in ack
    assert delivered[0].headers["subscription"] == sub_id and refused == []


def test_browse_over_1_0_is_refused_before_subscribing(broker: FakeBroker) -> None:
    with session(broker, "1.0") as stomp, pytest.raises(HarnessError) as refused:
        stomp.browse("orders", timeout=WAIT)
    assert str(refused.value) == "queue browsing needs STOMP 1.1 or later; this session speaks 1.0"
    assert "SUBSCRIBE" not in [command for command, _ in broker.frames()]


def test_a_1_0_session_refuses_a_header_1_0_cannot_carry(broker: FakeBroker) -> None:
    with session(broker, "1.0") as stomp, pytest.raises(HarnessError, match="no escaping"):
        stomp.send("orders", "body", headers={"note": "two\nlines"})


@pytest.mark.parametrize("protocol", ["1.1", "2.0", ""])
def test_an_unknown_protocol_is_refused(broker: FakeBroker, protocol: str) -> None:
    with pytest.raises(HarnessError, match="unknown STOMP protocol") as refused:
        session(broker, protocol)
    assert "\n" not in str(refused.value)
    assert broker.frames() == []


def in_container_tool(
    tool: str, broker: FakeBroker, protocol: str, *args: str
) -> subprocess.CompletedProcess:
    """images/bin/<tool> run here, as a broker container runs it, against the fake broker."""
    env = {**os.environ, "AMQ_STOMP": protocol, "STOMP_PORT": str(broker.port), "STOMP_DEADLINE": "3"}
    env |= {"AMQ_CLIENT_USER": "client", "AMQ_CLIENT_PASSWORD": "secret"}
    return subprocess.run(
        [str(ROOT / "images" / "bin" / tool), *args],
        env=env, capture_output=True, text=True, timeout=10,
    )  # fmt: skip


def test_stomp_send_in_a_1_0_container_connects_without_negotiation(broker: FakeBroker) -> None:
    done = in_container_tool("stomp-send", broker, "1.0", "chaos.probe", "body", "harness-id:r1-probe-1")
    assert done.returncode == 0, done.stderr
    (connect, connect_headers), (send, send_headers), *_ = broker.frames()
    assert connect == "CONNECT" and set(connect_headers) == {"login", "passcode"}
    assert send == "SEND" and send_headers["harness-id"] == "r1-probe-1" and "receipt" in send_headers


def test_stomp_send_in_a_newer_container_negotiates_1_2(broker: FakeBroker) -> None:
    assert in_container_tool("stomp-send", broker, "1.2", "chaos.probe", "body").returncode == 0
    assert broker.frames()[0][1]["accept-version"] == "1.2"


def test_stomp_browse_in_a_1_0_container_is_refused_before_connecting(broker: FakeBroker) -> None:
    done = in_container_tool("stomp-browse", broker, "1.0", "chaos.test", str(broker.port))
    assert done.returncode == 2 and "needs STOMP 1.1 or later" in done.stderr
    assert broker.frames() == []
