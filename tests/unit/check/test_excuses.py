"""Every excuse local in time, ids and mechanism (issue 26): literal histories of real bugs that an older
rule judged `ok`, each beside its twin, the legitimate case the same excuse must still cover.

A test named `..._bug_...` is the bug: it failed (judged ok or explained) before the rule changed. Its twin
shows the mechanism the excuse stands for, seen in the history, still excused.
"""

from __future__ import annotations

import dataclasses

from harness.check.durable import check_durable_duplicated, check_durable_stuck
from harness.check.facts import RunFacts
from harness.check.ledger import Ledger
from harness.check.liveness import check_available, check_one_live
from harness.check.queues import (
    check_answered,
    check_duplicated,
    check_lost,
    check_stuck,
    classify_undelivered,
)
from harness.check.registry import check_all
from harness.check.verdict import FinalState
from tests.unit.check.test_checkers import (
    B1,
    B2,
    CLEAN,
    FACTS,
    S1,
    S2,
    clean_run,
    connect,
    deadline,
    delivered,
    fault,
    ledger,
    phase,
    sent,
    session_end,
)
from tests.unit.check.test_durable import TOPIC_FACTS, ended, published, received, subscribed


def closing_handover(consumer: str, message_id: str, t: float, since: float) -> dict:
    """A frame the consumer's closing connection handed over at `t`, never acked (its close began at `since`)."""
    return {"t": t, "p": consumer, "type": "info", "f": "unconfirmed", "ids": [message_id], "since": since}


def consumers_on_b1(*events: list[dict] | dict, facts: RunFacts = FACTS) -> Ledger:
    """A run with both consumers on B1 from start to end, no fault unless `events` add one."""
    start = [phase("load", 0), connect("consumer-0", B1, 0.1), connect("consumer-1", B1, 0.1)]
    end = [
        phase("load-ended", 20),
        deadline(50),
    ]
    return ledger(*start, *events, *end, facts=facts)


# ------------------------------------------------------------------- 3: the closing-session exemption
def test_bug_a_closing_session_copy_of_a_message_whose_ack_was_confirmed_is_not_excused() -> None:
    """consumer-0 got r1-p1-0 at 16 and its ack was confirmed (its session's end lists nothing unconfirmed);
    a broker that hands the acked message out again to the same consumer's closing session at 30.2, and
    again at 30.4, with no fault anywhere, redelivered an acked message: nothing on the consumer's side
    explains it."""
    copies = [
        sent("r1-p1-0", 15),
        delivered("r1-p1-0", 16, B2, consumer="consumer-0"),
        delivered("r1-p1-0", 30.2, B2, True, consumer="consumer-0"),
        closing_handover("consumer-0", "r1-p1-0", 30.21, since=30.0),
        delivered("r1-p1-0", 30.4, B2, True, consumer="consumer-0"),
        closing_handover("consumer-0", "r1-p1-0", 30.41, since=30.0),
        session_end(30.5, []),
    ]
    verdict = check_duplicated(clean_run(*copies), CLEAN)
    assert verdict.valid is False and not verdict.explained
    assert verdict.counts["unexplained"] == 2


def test_twin_a_copy_handed_over_while_closing_excuses_the_redelivery_once() -> None:
    """consumer-1 begins closing at 30.0 with r1-p1-0 unacked; the broker redelivers it to consumer-0 at
    30.2 and consumer-1's closing connection hands its own copy over at 30.3: one extra copy, excused by
    the one ack that was never confirmed. A third copy has nothing left to excuse it."""
    copies = [
        sent("r1-p1-0", 29),
        delivered("r1-p1-0", 30.2, B2, True, consumer="consumer-0"),
        delivered("r1-p1-0", 30.3, B2, False, consumer="consumer-1"),
        closing_handover("consumer-1", "r1-p1-0", 30.31, since=30.0),
    ]
    once = check_duplicated(clean_run(*copies), CLEAN)
    assert once.explained and once.evidence["explained_by"] == {"unconfirmed-ack": 1}
    again = check_duplicated(clean_run(*copies, delivered("r1-p1-0", 30.6, B2, consumer="consumer-0")), CLEAN)
    assert not again.explained and again.counts["unexplained"] == 1


