"""Checkers on tiny literal histories: the clean case first, then each fault, with its exact witnesses."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from harness.checkers import (
    CHECKERS,
    FinalState,
    Ledger,
    Verdict,
    check_all,
    check_available,
    check_duplicated,
    check_lost,
    check_stuck,
    check_unexpected,
    classify_undelivered,
    merged_validity,
)
from harness.history import History, read_header, read_history

B1, B2, S1 = "chaos-mq01-a", "chaos-mq02-a", "chaos-mq01-b"


def sent(i: str, t: float, outcome: str = "ok", broker: str = B1) -> list[dict]:
    return [
        {"t": t, "p": "producer-0", "type": "invoke", "f": "send", "id": i},
        {"t": t + 0.01, "p": "producer-0", "type": outcome, "f": "send", "id": i, "broker": broker},
    ]


def delivered(i: str, t: float, broker: str = B2, redelivered: bool = False) -> dict:
    return {
        "t": t,
        "p": "consumer-0",
        "type": "ok",
        "f": "deliver",
        "id": i,
        "broker": broker,
        "redelivered": redelivered,
    }


def deadline(t: float) -> dict:
    return {"t": t, "p": "harness", "type": "ok", "f": "phase", "phase": "drain-deadline"}


def ledger(*parts: list[dict] | dict) -> Ledger:
    events: list[dict] = []
    for part in parts:
        events.extend(part if isinstance(part, list) else [part])
    return Ledger.from_history(events)


CLEAN = FinalState(queues={B1: {"q": 0}, B2: {"q": 0}})


def test_empty_history_is_valid_for_every_checker() -> None:
    verdicts = check_all(Ledger.from_history([]), FinalState())
    assert [v.valid for v in verdicts] == [True] * len(CHECKERS)
    assert merged_validity(verdicts) is True


def test_clean_run() -> None:
    history = ledger(
        sent("p0-0", 1), sent("p0-1", 2), delivered("p0-0", 3), delivered("p0-1", 4), deadline(10)
    )
    assert merged_validity(check_all(history, CLEAN)) is True


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


def test_delivery_after_the_deadline_is_late_not_lost() -> None:
    history = ledger(sent("p0-0", 1), deadline(10), delivered("p0-0", 12))
    assert classify_undelivered(history, CLEAN) == {"p0-0": "late"}
    verdict = check_lost(history, CLEAN)
    assert verdict.valid is True and verdict.counts["late"] == 1


def test_second_delivery_is_a_duplicate_with_its_brokers() -> None:
    history = ledger(sent("p0-0", 1), delivered("p0-0", 2, B1), delivered("p0-0", 3, B2, redelivered=True))
    verdict = check_duplicated(history, CLEAN)
    assert verdict.valid is False
    assert verdict.counts == {"ids": 1, "extra-deliveries": 1}
    assert verdict.evidence["duplicated"] == [
        {
            "id": "p0-0",
            "deliveries": [
                {"t": 2, "broker": B1, "redelivered": False},
                {"t": 3, "broker": B2, "redelivered": True},
            ],
        }
    ]


def test_delivery_of_an_id_never_sent_is_unexpected() -> None:
    history = ledger(sent("p0-0", 1), delivered("p0-0", 2), delivered("ghost-7", 3))
    verdict = check_unexpected(history, CLEAN)
    assert (verdict.valid, verdict.evidence["unexpected"]) == (False, ["ghost-7"])


def test_messages_left_on_a_broker_are_stuck_and_located() -> None:
    history = ledger(sent("p0-0", 1), sent("p0-1", 2), delivered("p0-0", 3), deadline(10))
    final = FinalState(queues={B1: {"q": 0}, B2: {"q": 1}}, located={"p0-1": B2})
    stuck = check_stuck(history, final)
    assert stuck.valid is False
    assert stuck.evidence["on_brokers"] == {B2: {"q": 1}}
    assert stuck.evidence["located_ids"] == {B2: ["p0-1"]}
    # located, so not lost
    assert check_lost(history, final).valid is True
    assert classify_undelivered(history, final) == {"p0-1": "stuck:chaos-mq02-a"}


def test_messages_on_an_unbrowsable_broker_make_lost_unknown_not_pass() -> None:
    history = ledger(sent("p0-0", 1), sent("p0-1", 2), deadline(10))
    final = FinalState(queues={S1: {"q": 2}}, unbrowsable=[S1])
    lost = check_lost(history, final)
    assert lost.valid is None
    assert "unbrowsable on chaos-mq01-b" in lost.note
    assert check_stuck(history, final).evidence["unbrowsable_brokers"] == [S1]


def test_more_missing_than_unbrowsable_is_still_lost() -> None:
    history = ledger(sent("p0-0", 1), sent("p0-1", 2), sent("p0-2", 3), deadline(10))
    final = FinalState(queues={S1: {"q": 1}}, unbrowsable=[S1])
    assert check_lost(history, final).valid is False


def test_a_crashing_checker_is_unknown_never_a_pass() -> None:
    def broken(ledger: Ledger, final: FinalState) -> Verdict:
        raise KeyError("boom")

    verdicts = check_all(Ledger.from_history([]), FinalState(), {"broken": broken})
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


def probe(src: str, dst: str, outcome: str, seconds: float | None = None) -> list[dict]:
    done = {"t": 9, "p": "harness", "type": outcome, "f": "probe", "src": src, "dst": dst}
    if seconds is not None:
        done["seconds"] = seconds
    return [{"t": 5, "p": "harness", "type": "invoke", "f": "probe", "src": src, "dst": dst}, done]


def test_bridges_resumed_records_recovery_per_direction() -> None:
    from harness.checkers import check_bridges_resumed

    verdict = check_bridges_resumed(ledger(probe(B1, B2, "ok", 1.5), probe(B2, B1, "ok", 4.25)), CLEAN)
    assert verdict.valid is True
    assert verdict.evidence["recovery_seconds"] == {f"{B1}->{B2}": 1.5, f"{B2}->{B1}": 4.25}
    assert verdict.counts == {"directions": 2, "not-resumed": 0, "slowest-ms": 4250}


def test_a_direction_whose_probe_never_arrived_is_not_resumed() -> None:
    from harness.checkers import check_bridges_resumed

    verdict = check_bridges_resumed(ledger(probe(B1, B2, "ok", 1.5), probe(B2, B1, "fail")), CLEAN)
    assert verdict.valid is False
    assert verdict.evidence["not_resumed"] == [f"{B2}->{B1}"]


def test_unprobeable_nodes_are_named() -> None:
    from harness.checkers import check_bridges_resumed

    events = [
        {"t": 5, "p": "harness", "type": "info", "f": "probe", "src": S1, "reason": "no client connector"}
    ]
    verdict = check_bridges_resumed(ledger(events), CLEAN)
    assert verdict.valid is True and S1 in verdict.note


def test_random_schedule_is_a_pure_function_of_the_seed() -> None:
    from harness.schedule import random_schedule

    first = random_schedule(42, duration=300)
    assert first == random_schedule(42, duration=300)
    assert first != random_schedule(43, duration=300)
    assert len(first) == 15
    assert all(b.offset - a.offset >= 0 for a, b in itertools.pairwise(first))


def phase(name: str, t: float) -> dict:
    return {"t": t, "p": "harness", "type": "ok", "f": "phase", "phase": name}


def test_sends_acknowledged_throughout_the_load_are_available() -> None:
    history = ledger(
        phase("load", 0), sent("p0-0", 1), sent("p0-1", 30), sent("p0-2", 59), phase("healed", 61)
    )
    verdict = check_available(history, CLEAN)
    assert verdict.valid is True and verdict.counts == {"longest-gap-ms": 29000}


def test_a_long_stretch_without_any_acknowledged_send_is_unavailability() -> None:
    history = ledger(phase("load", 0), sent("p0-0", 1), sent("p0-1", 75), phase("healed", 80))
    verdict = check_available(history, CLEAN)
    assert verdict.valid is False
    assert verdict.evidence["longest_gap"] == {"from": 1.01, "to": 75.01}  # receipt times of p0-0, p0-1
    assert "no send acknowledged for 74.0 s" in verdict.note


def test_a_load_that_never_got_a_receipt_is_unavailable() -> None:
    # the soak window where both slaves held the stores: every connect through the VIP failed
    history = ledger(phase("load", 0), phase("healed", 240))
    verdict = check_available(history, CLEAN)
    assert verdict.valid is False and verdict.counts == {"longest-gap-ms": 240000}
    assert check_available(history, CLEAN, limit=300).valid is True
