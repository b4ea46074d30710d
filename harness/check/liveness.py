"""The cluster's liveness properties: the bridges carry again after the heal (`bridges-resumed`), the
cluster returns to its promised state (`recovered`), never two live brokers on one store (`one-live`),
deliveries are prompt once recovered (`prompt`), sends are acknowledged throughout the load (`available`),
and the run did enough work for any verdict to mean something (`exercised`).
"""

from __future__ import annotations

import bisect
import itertools
import math
import operator
from typing import Any

from harness.check.ledger import Ledger
from harness.check.verdict import EVIDENCE_LIMIT, FinalState, Verdict


# ------------------------------------------------------------------------------------- bridges, recovery
def check_bridges_resumed(ledger: Ledger, final: FinalState) -> Verdict:
    """After the heal, every direction the design promises for the live nodes delivered a probe."""
    resumed = {f"{a}->{b}": s for (a, b), s in sorted(ledger.probes.items()) if s is not None}
    stalled = [f"{a}->{b}" for (a, b), s in sorted(ledger.probes.items()) if s is None]
    plan = ledger.probe_plan
    unprobed = sorted(f"{a}->{b}" for a, b in plan or () if (a, b) not in ledger.probes)
    counts = {"directions": len(ledger.probes), "not-resumed": len(stalled), "unprobed": len(unprobed)}
    if resumed:
        counts["slowest-ms"] = int(max(resumed.values()) * 1000)
    evidence = {"recovery_seconds": resumed, "not_resumed": stalled, "unprobed": unprobed}
    if stalled:
        return Verdict("bridges-resumed", False, counts, evidence)
    if plan is None:
        return Verdict("bridges-resumed", None, counts, evidence, "no probe plan in the history")
    if unprobed:
        return Verdict(
            "bridges-resumed", None, counts, evidence, "promised but not probed: " + ", ".join(unprobed)
        )
    note = "" if plan else "no bridge promised between the nodes live after the heal"
    return Verdict("bridges-resumed", True, counts, evidence, note)


def check_recovered(ledger: Ledger, final: FinalState) -> Verdict:
    """After every heal the cluster returns to its design's promised state within the deadline: every pair
    with a live node, every promised bridge up, the VIP routing clients to a live broker."""
    failures = ledger.not_recovered
    counts = {"not-recovered": len(failures)}
    evidence = {
        "not_recovered": [
            {k: e.get(k) for k in ("t", "problems", "live", "error")} for e in failures[:EVIDENCE_LIMIT]
        ]
    }
    if failures:
        # each design's one declarable mechanism, found in every failed recovery or in none
        if ledger.facts.pure_master_slave:
            explained = all(_left_without_fail_back(e, ledger) for e in failures)
        else:
            routable = set(ledger.facts.vip_routes) & set(ledger.facts.client_nodes)
            # the only problem is the VIP, because no live node is one it routes to with a client connector
            # (a seed design whose slaves both took over)
            explained = all(
                e.get("problems") == ["vip"] and e.get("live") is not None and not (set(e["live"]) & routable)
                for e in failures
            )
        return Verdict(
            "recovered", False, counts, evidence, str(failures[-1].get("error", ""))[:300], explained
        )
    if ledger.recovered is None:
        return Verdict("recovered", None, counts, evidence, "the history records no recovery after the heal")
    return Verdict("recovered", True, counts, evidence)


# what ends a master's process: after one of these its pure master/slave slave takes over for good
_PROCESS_ENDS = ("kill", "stop", "restart")


def _left_without_fail_back(failure: dict[str, Any], ledger: Ledger) -> bool:
    """A pure master/slave pair that took over and cannot fail back, and nothing else wrong: every pair is
    either its master live and its slave replicating, or its slave live (it logged its master's failure and
    started its connectors) and its master `starting`, blocked in waitForSlave since a fault ended the
    master's process before this check (its former slave never attaches again: only an operator's copy of
    the store and a restart in order bring the pair back). Where the VIP is a problem too, it routes clients
    to such a blocked master, whose connectors open before it waits. A pair in any other shape (both down, a
    master that never came back, two live), a bridge not up, or a state not recorded is no such pair."""
    facts = ledger.facts
    states = failure.get("states")
    problems = set(failure.get("problems") or ())
    if not states or not facts.masters or not problems <= {"pairs", "vip"}:
        return False
    ended = {w.target for w in ledger.faults if w.action in _PROCESS_ENDS and w.start < failure["t"]}
    blocked: set[str] = set()
    for master in facts.masters:
        slaves = [n for n, pair in facts.pairs.items() if pair == facts.pairs.get(master) and n != master]
        if len(slaves) != 1:
            return False
        shape = (states.get(master), states.get(slaves[0]))
        if shape == ("starting", "live") and master in ended:
            blocked.add(master)
        elif shape != ("live", "replicating"):
            return False
    if not blocked:
        return False
    return "vip" not in problems or failure.get("routed") in blocked


