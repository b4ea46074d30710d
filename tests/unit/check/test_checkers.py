"""Checkers on tiny literal histories: the clean case first, then each fault, with its exact witnesses."""

from __future__ import annotations

import dataclasses
import itertools
import json
import time
from pathlib import Path

import pytest

from harness.check.facts import RunFacts
from harness.check.judge import judge
from harness.check.ledger import Ledger
from harness.check.liveness import (
    check_available,
    check_bridges_resumed,
    check_exercised,
    check_prompt,
    check_recovered,
)
from harness.check.queues import (
    check_duplicated,
    check_lost,
    check_stuck,
    check_unexpected,
    classify_undelivered,
)
from harness.check.registry import CHECKERS, Checker, check_all, merged_validity
from harness.check.result import ScenarioResult
from harness.check.verdict import FinalState, Verdict
from harness.history import FLUSH_INTERVAL, History, read_header, read_history
from harness.report.cells import count_cell

B1, B2, S1, S2 = "chaos-mq01-a", "chaos-mq02-a", "chaos-mq01-b", "chaos-mq02-b"


def sent(i: str, t: float, outcome: str = "ok", broker: str = B1) -> list[dict]:
    return [
        {"t": t, "p": "producer-0", "type": "invoke", "f": "send", "id": i},
        {"t": t + 0.01, "p": "producer-0", "type": outcome, "f": "send", "id": i, "broker": broker},
    ]


def delivered(
    i: str, t: float, broker: str = B2, redelivered: bool = False, consumer: str = "consumer-0"
) -> dict:
    return {
        "t": t,
        "p": consumer,
        "type": "ok",
        "f": "deliver",
        "id": i,
        "broker": broker,
        "redelivered": redelivered,
    }


def deadline(t: float) -> dict:
    return {"t": t, "p": "harness", "type": "ok", "f": "phase", "phase": "drain-deadline"}


CLEAN = FinalState(queues={B1: {"q": 0}, B2: {"q": 0}})
FACTS = RunFacts(
    pairs={B1: "01", S1: "01", B2: "02", S2: "02"},
    vip_routes=(B1, B2),
    client_nodes=(B1, B2),
    unavailable_after=15,
    min_acknowledged_before_fault=1,
    min_delivered_after_heal=1,
)


def ledger(*parts: list[dict] | dict, facts: RunFacts = FACTS) -> Ledger:
    events: list[dict] = []
    for part in parts:
        events.extend(part if isinstance(part, list) else [part])
    return Ledger.from_history(sorted(events, key=lambda e: e["t"]), facts)


def test_acknowledged_but_never_delivered_is_lost() -> None:
    history = ledger(sent("p0-0", 1), sent("p0-1", 2), delivered("p0-0", 3), deadline(10))
    verdict = check_lost(history, CLEAN)
    assert verdict.valid is False
    assert verdict.counts["lost"] == 1
    assert verdict.evidence["lost"] == [{"id": "p0-1", "acknowledged_at": 2.01, "by": B1}]


def test_indeterminate_sends_are_listed_apart_not_lost() -> None:
    history = ledger(sent("p0-0", 1, outcome="info"), sent("p0-1", 2, outcome="fail"), deadline(10))
    verdict = check_lost(history, CLEAN)
    assert verdict.valid is True
    assert verdict.evidence["indeterminate_never_delivered"] == ["p0-0"]
    assert verdict.counts["indeterminate-never-delivered"] == 1


def test_delivery_of_an_id_never_sent_is_unexpected() -> None:
    history = ledger(sent("p0-0", 1), delivered("p0-0", 2), delivered("ghost-7", 3))
    verdict = check_unexpected(history, CLEAN)
    assert (verdict.valid, verdict.evidence["unexpected"]) == (False, ["ghost-7"])


def test_a_ghost_delivery_is_unexpected_when_a_lost_message_evens_the_counts() -> None:
    # as many ids delivered as acknowledged: a count alone would call every delivery one of ours
    history = ledger(sent("p0-0", 1), sent("p0-1", 1.5), delivered("p0-0", 2), delivered("ghost-7", 3))
    assert len(history.first_delivered) == len(history.acknowledged)
    verdict = check_unexpected(history, CLEAN)
    assert (verdict.valid, verdict.evidence["unexpected"]) == (False, ["ghost-7"])
    assert [e["id"] for e in check_lost(history, CLEAN).evidence["lost"]] == ["p0-1"]


