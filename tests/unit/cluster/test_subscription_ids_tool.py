"""images/bin/stomp-subscription-ids against a fake STOMP broker (no Docker): it reattaches to one durable
subscription, lists what the broker dispatches, acknowledges nothing, and says when the count was off."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest

from harness.settings import ROOT
from tests.support import stomp_frames

pytestmark = pytest.mark.timeout(30)

TOOL = ROOT / "images" / "bin" / "stomp-subscription-ids"


class Broker:
    """Answers CONNECT (or an ERROR), then dispatches `messages` once subscribed; records every frame."""

    def __init__(self, messages: list[tuple[str, str]], error: str = "") -> None:
        self.messages, self.error = messages, error
        self.frames: list[str] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        conn, _ = self._server.accept()
        with conn:
            for frame in stomp_frames(conn):
                self.frames.append(frame)
                if not self._answer(conn, frame):
                    return

    def _answer(self, conn: socket.socket, frame: str) -> bool:
        """False once the broker closes the connection, as ActiveMQ does after an ERROR."""
        command = frame.split("\n", 1)[0]
        if command == "CONNECT" and self.error:
            conn.sendall(f"ERROR\nmessage:{self.error}\n\n\0\n".encode())
            return False
        if command == "CONNECT":
            conn.sendall(b"CONNECTED\nversion:1.2\nsession:ID\\cfake-1\n\n\0\n")
        elif command == "SUBSCRIBE":
            for message_id, harness_id in self.messages:
                headers = f"message-id:{message_id}\nsubscription:held\ndestination:/topic/t\n"
                headers += f"harness-id:{harness_id}\n" if harness_id else ""
                conn.sendall(f"MESSAGE\n{headers}\nbody of {harness_id}\0\n".encode())
        return True

    def close(self) -> None:
        self._server.close()
        self._thread.join(5)

    def wait_for(self, command: str, timeout: float = 5.0) -> list[dict[str, str]]:
        """The frames of `command` once one has arrived: the tool may exit before this thread read its last."""
        deadline = time.monotonic() + timeout
        while not self.sent(command) and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.sent(command)

    def sent(self, command: str) -> list[dict[str, str]]:
        found = []
        for frame in self.frames:
            head, *_ = frame.split("\n\n", 1)
            lines = head.split("\n")
            if lines[0] == command:
                found.append(dict(line.split(":", 1) for line in lines[1:]))
        return found


@pytest.fixture
def run_tool() -> Iterator:
    brokers: list[Broker] = []

    def run(count: int, messages: list[tuple[str, str]], error: str = "") -> tuple[Broker, int, str, str]:
        broker = Broker(messages, error)
        brokers.append(broker)
        env = {**os.environ, "STOMP_DEADLINE": "2", "STOMP_QUIET": "0.3", "AMQ_CLIENT_USER": "u"}
        done = subprocess.run(
            [
                "bash",
                str(TOOL),
                "chaos.topic",
                "r1-subscriber-0",
                "subscriber-0",
                str(count),
                str(broker.port),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=20,
        )
        return broker, done.returncode, done.stdout, done.stderr

    yield run
    for broker in brokers:
        broker.close()


MESSAGES = [("ID\\cb-1\\c1", "r1-t0-1"), ("ID\\cb-1\\c2", "r1-t0-2"), ("ID\\cb-1\\c3", "")]


def test_it_lists_what_the_subscription_holds_and_acknowledges_nothing(run_tool) -> None:
    broker, code, out, err = run_tool(3, MESSAGES)
    assert code == 0, err
    assert out.splitlines() == ["ID:b-1:1\tr1-t0-1", "ID:b-1:2\tr1-t0-2", "ID:b-1:3\t"]
    assert err.splitlines() == ["3"]
    (connect,) = broker.sent("CONNECT")
    assert connect["client-id"] == "r1-subscriber-0" and connect["login"] == "u"
    (subscribe,) = broker.sent("SUBSCRIBE")
    assert subscribe["activemq.subscriptionName"] == "subscriber-0" and subscribe["ack"] == "client"
    assert subscribe["activemq.prefetchSize"] == "4"  # one more than counted: an extra would come
    # frames arrive in order: by its DISCONNECT, an ACK it sent would have come
    assert len(broker.wait_for("DISCONNECT")) == 1
    assert broker.sent("ACK") == [] and broker.sent("NACK") == []


def test_more_or_fewer_than_counted_is_an_error_not_a_listing_to_trust(run_tool) -> None:
    _, code, out, err = run_tool(2, MESSAGES)
    assert code == 3 and "3 messages came, more than the 2 counted" in err
    _, code, out, err = run_tool(4, MESSAGES)
    assert code == 1 and "3 of the 4 messages counted came within 2s" in err
    assert len(out.splitlines()) == 3  # what came is listed all the same


def test_a_refusal_is_a_stomp_error(run_tool) -> None:
    _, code, out, err = run_tool(3, [], error="Broker: b - Client: r1-subscriber-0 already connected")
    assert code == 2 and "already connected" in err and out == ""
