"""The known-bug patterns' signatures and the table, on literal run folders (no Docker): each signature is
shown to see its pattern and to not see a near miss."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

from harness.check.result import ScenarioResult
from harness.check.verdict import Verdict
from harness.report import bugs
from harness.report.bugs import PATTERNS, Cell, RunEvidence, Sighting, cells_from_results, markdown_table

ORIGIN = 1_800_000_000.0  # the run's t=0 on the wall clock
A1, A2 = "chaos-mq01-a", "chaos-mq02-a"


def run_folder(
    tmp_path: Path,
    events: list[dict],
    verdicts: list[Verdict] = (),
    logs: dict[str, list[tuple[float, str]]] | None = None,
    scenario: str = "freeze-peer-long",
    design: str = "seed",
) -> RunEvidence:
    folder = tmp_path / f"{scenario}-{design}"
    folder.mkdir(parents=True)
    lines = [{"type": "header", "wall_origin": ORIGIN}, *({"i": n, **e} for n, e in enumerate(events))]
    (folder / "history.jsonl").write_text("".join(json.dumps(e) + "\n" for e in lines))
    for node, entries in (logs or {}).items():
        log = folder / "20261128-000000-abcdef" / "logs" / f"{node}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        text = ""
        for t, line in entries:
            stamp = ORIGIN + t
            whole = int(stamp)
            iso = datetime.datetime.fromtimestamp(whole, datetime.UTC)
            text += f"{iso.strftime('%Y-%m-%dT%H:%M:%S')}.{int((stamp - whole) * 1e9):09d}Z {line}\n"
        log.write_text(text)
    result = ScenarioResult(scenario, design, 7, str(folder), {}, list(verdicts))
    return RunEvidence(result)


def freeze(t: float, node: str = A2, heal_t: float = 47.0) -> list[dict]:
    return [
        {"t": t, "p": "nemesis", "type": "invoke", "f": "fault", "action": "freeze", "target": node},
        {"t": t + 0.1, "p": "nemesis", "type": "ok", "f": "fault", "action": "freeze", "target": node},
        {
            "t": heal_t,
            "p": "nemesis",
            "type": "ok",
            "f": "heal",
            "action": "thaw",
            "target": node,
            "heals": "freeze",
        },
    ]


# as 5.16.1 logged it on hardened, 17 s into a freeze (the cause's lines name the address, not the broker)
INACTIVE = (
    f"INFO  [ActiveMQ InactivityMonitor Worker] DemandForwardingBridgeSupport - Network connection between "
    f"vm://{A1}#4 and tcp://{A2}/192.168.48.2:61616@34304 shutdown due to a local error: {{}}"
)


def test_a_bridge_that_gives_up_30_s_after_its_peer_froze_is_the_silent_bridge(tmp_path: Path) -> None:
    slow = run_folder(tmp_path / "slow", freeze(2.0), logs={A1: [(1.0, INACTIVE), (33.5, INACTIVE)]})
    sighting = bugs.bridge_silent(slow)
    assert sighting.seen and "after 31 s" in sighting.detail  # the line before the freeze is not counted
    quick = run_folder(tmp_path / "quick", freeze(2.0), logs={A1: [(7.4, INACTIVE)]})
    assert not bugs.bridge_silent(quick).seen and "after 5 s" in bugs.bridge_silent(quick).detail
    # the frozen node's own lines say nothing about the others' bridges to it
    never = run_folder(tmp_path / "never", freeze(2.0), logs={A2: [(10.0, INACTIVE)]})
    assert bugs.bridge_silent(never).seen and "no bridge to" in bugs.bridge_silent(never).detail
    # a freeze shorter than the default limit cannot show a 30 s silence either way
    assert bugs.bridge_silent(run_folder(tmp_path / "short", freeze(2.0, heal_t=10.0))).seen is None


def test_a_stalled_handshake_counts_only_when_a_bridge_then_never_resumed(tmp_path: Path) -> None:
    line = [
        (
            20.0,
            f"INFO Error with pending remote brokerInfo on: tcp://{A2}:61616 (Wire format negotiation timeout)",
        )
    ]
    dead = Verdict("bridges-resumed", False, {}, {"not_resumed": [f"{A1}->{A2}"]})
    alive = Verdict("bridges-resumed", True, {}, {"not_resumed": []})
    seen = bugs.stalled_handshake(run_folder(tmp_path / "a", freeze(2.0), [dead], {A1: line}))
    assert seen.seen and f"{A1}->{A2} never resumed" in seen.detail
    assert not bugs.stalled_handshake(run_folder(tmp_path / "b", freeze(2.0), [alive], {A1: line})).seen
    assert not bugs.stalled_handshake(run_folder(tmp_path / "c", freeze(2.0), [dead], {})).seen


def test_store_and_lock_signatures_read_the_history(tmp_path: Path) -> None:
    lost = [
        {"t": 2, "p": "nemesis", "type": "invoke", "f": "fault", "action": "lose-lock", "target": "01"},
        {"t": 2.1, "p": "nemesis", "type": "ok", "f": "fault", "action": "lose-lock", "target": "01"},
    ]
    split = {
        "t": 44,
        "p": "harness",
        "type": "ok",
        "f": "phase",
        "phase": "not-recovered",
        "error": "pair 01 is live/live (want live/waiting)",
    }
    assert (
        bugs.two_live(run_folder(tmp_path / "a", [*lost, split])).detail
        == "pair 01 had two live brokers on one store"
    )
    one_live = Verdict(
        "one-live",
        False,
        {"readings": 30},
        {"two_live": [{"t": 14.0, "pair": "01", "live": [A1, "chaos-mq01-b"]}]},
    )
    assert bugs.two_live(run_folder(tmp_path / "one-live", lost, [one_live])).detail == (
        f"pair 01 had two live brokers on one store ({A1} and chaos-mq01-b, 12 s after its lock file went; one-live)"
    )
    fine = {"t": 16, "p": "harness", "type": "ok", "f": "phase", "phase": "recovered"}
    assert bugs.two_live(run_folder(tmp_path / "b", [*lost, fine])).seen is False
    # a pair checked before a seed slave's next lock attempt (every 10 s) could not have split yet
    early = {**fine, "t": 5}
    assert bugs.two_live(run_folder(tmp_path / "b2", [*lost, early])).seen is None
    final = {
        "t": 60,
        "p": "harness",
        "type": "ok",
        "f": "phase",
        "phase": "final-state",
        "queues": {A1: {}, A2: {}},
    }
    assert bugs.frozen_kept_lock(run_folder(tmp_path / "c", [*freeze(2.0), final])).seen
    took_over = {**final, "queues": {A1: {}, "chaos-mq02-b": {}}}
    assert not bugs.frozen_kept_lock(run_folder(tmp_path / "d", [*freeze(2.0), took_over])).seen
    refused = {
        "t": 3,
        "p": "consumer-0",
        "type": "info",
        "f": "ack",
        "id": "x",
        "refused": "No space left on device",
    }
    held = Verdict(
        "stuck", False, {"messages": 4, "stranded": 0}, {"located_ids": {A2: ["x", "y", "z", "w"]}}
    )
    sighting = bugs.ack_refused_held(run_folder(tmp_path / "e", [refused], [held]))
    assert sighting.seen and sighting.detail == (
        "1 acks refused, 1 of those messages held after the drain (3 more held for other reasons)"
    )
    assert not bugs.ack_refused_held(run_folder(tmp_path / "f", [], [held])).seen  # held, but no ack refused
    # held messages whose acks went through are some other pattern's (a dead bridge, a hung broker)
    others = Verdict("stuck", False, {"messages": 2, "stranded": 0}, {"located_ids": {A2: ["y", "z"]}})
    assert not bugs.ack_refused_held(run_folder(tmp_path / "g", [refused], [others])).seen


def test_cells_say_reproduced_prevented_fixed_or_no_result(tmp_path: Path) -> None:
    by_key = {p.key: p for p in PATTERNS}
    seen, unseen = Sighting(True, "5 stranded after the drain"), Sighting(False, "0 stranded after the drain")
    cell = Cell(by_key["stranded"], "5.17.2", "seed", [(seen, tmp_path), (unseen, tmp_path)], tries=2)
    assert cell.text() == "reproduced in 1 of 2: 5 stranded after the drain"
    cell = Cell(by_key["stranded"], "5.17.2", "hardened", [(unseen, tmp_path)] * 2, tries=2)
    assert cell.text().startswith("prevented by the design, not seen in 2 tries")
    cell = Cell(by_key["stranded"], "5.17.2", "hardened", [(seen, tmp_path)], tries=2)
    assert cell.text().endswith("(the design should prevent it)") and "no result in 1" in cell.text()
    cell = Cell(by_key["demand-race"], "5.17.6", "seed", [(unseen, tmp_path)], tries=1)
    assert cell.text().startswith("fixed in this version, not seen in 1 tries")
    assert Cell(by_key["demand-race"], "5.16.1", "seed", [], tries=2).text() == "no result in 2 tries"
    short = Sighting(None, "the pairs were last checked less than 11 s after the lock file went")
    cell = Cell(by_key["split-brain"], "5.17.2", "seed", [(short, tmp_path), (seen, tmp_path)], tries=2)
    assert cell.text().startswith("reproduced in 1 of 1, no result in 1")
    assert Cell(by_key["split-brain"], "5.17.2", "seed", [(short, tmp_path)], tries=1).text() == (
        "no result in 1 tries (the pairs were last checked less than 11 s after the lock file went)"
    )


def test_the_table_has_a_cell_per_version_and_design_linking_its_runs(tmp_path: Path) -> None:
    moved = run_folder(
        tmp_path / "runs" / "5.17.2" / "try-1",
        [],
        [Verdict("stuck", False, {"messages": 5, "stranded": 5}, {})],
        scenario="move-demand",
    )
    other = ScenarioResult("kill-live-master", "seed", 7, str(tmp_path), {}, [])  # no pattern's scenario
    cells = cells_from_results(
        [("5.17.2", moved.result), ("5.17.2", other)], ["5.17.2"], ["seed", "hardened"], 1
    )
    table = markdown_table(cells, ["5.17.2"], ["seed", "hardened"], tmp_path / "runs")
    assert table[0].startswith("| pattern | reference | scenario | 5.17.2 seed | 5.17.2 hardened |")
    row = next(line for line in table if line.startswith("| messages stranded"))
    assert "reproduced in 1 of 1: 5 stranded after the drain [1](5.17.2/try-1/move-demand-seed)" in row
    assert "no result in 1 tries" in row  # hardened had no run
    assert len([line for line in table if line.startswith("| ")]) == len(PATTERNS) + 1


def test_a_table_of_some_patterns_shows_only_those(tmp_path: Path) -> None:
    some = [
        c
        for c in cells_from_results([], ["5.17.2"], ["seed"], 1)
        if c.pattern.key in ("stranded", "split-brain")
    ]
    table = markdown_table(some, ["5.17.2"], ["seed"], tmp_path)
    assert [line.split(" | ")[0] for line in table if line.startswith("| ") and "reference" not in line] == [
        "| messages stranded when consumers move between masters",
        "| a deleted lock file: two live brokers on one store",
    ]


def test_the_table_is_rewritten_from_a_bugs_folder_each_run_counted_once(tmp_path: Path) -> None:
    from harness.report.bugs import results_in

    chaos = tmp_path / "5.17.2" / "try-1" / "chaos"
    run = chaos / "20261128-000000-seed7"
    run.mkdir(parents=True)
    result = ScenarioResult("move-demand", "seed", 7, str(run / "move-demand-seed"), {}, [])
    (run / "summary.json").write_text(json.dumps([result.to_json()]))
    (chaos / "latest").symlink_to(run.name)  # what every chaos run leaves beside itself
    assert [(v, r.scenario) for v, r in results_in(tmp_path)] == [("5.17.2", "move-demand")]


def test_durable_messages_lost_beside_rejected_duplicate_adds_are_the_gap_pattern(tmp_path: Path) -> None:
    line = "WARN  [ActiveMQ VMTransport: vm://chaos-mq01-a#3-1] MessageDatabase - Duplicate message add attempt rejected."
    lost = Verdict("durable-lost", False, {"lost": 83}, {})
    seen = bugs.durable_gap_lost(
        run_folder(tmp_path / "a", [], [lost], {A1: [(1.0, line), (1.1, line)]}, "durable-topic")
    )
    assert (
        seen.seen
        and seen.detail == "83 owed to durable subscribers and in no store; 2 duplicate adds rejected"
    )
    kept = Verdict("durable-lost", True, {"lost": 0}, {})
    assert bugs.durable_gap_lost(run_folder(tmp_path / "b", [], [kept], {}, "durable-topic")).seen is False
    undecided = Verdict("durable-lost", None, {"lost": 0}, {})
    assert (
        bugs.durable_gap_lost(run_folder(tmp_path / "c", [], [undecided], {}, "durable-topic")).seen is None
    )


CONN = "ID:chaos-mq02-b-35861-1796640941637-4:65"


def dropped(seq: int) -> str:
    return (
        "WARN  [ActiveMQ VMTransport: vm://chaos-mq02-b#7-1] Queue - duplicate from store for "
        f"queue://chaos.combined-chaos, redirecting {CONN}:-1:1:{seq} for dlq processing"
    )


B2 = "chaos-mq02-b"


def sends(conn: str | None, count: int) -> list[dict]:
    """producer-0 connects to chaos-mq02-b (recording the connection's id, or not) and sends `count`."""
    connect = {"t": 27.5, "p": "producer-0", "type": "ok", "f": "connect", "broker": B2, "session": 1}
    if conn is not None:
        connect["conn"] = conn
    return [connect] + [
        {"t": 27.6 + n / 100, "p": "producer-0", "type": "invoke", "f": "send", "id": f"p0-{1218 + n}"}
        for n in range(1, count + 1)
    ]


def lost_verdict(*lost: tuple[str, float, str], dead: dict[str, list[str]] | None = None) -> Verdict:
    return Verdict(
        "lost",
        not lost,
        {"lost": len(lost)},
        {
            "lost": [{"id": i, "acknowledged_at": t, "by": by} for i, t, by in lost],
            "dead_lettered": dead or {},
        },
    )


def test_a_lost_message_the_broker_logged_as_a_dropped_duplicate_is_the_replay_pattern(
    tmp_path: Path,
) -> None:
    # p0-1233 is producer-0's 15th SEND on its connection: the broker named it <conn>:-1:1:15
    verdict = lost_verdict(("p0-1233", 27.6, B2))
    seen = bugs.replay_dropped(
        run_folder(tmp_path / "a", sends(CONN, 20), [verdict], {B2: [(55.3, dropped(15))]})
    )
    assert seen.seen, seen.detail
    assert seen.detail == (
        "1 acknowledged and never delivered (0 dead-lettered); 1 of the 1 with a known broker id dropped as "
        "duplicates from a store (1 copies dropped in all)"
    )
    # as the 2026-12-07 finding's run: the drops were of other sends on that connection (21 and up)
    others = run_folder(
        tmp_path / "b", sends(CONN, 30), [verdict], {B2: [(55.3, dropped(21)), (55.3, dropped(22))]}
    )
    assert bugs.replay_dropped(others).seen is False
    # nothing lost, whatever was dropped
    kept = run_folder(tmp_path / "c", sends(CONN, 20), [lost_verdict()], {B2: [(55.3, dropped(15))]})
    assert bugs.replay_dropped(kept).seen is False
    # a history without the connections' ids cannot be tied to the log: undecided, not a sighting
    unknown = run_folder(tmp_path / "d", sends(None, 20), [verdict], {B2: [(55.3, dropped(15))]})
    assert bugs.replay_dropped(unknown).seen is None
    undecided = Verdict("lost", None, {"lost": 0}, {})
    assert bugs.replay_dropped(run_folder(tmp_path / "e", [], [undecided], {})).seen is None


def test_an_upstream_bug_a_checker_reads_is_seen_when_that_checker_failed(tmp_path: Path) -> None:
    """composite-demand and unsubscribe-leak: their checker's verdict is the sighting; an unknown one is
    no result, never "not seen"."""
    by_key = {p.key: p for p in PATTERNS}
    conduit = by_key["composite-demand"].signature
    note = "the bridge b held 2 subscriptions on chaos.probe.left"
    failed = run_folder(tmp_path / "a", [], [Verdict("conduit", False, {"extra-subscriptions": 2}, {}, note)])
    assert conduit(failed).seen is True and note in conduit(failed).detail
    assert conduit(run_folder(tmp_path / "b", [], [Verdict("conduit", True)])).seen is False
    assert conduit(run_folder(tmp_path / "c", [], [Verdict("conduit", None, note="unknown: x")])).seen is None
    assert conduit(run_folder(tmp_path / "d", [], [Verdict("lost", True)])).seen is None
    freed = by_key["unsubscribe-leak"].signature
    assert freed(run_folder(tmp_path / "e", [], [Verdict("freed", False, {"retained": 200})])).seen is True
    assert freed(run_folder(tmp_path / "f", [], [Verdict("conduit", False)])).seen is None
    fixed = Cell(
        by_key["unsubscribe-leak"], "5.17.6", "seed", [(Sighting(False, "freed: ok"), tmp_path)], tries=1
    )
    assert fixed.text().startswith("fixed in this version, not seen in 1 tries")