def test_a_crashing_checker_is_unknown_never_a_pass() -> None:
    def broken(ledger: Ledger, final: FinalState) -> Verdict:
        raise KeyError("boom")

    unit = Checker("broken", broken, "broken", count_cell("x"))
    verdicts = check_all(Ledger.from_history([]), FinalState(), [unit])
    assert verdicts[0].valid is None and "boom" in verdicts[0].note
    assert merged_validity([Verdict("a", True), verdicts[0]]) is None
    assert merged_validity([Verdict("a", False), verdicts[0]]) is False


def test_history_round_trip_survives_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    with History(path, {"seed": 42, "scenario": "unit"}) as history:
        history.append("producer-0", "invoke", "send", id="p0-0")
        history.append("producer-0", "ok", "send", id="p0-0", broker=B1)
    with path.open("a") as torn:
        torn.write('{"i": 2, "t": 1.0, "p": "consu')
    assert read_header(path)["seed"] == 42
    events = list(read_history(path))
    assert [(e["i"], e["type"]) for e in events] == [(0, "invoke"), (1, "ok")]
    assert all(json.dumps(e) for e in events)
    assert Ledger.from_history(events).acknowledged.keys() == {"p0-0"}


def test_an_open_history_is_on_disk_within_the_flush_interval_and_read_whole_in_its_process(
    tmp_path: Path,
) -> None:
    path = tmp_path / "history.jsonl"
    with History(path, {"seed": 1}) as history:
        history.append("producer-0", "invoke", "send", id="p0-0")
        # this process reads everything appended so far
        assert [e["id"] for e in read_history(path)] == ["p0-0"]
        history.append("producer-0", "ok", "send", id="p0-0", broker=B1)
        # what a killed run leaves: the file alone, without a flush from this process, soon after the event
        deadline = time.monotonic() + 10 * FLUSH_INTERVAL
        while b'"ok"' not in path.read_bytes() and time.monotonic() < deadline:
            time.sleep(FLUSH_INTERVAL / 4)
        assert path.read_bytes().count(b"\n") == 3  # header, invoke, ok


def plan(*directions: tuple[str, str]) -> dict:
    return {
        "t": 4,
        "p": "harness",
        "type": "ok",
        "f": "probe-plan",
        "directions": [list(d) for d in directions],
    }


def probe(src: str, dst: str, outcome: str, seconds: float | None = None) -> list[dict]:
    done = {"t": 9, "p": "harness", "type": outcome, "f": "probe", "src": src, "dst": dst}
    if seconds is not None:
        done["seconds"] = seconds
    return [{"t": 5, "p": "harness", "type": "invoke", "f": "probe", "src": src, "dst": dst}, done]


def test_bridges_resumed_records_recovery_per_direction() -> None:
    verdict = check_bridges_resumed(
        ledger(plan((B1, B2), (B2, B1)), probe(B1, B2, "ok", 1.5), probe(B2, B1, "ok", 4.25)), CLEAN
    )
    assert verdict.valid is True
    assert verdict.evidence["recovery_seconds"] == {f"{B1}->{B2}": 1.5, f"{B2}->{B1}": 4.25}
    assert verdict.counts == {"directions": 2, "not-resumed": 0, "unprobed": 0, "slowest-ms": 4250}


def test_a_direction_whose_probe_never_arrived_is_not_resumed() -> None:
    verdict = check_bridges_resumed(
        ledger(plan((B1, B2), (B2, B1)), probe(B1, B2, "ok", 1.5), probe(B2, B1, "fail")), CLEAN
    )
    assert verdict.valid is False
    assert verdict.evidence["not_resumed"] == [f"{B2}->{B1}"]


def test_random_schedule_is_a_pure_function_of_the_seed() -> None:
    from harness.chaos.schedule import random_schedule

    first = random_schedule(42, duration=300)
    assert first == random_schedule(42, duration=300)
    assert first != random_schedule(43, duration=300)
    assert len(first) == 15
    assert all(b.offset - a.offset >= 0 for a, b in itertools.pairwise(first))


def phase(name: str, t: float) -> dict:
    return {"t": t, "p": "harness", "type": "ok", "f": "phase", "phase": name}


# ------------------------------------------------------------------------------------ a complete clean run
def connect(consumer: str, broker: str, t: float) -> dict:
    return {"t": t, "p": consumer, "type": "ok", "f": "connect", "broker": broker}


def fault(action: str, target: str, t: float, heal_t: float | None = None, **value: object) -> list[dict]:
    events = [
        {"t": t, "p": "nemesis", "type": "invoke", "f": "fault", "action": action, "target": target, **value}
    ]
    events.append(
        {"t": t + 0.05, "p": "nemesis", "type": "ok", "f": "fault", "action": action, "target": target}
    )
    if heal_t is not None:
        events.append(
            {"t": heal_t, "p": "nemesis", "type": "ok", "f": "heal", "action": "heal", "target": target}
        )
    return events


