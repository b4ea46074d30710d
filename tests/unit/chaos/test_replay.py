"""Replaying a recorded history: which faults and moves it redoes, and a torn history said to be one first
(redone on a real cluster: tests/docker/test_replay.py)."""

from __future__ import annotations

import dataclasses
import gzip
import json
from pathlib import Path

import pytest

from harness.chaos.replay import note_incomplete_source, recorded_faults, recorded_moves
from harness.check.ledger import Ledger
from harness.check.result import ScenarioResult
from harness.check.verdict import Verdict
from harness.errors import MachineError
from harness.history import BUILT, BY_HAND, HistoryGaps, history_gaps, read_header, read_history
from harness.report.html import ReportInput, write_report
from harness.report.summary import INCOMPLETE, row
from harness.settings import Settings
from tests.support import recorded_run


def write_history(path: Path, events: list[dict[str, object]]) -> Path:
    lines = [{"type": "header", "seed": 1}, *({"i": i, **e} for i, e in enumerate(events))]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_only_faults_that_took_effect_are_replayed_with_what_they_need(tmp_path: Path) -> None:
    grudge = {"chaos-mq01-a": ["chaos-mq02-a"], "chaos-mq02-a": ["chaos-mq01-a"]}
    path = write_history(
        tmp_path / "h.jsonl",
        [
            {
                "t": 1.0,
                "p": "nemesis",
                "type": "invoke",
                "f": "fault",
                "action": "kill",
                "target": "chaos-mq01-a",
            },
            {
                "t": 1.2,
                "p": "nemesis",
                "type": "ok",
                "f": "fault",
                "action": "kill",
                "target": "chaos-mq01-a",
            },
            {"t": 2.0, "p": "producer-0", "type": "invoke", "f": "send", "id": "p0-1"},
            {
                "t": 3.0,
                "p": "nemesis",
                "type": "invoke",
                "f": "fault",
                "action": "slow",
                "target": "chaos-mq02-a",
            },
            {
                "t": 3.1,
                "p": "nemesis",
                "type": "info",
                "f": "fault",
                "action": "slow",
                "target": "chaos-mq02-a",
            },
            {
                "t": 4.0,
                "p": "nemesis",
                "type": "invoke",
                "f": "fault",
                "action": "lossy",
                "target": "x",
                "grudge": grudge,
                "loss": 0.3,
                "never_heal": False,
            },
            {"t": 4.1, "p": "nemesis", "type": "ok", "f": "fault", "action": "lossy", "target": "x"},
            {
                "t": 5.0,
                "p": "nemesis",
                "type": "invoke",
                "f": "heal",
                "action": "start",
                "target": "chaos-mq01-a",
            },
            {
                "t": 5.5,
                "p": "nemesis",
                "type": "ok",
                "f": "heal",
                "action": "start",
                "target": "chaos-mq01-a",
            },
            {
                "t": 6.0,
                "p": "nemesis",
                "type": "invoke",
                "f": "fault",
                "action": "freeze",
                "target": "chaos-mq02-b",
            },
            {
                "t": 6.1,
                "p": "nemesis",
                "type": "fail",
                "f": "fault",
                "action": "freeze",
                "target": "chaos-mq02-b",
            },
        ],
    )
    steps = recorded_faults(path)
    assert [(s.t, *s.key) for s in steps] == [
        (1.0, "fault", "kill", "chaos-mq01-a"),
        (4.0, "fault", "lossy", "x"),
        (5.0, "heal", "start", "chaos-mq01-a"),
    ]
    assert steps[1].value("loss") == 0.3
    assert steps[1].value("grudge") == grudge


def test_moves_of_clients_are_replayed_when_they_happened(tmp_path: Path) -> None:
    path = write_history(
        tmp_path / "h.jsonl",
        [
            {"t": 2.5, "p": "harness", "type": "ok", "f": "move", "who": "consumer", "to": "01"},
            {"t": 3.0, "p": "consumer-0", "type": "info", "f": "leave", "how": "disconnect"},
        ],
    )
    moves = recorded_moves(path)
    assert [(m.t, *m.key, m.value("who")) for m in moves] == [(2.5, "move", "move", "01", "consumer")]