def test_bug_one_unconfirmed_ack_excuses_no_more_than_one_copy() -> None:
    """consumer-1's closing connection hands r1-p1-0 over twice (30.3 and 30.35), after the broker gave it
    to consumer-0 at 30.2: the one ack consumer-1 never confirmed explains one extra copy; a broker that
    dispatched the message twice to one session explains the other."""
    copies = [
        sent("r1-p1-0", 29),
        delivered("r1-p1-0", 30.2, B2, True, consumer="consumer-0"),
        delivered("r1-p1-0", 30.3, B2, False, consumer="consumer-1"),
        closing_handover("consumer-1", "r1-p1-0", 30.31, since=30.0),
        delivered("r1-p1-0", 30.35, B2, False, consumer="consumer-1"),
        closing_handover("consumer-1", "r1-p1-0", 30.36, since=30.0),
    ]
    verdict = check_duplicated(clean_run(*copies), CLEAN)
    assert not verdict.explained and verdict.counts["unexplained"] == 1
    assert verdict.evidence["unexplained"][0]["copies"] == [30.3, 30.35]


def frame_during_close(other_t: float) -> Ledger:
    """consumer-1 begins closing at 30.0; a frame of r1-p1-40 reaches it while the close is under way (before
    it counts as closed), so its ack goes out and is never confirmed and the session's end lists the id; the
    other consumer's copy is at `other_t`, consumer-1's own recorded at 30.2002."""
    return clean_run(
        sent("r1-p1-40", 29.9),
        delivered("r1-p1-40", other_t, B1, True, consumer="consumer-0"),
        delivered("r1-p1-40", 30.2002, B1, consumer="consumer-1"),
        {**session_end(30.3, ["r1-p1-40"], consumer="consumer-1", broker=B1), "since": 30.0},
    )


def test_twin_a_frame_recorded_during_the_close_after_the_brokers_redelivery_is_excused() -> None:
    """Seen on the real cluster (the redelivery control, in a fresh clone's CI run, p1-40 on one broker, the
    copies 0.2 ms apart): the broker took the message back when consumer-1's close reached it and gave it to
    consumer-0, whose receiver thread recorded it before consumer-1's recorded the frame it already had. One
    ack never confirmed, one extra copy: excused, whichever thread recorded first."""
    verdict = check_duplicated(frame_during_close(30.2), CLEAN)
    assert verdict.explained, verdict.evidence["unexplained"]
    assert verdict.evidence["explained_by"] == {"unconfirmed-ack": 1}


def test_bug_a_copy_given_to_another_consumer_before_the_close_began_is_not_excused() -> None:
    """The same two copies, but consumer-0's came at 29.95, before consumer-1 began closing: the broker gave
    one message to two live sessions at once. The unconfirmed ack does not explain it."""
    verdict = check_duplicated(frame_during_close(29.95), CLEAN)
    assert not verdict.explained and [w["id"] for w in verdict.evidence["unexplained"]] == ["r1-p1-40"]


def test_twin_a_held_message_redelivered_after_another_consumers_late_frame_is_excused() -> None:
    """Seen on the real cluster (the redelivery control, a fresh clone's CI run, p1-180): consumer-0 got the
    message and held it (3.731, its ack never sent); consumer-1's closing connection (since 3.667) handed its
    own copy over (3.742); consumer-0's session ended with it unconfirmed (since 3.874) and the broker gave it
    again to consumer-1's next session, across the bridge (4.626). Two extra copies, two acks never confirmed:
    the third copy's unconfirmed one is the first copy, not the one just before it."""
    copies = [
        sent("r1-p1-180", 3.61, broker=B1),
        delivered("r1-p1-180", 3.731278, B1, True, consumer="consumer-0"),
        {**session_end(3.667297, [], consumer="consumer-1", broker=B1), "since": 3.667045},
        delivered("r1-p1-180", 3.741946, B1, consumer="consumer-1"),
        closing_handover("consumer-1", "r1-p1-180", 3.742017, since=3.667045),
        connect("consumer-1", B2, 3.787813),
        {**session_end(3.880805, ["r1-p1-180"], consumer="consumer-0", broker=B1), "since": 3.874521},
        delivered("r1-p1-180", 4.626496, B2, True, consumer="consumer-1"),
    ]
    verdict = check_duplicated(clean_run(*copies), CLEAN)
    assert verdict.explained, verdict.evidence["unexplained"]
    assert verdict.evidence["explained_by"] == {"unconfirmed-ack": 2}