def clean_run(
    *extra: list[dict] | dict,
    deadline_t: float = 50.0,
    facts: RunFacts = FACTS,
    faults: list[dict] | None = None,
) -> Ledger:
    """A run with every piece of evidence: load, a fault healed, recovery, probes, deliveries after the heal."""
    events: list[list[dict] | dict] = [
        phase("load", 0),
        connect("consumer-0", B2, 0.1),
        connect("consumer-1", B1, 0.1),
        fault("kill", B1, 5, heal_t=10) if faults is None else faults,
        phase("healed", 10),
        {**phase("recovered", 12), "live": [S1, B2]},
        plan((B1, B2), (B2, B1)),
        probe(B1, B2, "ok", 1.5),
        probe(B2, B1, "ok", 2.0),
        phase("load-ended", 20),
        deadline(deadline_t),
    ]
    for n in range(8):
        t = 1 + n * 2.5  # 1 .. 18.5: before the fault, during it and after the heal
        events += [sent(f"r1-p0-{n}", t, broker=B2), delivered(f"r1-p0-{n}", t + 0.5)]
    return ledger(*events, *extra, facts=facts)


def verdicts_of(history: Ledger, final: FinalState = CLEAN) -> dict[str, Verdict]:
    return {v.checker: v for v in check_all(history, final)}


def test_a_clean_run_with_all_its_evidence_is_ok() -> None:
    verdicts = verdicts_of(clean_run())
    # the durable-subscription checkers judge only runs that had durable subscribers
    queue_only = [name for name, checker in CHECKERS.items() if checker.applies(clean_run())]
    assert {name: v.valid for name, v in verdicts.items()} == dict.fromkeys(queue_only, True)
    assert not {"durable-lost", "durable-duplicated", "durable-stuck"} & verdicts.keys()


# case 5: no minimum work
def test_an_empty_history_is_unknown_never_ok() -> None:
    verdicts = check_all(Ledger.from_history([], FACTS), FinalState())
    assert merged_validity(verdicts) is None
    by_name = {v.checker: v for v in verdicts}
    assert by_name["exercised"].valid is None
    assert by_name["recovered"].valid is None and by_name["bridges-resumed"].valid is None


def test_a_run_with_no_delivery_after_the_heal_is_unknown() -> None:
    history = ledger(
        phase("load", 0),
        connect("consumer-0", B2, 0.1),
        sent("r1-p0-0", 1),
        delivered("r1-p0-0", 2),
        fault("kill", B1, 5, heal_t=10),
        deadline(30),
    )
    verdict = check_exercised(history, CLEAN)
    assert verdict.valid is None and "0 deliveries after the last heal" in verdict.note


def test_a_run_whose_faults_all_failed_to_apply_is_unknown() -> None:
    """A fault scenario passing with no fault in force would be an ok nothing earned (a full store's ballast
    that found no room, a role nobody held)."""
    failed = [
        {"t": 5, "p": "nemesis", "type": "invoke", "f": "fault", "action": "fill-store", "target": "02"},
        {"t": 5.1, "p": "nemesis", "type": "fail", "f": "fault", "action": "fill-store", "target": "02"},
        {"t": 5.1, "p": "nemesis", "type": "info", "f": "fault", "action": "fill-store", "error": "no room"},
    ]
    refused = [{"t": 5, "p": "nemesis", "type": "info", "f": "fault", "action": "kill", "error": "no live"}]
    for faults in (failed, refused):
        verdict = check_exercised(clean_run(faults=faults), CLEAN)
        assert verdict.valid is None and "faults asked for was applied" in verdict.note
    # one applied is enough: random schedules meet roles nobody holds
    verdict = check_exercised(clean_run(faults=[*refused, *fault("kill", B1, 6, heal_t=10)]), CLEAN)
    assert verdict.valid is True and verdict.counts["faults-applied"] == 1
    # and a scenario that asks for no fault (move-demand) needs none
    assert check_exercised(clean_run(faults=[]), CLEAN).valid is True


def test_a_consumer_that_gave_up_makes_the_run_unknown() -> None:
    gave_up = {
        "t": 15,
        "p": "consumer-1",
        "type": "info",
        "f": "give-up",
        "reason": "reconnect deadline passed",
    }
    verdict = check_exercised(clean_run(gave_up), CLEAN)
    assert verdict.valid is None and "consumer-1" in verdict.note