def check_one_live(ledger: Ledger, final: FinalState) -> Verdict:
    """At most one live broker per pair, over the whole run and at its end: two live brokers on one store
    serve clients and bridges from two copies of it (a lost lock nobody noticed), and a broker that serves
    clients while still starting, beside its partner live, does the same from its own store. Read from every
    sampler sweep's node states and answers, the live nodes each recovery check found, and the final state's.
    Unknown when nothing read the nodes' states."""
    pairs = ledger.facts.pairs
    # a node serves as a broker when it is live, or when it answered the sampler over its client connector
    # while still `starting`: a pure master/slave master started again after its slave took over opens its
    # connectors, then blocks waiting for a slave, and serves clients from its own, older store beside the
    # pair's live node. A node that answered and is down by the sweep's end (killed meanwhile) serves no more.
    answered = dict(ledger.serving)
    readings: list[tuple[float, list[str]]] = [
        (
            t,
            [
                node
                for node, state in states.items()
                if state == "live" or (state == "starting" and node in answered.get(t, ()))
            ],
        )
        for t, states in ledger.node_states
    ]
    readings += [(t, list(live)) for t, live in ledger.live_seen]
    if final.states:
        end = ledger.drain_deadline if ledger.drain_deadline is not None else math.inf
        readings.append((end, [node for node, state in final.states.items() if state == "live"]))
    split: list[dict[str, Any]] = []
    for t, live in sorted(readings, key=operator.itemgetter(0)):
        by_pair: dict[str, list[str]] = {}
        for node in live:
            by_pair.setdefault(pairs.get(node, node), []).append(node)
        split += [{"t": round(t, 3), "pair": p, "live": sorted(n)} for p, n in by_pair.items() if len(n) > 1]
    counts = {"readings": len(readings), "two-live": len(split), "pairs": len({s["pair"] for s in split})}
    evidence = {"two_live": split[:EVIDENCE_LIMIT], "at_end": bool(final.states)}
    if split:
        first = split[0]
        note = f"pair {first['pair']} had {' and '.join(first['live'])} live at {first['t']:.1f} s"
        return Verdict("one-live", False, counts, evidence, note)
    if not readings:
        return Verdict("one-live", None, counts, evidence, "no reading of the nodes' states in this history")
    return Verdict("one-live", True, counts, evidence)


def check_prompt(ledger: Ledger, final: FinalState) -> Verdict:
    """Once the cluster recovered, every message acknowledged after that and delivered at all reached its first
    consumer within `prompt_within` seconds of its receipt: a bridge that forwards, but at a crawl, fails
    here. Messages never delivered are `lost` or `stuck`, not judged here. Unknown without a recovery, or with
    fewer such deliveries than the minimum work."""
    limit = ledger.facts.prompt_within
    recovered = ledger.recovered
    if recovered is None:
        return Verdict("prompt", None, {"judged": 0}, note="the history records no recovery after the heal")
    latencies, ids, sent = _latencies_after(ledger, recovered)
    too_slow = list(map(float(limit).__lt__, latencies))  # float: int.__lt__(float) is NotImplemented, truthy
    slow = sorted(
        zip(
            itertools.compress(latencies, too_slow),
            itertools.compress(ids, too_slow),
            itertools.compress(sent, too_slow),
            strict=True,
        ),
        reverse=True,
    )
    counts = {"judged": len(latencies), "slow": len(slow)}
    if latencies:
        counts["slowest-ms"] = int(max(latencies) * 1000)
    evidence = {
        "limit_s": limit,
        "slow": [
            {"id": i, "acknowledged_at": round(t, 3), "latency_s": round(latency, 3)}
            for latency, i, t in slow[:EVIDENCE_LIMIT]
        ],
    }
    if slow:
        return Verdict("prompt", False, counts, evidence, f"{len(slow)} messages took over {limit:.0f} s")
    if len(latencies) < ledger.facts.min_delivered_after_heal:
        note = f"{len(latencies)} deliveries of messages sent after the recovery (need {ledger.facts.min_delivered_after_heal})"
        return Verdict("prompt", None, counts, evidence, note)
    return Verdict("prompt", True, counts, evidence)