def test_bug_a_copy_before_the_held_messages_session_ended_is_not_excused_by_it() -> None:
    """The same, but the broker gave the held message to consumer-1's next session at 3.80, while consumer-0's
    session still held it (its close began at 3.874): one message dispatched to two live sessions."""
    copies = [
        sent("r1-p1-180", 3.61, broker=B1),
        delivered("r1-p1-180", 3.731278, B1, True, consumer="consumer-0"),
        connect("consumer-1", B2, 3.787813),
        delivered("r1-p1-180", 3.80, B2, True, consumer="consumer-1"),
        {**session_end(3.880805, ["r1-p1-180"], consumer="consumer-0", broker=B1), "since": 3.874521},
    ]
    verdict = check_duplicated(clean_run(*copies), CLEAN)
    assert not verdict.explained and [w["id"] for w in verdict.evidence["unexplained"]] == ["r1-p1-180"]


def test_twin_a_session_that_ended_with_the_ack_unconfirmed_excuses_the_copy_that_follows() -> None:
    history = clean_run(
        session_end(30, ["r1-p0-7"]), connect("consumer-0", B2, 30.5), delivered("r1-p0-7", 31, B2, True)
    )
    verdict = check_duplicated(history, CLEAN)
    assert verdict.explained and verdict.evidence["explained_by"] == {"unconfirmed-ack": 1}


# ------------------------------------------------------------ 2: a fault explains copies close to it
def test_bug_a_broker_that_redelivers_what_was_acked_before_a_kill_long_after_the_recovery() -> None:
    """500 messages delivered and acked before B1 was killed (5 to 10), every one delivered again 30 s after
    the recovery with nothing in force. A fault 'between the two copies' explained them all (under the cap)."""
    again = []
    for n in range(500):
        again += [
            sent(f"r1-p3-{n}", 0.5 + n * 0.008, broker=B1),
            delivered(f"r1-p3-{n}", 0.6 + n * 0.008, B1),
        ]
        again.append(delivered(f"r1-p3-{n}", 42 + n * 0.001, B1, True))
    verdict = check_duplicated(clean_run(*again, deadline_t=80), CLEAN)
    assert verdict.valid is False and not verdict.explained
    assert verdict.counts["unexplained"] == 500


def test_bug_copies_long_after_the_heal_of_a_fault_that_hit_them_in_flight_are_not_excused() -> None:
    """In flight when B1 was killed, yes, but the copy came 40 s after B1 was back and the bridges had
    carried probes within 2 s: no re-send takes that long."""
    history = clean_run(
        sent("r1-p3-0", 4.5, broker=B1), delivered("r1-p3-0", 4.8, B1), delivered("r1-p3-0", 50, B2)
    )
    verdict = check_duplicated(history, CLEAN)
    assert not verdict.explained and verdict.counts["unexplained"] == 1


def test_twin_a_copy_re_sent_once_the_path_came_back_is_excused_with_its_margins() -> None:
    """Delivered at 4.8, its ack lost with B1 (killed at 5); the copy came through B2 at 11, a second after
    B1 started again and within the bridges' measured reconnection."""
    history = clean_run(
        sent("r1-p3-0", 4.5, broker=B1), delivered("r1-p3-0", 4.8, B1), delivered("r1-p3-0", 11, B2)
    )
    verdict = check_duplicated(history, CLEAN)
    assert verdict.explained and verdict.evidence["explained_by"] == {"fault": 1}
    margins = verdict.evidence["fault_margins"]
    assert margins["earliest_before_fault_s"] == 0.2
    assert margins["least_slack_s"] == 6.0  # 10 (heal) + 2 (slowest probe) + 5 (drain) - 11


def test_twin_a_copy_in_a_session_that_began_after_the_heal_gets_its_reconnection() -> None:
    """consumer-0 cut off at 6 came back only at 30 (back-off): its copy at 33 is the session's re-send."""
    history = clean_run(
        sent("r1-p3-0", 4.5, broker=B1),
        delivered("r1-p3-0", 4.8, B1),
        session_end(6, [], broker=B1),
        connect("consumer-0", B2, 30),
        delivered("r1-p3-0", 33, B2),
        deadline_t=80,
    )
    assert check_duplicated(history, CLEAN).explained


# ---------------------------------------------------------------------------- 4: stranded needs demand
def test_bug_a_message_forwarded_to_a_pair_that_never_had_a_consumer_is_stuck_not_stranded() -> None:
    """Both consumers on B1 for the whole run, no fault: a bridge that forwarded r1-p1-0 from B1 to B2 did so
    with no demand there. The old rule called it stranded (it crossed a bridge, no consumer sits on B2)."""
    history = consumers_on_b1(sent("r1-p1-0", 15, broker=B1))
    final = FinalState(queues={B1: {"q": 0}, B2: {"q": 1}}, messages={B2: ["r1-p1-0"]})
    verdict = check_stuck(history, final)
    assert verdict.valid is False and not verdict.explained
    assert verdict.counts["stranded"] == 0
    assert classify_undelivered(history, final) == {"r1-p1-0": f"stuck:{B2}"}


