"""The compact form is only a faster way to the same ledger: every history gives the same ledger read either way,
and a compact form that does not hold exactly the history's events is never used."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path
from typing import Any

import pytest

from harness.check.ledger import Ledger
from harness.check.registry import check_all
from harness.check.verdict import FinalState
from harness.compact import compact_directory, read_compact
from harness.history import History, read_history

BROKERS = ["chaos-mq01-a", "chaos-mq02-a", "chaos-mq01-b"]


def write_random_history(path: Path, seed: int, messages: int = 300) -> None:
    """Sends, receipts, deliveries (lone, repeated, redelivered, mismatched, foreign), lost and refused sends,
    and the nemesis, consumer, sampler and phase events around them, in a seeded random mix."""
    rng = random.Random(seed)
    with History(path, {"seed": seed}) as history:
        history.append("harness", "ok", "phase", phase="load")
        history.append("consumer-0", "ok", "connect", broker=BROKERS[1])
        for n in range(messages):
            message_id = f"run-p0-{n}"
            history.append("producer-0", "invoke", "send", id=message_id)
            outcome = rng.choices(["ok", "info", "fail", "ok-bare"], weights=[90, 4, 3, 3])[0]
            if outcome == "ok":
                history.append("producer-0", "ok", "send", id=message_id, broker=rng.choice(BROKERS))
            elif outcome == "ok-bare":  # a receipt without a broker name goes whole to rest.jsonl
                history.append("producer-0", "ok", "send", id=message_id)
            else:
                history.append("producer-0", outcome, "send", id=message_id, broker=BROKERS[0], error="x")
            for _ in range(rng.choices([0, 1, 2, 3], weights=[5, 85, 8, 2])[0]):
                extra: dict[str, Any] = {}
                if rng.random() < 0.05:
                    extra["mismatch"] = {"destination": "/queue/other", "body": "?"}
                history.append(
                    f"consumer-{rng.randrange(2)}",
                    "ok",
                    "deliver",
                    id=message_id,
                    broker=rng.choice(BROKERS),
                    redelivered=rng.random() < 0.1,
                    **extra,
                )
            if rng.random() < 0.02:
                history.append("consumer-1", "ok", "deliver", id=f"foreign\n{n}", broker=BROKERS[0])
            if rng.random() < 0.02:
                history.append(
                    "consumer-0", "info", "disconnected", broker=BROKERS[1], unconfirmed=[message_id], since=0
                )
            if n == messages // 3:
                history.append("nemesis", "invoke", "fault", action="kill", target=BROKERS[0])
                history.append("nemesis", "ok", "fault", action="kill", target=BROKERS[0])
            if n == messages // 2:
                history.append("nemesis", "ok", "heal", action="start", target=BROKERS[0])
                history.append("sampler", "ok", "serving", nodes=BROKERS[:2])
        history.append("harness", "ok", "phase", phase="load-ended")
        history.append("harness", "ok", "phase", phase="drain-deadline")
        history.append("consumer-1", "ok", "deliver", id="run-p0-0", broker=BROKERS[1], redelivered=True)


def public_fields(ledger: Ledger) -> dict[str, Any]:
    fields = {
        f.name: getattr(ledger, f.name) for f in dataclasses.fields(ledger) if not f.name.startswith("_")
    }
    for name in ("attempted", "receipt_times", "delivery_times"):  # the same items; columns come first
        fields[name] = sorted(fields[name])
    return fields


@pytest.mark.parametrize("seed", range(8))
def test_compact_form_gives_the_ledger_the_json_lines_give(tmp_path: Path, seed: int) -> None:
    path = tmp_path / "history.jsonl"
    write_random_history(path, seed)
    compact = read_compact(path)
    assert compact is not None, "a closed history's compact form is complete"
    assert compact.delivered and compact.rest_lines, "both columns and whole events were exercised"
    from_lines = Ledger.from_history(read_history(path))
    from_compact = Ledger.from_path(path)
    assert public_fields(from_compact) == public_fields(from_lines)
    assert from_lines.copies, "some ids were delivered more than once"
    final = FinalState(queues={BROKERS[0]: {"q": 1}}, messages={BROKERS[0]: ["run-p0-5"]})
    verdicts = [v.to_json() for v in check_all(from_compact, final)]
    assert verdicts == [v.to_json() for v in check_all(from_lines, final)]


def test_a_torn_history_is_read_from_its_lines(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    write_random_history(path, 1)
    with path.open("a") as torn:  # the run was killed mid-write
        torn.write('{"i": 99999, "t": 9.0, "p": "consumer-0", "type": "ok", "f": "deli')
    assert read_compact(path) is None
    assert public_fields(Ledger.from_path(path)) == public_fields(Ledger.from_history(read_history(path)))


@pytest.mark.parametrize("column", ["delivered.t", "acknowledged.ids", "rest.jsonl", "delivered.process"])
def test_a_compact_form_missing_events_is_not_used(tmp_path: Path, column: str) -> None:
    path = tmp_path / "history.jsonl"
    write_random_history(path, 2)
    target = compact_directory(path) / column
    data = target.read_bytes()
    cut = (
        len(data) - 1
        if column.endswith(".t") or column.endswith(".process")
        else data.rindex(b"\n", 0, -1) + 1
    )
    target.write_bytes(data[:cut])
    assert read_compact(path) is None


def test_a_history_appended_to_later_drops_its_compact_form(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    write_random_history(path, 3)
    with History(path, {}, append=True) as history:
        history.append("producer-0", "invoke", "send", id="later-0")
    assert not compact_directory(path).exists()
    assert "later-0" in Ledger.from_path(path).attempted


def test_lines_added_behind_the_writers_back_make_the_compact_form_stale(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    write_random_history(path, 4)
    with path.open("a") as more:
        more.write('{"i": 100000, "t": 9.0, "p": "producer-0", "type": "invoke", "f": "send", "id": "x"}\n')
    assert read_compact(path) is None
    assert "x" in Ledger.from_path(path).attempted


@pytest.mark.parametrize(
    ("ids", "times"),
    [
        (["a", "b", "a", "c", "b", "a"], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),  # every copy at a time of its own
        (["a", "b", "a", "c"], [1.0, 2.0, 1.0, 4.0]),  # two copies of "a" at one time: counted instead
        (["a", "a", "a", "b"], [1.0, 3.0, 3.0, 4.0]),  # an earlier copy at its id's last time
    ],
)
def test_ids_delivered_more_than_once_are_all_found(ids: list[str], times: list[float]) -> None:
    from harness.check.ledger import _repeated_ids

    last = dict(zip(ids, times, strict=True))
    assert _repeated_ids(ids, times, last, len(ids) - len(last)) == {i for i in ids if ids.count(i) > 1}


def test_copies_at_one_and_the_same_time_read_the_same_either_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import harness.history

    monkeypatch.setattr(harness.history.time, "monotonic", lambda: 100.0)  # every event at t=0
    path = tmp_path / "history.jsonl"
    with History(path, {"seed": 0}) as history:
        for n in range(20):
            history.append("producer-0", "invoke", "send", id=f"p0-{n}")
            history.append("producer-0", "ok", "send", id=f"p0-{n}", broker=BROKERS[0])
            for copy in range(1 + n % 3):
                history.append(
                    f"consumer-{copy}", "ok", "deliver", id=f"p0-{n}", broker=BROKERS[copy], redelivered=False
                )
    from_lines = Ledger.from_history(read_history(path))
    assert len(from_lines.copies) == 13  # n % 3 of 1 or 2: two or three copies
    assert public_fields(Ledger.from_path(path)) == public_fields(from_lines)