def _latencies_after(ledger: Ledger, recovered: float) -> tuple[list[float], list[str], list[float]]:
    """(first delivery - receipt, id, receipt time) of every id acknowledged after `recovered` and delivered,
    as three lists. Whole-list passes in C (map, compress) instead of a loop per id: a million ids took 0.45 s
    as a comprehension."""
    acknowledged = ledger.acknowledged
    times = list(map(operator.itemgetter(0), acknowledged.values()))
    after = list(map(float(recovered).__lt__, times))
    ids = list(itertools.compress(acknowledged, after))
    sent = list(itertools.compress(times, after))
    firsts = list(map(ledger.first_delivered.get, ids, itertools.repeat(math.nan)))
    latencies = list(map(operator.sub, firsts, sent))
    delivered = list(map(operator.not_, map(math.isnan, latencies)))
    if all(delivered):
        return latencies, ids, sent
    return (
        list(itertools.compress(latencies, delivered)),
        list(itertools.compress(ids, delivered)),
        list(itertools.compress(sent, delivered)),
    )


# ---------------------------------------------------------------------------------------- availability
def check_available(ledger: Ledger, final: FinalState, limit: float | None = None) -> Verdict:
    """While the producers ran, some send was acknowledged at least every `limit` seconds (the design's
    measured takeover with room). A longer gap is explained only where the history shows why no client could
    be served: between sampler sweeps that saw no node the VIP routes to serving clients, and whose reading
    of the nodes' states showed none of them live (the state a design declares: both slaves holding the
    stores on seed) or a fault in force on each of them. Silence alone (no answer, no fault, no such state)
    explains nothing: unknown at best. Where the gap is over the limit only because every producer had given
    up (nobody tried to send), availability was not measured: unknown, not the brokers' fault or credit."""
    limit = ledger.facts.unavailable_after if limit is None else limit
    start, end = ledger.load_started, ledger.load_ended
    times = list(ledger.receipt_times)
    if start is None:
        if not times:
            return Verdict("available", None, {"longest-gap-ms": 0}, note="no load phase in this history")
        start = times[0]
    if end is None:
        return Verdict(
            "available", None, {"longest-gap-ms": 0}, note="the load never ended (no healed phase)"
        )
    # receipts in history order are in time order: the gaps lie between neighbours inside the load
    times.sort()
    inside = times[bisect.bisect_left(times, start) : bisect.bisect_right(times, end)]
    edges = [start, *inside, end]
    longest, over = (start, end), []
    widest = -1.0
    for previous, t in itertools.pairwise(edges):
        gap = t - previous
        if gap > widest:
            widest, longest = gap, (previous, t)
        if gap > limit:
            over.append((previous, t))
    away = _all_producers_away(ledger, end)
    unexplained, silent, unmeasured = [], [], []
    for span in over:
        unreachable, quiet = _unreachable_spans(ledger, span)
        if _longest_outside(span, unreachable + quiet + away) > limit:
            unexplained.append(span)
        elif _longest_outside(span, unreachable + away) > limit:
            silent.append(span)
        elif _longest_outside(span, unreachable) > limit:
            unmeasured.append(span)
    counts = {"longest-gap-ms": int((longest[1] - longest[0]) * 1000), "gaps-over-limit": len(over)}
    evidence: dict[str, Any] = {
        "longest_gap": {"from": round(longest[0], 3), "to": round(longest[1], 3)},
        "over_limit": [{"from": round(a, 3), "to": round(b, 3)} for a, b in over[:EVIDENCE_LIMIT]],
        "limit_s": limit,
    }
    note = ""
    if over:
        note = f"no send acknowledged for {longest[1] - longest[0]:.1f} s (limit {limit:.0f} s)"
    if unexplained:
        return Verdict("available", False, counts, evidence, note)
    if silent:
        a, b = silent[0]
        evidence["silent"] = [{"from": round(a, 3), "to": round(b, 3)} for a, b in silent[:EVIDENCE_LIMIT]]
        note += (
            f"; from {a:.1f} s the sampler got no answer from the nodes the VIP routes to, with no fault in "
            "force on them and no reading of them not live: silence explains nothing"
        )
        return Verdict("available", None, counts, evidence, note)
    if unmeasured:
        a, b = unmeasured[0]
        evidence["unmeasured"] = [
            {"from": round(a, 3), "to": round(b, 3)} for a, b in unmeasured[:EVIDENCE_LIMIT]
        ]
        note += f"; every producer had given up for part of {b - a:.1f} s from {a:.1f} s: nobody measured it"
        return Verdict("available", None, counts, evidence, note)
    return Verdict("available", not over, counts, evidence, note, explained=bool(over))