def test_bug_a_message_forwarded_after_its_pairs_consumers_had_left_is_not_stranded() -> None:
    """consumer-0 left B2 at 16; r1-p1-0 was receipted by B1 at 22, when B2's pair had had no demand for 6 s
    (more than its broker needs to notice and withdraw it): whatever took it to B2 was no consumer's demand."""
    final = FinalState(queues={B1: {"q": 0}, B2: {"q": 1}}, messages={B2: ["r1-p1-0"]})
    history = clean_run(session_end(16, []), connect("consumer-0", B1, 16.5), sent("r1-p1-0", 22, broker=B1))
    verdict = check_stuck(history, final)
    assert verdict.valid is False and not verdict.explained


def test_twin_a_message_forwarded_while_its_consumer_was_there_and_left_behind_is_stranded() -> None:
    """consumer-0 on B2 from 0.1 to 16, then on B1; r1-p1-0 receipted by B1 at 15 went to B2 for it."""
    final = FinalState(queues={B1: {"q": 0}, B2: {"q": 1}}, messages={B2: ["r1-p1-0"]})
    history = clean_run(session_end(16, []), connect("consumer-0", B1, 16.5), sent("r1-p1-0", 15, broker=B1))
    verdict = check_stuck(history, final)
    assert verdict.valid is False and verdict.explained
    assert verdict.evidence["stranded_ids"] == {B2: ["r1-p1-0"]}


def test_twin_stranded_on_the_partner_that_took_over_the_store_of_the_pair_its_consumer_left() -> None:
    """move-demand-then-kill: forwarded to B2 while consumer-0 was there, consumer-0 moved away, then B2 was
    killed and S2 took over the store: the message sits on S2, in the same pair's store."""
    final = FinalState(queues={B1: {"q": 0}, S2: {"q": 1}}, messages={S2: ["r1-p1-0"]})
    history = clean_run(session_end(16, []), connect("consumer-0", B1, 16.5), sent("r1-p1-0", 15, broker=B1))
    assert check_stuck(history, final).explained


def test_twin_a_frozen_brokers_consumers_left_but_its_demand_stayed_until_the_thaw() -> None:
    """freeze-master on seed: B2 frozen from 20 to 30; consumer-0's heartbeats gave up on it at 22 and it moved
    to B1, but a frozen broker withdraws no demand: B1's bridge kept forwarding into it (r1-p1-0, sent at 26)."""
    frozen = fault("freeze", B2, 20, heal_t=30)
    moved = [session_end(22, []), connect("consumer-0", B1, 22.5)]
    final = FinalState(queues={B1: {"q": 0}, B2: {"q": 1}}, messages={B2: ["r1-p1-0"]})
    history = clean_run(frozen, *moved, sent("r1-p1-0", 26, broker=B1), deadline_t=80)
    verdict = check_stuck(history, final)
    assert verdict.explained, verdict.to_json()
    assert verdict.evidence["stranded_least_slack_s"] == 8.99  # thaw at 30 + 5 s, sent (receipted) at 26.01
    # the same message sent after the thaw's withdrawal was no stale demand's doing
    late = clean_run(frozen, *moved, sent("r1-p1-0", 36, broker=B1), deadline_t=80)
    assert not check_stuck(late, final).explained


# ------------------------------------------------------------------------------ 5: unknown dominates
def test_bug_an_unreadable_broker_is_not_hidden_by_one_stranded_message_elsewhere() -> None:
    """r1-p1-0 is stranded on B2 (its mechanism seen); B1's browse failed with 40 messages on its queue, and
    S2's JMX read failed entirely. What B1 and S2 hold nobody knows: stuck is unknown, not explained."""
    history = clean_run(session_end(16, []), connect("consumer-0", B1, 16.5), sent("r1-p1-0", 15, broker=B1))
    browse_failed = FinalState(
        queues={B1: {"q": 40}, B2: {"q": 1}},
        messages={B2: ["r1-p1-0"]},
        unreadable={B1: 40},
        reasons={B1: "browse of q failed"},
    )
    verdict = check_stuck(history, browse_failed)
    assert verdict.valid is None, verdict.to_json()
    assert verdict.counts["unread"] == 40
    jmx_failed = FinalState(
        queues={B2: {"q": 1}},
        messages={B2: ["r1-p1-0"]},
        unreadable={S2: None},
        reasons={S2: "JMX queue query failed"},
    )
    assert check_stuck(history, jmx_failed).valid is None


