"""A workload tells its STOMP sessions apart by their serials: a delivery on a new session is never taken for
a late frame of a closed one, whatever address the new session object was given."""

from __future__ import annotations

import itertools
from pathlib import Path

from harness.client.placement import Placement
from harness.client.stomp_client import Delivery
from harness.client.workload import Workload, WorkloadConfig
from harness.errors import HarnessError
from harness.history import History, read_history


class Session:
    serials = itertools.count(1)

    def __init__(self, broker: str) -> None:
        self.broker_name = broker
        self.serial = next(Session.serials)

    def close(self) -> None:
        pass


def refuse(**_: object) -> Session:
    raise HarnessError("no connection in this test")


def test_a_new_sessions_delivery_is_not_a_closed_sessions_late_frame_at_a_reused_address(
    tmp_path: Path,
) -> None:
    # a fresh-clone run failed `duplicated` this way: consumer-0's new session got the address of consumer-1's
    # session closed 450 ms before, so its redelivered copies were recorded as that session's late frames
    # (`unconfirmed`, since consumer-1's close) and no rule explained them
    history = History(tmp_path / "h.jsonl", {"seed": 1})
    workload = Workload(history, refuse, WorkloadConfig(), Placement(("01", "02"), "1:x"))
    reused = False
    for _ in range(200):  # CPython gives a freed object's address to the next one of its size, nearly always
        closed = Session("chaos-mq01-a")
        workload._end_session("consumer-1", closed, "disconnected")
        address = id(closed)
        del closed
        new = Session("chaos-mq01-a")
        if id(new) == address:
            reused = True
            break
    delivery = Delivery("/queue/chaos.test", {"harness-id": "ab12cd-p0-1", "redelivered": "true"}, "x")
    workload.record_delivery("consumer-0", new, delivery)  # type: ignore[arg-type]
    history.close()
    consumer_0 = [(e["type"], e["f"]) for e in read_history(history.path) if e["p"] == "consumer-0"]
    assert consumer_0 == [("ok", "deliver")], (reused, consumer_0)