# case 1: duplicates without limit
def test_duplicates_long_after_the_heal_are_unexplained_even_when_declared() -> None:
    copies = []
    for n in range(5000):
        copies += [delivered(f"r1-p0-{n}", 110 + n * 0.001), delivered(f"r1-p0-{n}", 111 + n * 0.001)]
        copies += [delivered(f"r1-p0-{n}", 112 + n * 0.001)]
    verdict = check_duplicated(clean_run(copies, deadline_t=200), CLEAN)
    assert verdict.valid is False and not verdict.explained
    assert verdict.counts["unexplained"] == 10008  # two per id, and the clean run's own 8 ids again
    result = ScenarioResult("s", "hardened", 1, "", {}, [verdict], expected={"duplicated": "REDELIVERED"})
    assert result.unexpected == {"duplicated"} and not result.ok


def session_end(t: float, unconfirmed: list[str], consumer: str = "consumer-0", broker: str = B2) -> dict:
    return {
        "t": t,
        "p": consumer,
        "type": "info",
        "f": "disconnected",
        "broker": broker,
        "unconfirmed": unconfirmed,
    }


def test_a_copy_after_its_consumer_lost_the_unconfirmed_ack_is_explained() -> None:
    ended = session_end(30, ["r1-p0-7"])
    history = clean_run(ended, connect("consumer-0", B2, 30.5), delivered("r1-p0-7", 31, B2, True))
    verdict = check_duplicated(history, CLEAN)
    assert verdict.valid is False and verdict.explained
    assert verdict.evidence["explained_by"] == {"unconfirmed-ack": 1}


def test_a_copy_handed_over_by_a_closing_session_and_recorded_last_is_explained() -> None:
    """Seen on the real cluster: consumer-1 begins closing at 30.0 with r1-p1-0 unacked, the broker redelivers
    it to consumer-0 (recorded 30.2), and consumer-1's closing connection hands its own copy over after that
    (recorded 30.3, never acked). The copies are recorded in the opposite order to the broker's."""
    copies = [
        sent("r1-p1-0", 29),
        delivered("r1-p1-0", 30.2, B2, True, consumer="consumer-0"),
        delivered("r1-p1-0", 30.3, B2, False, consumer="consumer-1"),
    ]
    late_frame = {
        "t": 30.31,
        "p": "consumer-1",
        "type": "info",
        "f": "unconfirmed",
        "ids": ["r1-p1-0"],
        "since": 30.0,
    }
    verdict = check_duplicated(clean_run(*copies, late_frame), CLEAN)
    assert verdict.valid is False and verdict.explained, verdict.evidence
    assert verdict.evidence["explained_by"] == {"unconfirmed-ack": 1}
    # the same copy recorded by a session that was not closing is a duplicate nobody explains
    healthy = check_duplicated(clean_run(*copies), CLEAN)
    assert not healthy.explained and [w["id"] for w in healthy.evidence["unexplained"]] == ["r1-p1-0"]


def test_a_copy_whose_ack_was_confirmed_is_not_explained_by_a_reconnect() -> None:
    ended = session_end(30, [])
    history = clean_run(ended, connect("consumer-0", B2, 30.5), delivered("r1-p0-7", 31, B2, True))
    assert not check_duplicated(history, CLEAN).explained


def test_a_copy_with_a_fault_on_its_path_between_the_copies_is_explained() -> None:
    # r1-p0-2 was delivered at 6.5, during the kill of B1 (5 to 10); its copy comes at 11 from B1
    history = clean_run(delivered("r1-p0-2", 11, B1, True))
    verdict = check_duplicated(history, CLEAN)
    assert verdict.explained and verdict.evidence["explained_by"] == {"fault": 1}


def test_a_fault_off_the_path_explains_nothing() -> None:
    # the kill of B1 is the only fault; a copy that went B2 -> B2 with B2's send never crossed B1
    history = clean_run(fault("freeze", S2, 30, heal_t=31), delivered("r1-p0-0", 30.5, B2))
    assert not check_duplicated(history, CLEAN).explained


def test_a_store_fault_is_on_the_path_of_its_pairs_nodes_until_its_consequence_is_over() -> None:
    """Seen on hardened lose-lock: the lock file went at 1.63 s, the live broker's keep-alive stopped it,
    and two messages it had delivered came again through the other pair at 1.98 s, before the consumer saw
    its connection close. The fault names a pair; its window holds the pair's nodes, and lasts until the
    broker stopped (the ok), so the copies are explained; a fault naming only the pair would explain none."""
    lost_lock = [
        {"t": 1.63, "p": "nemesis", "type": "invoke", "f": "fault", "action": "lose-lock", "target": "02",
         "node": B2, "nodes": [B2, S2]},
        {"t": 2.6, "p": "nemesis", "type": "ok", "f": "fault", "action": "lose-lock", "target": "02", "live_after": False},
    ]  # fmt: skip
    copies = [
        sent("r1-p1-90", 1.80, broker=B2),
        delivered("r1-p1-90", 1.84, B2),
        delivered("r1-p1-90", 1.98, B1),
    ]
    assert check_duplicated(clean_run(*copies, faults=lost_lock), CLEAN).explained
    unnamed = [{k: v for k, v in e.items() if k != "nodes"} for e in lost_lock]
    assert not check_duplicated(clean_run(*copies, faults=unnamed), CLEAN).explained