def test_twin_an_unexplained_stuck_message_is_a_violation_whatever_else_could_not_be_read() -> None:
    history = clean_run(sent("r1-p1-0", 15, broker=B2))  # sent to B2, still on B2: stuck, no excuse
    final = FinalState(
        queues={B2: {"q": 1}}, messages={B2: ["r1-p1-0"]}, unreadable={S1: None}, reasons={S1: "frozen"}
    )
    verdict = check_stuck(history, final)
    assert verdict.valid is False and not verdict.explained


# ------------------------------------------------------------------- 8: volatile losses need a holder
NON_PERSISTENT = dataclasses.replace(FACTS, persistent=False)


def test_bug_a_restart_of_the_other_pairs_waiting_node_excuses_no_non_persistent_loss() -> None:
    """r1-p1-0 (non-persistent) was receipted by B1; both consumers sat on B1; the only fault restarted S2,
    the waiting node of the other pair, which never held it. Its loss is a loss."""
    restart = [
        {"t": 16, "p": "nemesis", "type": "invoke", "f": "fault", "action": "restart", "target": S2},
        {"t": 19, "p": "nemesis", "type": "ok", "f": "fault", "action": "restart", "target": S2},
    ]
    history = consumers_on_b1(sent("r1-p1-0", 15, broker=B1), *restart, facts=NON_PERSISTENT)
    verdict = check_lost(history, CLEAN)
    assert verdict.valid is False and not verdict.explained


def test_twin_a_kill_of_the_broker_that_receipted_a_non_persistent_message_excuses_its_loss() -> None:
    history = clean_run(sent("r1-p1-0", 4, broker=B1), facts=NON_PERSISTENT)  # B1 killed at 5
    verdict = check_lost(history, CLEAN)
    assert verdict.valid is False and verdict.explained


def test_twin_a_kill_of_the_broker_it_was_forwarded_to_for_a_consumer_excuses_its_loss() -> None:
    """Receipted by B1, consumer-0 on B2 (demand there, so the bridge forwards it): B2 killed after the
    receipt takes the forwarded copy with it."""
    history = clean_run(
        sent("r1-p1-0", 20.5, broker=B1), fault("kill", B2, 21, heal_t=22), facts=NON_PERSISTENT
    )
    assert check_lost(history, CLEAN).explained


# ------------------------------------------------------------------ 9: sends the broker never answered
def unanswered(
    i: str, t: float, error: str = "TimeoutError: no receipt within 5.0 s", broker: str = B2
) -> list[dict]:
    return [
        {"t": t, "p": "producer-0", "type": "invoke", "f": "send", "id": i},
        {
            "t": t + 5,
            "p": "producer-0",
            "type": "info",
            "f": "send",
            "id": i,
            "broker": broker,
            "error": error,
        },
    ]


def test_bug_sends_swallowed_with_no_fault_and_no_connection_event_are_a_finding() -> None:
    """50 sends that never got a receipt, never delivered, 30 s after the only fault was healed: the broker
    answered nothing. Jepsen's may-or-may-not convention is for sends cut off by a fault."""
    swallowed = [unanswered(f"r1-p0-{100 + n}", 40 + n * 0.01) for n in range(50)]
    history = clean_run(*swallowed, deadline_t=80)
    verdict = check_answered(history, CLEAN)
    assert verdict.valid is False
    assert verdict.counts["unanswered"] == 50
    assert verdict.evidence["unanswered"][0]["id"] == "r1-p0-100"


def test_twin_a_send_cut_off_by_a_fault_may_or_may_not_have_happened() -> None:
    history = clean_run(unanswered("r1-p0-100", 6, broker=B1))  # B1 killed 5 to 10
    verdict = check_answered(history, CLEAN)
    assert verdict.valid is True and verdict.counts["indeterminate"] == 1


def test_bug_a_fault_on_the_other_pair_cuts_off_no_send() -> None:
    """B1 killed 5 to 10; a send to B2, in the other pair, unanswered meanwhile: B2's store and connector
    were untouched, so the kill is no excuse for its silence."""
    verdict = check_answered(clean_run(unanswered("r1-p0-100", 6, broker=B2)), CLEAN)
    assert verdict.valid is False and verdict.evidence["unanswered"][0]["id"] == "r1-p0-100"


