"""Known ActiveMQ bug patterns, what shows each one in a run, and the table `make bugs` writes.

A pattern names the scenario that provokes it and a signature: a pure function of one finished run (its
result, its history, its brokers' logs) that says whether the run shows the pattern, with the evidence in a
few words. A design may prevent a pattern by a setting; a run on it that shows the pattern anyway says so.

Each cell of the table reads: reproduced in k of n tries, not seen in n tries, prevented by the design (not
seen in n tries), or no result (the run did not finish). Nothing here reaches the cluster: the runs are made
by `harness.campaigns.bugs`, as `make matrix` makes its runs.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.check.result import ScenarioResult
from harness.design.versions import parse_version
from harness.history import read_header, read_history


@dataclass
class Sighting:
    seen: bool | None  # None: the run could not show it either way (too short a fault, a check not made)
    detail: str  # the evidence, or what was looked for and not found


@dataclass
class RunEvidence:
    """One finished scenario run: its result, and its history and broker logs read on demand."""

    result: ScenarioResult
    _events: list[dict[str, Any]] | None = field(default=None, repr=False)

    @property
    def folder(self) -> Path:
        return Path(self.result.directory)

    def events(self) -> Iterator[dict[str, Any]]:
        """The history's events; read once, as several signatures look at one run (a chaos run's history)."""
        if self._events is None:
            self._events = list(read_history(self.folder / "history.jsonl"))
        return iter(self._events)

    def wall_origin(self) -> float | None:
        origin = read_header(self.folder / "history.jsonl").get("wall_origin")
        return float(origin) if origin is not None else None

    def log_lines(self, pattern: str) -> list[tuple[float, str, str]]:
        """(seconds on the run's axis, node, line) of every broker log line matching `pattern`."""
        origin = self.wall_origin()
        if origin is None:
            return []
        found = []
        for log in sorted(self.folder.glob("*/logs/*.log")):
            for line in log.read_text(errors="replace").splitlines():
                if re.search(pattern, line):
                    stamp = _docker_stamp(line)
                    if stamp is not None:
                        found.append((stamp - origin, log.stem, line[31:].strip()))
        return sorted(found)

    def faults(self, action: str) -> list[dict[str, Any]]:
        """The applied faults of a kind (their ok events, with the invoke's target)."""
        return [
            e
            for e in self.events()
            if e["p"] == "nemesis" and e["type"] == "ok" and e.get("action") == action and e["f"] == "fault"
        ]


def _docker_stamp(line: str) -> float | None:
    """The time of a `docker logs --timestamps` line (RFC 3339, nanoseconds, UTC)."""
    match = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?Z", line)
    if match is None:
        return None
    whole = datetime.datetime.fromisoformat(match[1]).replace(tzinfo=datetime.UTC).timestamp()
    return whole + float(match[2][:7] if match[2] else 0)


@dataclass(frozen=True)
class Pattern:
    key: str
    title: str
    reference: str  # a JIRA or GitHub issue, or "found here"
    scenario: str
    signature: Callable[[RunEvidence], Sighting]
    looked_for: str  # what a run must show to count, for the table's legend
    prevented: dict[str, str] = field(default_factory=dict)  # design -> the setting that prevents it
    fixed_in: str = ""


# -------------------------------------------------------------------------------------------- signatures
def _verdict(evidence: RunEvidence, name: str) -> Any:
    return next((v for v in evidence.result.verdicts if v.checker == name), None)


def stranded(evidence: RunEvidence) -> Sighting:
    verdict = _verdict(evidence, "stuck")
    count = verdict.counts.get("stranded", 0) if verdict else 0
    return Sighting(count > 0, f"{count} stranded after the drain")


def frozen_kept_lock(evidence: RunEvidence) -> Sighting:
    frozen = {str(e["target"]) for e in evidence.faults("freeze")}
    final = next((e for e in evidence.events() if e.get("phase") == "final-state"), None)
    live = set((final or {}).get("queues", {}))
    kept = sorted(frozen & live)
    if kept:
        return Sighting(True, f"{', '.join(kept)} frozen, nobody took its store, still live after the thaw")
    return Sighting(
        False,
        f"frozen {', '.join(sorted(frozen)) or 'nothing'}; live at the end: {', '.join(sorted(live)) or '?'}",
    )


# the bridge's own words when it gives up on its remote end (for a timeout: "due to a local error", with the
# InactivityIOException as its cause on the next lines, which name the address, not the broker)
INACTIVITY = r"Network connection between .* shutdown due to a (local|remote) error|bridge to \S+ stopped"


def bridge_silent(evidence: RunEvidence) -> Sighting:
    """How long after a live master froze the other pair's brokers gave up on their bridge to it."""
    freezes = evidence.faults("freeze")
    if not freezes:
        return Sighting(False, "no freeze applied")
    frozen, at = str(freezes[0]["target"]), float(freezes[0]["t"])
    heal = next(
        (
            float(e["t"])
            for e in evidence.events()
            if e["f"] == "heal" and e.get("heals") == "freeze" and e["type"] == "ok"
        ),
        at + 45,
    )
    if heal - at < 35:
        return Sighting(None, f"frozen only {heal - at:.0f} s: a 30 s silence cannot show")
    failed = [
        t - at
        for t, node, line in evidence.log_lines(INACTIVITY)
        if node != frozen and at <= t <= heal and frozen in line
    ]
    if not failed:
        return Sighting(True, f"no bridge to {frozen} failed in its {heal - at:.0f} s frozen")
    return Sighting(failed[0] >= 20, f"bridge to the frozen {frozen} failed after {failed[0]:.0f} s")


HANDSHAKE = r"Error with pending (remote|local) brokerInfo"


def stalled_handshake(evidence: RunEvidence) -> Sighting:
    lines = evidence.log_lines(HANDSHAKE)
    verdict = _verdict(evidence, "bridges-resumed")
    stalled = list(verdict.evidence.get("not_resumed", [])) if verdict else []
    if lines and stalled:
        return Sighting(True, f"handshake error on {lines[0][1]}, then {', '.join(stalled)} never resumed")
    if lines:
        return Sighting(False, f"handshake error on {lines[0][1]}, but every bridge resumed")
    return Sighting(
        False, "no handshake error logged" + (f"; {', '.join(stalled)} not resumed" if stalled else "")
    )


def _unstranded_stuck(evidence: RunEvidence) -> tuple[int, dict[str, Any]]:
    verdict = _verdict(evidence, "stuck")
    if verdict is None or verdict.valid is not False:
        return 0, {}
    return verdict.counts.get("messages", 0) - verdict.counts.get("stranded", 0), verdict.evidence


def demand_lost(evidence: RunEvidence) -> Sighting:
    count, found = _unstranded_stuck(evidence)
    where = ", ".join(found.get("on_brokers", {})) if count else ""
    return Sighting(count > 0, f"{count} left unforwarded" + (f" on {where}" if where else ""))


def held_until_restart(evidence: RunEvidence) -> Sighting:
    count, found = _unstranded_stuck(evidence)
    where = ", ".join(found.get("on_brokers", {})) if count else ""
    return Sighting(count > 0, f"{count} held on a queue after the drain" + (f" on {where}" if where else ""))


def lost_on_stop(evidence: RunEvidence) -> Sighting:
    verdict = _verdict(evidence, "lost")
    count = verdict.counts.get("lost", 0) if verdict and verdict.valid is False else 0
    return Sighting(count > 0, f"{count} acknowledged and lost")


def two_live(evidence: RunEvidence) -> Sighting:
    """The `one-live` checker's finding after a lock file was deleted; runs from before that checker: a
    recovery check that found a pair live/live."""
    lost = evidence.faults("lose-lock")
    if not lost:
        return Sighting(None, "no lock file deleted")
    verdict = _verdict(evidence, "one-live")
    if verdict is not None and verdict.valid is False:
        first = verdict.evidence["two_live"][0]
        return Sighting(
            True,
            f"pair {first['pair']} had two live brokers on one store ({' and '.join(first['live'])}, "
            f"{first['t'] - float(lost[0]['t']):.0f} s after its lock file went; one-live)",
        )
    checked = [float(e["t"]) for e in evidence.events() if e.get("phase") in ("recovered", "not-recovered")]
    if not checked or max(checked) - float(lost[0]["t"]) < 11:
        # a seed slave tries the lock every 10 s: a pair checked sooner has not had its chance to split
        return Sighting(None, "the pairs were last checked less than 11 s after the lock file went")
    split = [
        e
        for e in evidence.events()
        if e.get("phase") == "not-recovered" and "live/live" in str(e.get("error", ""))
    ]
    if split:
        pair = re.search(r"pair (\w+) is live/live", str(split[0].get("error")))
        return Sighting(True, f"pair {pair[1] if pair else '?'} had two live brokers on one store")
    if verdict is not None and verdict.valid is True:
        return Sighting(
            False, f"never two live brokers in a pair ({verdict.counts.get('readings', 0)} readings)"
        )
    return Sighting(False, "never two live brokers in a pair")


def refused_yet_delivered(evidence: RunEvidence) -> Sighting:
    verdict = _verdict(evidence, "unexpected")
    count = verdict.counts.get("refused-but-delivered", 0) if verdict else 0
    return Sighting(count > 0, f"{count} sends refused (ERROR) yet delivered")


def ack_refused_held(evidence: RunEvidence) -> Sighting:
    """Messages left on a queue after the drain whose ack the store refused: held for the acks, not for
    whatever else left messages behind (a dead bridge, a hung broker). The stuck verdict quotes at most 50
    ids per broker, so this can only undercount."""
    refused = {str(e.get("id")) for e in evidence.events() if e.get("f") == "ack" and "refused" in e}
    verdict = _verdict(evidence, "stuck")
    located = verdict.evidence.get("located_ids", {}) if verdict is not None else {}
    held = sorted(refused.intersection(i for ids in located.values() for i in ids))
    others = (verdict.counts.get("messages", 0) if verdict is not None else 0) - len(held)
    tail = f" ({others} more held for other reasons)" if held and others > 0 else ""
    return Sighting(
        bool(held), f"{len(refused)} acks refused, {len(held)} of those messages held after the drain{tail}"
    )


DUPLICATE_ADD = r"Duplicate message add attempt rejected"


def durable_gap_lost(evidence: RunEvidence) -> Sighting:
    """Messages owed to a durable subscriber, never received and in no store, beside KahaDB's rejected
    duplicate adds (the order-index gaps of AMQ-9435)."""
    verdict = _verdict(evidence, "durable-lost")
    if verdict is None or verdict.valid is None:
        return Sighting(None, "durable-lost undecided" if verdict else "no durable-lost verdict")
    lost = verdict.counts.get("lost", 0) if verdict.valid is False else 0
    rejected = len(evidence.log_lines(DUPLICATE_ADD))
    return Sighting(
        lost > 0, f"{lost} owed to durable subscribers and in no store; {rejected} duplicate adds rejected"
    )


# a queue's cursor found a message id it had already seen (its audit) while paging from the store; with
# sendDuplicateFromStoreToDLQ false, 5.17's default (AMQ-8440), the copy is acknowledged away, not dead-lettered
DUPLICATE_FROM_STORE = r"duplicate from store for queue://"
DROPPED_ID = re.compile(r"redirecting (ID:\S+) for dlq processing")


def broker_message_ids(evidence: RunEvidence) -> dict[str, str]:
    """Harness id -> the id the broker gave its send, where the history recorded the connection's id
    (`conn`, CONNECTED's session header): a STOMP connection's n-th SEND is <conn>:-1:1:<n> (ActiveMQ's
    ProtocolConverter numbers them from 1, one producer per connection)."""
    conn: dict[str, str] = {}
    sent: dict[str, int] = {}
    ids: dict[str, str] = {}
    for event in evidence.events():
        process = str(event.get("p"))
        if event.get("f") == "connect" and event.get("type") == "ok":
            conn[process], sent[process] = str(event.get("conn") or ""), 0
        elif event.get("f") == "send" and event.get("type") == "invoke" and process in conn:
            sent[process] += 1
            if conn[process]:
                ids[str(event["id"])] = f"{conn[process]}:-1:1:{sent[process]}"
    return ids


def replay_dropped(evidence: RunEvidence) -> Sighting:
    """Acknowledged messages never delivered (lost, or dead-lettered) that a broker's log names as dropped:
    a copy coming back to a broker whose cursor audit already holds its id (a message forwarded away and
    replayed back, replayWhenNoConsumers) is acknowledged away as a duplicate from its store. Each lost id is
    matched by the id the broker gave it; only the lost verdict's sample of ids (50) is matched, so this can
    only undercount. A history that did not record its connections' ids cannot be matched: undecided."""
    verdict = _verdict(evidence, "lost")
    if verdict is None or verdict.valid is None:
        return Sighting(None, "lost undecided" if verdict else "no lost verdict")
    dropped = {
        m[1] for _, _, line in evidence.log_lines(DUPLICATE_FROM_STORE) if (m := DROPPED_ID.search(line))
    }
    lost = verdict.evidence.get("lost", []) if verdict.valid is False else []
    if not lost:
        return Sighting(False, f"nothing lost; {len(dropped)} copies dropped as duplicates from a store")
    ids = broker_message_ids(evidence)
    known = [w["id"] for w in lost if w["id"] in ids]
    if not known:
        return Sighting(
            None, f"{len(lost)} lost, none with its broker id (the history records no connection ids)"
        )
    matched = [i for i in known if ids[i] in dropped]
    dead = sum(len(i) for i in verdict.evidence.get("dead_lettered", {}).values())
    return Sighting(
        bool(matched),
        f"{verdict.counts.get('lost', len(lost))} acknowledged and never delivered ({dead} dead-lettered); "
        f"{len(matched)} of the {len(known)} with a known broker id dropped as duplicates from a store "
        f"({len(dropped)} copies dropped in all)",
    )


def checker_failed(name: str) -> Callable[[RunEvidence], Sighting]:
    """The signature of a bug a checker of its own reads (a probe's reading): seen when that checker failed,
    undecided when it could not judge, not seen when it passed."""

    def signature(evidence: RunEvidence) -> Sighting:
        verdict = _verdict(evidence, name)
        if verdict is None or verdict.valid is None:
            return Sighting(None, f"{name}: {verdict.note if verdict else 'no verdict'}")
        return Sighting(verdict.valid is False, f"{name}: {verdict.note or 'ok'} ({verdict.counts})")

    return signature


PATTERNS: tuple[Pattern, ...] = (
    Pattern(
        "stranded",
        "messages stranded when consumers move between masters",
        "ActiveMQ docs, networks of brokers: stuck messages",
        "move-demand",
        stranded,
        "stuck messages that crossed a bridge to a broker the consumers had left",
        {"hardened": "conditionalNetworkBridgeFilterFactory replayWhenNoConsumers"},
    ),
    Pattern(
        "frozen-lock",
        "a frozen master keeps its store lock",
        "shared file locker (fcntl) semantics",
        "freeze-master",
        frozen_kept_lock,
        "the frozen node still live after the thaw: its partner never got the lock",
    ),
    Pattern(
        "bridge-silent",
        "a bridge silent ~30 s after its peer freezes (inactivity default)",
        "maxInactivityDuration default 30 s",
        "freeze-peer-long",
        bridge_silent,
        "the other pair's bridge to a frozen master gives up only 20 s or more after the freeze, or never",
        {"hardened": "maxInactivityDuration 5 s on the bridges"},
    ),
    Pattern(
        "stalled-handshake",
        "a bridge dies for good on a stalled handshake",
        "apache/activemq#1864 (fixed in 5.19.x, 6.2.x)",
        "freeze-peer-long",
        stalled_handshake,
        "'Error with pending brokerInfo' in a broker log, then a bridge direction that never resumes",
    ),
    Pattern(
        "demand-race",
        "demand lost when subscriptions race destination creation",
        "AMQ-8023 (fixed in 5.17.0)",
        "demand-race",
        demand_lost,
        "messages never forwarded from where they were sent (stuck, not stranded)",
        fixed_in="5.17.0",
    ),
    Pattern(
        "held-until-restart",
        "a queue message stuck until restart",
        "AMQ-9625",
        "many-queues",
        held_until_restart,
        "messages left on a queue after the drain that no move of consumers explains (stuck, not stranded)",
    ),
    Pattern(
        "lost-on-stop",
        "messages lost on a graceful master stop",
        "AMQ-3364",
        "graceful-stop-master",
        lost_on_stop,
        "acknowledged messages never delivered (lost)",
    ),
    Pattern(
        "split-brain",
        "a deleted lock file: two live brokers on one store",
        "found here (lose-lock)",
        "lose-lock",
        two_live,
        "two live brokers in a pair (the one-live checker; before it, a recovery check that found live/live)",
        {"hardened": "lockKeepAlivePeriod: the broker notices and stops"},
    ),
    Pattern(
        "durable-gap-lost",
        "durable messages pending for an offline subscriber lost in a failover after duplicate adds",
        "found here (durable-topic); the gaps: AMQ-9435 (fixed in 5.17.7, 5.18.4, 6.1.0)",
        "durable-topic",
        durable_gap_lost,
        "durable-lost: owed ids never received and in no store",
        {"hardened": "one duplex bridge between the pairs (each topic message forwarded once)"},
    ),
    Pattern(
        "replay-dropped",
        "a message replayed back to the broker it left is dropped as a duplicate",
        "ActiveMQ docs, networks of brokers: replayWhenNoConsumers wants enableAudit=false; AMQ-4952; "
        "AMQ-8440 (5.17.0: dropped, no longer dead-lettered)",
        "combined-chaos",
        replay_dropped,
        "a lost id, by the id the broker gave it, in a broker's 'duplicate from store' line",
    ),
    Pattern(
        "composite-demand",
        "consumers of a composite destination break conduit subscriptions over a bridge",
        "AMQ-9262 (fixed in 5.17.5)",
        "composite-demand",
        checker_failed("conduit"),
        "conduit: more bridge subscriptions on a composite's topic than on a plain topic, same consumers",
        fixed_in="5.17.5",
    ),
    Pattern(
        "unsubscribe-leak",
        "a STOMP connection keeps every subscription it unsubscribed by id",
        "AMQ-9283 (fixed in 5.17.5)",
        "unsubscribe-churn",
        checker_failed("freed"),
        "freed: half the subscribe/unsubscribe cycles or more still in the broker's heap, connection open",
        fixed_in="5.17.5",
    ),
    Pattern(
        "slow-unmarked",
        "a queue consumer with a full prefetch is never marked slow (no advisory, no abort)",
        "AMQ-9153 (fixed in 5.17.3)",
        "full-consumer",
        checker_failed("marked-slow"),
        "marked-slow: a full prefetch with messages waiting behind it, SlowConsumer false",
        fixed_in="5.17.3",
    ),
    Pattern(
        "refused-yet-delivered",
        "a send refused for a full store is delivered anyway",
        "found here (store-full)",
        "store-full",
        refused_yet_delivered,
        "a send answered with ERROR whose message a consumer received",
        {"hardened": 'kahaDB concurrentStoreAndDispatchQueues="false"'},
    ),
    Pattern(
        "ack-refused-held",
        "an ack refused for a full store leaves its message held",
        "found here (store-full)",
        "store-full",
        ack_refused_held,
        "acks refused, and messages left on the queue after the drain",
    ),
)


def pattern_scenarios() -> list[str]:
    return list(dict.fromkeys(p.scenario for p in PATTERNS))


# ------------------------------------------------------------------------------------------------ cells
@dataclass
class Cell:
    """One pattern on one version and design, over the tries."""

    pattern: Pattern
    version: str
    design: str
    sightings: list[tuple[Sighting, Path]] = field(default_factory=list)  # one per try with a result
    tries: int = 0

    def text(self) -> str:
        seen = [s for s, _ in self.sightings if s.seen]
        judged = [(s, f) for s, f in self.sightings if s.seen is not None]
        n = len(judged)
        if n == 0:
            why = f" ({self.sightings[-1][0].detail})" if self.sightings else ""
            return f"no result in {self.tries} tries{why}"
        missing = f", no result in {self.tries - n}" if n < self.tries else ""
        prevented = self.pattern.prevented.get(self.design)
        if seen:
            text = f"reproduced in {len(seen)} of {n}{missing}: {seen[0].detail}"
            return text + (" (the design should prevent it)" if prevented else "")
        fixed = self.pattern.fixed_in and parse_version(self.version) >= parse_version(self.pattern.fixed_in)
        why = "prevented by the design, " if prevented else "fixed in this version, " if fixed else ""
        return f"{why}not seen in {n} tries{missing} ({judged[-1][0].detail})"

    def folders(self) -> list[Path]:
        return [folder for _, folder in self.sightings]


def cells_from_results(
    results: list[tuple[str, ScenarioResult]], versions: list[str], designs: list[str], tries: int
) -> list[Cell]:
    """Every (pattern, version, design) cell from (version, result) pairs of every try."""
    cells = {(p.key, v, d): Cell(p, v, d, tries=tries) for p in PATTERNS for v in versions for d in designs}
    for version, result in results:
        evidence = RunEvidence(result)  # one per run: two patterns of one scenario read its history once
        for pattern in PATTERNS:
            cell = cells.get((pattern.key, version, result.design))
            if cell is None or pattern.scenario != result.scenario:
                continue
            try:
                sighting = pattern.signature(evidence)
            except (OSError, ValueError, KeyError) as exc:  # a run folder half written: no result, said so
                sighting = Sighting(False, f"unreadable run: {exc!r}"[:120])
            cell.sightings.append((sighting, Path(result.directory)))
    return list(cells.values())


def results_in(folder: Path) -> list[tuple[str, ScenarioResult]]:
    """(version, result) of every run a `make bugs` folder holds: <version>/try-<n>/chaos/<run>/summary.json."""
    found = []
    for summary in sorted(folder.glob("*/try-*/chaos/*/summary.json")):
        if summary.parent.is_symlink():  # chaos/latest points at a run already counted
            continue
        version = summary.relative_to(folder).parts[0]
        found += [(version, ScenarioResult.from_json(r)) for r in json.loads(summary.read_text())]
    return found


def markdown_table(cells: list[Cell], versions: list[str], designs: list[str], base: Path) -> list[str]:
    """The known-bug table, each cell linking its run folders (relative to `base`)."""
    columns = [(v, d) for v in versions for d in designs]
    lines = [
        "| pattern | reference | scenario | " + " | ".join(f"{v} {d}" for v, d in columns) + " |",
        "|---|---|---|" + "---|" * len(columns),
    ]
    by_key = {(c.pattern.key, c.version, c.design): c for c in cells}
    shown = [p for p in PATTERNS if any(c.pattern is p for c in cells)]
    for pattern in shown:
        row = [pattern.title, pattern.reference, f"`{pattern.scenario}`"]
        for version, design in columns:
            cell = by_key[(pattern.key, version, design)]
            links = " ".join(f"[{n + 1}]({_relative(f, base)})" for n, f in enumerate(cell.folders()))
            row.append(f"{cell.text()} {links}".strip().replace("|", "/"))
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    lines.append("What each pattern needs a run to show:")
    lines.extend(f"- {p.title}: {p.looked_for}" for p in shown)
    return lines


def _relative(folder: Path, base: Path) -> str:
    try:
        return str(folder.relative_to(base))
    except ValueError:
        return str(folder)


def write_outcome(
    folder: Path, cells: list[Cell], versions: list[str], designs: list[str], header: str
) -> Path:
    table = markdown_table(cells, versions, designs, folder)
    path = folder / "bugs.md"
    path.write_text(header + "\n\n" + "\n".join(table) + "\n")
    records = [
        {
            "pattern": c.pattern.key,
            "version": c.version,
            "design": c.design,
            "tries": c.tries,
            "seen": sum(1 for s, _ in c.sightings if s.seen),
            "results": len(c.sightings),
            "cell": c.text(),
            "runs": [str(f) for f in c.folders()],
        }
        for c in cells
    ]
    (folder / "bugs.json").write_text(json.dumps(records, indent=2) + "\n")
    return path