def test_one_fault_explains_no_more_copies_than_can_be_in_flight() -> None:
    facts = RunFacts(**{**FACTS.__dict__, "bridge_prefetch": 3, "prefetch": 1, "consumers": 2})  # cap 5
    events: list = [
        phase("load", 0),
        connect("consumer-0", B1, 0.1),
        connect("consumer-1", B1, 0.1),
        fault("kill", B1, 5, heal_t=10),
        deadline(50),
    ]
    for n in range(6):
        events += [
            sent(f"r1-p0-{n}", 1 + n * 0.1),
            delivered(f"r1-p0-{n}", 4.5),  # in flight when B1 was killed
            delivered(f"r1-p0-{n}", 11, B2),
        ]
    verdict = check_duplicated(ledger(*events, facts=facts), CLEAN)
    assert verdict.counts["unexplained"] == 1 and not verdict.explained


def test_a_lossy_link_in_force_between_the_copies_explains_them() -> None:
    lossy = fault("lossy", "the bridges between the pairs", 20, heal_t=40, grudge={B1: [B2], B2: [B1]})
    history = clean_run(lossy, sent("r1-p0-99", 21), delivered("r1-p0-99", 22), delivered("r1-p0-99", 23))
    assert check_duplicated(history, CLEAN).explained


# case 4: stuck hides no backlog; late is a finding
def test_a_backlog_on_the_broker_it_was_sent_to_is_stuck_not_stranded() -> None:
    backlog = [sent(f"r1-p1-{n}", 15 + n * 0.001, broker=B1) for n in range(2000)]
    final = FinalState(
        queues={B1: {"q": 2000}, B2: {"q": 0}}, messages={B1: [f"r1-p1-{n}" for n in range(2000)]}
    )
    verdict = check_stuck(clean_run(*backlog), final)
    assert verdict.valid is False and not verdict.explained
    assert verdict.counts["messages"] == 2000 and verdict.counts["stranded"] == 0
    assert check_lost(clean_run(*backlog), final).valid is True  # located, so not lost
    result = ScenarioResult("s", "seed", 1, "", {}, [verdict], expected={"stuck": "STRANDED"})
    assert not result.ok


def test_a_message_that_crossed_a_bridge_to_a_broker_its_consumers_left_is_stranded() -> None:
    # sent to B1, forwarded to B2; consumer-0 moved from B2 to B1 at 16; the copy sits on B2
    moved = [
        session_end(16, []),
        connect("consumer-0", B1, 16.5),
    ]
    final = FinalState(queues={B1: {"q": 0}, B2: {"q": 1}}, messages={B2: ["r1-p1-0"]})
    history = clean_run(*moved, sent("r1-p1-0", 15, broker=B1))
    verdict = check_stuck(history, final)
    assert verdict.valid is False and verdict.explained
    assert verdict.evidence["stranded_ids"] == {B2: ["r1-p1-0"]}
    assert classify_undelivered(history, final) == {"r1-p1-0": f"stranded:{B2}"}


def test_a_delivery_after_the_drain_deadline_is_late_and_fails_stuck() -> None:
    history = clean_run(sent("r1-p1-0", 15), delivered("r1-p1-0", 60))
    assert classify_undelivered(history, CLEAN) == {"r1-p1-0": "late"}
    verdict = check_stuck(history, CLEAN)
    assert verdict.valid is False and not verdict.explained and verdict.counts["late"] == 1
    assert check_lost(history, CLEAN).valid is True


# case 6: unreadable means unknown
def test_a_node_that_could_not_be_read_makes_lost_and_stuck_unknown() -> None:
    history = clean_run(sent("r1-p1-0", 15))
    final = FinalState(queues={B2: {"q": 0}}, unreadable={B1: None}, reasons={B1: "JMX queue query failed"})
    assert check_lost(history, final).valid is None
    assert check_stuck(history, final).valid is None
    # with nothing undelivered, lost is settled; stuck still cannot be
    assert check_lost(clean_run(), final).valid is True
    assert check_stuck(clean_run(), final).valid is None


def test_a_partial_read_bounds_what_may_hide_there() -> None:
    history = clean_run(*[sent(f"r1-p1-{n}", 15) for n in range(3)])
    final = FinalState(
        queues={B1: {"q": 1}}, messages={B1: []}, unreadable={B1: 1}, reasons={B1: "browsed 0 of 1"}
    )
    assert check_lost(history, final).valid is False  # three missing, at most one unread