def test_twin_a_send_whose_connection_dropped_as_another_clients_did_is_indeterminate() -> None:
    """No fault, but consumer-1's connection dropped at the same moment: something cut the clients off (the
    VIP, the network), which is what may-or-may-not is for. Alone, the dropped send is the broker's."""
    dropped = unanswered("r1-p0-100", 40, error="ConnectionError: connection lost")
    alone = check_answered(clean_run(dropped, deadline_t=80), CLEAN)
    assert alone.valid is False
    beside = session_end(45.5, [], consumer="consumer-1", broker=B1)
    assert check_answered(clean_run(dropped, beside, deadline_t=80), CLEAN).valid is True


def test_answered_is_unknown_with_no_load_in_the_history() -> None:
    from harness.check.ledger import Ledger

    assert check_answered(Ledger.from_history([]), CLEAN).valid is None


# ----------------------------------------------------------------------- 6: silence is no excuse
def sweeps(t0: float, t1: float, serving: list[str], states: dict[str, str] | None = None) -> list[dict]:
    """The sampler's sweeps every 2 s: who answered as a client connector, and (if given) every node's state."""
    extra = {} if states is None else {"states": states}
    return [
        {"t": t, "p": "sampler", "type": "ok", "f": "serving", "nodes": serving, **extra}
        for t in range(int(t0), int(t1), 2)
    ]


MASTERS_LIVE = {B1: "live", S1: "waiting", B2: "live", S2: "waiting"}
SLAVES_LIVE = {B1: "waiting", S1: "live", B2: "waiting", S2: "live"}


def test_bug_a_gap_after_the_recovery_with_the_sampler_unanswered_is_no_excuse() -> None:
    """40 s with no receipt after the recovery, nothing in force; the sampler got no answer from the
    masters, and read them live. Silence explained it before; now it is unknown, never explained."""
    gap = [phase("load-ended", 60), sent("r1-p1-0", 58.5)]
    history = clean_run(*gap, *sweeps(20, 58, [], MASTERS_LIVE), deadline_t=90)
    verdict = check_available(history, CLEAN)
    assert verdict.valid is None and not verdict.explained
    assert "silence explains nothing" in verdict.note
    unread = clean_run(*gap, *sweeps(20, 58, []), deadline_t=90)  # an older history: no states at all
    assert check_available(unread, CLEAN).valid is None


def test_twin_a_gap_while_both_slaves_hold_the_stores_is_explained() -> None:
    gap = [phase("load-ended", 60), sent("r1-p1-0", 58.5)]
    history = clean_run(*gap, *sweeps(20, 58, [], SLAVES_LIVE), deadline_t=90)
    assert check_available(history, CLEAN).explained


def test_twin_a_gap_while_a_fault_is_in_force_on_every_routed_node_is_explained() -> None:
    both_frozen = [*fault("freeze", B1, 19, heal_t=59), *fault("freeze", B2, 19, heal_t=59)]
    gap = [phase("load-ended", 60), sent("r1-p1-0", 58.5)]
    history = clean_run(*gap, *both_frozen, *sweeps(20, 58, [], MASTERS_LIVE), deadline_t=90)
    assert check_available(history, CLEAN).explained


def test_a_gap_while_the_masters_answered_the_sampler_is_a_violation() -> None:
    gap = [phase("load-ended", 60), sent("r1-p1-0", 58.5)]
    history = clean_run(*gap, *sweeps(20, 58, [B1, B2], MASTERS_LIVE), deadline_t=90)
    verdict = check_available(history, CLEAN)
    assert verdict.valid is False and not verdict.explained


# ------------------------------------------------------------------- 7: one live broker per pair
def test_bug_two_live_brokers_in_a_pair_during_the_run_are_a_violation() -> None:
    """seed's lose-lock: the slave locked a new lock file and went live beside the master, who never looked
    at its lock. No other checker looked at the pairs over the run."""
    split = {**MASTERS_LIVE, S1: "live"}
    history = clean_run(*sweeps(14, 20, [B1, B2], split))
    verdict = check_one_live(history, CLEAN)
    assert verdict.valid is False
    assert verdict.evidence["two_live"][0] == {"t": 14, "pair": "01", "live": [B1, S1]}
    assert {v.checker: v.valid for v in check_all(history, CLEAN)}["one-live"] is False


def test_bug_two_live_brokers_at_the_end_are_a_violation() -> None:
    final = FinalState(queues={B1: {"q": 0}, B2: {"q": 0}}, states={**MASTERS_LIVE, S2: "live"})
    verdict = check_one_live(clean_run(), final)
    assert verdict.valid is False and verdict.evidence["two_live"][0]["live"] == [B2, S2]