def replay_output_before_the_cluster(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> list[str]:
    """What `amq-chaos replay PATH` has printed by the time it would start a cluster (the cluster is a
    stub that notes the output and stops the command there)."""
    from harness.chaos import rerun

    seen: list[str] = []

    class NoCluster:
        def __init__(self, *args: object, **kwargs: object) -> None:
            seen.append(capsys.readouterr().out)
            raise MachineError("no cluster in this test")

    monkeypatch.setattr(rerun, "open_cluster", NoCluster)
    # a runs folder per history: two replays in one second would take the same stamped folder
    settings = dataclasses.replace(Settings.from_env(), runs_dir=tmp_path / "runs" / path.parent.name)
    with pytest.raises(MachineError, match="no cluster in this test"):
        rerun.replay_command(settings, path)
    assert len(seen) == 1
    return seen[0].splitlines()


def test_a_replay_of_a_torn_history_says_so_first_before_any_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A killed run's history, cut mid-line after 23 events and before its fault, replayed "0 faults and heals"
    and reported ok without a word: the user must learn at once that this is not the recorded run."""
    torn = recorded_run(tmp_path / "killed" / "history.jsonl", killed=True)
    first = replay_output_before_the_cluster(torn, tmp_path, monkeypatch, capsys)[0]
    assert first == (
        f"warning: {torn} is incomplete: it ends mid-line after 23 whole events (the last at t=4.2 s) and has "
        "no final-state phase; the run was cut short, so this replay redoes only the 0 faults and heals "
        "recorded before the cut, and its verdict judges this replay, not the recorded run"
    )
    whole = recorded_run(tmp_path / "whole" / "history.jsonl", killed=False)
    lines = replay_output_before_the_cluster(whole, tmp_path, monkeypatch, capsys)
    assert lines[0].startswith(f"replaying 2 faults and heals from {whole}")
    assert not any("incomplete" in line for line in lines)


def test_the_gaps_of_a_torn_history_and_none_in_a_whole_one(tmp_path: Path) -> None:
    torn = recorded_run(tmp_path / "killed" / "history.jsonl", killed=True)
    assert not torn.read_bytes().endswith(b"\n") and len(list(read_history(torn))) == 23  # the cut is skipped
    gaps = history_gaps(torn)
    assert gaps == HistoryGaps(header=True, torn=True, events=23, last_t=4.2, final_state=False)
    assert gaps.lacks == [
        "ends mid-line after 23 whole events (the last at t=4.2 s)",
        "has no final-state phase",
    ]
    assert (
        gaps.describe()
        == "ends mid-line after 23 whole events (the last at t=4.2 s) and has no final-state phase"
    )
    assert gaps

    whole = history_gaps(recorded_run(tmp_path / "whole" / "history.jsonl", killed=False))
    assert not whole and whole.lacks == [] and whole.describe() == "" and whole.events == 28

    # cut after a whole line (the buffer flushed, then the kill): nothing torn, but no final state
    lines = (tmp_path / "whole" / "history.jsonl").read_text().splitlines(keepends=True)
    (tmp_path / "flushed.jsonl").write_text("".join(lines[:24]))
    assert history_gaps(tmp_path / "flushed.jsonl").lacks == ["has no final-state phase"]
    # the header itself cut: nothing to replay from (the replay refuses it as unreadable)
    (tmp_path / "header.jsonl").write_text(lines[0][:20])
    assert history_gaps(tmp_path / "header.jsonl").lacks[:2] == [
        "has no header",
        "ends mid-line after 0 whole events",
    ]
    # faults driven by hand and histories the harness built whole are no run's record: no phase is missing
    for name, header in (("by-hand", {"scenario": BY_HAND}), ("built", {"scenario": "x", BUILT: "shrink"})):
        (tmp_path / name).write_text(json.dumps({"type": "header", **header}) + "\n" + "".join(lines[1:24]))
        assert not history_gaps(tmp_path / name), name


def test_a_replay_of_an_incomplete_history_is_never_a_plain_ok(tmp_path: Path) -> None:
    """Its result says what the history lacked (and keeps it through JSON), its summary row says so beside the
    verdict, and its report says so above everything else."""
    torn = recorded_run(tmp_path / "killed" / "history.jsonl", killed=True)
    result = ScenarioResult(
        "replay-kill-live-master", "seed", 7, str(tmp_path / "replay"), COUNTS, [Verdict("lost", True, {})]
    )
    note_incomplete_source(result, torn, history_gaps(torn))
    lacks = "ends mid-line after 23 whole events (the last at t=4.2 s) and has no final-state phase"
    assert result.source_incomplete == lacks and result.ok  # the replay's own verdict stands...
    assert row(result)[-1] == f"ok ({INCOMPLETE})"  # ...but never as a plain ok
    assert any(note.startswith(f"replayed an incomplete history: {torn} {lacks}") for note in result.notes)
    again = ScenarioResult.from_json(json.loads(json.dumps(result.to_json())))
    assert again.source_incomplete == lacks and again.notes == result.notes
    record = result.to_json()
    del record["source_incomplete"]  # a result written before the field existed
    assert ScenarioResult.from_json(record).source_incomplete == ""

    page = write_report(tmp_path, ReportInput(f"replay of {torn}", 7, [result])).read_text()
    line = f"<b>Replayed an incomplete history</b> (replay-kill-live-master [seed]): it {lacks}."
    assert line in page and page.index(line) < page.index("<h2>Summary</h2>")
    assert f"<td class='incomplete'>ok ({INCOMPLETE})</td>" in page

    whole = recorded_run(tmp_path / "whole" / "history.jsonl", killed=False)
    plain = ScenarioResult("replay-x", "seed", 7, str(tmp_path), COUNTS, [Verdict("lost", True, {})])
    note_incomplete_source(plain, whole, history_gaps(whole))
    assert plain.source_incomplete == "" and plain.notes == [] and row(plain)[-1] == "ok"
    assert (
        INCOMPLETE.capitalize() not in write_report(tmp_path, ReportInput("replay", 7, [plain])).read_text()
    )


COUNTS = {"acknowledged": 6, "delivered": 6, "indeterminate": 0, "failed": 0}


def test_a_compressed_history_reads_as_the_history_it_was(tmp_path: Path) -> None:
    """CI artifacts keep histories gzipped: replay, shrink and the checkers read them as they are, by their
    .gz name or by the plain name where only the compressed copy is left."""
    plain = recorded_run(tmp_path / "plain" / "history.jsonl", killed=False)
    packed = tmp_path / "packed" / "history.jsonl.gz"
    packed.parent.mkdir()
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    beside = packed.with_name("history.jsonl")  # absent: the .gz next to it is read
    for path in (packed, beside):
        assert read_header(path) == read_header(plain)
        assert list(read_history(path)) == list(read_history(plain))
        assert history_gaps(path) == history_gaps(plain) and not history_gaps(path)
        assert recorded_faults(path) == recorded_faults(plain)
        assert Ledger.from_path(path).acknowledged == Ledger.from_path(plain).acknowledged
    # an upload cut short reads up to the cut, as a torn plain history does
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(gzip.compress(plain.read_bytes())[:-40])
    assert 0 < len(list(read_history(cut))) < len(list(read_history(plain)))
    assert history_gaps(cut).torn