# case 7: identity
def test_a_refused_send_that_is_delivered_is_a_violation() -> None:
    history = clean_run(sent("r1-p1-0", 15, outcome="fail"), delivered("r1-p1-0", 16))
    verdict = check_unexpected(history, CLEAN)
    assert verdict.valid is False and verdict.evidence["refused_but_delivered"] == ["r1-p1-0"]


def test_a_delivery_with_the_wrong_body_or_destination_is_a_violation() -> None:
    wrong = {**delivered("r1-p0-1", 16), "mismatch": {"destination": "/queue/other", "body": "r1-p0-1"}}
    verdict = check_unexpected(clean_run(wrong), CLEAN)
    assert verdict.valid is False and verdict.counts["mismatched"] == 1


def test_a_message_of_an_earlier_run_cannot_stand_in_for_a_lost_one() -> None:
    history = clean_run(sent("r2-p0-0", 15), delivered("r1-p0-0", 16), delivered("r0-p0-0", 16.1))
    assert check_lost(history, CLEAN).valid is False  # r2-p0-0 is not r0-p0-0
    assert check_unexpected(history, CLEAN).evidence["unexpected"] == ["r0-p0-0"]


# case 2: recovery is a property; an unprobed promised direction is unknown
def test_a_cluster_that_never_recovers_is_a_violation() -> None:
    failed = {
        **phase("not-recovered", 130),
        "problems": ["pairs"],
        "live": [B2],
        "error": "pair 01 is down/down",
    }
    history = ledger(phase("load", 0), fault("kill", B1, 5, heal_t=10), failed, deadline(200))
    verdict = check_recovered(history, CLEAN)
    assert verdict.valid is False and not verdict.explained
    assert check_recovered(ledger(phase("load", 0), deadline(5)), CLEAN).valid is None


def test_a_recovery_that_fails_only_because_the_vip_reaches_no_client_connector_is_explained() -> None:
    failed = {
        **phase("not-recovered", 130),
        "problems": ["vip"],
        "live": [S1, S2],
        "error": "VIP routes nowhere",
    }
    assert check_recovered(ledger(failed), CLEAN).explained
    routable = {**failed, "live": [B1, S2]}
    assert not check_recovered(ledger(routable), CLEAN).explained


def test_a_promised_direction_left_unprobed_is_unknown() -> None:
    history = ledger(plan((B1, B2), (S1, B2)), probe(B1, B2, "ok", 1.5))
    verdict = check_bridges_resumed(history, CLEAN)
    assert verdict.valid is None and verdict.evidence["unprobed"] == [f"{S1}->{B2}"]
    assert check_bridges_resumed(ledger(probe(B1, B2, "ok", 1.5)), CLEAN).valid is None  # no plan


# case 3: available can fail
def test_a_gap_longer_than_the_designs_limit_is_unavailability() -> None:
    history = clean_run(phase("load-ended", 40), sent("r1-p1-0", 38))  # 18.5 s to 38: over hardened's 15 s
    verdict = check_available(history, CLEAN)
    assert verdict.valid is False and not verdict.explained
    assert verdict.evidence["longest_gap"]["from"] == pytest.approx(18.51)


def test_a_gap_is_explained_only_while_no_vip_routed_node_serves() -> None:
    slaves_live = {B1: "waiting", S1: "live", B2: "waiting", S2: "live"}

    def sweeps(nodes: list[str]) -> list[dict]:
        return [
            {"t": t, "p": "sampler", "type": "ok", "f": "serving", "nodes": nodes, "states": slaves_live}
            for t in range(20, 38, 2)
        ]

    unreachable = clean_run(phase("load-ended", 40), sent("r1-p1-0", 38), *sweeps([S1, S2]))
    assert check_available(unreachable, CLEAN).explained
    reachable = clean_run(phase("load-ended", 40), sent("r1-p1-0", 38), *sweeps([B2, S1]))
    assert not check_available(reachable, CLEAN).explained