def test_twin_a_takeover_is_one_live_broker_at_a_time() -> None:
    takeover = [
        *sweeps(2, 6, [B1, B2], MASTERS_LIVE),
        *sweeps(6, 10, [B2], {**MASTERS_LIVE, B1: "down", S1: "starting"}),
        *sweeps(10, 20, [B2], {**MASTERS_LIVE, B1: "waiting", S1: "live"}),
    ]
    final = FinalState(
        queues={S1: {"q": 0}, B2: {"q": 0}}, states={**MASTERS_LIVE, B1: "waiting", S1: "live"}
    )
    verdict = check_one_live(clean_run(*takeover), final)
    assert verdict.valid is True and verdict.counts["readings"] == 11


def test_bug_a_master_serving_while_it_waits_for_a_slave_beside_its_live_former_slave() -> None:
    """Pure master/slave: the master, started again after its slave took over, opens its client connector and
    then blocks in waitForSlave (`starting`); clients reach it and it serves them from its own store while
    its former slave serves the pair too. The states alone show one live broker."""
    blocked = {**MASTERS_LIVE, B1: "starting", S1: "live"}
    history = clean_run(*sweeps(14, 20, [B1, S1, B2], blocked))
    verdict = check_one_live(history, CLEAN)
    assert verdict.valid is False
    assert verdict.evidence["two_live"][0] == {"t": 14, "pair": "01", "live": [B1, S1]}


def test_twin_a_starting_node_that_does_not_answer_or_a_killed_one_that_did_is_no_second_broker() -> None:
    # the blocked master before its connectors open; the old master that answered early in a sweep and was
    # killed before its end (its partner took over in between)
    starting = sweeps(14, 20, [S1, B2], {**MASTERS_LIVE, B1: "starting", S1: "live"})
    killed = sweeps(20, 24, [B1, S1, B2], {**MASTERS_LIVE, B1: "down", S1: "live"})
    assert check_one_live(clean_run(*starting, *killed), CLEAN).valid is True


def test_one_live_is_unknown_when_nothing_read_the_nodes() -> None:
    history = ledger(phase("load", 0), sent("r1-p0-0", 1), phase("load-ended", 2))
    assert check_one_live(history, CLEAN).valid is None


# --------------------------------------------------------------- 2, 3 and 5 for durable subscriptions
def test_bug_one_kill_window_excuses_no_more_durable_copies_than_can_be_in_flight() -> None:
    """B2 killed 5 to 10 with both subscribers on it: 5,000 messages each received at 9.x and again at 10.x,
    all within the window's bounds in time. What two subscribers and one bridge can hold unacknowledged is
    2 x 20 + 2 x 1,000: the rest were re-sent by nothing a kill explains."""

    events: list = [
        phase("load", 0),
        subscribed("subscriber-0", 1, B2),
        subscribed("subscriber-1", 1, B2),
        fault("kill", B2, 5, heal_t=10),
        deadline(50),
    ]
    for n in range(2500):
        message_id = f"r1-t0-{n}"
        events += published(message_id, 4 + n * 0.0001, B1)
        for subscriber in ("subscriber-0", "subscriber-1"):
            events += [received(subscriber, message_id, 9 + n * 0.0001, B2)]
            events += [received(subscriber, message_id, 10.5 + n * 0.0001, B2)]
    verdict = check_durable_duplicated(ledger(*events, facts=TOPIC_FACTS), CLEAN)
    assert verdict.counts["extra-deliveries"] == 5000
    assert verdict.counts["unexplained"] == 5000 - (2 * 20 + 2 * 1000)


def test_bug_a_durable_copy_long_after_the_fault_is_not_excused() -> None:

    events: list = [
        phase("load", 0),
        subscribed("subscriber-0", 1, B2),
        fault("kill", B2, 5, heal_t=10),
        *published("r1-t0-0", 4.5, B1),
        received("subscriber-0", "r1-t0-0", 4.8, B2),
        received("subscriber-0", "r1-t0-0", 45, B2),  # 35 s after the heal, no probe: a 10 s default
        deadline(50),
    ]
    verdict = check_durable_duplicated(ledger(*events, facts=TOPIC_FACTS), CLEAN)
    assert verdict.counts["unexplained"] == 1
    events[6] = received("subscriber-0", "r1-t0-0", 12, B2)  # re-sent once B2 was back
    assert check_durable_duplicated(ledger(*events, facts=TOPIC_FACTS), CLEAN).explained


