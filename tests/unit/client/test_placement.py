"""Client placement: which pair each session of each client asks the VIP for, from the seed, a scenario's
pins or a recorded history; and the workload records it."""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path

import pytest

from harness.client import workload as workload_module
from harness.client.placement import NamedPairs, Placement, parse_mode, recorded_routes
from harness.client.workload import Workload, WorkloadConfig
from harness.errors import HarnessError
from harness.history import History, read_history

PAIRS = ("01", "02")
CLIENTS = [f"{role}-{n}" for role in ("producer", "consumer") for n in range(2)]


def routes(placement: Placement, sessions: int = 8) -> dict[str, list[str | None]]:
    return {p: [placement.route(p, k) for k in range(sessions)] for p in CLIENTS}


def test_seeded_routes_depend_on_the_seed_the_process_and_the_session_only() -> None:
    one = routes(Placement(PAIRS, "7:freeze-master"))
    # asked in another order (threads connect in any order): the same answers
    again = Placement(PAIRS, "7:freeze-master")
    backwards = {p: [again.route(p, k) for k in reversed(range(8))][::-1] for p in reversed(CLIENTS)}
    assert one == backwards
    assert all(route in PAIRS for sessions in one.values() for route in sessions)
    # both pairs are used, and another seed or scenario places differently
    assert {route for sessions in one.values() for route in sessions} == set(PAIRS)
    assert routes(Placement(PAIRS, "8:freeze-master")) != one
    assert routes(Placement(PAIRS, "7:kill-live-master")) != one


def test_vip_placement_names_no_pair_and_pins_and_recordings_come_first() -> None:
    assert set(routes(Placement(PAIRS, "1", mode="vip"))["consumer-0"]) == {None}
    pinned = Placement(PAIRS, "1", mode="vip", pinned={"consumer": "02", "consumer-1": "01"})
    assert routes(pinned)["consumer-0"] == ["02"] * 8
    assert routes(pinned)["consumer-1"] == ["01"] * 8  # a process's own pin beats its role's
    assert routes(pinned)["producer-0"] == [None] * 8
    recorded = Placement(PAIRS, "1", pinned={"producer": "01"}, recorded={"producer-0": ("02", None, "02")})
    seeded = Placement(PAIRS, "1")
    assert [recorded.route("producer-0", k) for k in range(5)] == ["02", None, "02", "01", "01"]
    assert [recorded.route("consumer-0", k) for k in range(3)] == [
        seeded.route("consumer-0", k) for k in range(3)
    ]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: parse_mode("random"), "unknown PLACEMENT 'random': choose one of seeded, vip"),
        (lambda: Placement(PAIRS, "1", pinned={"consumer": "03"}), "placement of 'consumer' on pair '03'"),
    ],
)
def test_bad_placements_are_one_line_errors(make, message: str) -> None:
    with pytest.raises(HarnessError) as raised:
        make()
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_named_pairs_are_drawn_from_the_seed_distinct_and_kept() -> None:
    named = NamedPairs(PAIRS, "5:s")
    victim, other = named("victim"), named("other")
    assert {victim, other} == set(PAIRS)
    assert named("victim") == victim and named("01") == "01"
    assert named("third") in PAIRS  # more names than pairs: they share
    # the same seed names the same pairs; some seed names the other one
    assert NamedPairs(PAIRS, "5:s")("victim") == victim
    assert {NamedPairs(PAIRS, f"{seed}:s")("victim") for seed in range(20)} == set(PAIRS)


def test_a_replay_takes_each_sessions_route_or_where_it_asked_for_none_the_pair_it_landed_on() -> None:
    events = [
        {"p": "consumer-0", "type": "ok", "f": "connect", "broker": "chaos-mq02-a", "route": "01"},
        {"p": "consumer-0", "type": "fail", "f": "connect", "route": "02"},
        {"p": "consumer-0", "type": "ok", "f": "connect", "broker": "chaos-mq02-a", "route": None},
        {"p": "producer-1", "type": "ok", "f": "connect", "broker": "chaos-mq02-b"},  # no route: older
        {"p": "harness", "type": "ok", "f": "connect", "broker": "chaos-mq01-a", "route": "01"},
    ]
    pair_of = {f"chaos-mq{p}-{x}": p for p in PAIRS for x in "ab"}
    assert recorded_routes(events, pair_of) == {"consumer-0": ("01", "02"), "producer-1": ("02",)}


class FakeSession:
    serials = itertools.count(1)

    def __init__(self, broker: str) -> None:
        self.broker_name = broker
        self.serial = next(FakeSession.serials)
        self.connected = True

    def close(self) -> None:
        self.connected = False


def test_the_workload_records_each_sessions_route_and_keeps_it_across_failed_attempts(tmp_path: Path) -> None:
    """A failed connect retries the same session number, so the same pair; the next session draws anew."""
    history = History(tmp_path / "h.jsonl", {"seed": 1})
    asked: list[str | None] = []
    failures = iter([True, False, False])

    def connect(route: str | None = None, **_: object) -> FakeSession:
        asked.append(route)
        if next(failures):
            raise HarnessError("refused")
        return FakeSession(f"chaos-mq{route}-a")

    placement = Placement(PAIRS, "3:x")
    workload = Workload(history, connect, WorkloadConfig(), placement)
    stop = threading.Event()
    first = workload._session("consumer-0", stop)
    second = workload._session("consumer-0", stop)
    history.close()
    expected = [placement.route("consumer-0", 0), placement.route("consumer-0", 1)]
    assert asked == [expected[0], expected[0], expected[1]]
    assert first is not None and second is not None and first.broker_name == f"chaos-mq{expected[0]}-a"
    connects = [
        (e["type"], e["route"], e["session"]) for e in read_history(history.path) if e["f"] == "connect"
    ]
    assert connects == [("fail", expected[0], 0), ("ok", expected[0], 0), ("ok", expected[1], 1)]