def test_a_gap_while_every_producer_had_given_up_is_unmeasured_not_the_brokers() -> None:
    """A producer that gave up (a reconnect deadline) sends nothing: a gap over the limit only because of
    that was measured by nobody. The soak window that taught it: B2 served while both producers had given
    up, and the brokers were failed for the clients' absence. Negative controls: one producer still
    trying, or the producers back long enough, leaves the gap the brokers'."""

    def away(process: str, gave_up: float, revived: float) -> list[dict]:
        return [
            {
                "t": gave_up,
                "p": process,
                "type": "info",
                "f": "give-up",
                "reason": "reconnect deadline passed",
            },
            {"t": revived, "p": process, "type": "info", "f": "revive", "reason": "gave up earlier"},
        ]

    def tried(process: str) -> dict:
        return {"t": 0.1, "p": process, "type": "ok", "f": "connect", "broker": B2}

    serving = [
        {"t": t, "p": "sampler", "type": "ok", "f": "serving", "nodes": [B2]} for t in range(19, 62, 2)
    ]
    base = (phase("load-ended", 62), sent("r1-p1-0", 61), tried("producer-0"), tried("producer-1"), *serving)
    nobody = check_available(
        clean_run(*base, away("producer-0", 20, 60), away("producer-1", 20.5, 60)), CLEAN
    )
    assert nobody.valid is None and "nobody measured it" in nobody.note
    assert nobody.evidence["unmeasured"] == [{"from": 18.51, "to": 61.01}]  # receipts 10 ms after the send
    one_left = check_available(clean_run(*base, away("producer-0", 20, 60)), CLEAN)
    assert one_left.valid is False and not one_left.explained
    back_soon = check_available(
        clean_run(*base, away("producer-0", 20, 25), away("producer-1", 20, 25)), CLEAN
    )
    assert back_soon.valid is False and not back_soon.explained


def test_a_load_that_never_got_a_receipt_is_unavailable() -> None:
    # the soak window where both slaves held the stores: every connect through the VIP failed
    history = ledger(phase("load", 0), phase("load-ended", 240))
    verdict = check_available(history, CLEAN)
    assert verdict.valid is False and verdict.counts["longest-gap-ms"] == 240000


def test_a_declared_weakness_with_an_undeclared_violation_fails() -> None:
    stranded = Verdict("stuck", False, explained=True)
    lost = Verdict("lost", False)
    result = ScenarioResult("s", "seed", 1, "", {}, [stranded, lost], expected={"stuck": "STRANDED"})
    assert result.expected_and_seen == {"stuck"} and result.unexpected == {"lost"} and not result.ok


def test_a_lost_message_found_on_a_dead_letter_queue_is_still_lost_and_says_where() -> None:
    history = clean_run(sent("r1-p1-0", 15))
    final = FinalState(queues={B1: {"q": 0}}, dead_letters={B2: ["r1-p1-0", "r0-p0-0"]})
    verdict = check_lost(history, final)
    assert verdict.valid is False and verdict.evidence["dead_lettered"] == {B2: ["r1-p1-0"]}


# the checker added as proof that a checker is one unit: its function, its column, its cell
# pure master/slave (5.5 to 5.7): the slave takes over once, the master started again waits for a slave
PURE = dataclasses.replace(FACTS, pure_master_slave=True, masters=(B1, B2), design="pure-master-slave")
NO_FAIL_BACK = {
    **phase("not-recovered", 130),
    "problems": ["pairs", "vip"],
    "live": [S1, B2],
    "error": "pair 01 is live/starting (want live/replicating); the VIP routes a client to chaos-mq01-a",
    "states": {B1: "starting", S1: "live", B2: "live", S2: "replicating"},
    "routed": B1,
}


def test_a_pure_master_slave_pair_that_took_over_and_cannot_fail_back_is_explained() -> None:
    history = ledger(
        phase("load", 0), fault("kill", B1, 5, heal_t=10), NO_FAIL_BACK, deadline(200), facts=PURE
    )
    verdict = check_recovered(history, CLEAN)
    assert verdict.valid is False and verdict.explained
    # and the VIP need not be part of it: clients placed on the other pair
    pairs_only = {**NO_FAIL_BACK, "problems": ["pairs"], "routed": B2}
    assert check_recovered(ledger(fault("restart", B1, 5), pairs_only, facts=PURE), CLEAN).explained


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({}, "the master's process was never ended: a master stuck starting on its own is a bug"),
        ({"problems": ["pairs", "bridges"]}, "the promoted slave's bridges must come up"),
        ({"states": {B1: "down", S1: "live", B2: "live", S2: "replicating"}}, "the master never came back"),
        ({"states": {B1: "live", S1: "live", B2: "live", S2: "replicating"}}, "two live brokers in one pair"),
        ({"states": {B1: "starting", S1: "live", B2: "live", S2: "down"}}, "the other pair lost its slave"),
        ({"routed": B2}, "the VIP problem is not the blocked master's"),
        ({"states": None}, "no states recorded: no evidence of the shape"),
    ],
)
def test_bug_a_failed_recovery_unlike_the_no_fail_back_shape_is_not_excused(change: dict, why: str) -> None:
    failed = {**NO_FAIL_BACK, **change}
    faults = [] if not change else fault("kill", B1, 5, heal_t=10)
    assert not check_recovered(ledger(*faults, failed, facts=PURE), CLEAN).explained, why