def test_bug_a_closing_durable_session_given_an_acked_message_again_is_not_excused() -> None:

    events: list = [
        phase("load", 0),
        subscribed("subscriber-0", 1, B2),
        *published("r1-t0-0", 15, B1),
        received("subscriber-0", "r1-t0-0", 16, B2),
        received("subscriber-0", "r1-t0-0", 30.2, B2),
        {**closing_handover("subscriber-0", "r1-t0-0", 30.21, since=30.0), "sub": "subscriber-0"},
        ended("subscriber-0", 30.5),
        deadline(50),
    ]
    verdict = check_durable_duplicated(ledger(*events, facts=TOPIC_FACTS), CLEAN)
    assert verdict.counts["unexplained"] == 1 and not verdict.explained


def test_bug_durable_stuck_hides_no_unreadable_broker_behind_an_excused_one() -> None:
    """Messages wait for subscriber-0 on B1, which it left (DURABLE_AWAY); S2 could not be read at all."""

    events: list = [
        phase("load", 0),
        subscribed("subscriber-0", 1, B1),
        session_end(3, [], consumer="subscriber-0", broker=B1),
        subscribed("subscriber-0", 4, B2),
        *published("r1-t0-0", 2, B1),
        received("subscriber-0", "r1-t0-0", 5, B2),
        deadline(50),
    ]
    history = ledger(*events, facts=TOPIC_FACTS)
    away = FinalState(queues={B1: {}, B2: {}}, durable={B1: {"subscriber-0": 3}, B2: {}})
    assert check_durable_stuck(history, away).explained
    unread = dataclasses.replace(away, unreadable={S2: None}, reasons={S2: "JMX failed"})
    assert check_durable_stuck(history, unread).valid is None


def test_twin_a_durable_copy_that_came_before_its_sessions_subscription_was_confirmed() -> None:
    """durable-topic on seed, SEED=7: subscriber-0's closing connection handed r1-t0-379 over at 8.906 (never
    acked); its next connection, made at 9.981, got it again at 10.024, a moment before the receipt of its
    subscription (10.025). Two sessions, one unconfirmed ack: excused."""

    events: list = [
        phase("load", 0),
        subscribed("subscriber-0", 1, B2),
        *published("r1-t0-379", 8.887, B2),
        {"t": 8.905264, "p": "subscriber-0", "type": "info", "f": "leave", "broker": B2, "unconfirmed": [], "since": 8.905082},
        received("subscriber-0", "r1-t0-379", 8.905733, B2),
        {**closing_handover("subscriber-0", "r1-t0-379", 8.905756, since=8.905082), "sub": "subscriber-0"},
        {"t": 9.9807, "p": "subscriber-0", "type": "ok", "f": "connect", "broker": B2},
        received("subscriber-0", "r1-t0-379", 10.023995, B2),
        subscribed("subscriber-0", 10.024955, B2),
        ended("subscriber-0", 30),
        deadline(50),
    ]  # fmt: skip
    verdict = check_durable_duplicated(ledger(*events, facts=TOPIC_FACTS), CLEAN)
    assert verdict.explained and verdict.evidence["explained_by"] == {"unconfirmed-ack": 1}


def test_twin_a_closing_sessions_late_frame_recorded_after_its_next_session_began() -> None:
    """Seen on the real cluster (the redelivery control, in a fresh clone's CI run): consumer-0 ended with
    p1-30 unconfirmed; the broker gave it to consumer-1, whose session was closing too (since 0.651); its next
    session (from 0.6605) got it at 0.6688, and only then did the old connection hand its own frame over
    (0.6710). Three copies, two acks never confirmed, two sessions of consumer-1: all excused."""
    copies = [
        sent("r1-p1-30", 0.60, broker=B1),
        delivered("r1-p1-30", 0.6417, B1, consumer="consumer-0"),
        session_end(0.65, ["r1-p1-30"], consumer="consumer-0", broker=B1),
        {**session_end(0.6513, [], consumer="consumer-1", broker=B1), "since": 0.651053},
        connect("consumer-1", B1, 0.6605),
        delivered("r1-p1-30", 0.668845, B1, True, consumer="consumer-1"),
        delivered("r1-p1-30", 0.670994, B1, True, consumer="consumer-1"),
        {**closing_handover("consumer-1", "r1-p1-30", 0.671022, since=0.651053)},
    ]
    verdict = check_duplicated(clean_run(*copies), CLEAN)
    assert verdict.explained, verdict.evidence["unexplained"]
    assert verdict.evidence["explained_by"] == {"unconfirmed-ack": 2}