class InstantStop(threading.Event):
    """A stop event whose back-off waits return at once: the retries happen without the time passing."""

    def wait(self, timeout: float | None = None) -> bool:
        return self.is_set()


@pytest.mark.parametrize(("deadline", "gives_up"), [(None, False), (90.0, True)])
def test_a_client_keeps_trying_for_as_long_as_it_runs_unless_told_to_give_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, deadline: float | None, gives_up: bool
) -> None:
    """Five minutes of refused connects (a clock that jumps a minute per attempt), then the cluster serves
    again: by default the client is there to see it. One that gave up after 90 s (the old default) left a
    soak window's last minutes unmeasured while a pair served, and `available` blamed the brokers."""
    now = iter(range(0, 10_000, 60))
    monkeypatch.setattr(workload_module.time, "monotonic", lambda: float(next(now)))
    history = History(tmp_path / "h.jsonl", {"seed": 1})
    refusals = iter([True] * 5 + [False])

    def connect(route: str | None = None, **_: object) -> FakeSession:
        if next(refusals):
            raise HarnessError("the VIP routes a client to nobody")
        return FakeSession("chaos-mq02-a")

    workload = Workload(history, connect, WorkloadConfig(reconnect_deadline=deadline))
    session = workload._session("producer-0", InstantStop())
    history.close()
    events = [e["f"] for e in read_history(history.path)]
    if gives_up:
        assert session is None and events[-1] == "give-up"
    else:
        assert session is not None and events == ["connect"] * 6 and "give-up" not in events


class SubscribingSession(FakeSession):
    def __init__(self, broker: str) -> None:
        super().__init__(broker)
        self.subscribed: list[str] = []
        self.unsubscribed: list[str] = []

    def subscribe(self, destination: str, **_: object) -> str:
        self.subscribed.append(destination)
        return f"sub-{len(self.subscribed)}"

    def unsubscribe(self, sub_id: str) -> None:
        self.unsubscribed.append(sub_id)


def test_churning_consumers_leave_on_a_seeded_plan_and_come_back_in_new_sessions(tmp_path: Path) -> None:
    """Each session's stay, way of leaving and absence come from the seed; each new session is placed anew;
    every leave is in the history; churn stops once the producers stop, so the drain has every consumer."""
    history = History(tmp_path / "h.jsonl", {"seed": 1})
    sessions: list[SubscribingSession] = []

    def connect(route: str | None = None, **_: object) -> SubscribingSession:
        sessions.append(SubscribingSession(f"chaos-mq{route}-a"))
        return sessions[-1]

    config = WorkloadConfig(consumers=1, churn=0.3, queues=2, key="5:churn")
    workload = Workload(history, connect, config, Placement(PAIRS, "5:churn"))
    assert workload.churn_plan("consumer-0", 3) == Workload(history, connect, config).churn_plan(
        "consumer-0", 3
    )
    assert workload.churn_plan("consumer-0", 3) != workload.churn_plan("consumer-0", 4)
    workload.start_consumers()
    time.sleep(2.5)
    workload._stop_producers.set()  # churn ends with the load: the consumer stays from here on
    time.sleep(0.8)
    settled = len(sessions)
    time.sleep(0.6)
    workload.stop_consumers()
    history.close()
    events = list(read_history(history.path))
    leaves = [e for e in events if e["f"] == "leave"]
    assert len(leaves) >= 4 and {e["how"] for e in leaves} == {"unsubscribe", "disconnect"}
    for number, leave in enumerate(leaves):
        stay, how, away = workload.churn_plan("consumer-0", number)
        assert (leave["how"], leave["stayed"], leave["away"]) == (how, round(stay, 3), round(away, 3))
    unsubscribing = [s for s, e in zip(sessions, leaves, strict=False) if e["how"] == "unsubscribe"]
    assert all(s.unsubscribed == ["sub-1", "sub-2"] for s in unsubscribing)
    assert all(s.subscribed == config.destinations for s in sessions)  # every queue, every session
    routes = [e["route"] for e in events if e["f"] == "connect"]
    assert routes == [workload.placement.route("consumer-0", n) for n in range(len(routes))]
    assert len(sessions) == settled  # no leave after the producers stopped
    assert events[-1]["f"] == "session-end"


def test_moving_the_consumers_sends_their_next_sessions_to_the_pair_and_says_so(tmp_path: Path) -> None:
    history = History(tmp_path / "h.jsonl", {"seed": 1})
    routes: list[str | None] = []

    def connect(route: str | None = None, **_: object) -> SubscribingSession:
        routes.append(route)
        return SubscribingSession(f"chaos-mq{route}-a")

    workload = Workload(
        history, connect, WorkloadConfig(consumers=2), Placement(PAIRS, "1:m", pinned={"consumer": "01"})
    )
    workload.start_consumers()
    time.sleep(0.3)
    workload.move("consumer", "02")
    time.sleep(0.6)
    workload.stop_consumers()
    history.close()
    assert routes[:2] == ["01", "01"] and routes[2:] == ["02", "02"]
    moves = [e for e in read_history(history.path) if e["f"] == "move"]
    assert [(e["who"], e["to"]) for e in moves] == [("consumer", "02")]