def test_the_no_fail_back_shape_excuses_nothing_on_a_shared_store_design() -> None:
    history = ledger(fault("kill", B1, 5, heal_t=10), NO_FAIL_BACK, facts=FACTS)
    assert not check_recovered(history, CLEAN).explained


def test_pure_master_slave_declares_no_fail_back_for_recovered_only() -> None:
    from harness.check.weaknesses import NO_FAIL_BACK as DECLARED
    from harness.check.weaknesses import SINGLE_FAULT

    declared = SINGLE_FAULT["pure-master-slave"]
    assert declared["recovered"] is DECLARED and "one-live" not in declared
    history = ledger(
        phase("load", 0), fault("kill", B1, 5, heal_t=10), NO_FAIL_BACK, deadline(200), facts=PURE
    )
    result = judge(
        history, CLEAN, scenario="kill-live-master", design="pure-master-slave", seed=1, directory="d",
        expected=declared, invoked=0,
    )  # fmt: skip
    assert "recovered" in result.expected_and_seen and "recovered" not in result.unexpected


def test_a_message_crawling_to_its_consumer_after_the_recovery_is_not_prompt() -> None:
    # sent at 14, after the recovery at 12, first delivered 25 s later: the bridge forwards, at a crawl
    history = clean_run(sent("r1-p1-0", 14, broker=B1), delivered("r1-p1-0", 39.01))
    verdict = check_prompt(history, CLEAN)
    assert verdict.valid is False
    assert verdict.evidence["slow"] == [{"id": "r1-p1-0", "acknowledged_at": 14.01, "latency_s": 25.0}]
    assert verdict.counts["slow"] == 1
    assert verdicts_of(history)["lost"].valid is True  # delivered in the end: only `prompt` sees it


def test_a_whole_number_limit_or_recovery_time_judges_the_same() -> None:
    # the latencies are compared in whole-list passes through float.__lt__: an int bound must not slip in
    facts = dataclasses.replace(FACTS, prompt_within=20)
    history = clean_run(sent("r1-p1-0", 14, broker=B1), delivered("r1-p1-0", 39.01), facts=facts)
    history.recovered = 12
    verdict = check_prompt(history, CLEAN)
    assert (verdict.valid, verdict.counts["slow"]) == (False, 1)


def test_slow_deliveries_before_the_recovery_and_messages_never_delivered_are_not_prompts_business() -> None:
    history = clean_run(sent("r1-p1-0", 6, broker=B1), delivered("r1-p1-0", 40), sent("r1-p1-1", 15))
    verdict = check_prompt(history, CLEAN)
    assert verdict.valid is True, verdict.to_json()
    assert verdicts_of(history)["lost"].valid is False  # the undelivered one is lost's finding


def test_prompt_is_unknown_without_a_recovery_or_without_enough_deliveries_after_it() -> None:
    never_recovered = ledger(phase("load", 0), sent("r1-p0-0", 1), delivered("r1-p0-0", 2), deadline(30))
    assert check_prompt(never_recovered, CLEAN).valid is None
    demanding = dataclasses.replace(FACTS, min_delivered_after_heal=100)
    few = check_prompt(clean_run(facts=demanding), CLEAN)
    assert (few.valid, few.counts["judged"]) == (None, 3)


def test_judging_a_run_is_a_function_of_its_ledger_and_final_state() -> None:
    """What a chaos run calls once its evidence is in: the verdicts and counts come from the evidence alone;
    a declaration excuses no witness whose history does not show the declared mechanism."""
    history = clean_run(sent("r1-p0-99", 19), deadline_t=50.0)  # one acknowledged send never delivered
    named = {"scenario": "kill", "design": "seed", "seed": 3, "directory": "runs/x", "invoked": 10}
    result = judge(history, CLEAN, expected={}, **named)  # type: ignore[arg-type]
    again = judge(history, CLEAN, expected={}, **named)  # type: ignore[arg-type]
    assert result.to_json() == again.to_json()
    assert [v.to_json() for v in result.verdicts] == [v.to_json() for v in check_all(history, CLEAN)]
    assert result.counts == {
        "acknowledged": 9,
        "delivered": 8,
        "indeterminate": 0,
        "failed": 0,
        "invoked": 10,
    }
    assert result.unexpected == {"lost"} and not result.ok
    declared = judge(history, CLEAN, expected={"lost": "a declared weakness"}, **named)  # type: ignore[arg-type]
    assert declared.unexpected == {"lost"} and not declared.ok  # the loss has no mechanism in its history