def _unreachable_spans(
    ledger: Ledger, gap: tuple[float, float]
) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """The parts of `gap` between two consecutive sampler sweeps in which no node the VIP routes to (with a
    client connector) answered as a client connector: (shown unreachable, only silent). Shown unreachable
    where, at both sweeps, each such node was read not live or had a fault in force."""
    routable = set(ledger.facts.vip_routes) & set(ledger.facts.client_nodes)
    states = dict(ledger.node_states)
    samples = [(t, nodes) for t, nodes in ledger.serving if gap[0] <= t <= gap[1]]

    def shown(t: float) -> bool:
        reading = states.get(t, {})
        return all(
            reading.get(node, "live") != "live" or _fault_in_force(ledger, node, t) for node in routable
        )

    unreachable: list[tuple[float, float]] = []
    quiet: list[tuple[float, float]] = []
    for (t1, s1), (t2, s2) in itertools.pairwise(samples):
        if s1 & routable or s2 & routable:
            continue
        (unreachable if shown(t1) and shown(t2) else quiet).append((t1, t2))
    return unreachable, quiet


def _fault_in_force(ledger: Ledger, node: str, t: float) -> bool:
    return any(w.start <= t <= w.end and node in w.nodes for w in ledger.faults)


def _all_producers_away(ledger: Ledger, load_end: float) -> list[tuple[float, float]]:
    """The times every producer of the run had given up at once (none tried to send)."""
    if not ledger.producers_away:
        return []
    producers = set(ledger.producers_away) | ledger.producers_seen
    spans: list[tuple[float, float]] | None = None
    for process in producers:
        own = [(a, b if b is not None else load_end) for a, b in ledger.producers_away.get(process, [])]
        spans = own if spans is None else _intersect(spans, own)
    return spans or []


def _intersect(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> list[tuple[float, float]]:
    return [(max(x0, y0), min(x1, y1)) for x0, x1 in a for y0, y1 in b if max(x0, y0) < min(x1, y1)]


def _longest_outside(gap: tuple[float, float], covered: list[tuple[float, float]]) -> float:
    """The longest part of `gap` that no span of `covered` covers."""
    longest, cursor = 0.0, gap[0]
    for start, end in sorted(covered):
        if start > cursor:
            longest = max(longest, min(start, gap[1]) - cursor)
        cursor = max(cursor, end)
        if cursor >= gap[1]:
            break
    return max(longest, gap[1] - cursor)


# ------------------------------------------------------------------------------------------ evidence
def check_exercised(ledger: Ledger, final: FinalState) -> Verdict:
    """Minimum work, or the verdict is unknown: enough sends acknowledged before the first fault, enough
    deliveries after the last heal, and every consumer connected at the drain deadline."""
    facts = ledger.facts
    first_fault = ledger.first_fault()
    receipts = sorted(ledger.receipt_times)  # sorted already in history order: linear
    before = len(receipts) if first_fault is None else bisect.bisect_left(receipts, first_fault)
    last_heal = ledger.last_heal if ledger.last_heal is not None else (first_fault or 0.0)
    delivered = sorted(ledger.delivery_times)
    after = len(delivered) - bisect.bisect_right(delivered, last_heal)
    deadline = ledger.drain_deadline
    consumers = ledger.consumers_at(deadline if deadline is not None else math.inf)
    gone = sorted(p for p, broker in consumers.items() if not broker)
    counts = {"acknowledged-before-fault": before, "delivered-after-heal": after, "consumers-gone": len(gone)}
    missing = []
    if before < facts.min_acknowledged_before_fault:
        missing.append(
            f"{before} sends acknowledged before the first fault (need {facts.min_acknowledged_before_fault})"
        )
    if after < facts.min_delivered_after_heal:
        missing.append(f"{after} deliveries after the last heal (need {facts.min_delivered_after_heal})")
    if len(consumers) < facts.consumers:
        missing.append(f"{len(consumers)} consumers ever connected (want {facts.consumers})")
    if gone:
        missing.append(f"not connected at the drain deadline: {', '.join(gone)}")
    if deadline is None:
        missing.append("no drain deadline in the history")
    if ledger.faults_asked and not ledger.faults_applied:
        # a fault run whose every fault failed to apply showed nothing about that fault
        missing.append(f"none of the {ledger.faults_asked} faults asked for was applied")
    counts["faults-applied"] = ledger.faults_applied
    evidence = {"consumers_at_deadline": consumers, "missing": missing}
    return Verdict("exercised", None if missing else True, counts, evidence, "; ".join(missing))
