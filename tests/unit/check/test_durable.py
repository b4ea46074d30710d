"""The durable-subscription checkers on tiny literal histories: per subscriber, what it was owed, what it got,
what waits for it where, and which copies have a mechanism."""

from __future__ import annotations

import dataclasses

import pytest

from harness.check.durable import check_durable_duplicated, check_durable_lost, check_durable_stuck
from harness.check.ledger import Ledger
from harness.check.queues import check_unexpected
from harness.check.registry import check_all
from harness.check.verdict import FinalState
from harness.cluster.introspect import DurableReading, parse_durable_ids, read_durable, split_durable
from tests.support import S0, S1
from tests.unit.check.test_checkers import B1, B2, FACTS, deadline, fault

TOPIC_FACTS = dataclasses.replace(FACTS, subscribers=2)


def published(i: str, t: float, broker: str = B1) -> list[dict]:
    return [
        {"t": t, "p": "publisher-0", "type": "invoke", "f": "publish", "id": i},
        {"t": t + 0.01, "p": "publisher-0", "type": "ok", "f": "publish", "id": i, "broker": broker},
    ]


def subscribed(sub: str, t: float, broker: str = B2) -> dict:
    return {"t": t, "p": sub, "type": "ok", "f": "subscribed", "broker": broker, "sub": sub}


def received(sub: str, i: str, t: float, broker: str = B2) -> dict:
    return {
        "t": t,
        "p": sub,
        "type": "ok",
        "f": "receive",
        "id": i,
        "sub": sub,
        "broker": broker,
        "redelivered": False,
    }


def ended(sub: str, t: float, unconfirmed: tuple[str, ...] = (), broker: str = B2) -> dict:
    return {
        "t": t,
        "p": sub,
        "type": "info",
        "f": "disconnected",
        "broker": broker,
        "unconfirmed": list(unconfirmed),
        "since": t,
    }


def topic_ledger(*parts: list[dict] | dict) -> Ledger:
    events: list[dict] = []
    for part in parts:
        events.extend(part if isinstance(part, list) else [part])
    return Ledger.from_history(sorted(events, key=lambda e: e["t"]), TOPIC_FACTS)


BOTH = [subscribed(S0, 1), subscribed(S1, 1.5)]


def test_every_subscriber_receiving_what_it_was_owed_is_ok() -> None:
    history = topic_ledger(
        *BOTH,
        published("t0-0", 0.5),  # before either subscription: owed to nobody, received by nobody
        published("t0-1", 2),
        published("t0-2", 3),
        [received(s, i, 4) for s in (S0, S1) for i in ("t0-1", "t0-2")],
        deadline(10),
    )
    final = FinalState(durable={B2: {S0: 0, S1: 0}})
    for check in (check_durable_lost, check_durable_stuck, check_durable_duplicated):
        assert check(history, final).valid is True, check(history, final)
    assert check_durable_lost(history, final).evidence["per_subscriber"][S0]["owed"] == 2


def test_a_subscriber_that_misses_messages_is_lost_for_it_alone() -> None:
    history = topic_ledger(
        *BOTH,
        published("t0-1", 2),
        published("t0-2", 3),
        published("t0-3", 4),
        [received(S0, i, 5) for i in ("t0-1", "t0-2", "t0-3")],
        received(S1, "t0-1", 5),  # missed t0-2 and t0-3, though both were published while it existed
        deadline(10),
    )
    verdict = check_durable_lost(history, FinalState(durable={B2: {S0: 0, S1: 0}}))
    assert verdict.valid is False and verdict.counts["lost"] == 2
    assert verdict.evidence["per_subscriber"][S1]["missing_ids"] == ["t0-2", "t0-3"]
    assert verdict.evidence["per_subscriber"][S0]["lost"] == 0
    assert "subscriber-1: 2 of 3 owed" in verdict.note


def test_messages_owed_while_it_was_away_are_owed_all_the_same() -> None:
    """Disconnected is not unsubscribed: its durable subscription goes on existing."""
    history = topic_ledger(
        *BOTH, ended(S1, 1.8), published("t0-1", 2), received(S0, "t0-1", 2.5), deadline(10)
    )
    verdict = check_durable_lost(history, FinalState(durable={B2: {S0: 0, S1: 0}}))
    assert verdict.valid is False and verdict.evidence["per_subscriber"][S1]["missing_ids"] == ["t0-1"]


def test_what_waits_for_a_subscriber_is_stuck_not_lost_and_explained_only_where_it_left() -> None:
    base = [*BOTH, published("t0-1", 2), received(S0, "t0-1", 3), deadline(10)]
    # subscriber-1 moved from B2 to B1: its message waits on B2, where its durable subscription lives
    moved = topic_ledger(*base, ended(S1, 1.8), subscribed(S1, 2.5, broker=B1))
    final = FinalState(
        durable={B2: {S0: 0, S1: 1}, B1: {S1: 0}}, durable_ids={B2: {S0: [], S1: ["t0-1"]}, B1: {S1: []}}
    )
    assert check_durable_lost(moved, final).valid is True
    stuck = check_durable_stuck(moved, final)
    assert stuck.valid is False and stuck.explained
    assert stuck.evidence["per_subscriber"][S1] == {
        "pending": {B2: 1},
        "pending_ids": {B2: ["t0-1"]},
        "late": [],
        "connected_at_deadline": B1,
    }
    # connected to the very broker that holds it: no excuse
    stayed = topic_ledger(*base)
    stuck = check_durable_stuck(stayed, final)
    assert stuck.valid is False and not stuck.explained


def test_messages_on_a_bridge_durable_subscription_are_stuck_in_transit() -> None:
    history = topic_ledger(*BOTH, published("t0-1", 2), deadline(10))
    final = FinalState(
        durable={B1: {"NC-DS_chaos-mq02-a_chaos.x": 1}},
        durable_ids={B1: {"NC-DS_chaos-mq02-a_chaos.x": ["t0-1"]}},
    )
    assert check_durable_lost(history, final).valid is True  # in transit to whoever subscribed across it
    stuck = check_durable_stuck(history, final)
    assert stuck.valid is False and not stuck.explained and stuck.evidence["in_transit_on_bridges"] == {B1: 1}
    assert stuck.evidence["in_transit_ids"] == {B1: {"NC-DS_chaos-mq02-a_chaos.x": ["t0-1"]}}
    # held by a bridge's subscription for a broker that is not live at the end (not read): explained; for one
    # that is live (read), it should have been forwarded: not
    gone = FinalState(durable={B1: {"bridge:chaos-mq02-b": 3}})
    assert check_durable_stuck(history, gone).explained
    there = FinalState(durable={B1: {"bridge:chaos-mq02-b": 3}, "chaos-mq02-b": {}})
    assert not check_durable_stuck(history, there).explained


def test_a_copy_after_an_unconfirmed_ack_is_explained_and_one_without_is_not() -> None:
    explained = topic_ledger(
        *BOTH,
        published("t0-1", 2),
        received(S0, "t0-1", 3),
        ended(S0, 4, ("t0-1",)),
        subscribed(S0, 5),
        received(S0, "t0-1", 5.5),
        received(S1, "t0-1", 3),
        deadline(10),
    )
    verdict = check_durable_duplicated(explained, FinalState())
    assert (
        verdict.valid is False
        and verdict.explained
        and verdict.evidence["explained_by"] == {"unconfirmed-ack": 1}
    )
    bare = topic_ledger(
        *BOTH, published("t0-1", 2), received(S1, "t0-1", 3), received(S1, "t0-1", 6), deadline(10)
    )
    verdict = check_durable_duplicated(bare, FinalState())
    assert verdict.valid is False and not verdict.explained
    assert verdict.evidence["unexplained"] == [{"subscriber": S1, "id": "t0-1", "copies": [3, 6]}]
    with_fault = topic_ledger(
        *BOTH,
        published("t0-1", 2),
        received(S1, "t0-1", 3),
        fault("kill", B2, 4, 5),
        received(S1, "t0-1", 6),
        deadline(10),
    )
    assert check_durable_duplicated(with_fault, FinalState()).explained


def test_copies_from_the_two_pairs_a_subscriber_held_subscriptions_on_are_explained_only_then() -> None:
    """Seen on hardened: the VIP sent the subscriber to pair 02 while pair 01 failed over; its pair-01
    subscription stayed and kept a copy of what was published meanwhile, received again on its return."""
    moved = [
        subscribed(S0, 1, broker=B1),  # pair 01
        ended(S0, 2, broker=B1),
        subscribed(S0, 3, broker=B2),  # pair 02, a second subscription of the same name
        subscribed(S1, 1, broker=B2),
    ]
    twice = topic_ledger(
        *moved,
        published("t0-1", 4, broker=B2),
        received(S0, "t0-1", 4.5, broker=B2),
        received(S1, "t0-1", 4.5, broker=B2),
        ended(S0, 5),
        subscribed(S0, 6, broker="chaos-mq01-b"),  # back on pair 01, served by its other node
        received(S0, "t0-1", 6.5, broker="chaos-mq01-b"),
        deadline(10),
    )
    verdict = check_durable_duplicated(twice, FinalState())
    assert verdict.explained and verdict.evidence["explained_by"] == {"two-subscriptions": 1}
    # the pair-02 subscription made only after the message was published: it kept no copy, so no mechanism
    late = topic_ledger(
        subscribed(S0, 1, broker=B1),
        ended(S0, 2, broker=B1),
        subscribed(S1, 1, broker=B2),
        published("t0-1", 2.5, broker=B2),
        subscribed(S0, 3, broker=B2),
        received(S0, "t0-1", 4.5, broker=B2),
        received(S1, "t0-1", 4.5, broker=B2),
        ended(S0, 5),
        subscribed(S0, 6, broker="chaos-mq01-b"),
        received(S0, "t0-1", 6.5, broker="chaos-mq01-b"),
        deadline(10),
    )
    assert not check_durable_duplicated(late, FinalState()).explained
    # two copies from the same pair are not this mechanism, however many pairs it subscribed on
    same_pair = topic_ledger(
        *moved,
        published("t0-1", 4, broker=B2),
        received(S0, "t0-1", 4.5, broker=B2),
        received(S1, "t0-1", 4.5, broker=B2),
        received(S0, "t0-1", 6.5, broker="chaos-mq02-b"),
        deadline(10),
    )
    assert not check_durable_duplicated(same_pair, FinalState()).explained


OWED = [f"t0-{n}" for n in range(10)]
MISSING = OWED[7:]


def owed_ten_received_seven() -> Ledger:
    """subscriber-0, on B2, owed t0-0 .. t0-9 and received t0-0 .. t0-6: t0-7 .. t0-9 never came."""
    return topic_ledger(
        subscribed(S0, 1),
        *(published(i, 2 + n) for n, i in enumerate(OWED)),
        [received(S0, i, 20 + n) for n, i in enumerate(OWED[:7])],
        deadline(40),
    )


def test_a_leftover_subscription_holding_received_copies_does_not_cancel_a_loss() -> None:
    """Issue 26, hole 1: a same-name subscription on the other pair holds 3 copies subscriber-0 already
    received; netting counts (3 never received - 3 pending) called the 3 real losses ok."""
    final = FinalState(
        durable={B2: {S0: 0}, B1: {S0: 3}},
        durable_ids={B2: {S0: []}, B1: {S0: ["t0-0", "t0-1", "t0-2"]}},
    )
    verdict = check_durable_lost(owed_ten_received_seven(), final)
    assert verdict.valid is False
    assert verdict.counts == {"subscribers": 1, "owed": 10, "lost": 3}
    assert verdict.evidence["per_subscriber"][S0]["lost_ids"] == MISSING


def test_the_very_ids_pending_for_its_own_subscription_or_a_bridge_are_not_lost() -> None:
    missing = MISSING
    for final in (
        FinalState(durable={B2: {S0: 3}}, durable_ids={B2: {S0: missing}}),  # where it is connected
        FinalState(durable={B2: {S0: 0}, B1: {S0: 3}}, durable_ids={B2: {S0: []}, B1: {S0: missing}}),
        FinalState(  # on their way over a bridge
            durable={B2: {S0: 0}, B1: {"bridge:chaos-mq02-a": 3}},
            durable_ids={B2: {S0: []}, B1: {"bridge:chaos-mq02-a": missing}},
        ),
    ):
        verdict = check_durable_lost(owed_ten_received_seven(), final)
        assert verdict.valid is True, verdict
        assert verdict.counts["lost"] == 0
    # pending for another subscriber's subscription is no excuse
    theirs = FinalState(durable={B2: {S0: 0, S1: 3}}, durable_ids={B2: {S0: [], S1: missing}})
    assert check_durable_lost(owed_ten_received_seven(), theirs).valid is False


def test_a_subscription_whose_ids_could_not_be_read_leaves_a_loss_unknown() -> None:
    final = FinalState(
        durable={B2: {S0: 0}, B1: {S0: 3}},
        durable_ids={B2: {S0: []}, B1: {}},
        durable_unread={B1: {S0: "browse returned 2 ids, PendingQueueSize 3"}},
    )
    verdict = check_durable_lost(owed_ten_received_seven(), final)
    assert verdict.valid is None
    assert f"{S0} on {B1}" in verdict.note and "PendingQueueSize 3" in verdict.note
    # nothing pending, but messages dispatched to it and not acknowledged, which a browse cannot tell apart
    in_flight = FinalState(
        durable={B2: {S0: 0}}, durable_ids={B2: {}}, durable_unread={B2: {S0: "a browse does not say whose"}}
    )
    assert check_durable_lost(owed_ten_received_seven(), in_flight).valid is None
    # what it holds may be more than was read: those read are excused, the rest undecided
    partial = dataclasses.replace(final, durable_ids={B2: {S0: []}, B1: {S0: ["t0-0", "t0-7"]}})
    verdict = check_durable_lost(owed_ten_received_seven(), partial)
    assert verdict.valid is None and verdict.evidence["per_subscriber"][S0]["undecided_ids"] == [
        "t0-8",
        "t0-9",
    ]


def test_ids_held_for_several_subscriptions_are_undecided_only_where_another_subscriber_may_hold_them() -> (
    None
):
    """The topic's store on B1 holds ids for subscriber-0's and subscriber-1's subscriptions there, not
    split among them: an id it does not hold is held for neither, one it holds may be held for either."""
    shared = FinalState(
        durable={B2: {S0: 0}, B1: {S0: 3, S1: 2}},
        durable_ids={B2: {S0: []}, B1: {}},
        durable_held={B1: ["t0-0", "t0-1", "t0-8"]},
        durable_unread={B1: dict.fromkeys((S0, S1), "a browse does not say whose")},
    )
    verdict = check_durable_lost(owed_ten_received_seven(), shared)
    assert verdict.valid is False  # t0-8 may wait there; t0-7 and t0-9 wait nowhere
    assert verdict.evidence["per_subscriber"][S0]["lost_ids"] == ["t0-7", "t0-9"]
    assert verdict.evidence["per_subscriber"][S0]["undecided_ids"] == ["t0-8"]
    shared.durable_held[B1] = ["t0-0", "t0-1", "t0-2", *MISSING]
    assert check_durable_lost(owed_ten_received_seven(), shared).valid is None
    # held for its own subscription and a bridge's only: every one of them is on its way to it
    bridged = dataclasses.replace(
        shared,
        durable={B2: {S0: 0}, B1: {S0: 3, "bridge:chaos-mq02-a": 2}},
        durable_unread={B1: dict.fromkeys((S0, "bridge:chaos-mq02-a"), "a browse does not say whose")},
    )
    assert check_durable_lost(owed_ten_received_seven(), bridged).valid is True


def test_a_shared_store_is_weighed_by_which_subscriptions_are_old_enough_to_hold_each_id() -> None:
    """durable-topic on hardened, SEED=7: the store on chaos-mq02-a held 341 messages for a bridge's
    subscription and subscriber-1's leftover one, not split; subscriber-0 missed 113 ids, all published
    before subscriber-1 ever connected to that pair, so its subscription there cannot hold them: they are the
    bridge's, on their way. Published after that connection, they may be subscriber-1's: undecided."""
    shared = FinalState(
        durable={B2: {S0: 0}, B1: {S1: 3, "bridge:chaos-mq02-a": 3}},
        durable_ids={B2: {S0: []}, B1: {}},
        durable_held={B1: [*MISSING, "t0-0"]},
        durable_unread={B1: dict.fromkeys((S1, "bridge:chaos-mq02-a"), "a browse does not say whose")},
    )

    def history(connected_at: float) -> Ledger:
        connect = {"t": connected_at, "p": S1, "type": "ok", "f": "connect", "broker": B1}
        return topic_ledger(
            subscribed(S0, 1),
            connect,
            subscribed(S1, connected_at + 0.05, broker=B1),
            *(published(i, 2 + n) for n, i in enumerate(OWED)),
            [received(S0, i, 20 + n) for n, i in enumerate(OWED[:7])],
            deadline(40),
        )

    assert check_durable_lost(history(12), shared).valid is True  # after t0-9 (11): the bridge's
    early = check_durable_lost(history(5), shared).evidence["per_subscriber"][S0]
    assert (early["lost"], early["undecided_ids"]) == (0, MISSING)


def test_an_id_a_subscription_read_on_its_own_holds_is_not_the_bridges_for_certain() -> None:
    """durable-topic on hardened, SEED=531661329: the store on chaos-mq01-a held ids for a bridge's
    subscription and subscriber-1's leftover one. With subscriber-1's read on its own (reattached), an id it
    holds explains the store's copy: the bridge may hold it too, or not. The bug this keeps out: subscriber-0
    lost t0-8, subscriber-1's leftover holds a copy of it, the bridge holds the two others; weighing every
    stored id as the bridge's (the only subscription left unread) called the loss in transit, ok."""
    bridge = "bridge:chaos-mq02-a"
    final = FinalState(
        durable={B2: {S0: 0}, B1: {S1: 1, bridge: 3}},
        durable_ids={B2: {S0: []}, B1: {S1: ["t0-8"]}},
        durable_held={B1: MISSING},
        durable_unread={B1: {bridge: "a browse does not say whose"}},
    )
    verdict = check_durable_lost(owed_ten_received_seven(), final)
    assert verdict.valid is None
    assert verdict.evidence["per_subscriber"][S0]["undecided_ids"] == ["t0-8"]
    assert verdict.evidence["per_subscriber"][S0]["pending-found"] == 2  # the two only the bridge can hold
    # the bridge's own ids pinned (what the store holds beyond subscriber-1's, as many as it counts): lost
    pinned = dataclasses.replace(
        final,
        durable={B2: {S0: 0}, B1: {S1: 1, bridge: 2}},
        durable_ids={B2: {S0: []}, B1: {S1: ["t0-8"], bridge: ["t0-7", "t0-9"]}},
        durable_held={},
        durable_unread={},
    )
    verdict = check_durable_lost(owed_ten_received_seven(), pinned)
    assert verdict.valid is False and verdict.evidence["per_subscriber"][S0]["lost_ids"] == ["t0-8"]
    # its twin: the bridge holds all three on their way to subscriber-0 (subscriber-1 read holding none)
    twin = dataclasses.replace(
        final, durable={B2: {S0: 0}, B1: {S1: 0, bridge: 3}}, durable_ids={B2: {S0: []}, B1: {S1: []}}
    )
    assert check_durable_lost(owed_ten_received_seven(), twin).valid is True


def test_a_final_state_without_ids_nets_nothing() -> None:
    """Read before ids were: a count above 0 cannot excuse a given id, so a subscriber that never received
    something is unknown; counts of 0 still say nothing waits for it anywhere."""
    counts_only = FinalState(durable={B2: {S0: 0}, B1: {S0: 3}})
    verdict = check_durable_lost(owed_ten_received_seven(), counts_only)
    assert verdict.valid is None and "never read" in verdict.note
    nothing_pending = FinalState(durable={B2: {S0: 0}, B1: {S0: 0}})
    assert check_durable_lost(owed_ten_received_seven(), nothing_pending).valid is False
    # a broker that was read live, but whose durable subscriptions were not read at all
    never_read = FinalState(queues={B1: {"q": 0}, B2: {"q": 0}}, durable={B2: {S0: 0}})
    assert check_durable_lost(owed_ten_received_seven(), never_read).valid is None


def test_no_confirmed_subscription_or_an_unreadable_broker_decides_nothing() -> None:
    nobody = topic_ledger(published("t0-1", 2), deadline(10))
    assert {
        v.checker: v.valid for v in check_all(nobody, FinalState()) if v.checker.startswith("durable")
    } == {
        "durable-lost": None,
        "durable-duplicated": None,
        "durable-stuck": None,
    }
    history = topic_ledger(*BOTH, published("t0-1", 2), received(S0, "t0-1", 3), deadline(10))
    unread = FinalState(unreadable={B2: None}, reasons={B2: "frozen, may be live"})
    assert check_durable_lost(history, unread).valid is None
    assert check_durable_stuck(history, unread).valid is None


def test_a_subscriber_copy_that_is_corrupt_or_never_published_is_unexpected() -> None:
    wrong = {**received(S0, "t0-1", 3), "mismatch": {"destination": "/topic/other", "body": "t0-1"}}
    ghost = received(S1, "ghost-t9-9", 4)
    history = topic_ledger(*BOTH, published("t0-1", 2), wrong, received(S1, "t0-1", 3), ghost, deadline(10))
    verdict = check_unexpected(history, FinalState())
    assert verdict.valid is False
    assert (verdict.counts["mismatched"], verdict.counts["foreign"]) == (1, 1)
    assert verdict.evidence["unexpected"] == ["ghost-t9-9"]


# amq-durable-ids' output (images/java/AmqDurableIds.java) on Debian's 5.17.2, 2026-12-06: an offline durable
# subscriber holding 3 messages alone, then a second subscription made before a 4th message; the same with
# MAX 2; an active subscriber (prefetch 2, no acks) sent 3 persistent and 2 non-persistent messages
ONE_HOLDS = """\
sub	r1-subscriber-0	subscriber-0	3	0	false
browsed	subscriber-0
msg	ID:b3fd3e703faf-39803-1796574310656-4:3:-1:1:1	r1-t0-1
msg	ID:b3fd3e703faf-39803-1796574310656-4:4:-1:1:1	r1-t0-2
msg	ID:b3fd3e703faf-39803-1796574310656-4:5:-1:1:1	r1-t0-3
end	3	0	stable
"""
TWO_HOLD = """\
sub	r1-subscriber-0	subscriber-0	4	0	false
sub	r1-subscriber-1	subscriber-1	1	0	false
browsed	subscriber-0
msg	ID:b3fd3e703faf-39803-1796574310656-4:3:-1:1:1	r1-t0-1
msg	ID:b3fd3e703faf-39803-1796574310656-4:4:-1:1:1	r1-t0-2
msg	ID:b3fd3e703faf-39803-1796574310656-4:5:-1:1:1	r1-t0-3
msg	ID:b3fd3e703faf-39803-1796574310656-4:7:-1:1:1	r1-t0-4
end	4	0	stable
"""
TOO_BIG = """\
sub	r1-subscriber-0	subscriber-0	4	0	false
sub	r1-subscriber-1	subscriber-1	1	0	false
skipped	5	2
end	0	0	stable
"""
ACTIVE_MIXED = """\
sub	active-0	subscriber-0	3	2	true
browsed	subscriber-0
msg	ID:994f9ca26d33-42297-1796574497419-4:3:-1:1:1	p1
msg	ID:994f9ca26d33-42297-1796574497419-4:4:-1:1:1	p2
msg	ID:994f9ca26d33-42297-1796574497419-4:5:-1:1:1	p3
end	3	0	stable
"""
HELD = ["r1-t0-1", "r1-t0-2", "r1-t0-3", "r1-t0-4"]
HOLDS_NOTHING = "sub\tr1-subscriber-0\tsubscriber-0\t0\t0\tfalse\nend\t0\t0\tstable\n"


def read(output: str) -> DurableReading:
    return split_durable(parse_durable_ids(output))


def test_the_ids_a_real_broker_listed_go_to_the_one_subscription_holding_them() -> None:
    reading = read(ONE_HOLDS)
    assert reading.pending == {S0: 3}
    assert reading.ids == {S0: ["r1-t0-1", "r1-t0-2", "r1-t0-3"]}
    assert (reading.held, reading.unread) == (None, {})
    assert read(HOLDS_NOTHING).ids == {S0: []}  # nothing held: no browse, and nothing pending
    assert read("end\t0\t0\tstable\n") == DurableReading()  # no durable subscription there at all


def test_ids_held_for_several_subscriptions_are_only_what_any_of_them_may_hold() -> None:
    """JMX's browse of a durable subscription returns the topic's whole store on that broker: the 4 ids,
    though subscriber-1 holds 1 of them (ActiveMQ's ManagedRegionBroker.getSubscriberMessages)."""
    reading = read(TWO_HOLD)
    assert reading.pending == {S0: 4, S1: 1}
    assert reading.ids == {}
    assert reading.held == ["r1-t0-1", "r1-t0-2", "r1-t0-3", "r1-t0-4"]
    assert set(reading.unread) == {S0, S1} and "does not say whose" in reading.unread[S0]


class FakeNode:
    """A node's tools as read_durable runs them: amq-durable-ids answers `listing` (its counts, without the
    msg lines, when asked for a browse of at most 0), stomp-subscription-ids answers per client id."""

    def __init__(self, listing: str, attached: dict[str, tuple[int, list[str]]], after: str = "") -> None:
        self.listing, self.attached, self.after = listing, attached, after
        self.commands: list[list[str]] = []

    def __call__(self, command: list[str], timeout: float) -> tuple[int, str]:
        self.commands.append(command)
        if command[0] == "amq-durable-ids":
            listing = self.after or self.listing if command[2] == "0" else self.listing
            if command[2] == "0":
                subs = [line for line in listing.splitlines() if line.startswith("sub\t")]
                return 0, "\n".join([*subs, "skipped\t1\t0", "end\t0\t0\tstable", ""])
            return 0, listing
        code, ids = self.attached[command[2]]
        why = "" if code == 0 else "stomp-subscription-ids: fewer came than counted\n"
        return code, "".join(f"ID:m-{i}\t{i}\n" for i in ids) + f"{len(ids)}\n" + why


def test_each_offline_subscribers_own_ids_are_read_by_reattaching_to_it() -> None:
    """The store's 4 ids, held for subscriber-0 (4) and subscriber-1 (1): each reattached on its own says
    which are its; their counts unchanged afterwards, they are known, and nothing is left undecided."""
    node = FakeNode(TWO_HOLD, {"r1-subscriber-0": (0, HELD), "r1-subscriber-1": (0, ["r1-t0-4"])})
    reading = read_durable(node, "chaos.topic", 100, persistent=True)
    assert reading.ids == {S0: HELD, S1: ["r1-t0-4"]} and (reading.held, reading.unread) == (None, {})
    attach = [c for c in node.commands if c[0] == "stomp-subscription-ids"]
    assert attach == [
        ["stomp-subscription-ids", "chaos.topic", "r1-subscriber-0", S0, "4"],
        ["stomp-subscription-ids", "chaos.topic", "r1-subscriber-1", S1, "1"],
    ]


def test_a_bridges_ids_are_what_the_store_holds_beyond_the_subscribers_when_its_count_says_so() -> None:
    """A bridge's subscription cannot be reattached to (its bridge holds it): what the store holds beyond
    subscriber-1's own ids is the bridge's when there are as many as the bridge counts, else unread."""
    bridged = TWO_HOLD.replace(
        "r1-subscriber-0\tsubscriber-0\t4", "NC_chaos-mq02-a_inbound_chaos-mq01-a\tNC\t3"
    )
    node = FakeNode(bridged, {"r1-subscriber-1": (0, ["r1-t0-4"])})
    reading = read_durable(node, "chaos.topic", 100, persistent=True)
    assert reading.ids == {S1: ["r1-t0-4"], "bridge:chaos-mq02-a": HELD[:3]} and reading.unread == {}
    more = bridged.replace("\tNC\t3", "\tNC\t4")  # the bridge holds r1-t0-4 as well, or a count is off
    reading = read_durable(FakeNode(more, {"r1-subscriber-1": (0, ["r1-t0-4"])}), "chaos.topic", 100, True)
    assert reading.ids == {S1: ["r1-t0-4"]} and set(reading.unread) == {"bridge:chaos-mq02-a"}
    assert reading.held == HELD


def test_a_reattachment_that_fails_or_moves_the_counts_leaves_the_subscription_unread() -> None:
    failed = FakeNode(TWO_HOLD, {"r1-subscriber-0": (1, HELD[:2]), "r1-subscriber-1": (0, ["r1-t0-4"])})
    reading = read_durable(failed, "chaos.topic", 100, persistent=True)
    assert reading.ids == {S1: ["r1-t0-4"]} and set(reading.unread) == {S0}
    assert "reattaching to it to read its own ids failed: stomp-subscription-ids: fewer" in reading.unread[S0]
    moved = FakeNode(
        TWO_HOLD,
        {"r1-subscriber-0": (0, HELD), "r1-subscriber-1": (0, ["r1-t0-4"])},
        after=TWO_HOLD.replace("\t1\t0\tfalse", "\t0\t0\tfalse"),
    )
    reading = read_durable(moved, "chaos.topic", 100, persistent=True, settle=0)
    assert reading.ids == {} and set(reading.unread) == {S0, S1}
    assert "counts were not the same afterwards" in reading.unread[S1]
    # a subscriber attached to it now: not reattached to (its client id is in use), left unread
    active = FakeNode(TWO_HOLD.replace("\t1\t0\tfalse", "\t0\t1\ttrue"), {"r1-subscriber-0": (0, HELD)})
    reading = read_durable(active, "chaos.topic", 100, persistent=True)
    assert reading.ids == {S0: HELD} and set(reading.unread) == {S1}


def test_a_browse_that_cannot_vouch_for_its_ids_leaves_them_unread() -> None:
    assert read(TOO_BIG).unread == dict.fromkeys(
        (S0, S1), "not browsed: it would load 5 messages, more than 2"
    )
    failed = TOO_BIG.replace("skipped\t5\t2", "failed\tjava.lang.OutOfMemoryError: Java heap space")
    assert read(failed).unread[S0] == "browse failed: java.lang.OutOfMemoryError: Java heap space"
    short = ONE_HOLDS.replace("\t3\t0\tfalse", "\t4\t0\tfalse")  # 3 ids for 4 pending: cut short
    assert read(short).unread == {S0: "browsed 3 messages, PendingQueueSize 4 for subscriber-0"}
    assert read(short).ids == {
        S0: ["r1-t0-1", "r1-t0-2", "r1-t0-3"]
    }  # its own, all 3: nothing else holds any
    # the same with persistent messages only: the store holds all it holds, the fourth is a count (AMQ-9435)
    whole = split_durable(parse_durable_ids(short), persistent=True)
    assert (whole.ids, whole.unread, whole.phantom) == ({S0: ["r1-t0-1", "r1-t0-2", "r1-t0-3"]}, {}, {S0: 1})
    moved = ONE_HOLDS.replace("stable", "moved")
    assert read(moved).unread == {S0: "its counts changed while the topic was browsed"}
    unconverted = ONE_HOLDS.replace("end\t3\t0", "end\t3\t1")
    assert "could not convert 1" in read(unconverted).unread[S0]
    # dispatched to the active subscriber, not acknowledged: held for it all the same
    dispatched = ONE_HOLDS.replace("\t3\t0\tfalse", "\t2\t1\ttrue")
    assert read(dispatched).ids == {S0: ["r1-t0-1", "r1-t0-2", "r1-t0-3"]} and not read(dispatched).unread
    more = ONE_HOLDS.replace("\t3\t0\tfalse", "\t2\t0\tfalse")  # stored, and held for nobody by its count
    assert read(more).ids == {} and "more than its counts" in read(more).unread[S0]
    # 5.17.2, an active subscriber (prefetch 2, no acks) sent 3 persistent and 2 non-persistent messages:
    # these 2 are pending, in no store, in no browse
    assert read(ACTIVE_MIXED).unread == {
        S0: "browsed 3 messages, PendingQueueSize 3, DispatchedQueueSize 2 for subscriber-0"
    }
    offline = ACTIVE_MIXED.replace("\t3\t2\ttrue", "\t5\t0\tfalse")  # the same once it disconnected
    assert read(offline).unread == {S0: "browsed 3 messages, PendingQueueSize 5 for subscriber-0"}


# The same at the end of SEED=7 durable-topic on seed, 2026-12-06: on chaos-mq01-b, which had taken over its
# pair (its log: "Duplicate message add attempt rejected" as it recovered the store), both subscribers'
# subscriptions count 80 pending that the topic's store does not hold; on chaos-mq02-a the two
# subscriptions one bridge has there (its own connector's and the peer's duplex one) hold 570 each, and the
# browse stopped at 400 (this generates that output line for line)
TOOK_OVER = (
    "sub\t916ac6-subscriber-0\tsubscriber-0\t80\t0\tfalse\n"
    "sub\t916ac6-subscriber-1\tsubscriber-1\t80\t0\tfalse\n"
    "sub\tchaos-mq01-b-chaos_chaos-mq02-a_inbound_chaos-mq01-b\tNC-DS_chaos-mq01-b_chaos.durable-topic\t0\t0\ttrue\n"
    "browsed\tsubscriber-0\nend\t0\t0\tstable\n"
)
BRIDGE_BACKLOG = (
    "sub\t916ac6-subscriber-0\tsubscriber-0\t0\t0\ttrue\n"
    "sub\t916ac6-subscriber-1\tsubscriber-1\t0\t0\ttrue\n"
    "sub\tchaos-mq01-a-chaos_chaos-mq01-a_inbound_chaos-mq02-a\tNC-DS_chaos-mq02-a_chaos.durable-topic\t570\t0\tfalse\n"
    "sub\tchaos-mq02-a-chaos_chaos-mq01-a_inbound_chaos-mq02-a\tNC-DS_chaos-mq02-a_chaos.durable-topic\t570\t0\tfalse\n"
    "browsed\tsubscriber-0\n"
    + "".join(
        f"msg\tID:chaos-mq02-a-42775-1796575822795-4:19:-1:1:{n + 83}\t916ac6-t0-{n + 82}\n"
        for n in range(400)
    )
    + "end\t400\t0\tstable\n"
)


def test_counts_the_store_does_not_hold_and_a_browse_cut_at_400_are_read_for_what_they_are() -> None:
    took_over = read(TOOK_OVER)
    assert took_over.pending == {S0: 80, S1: 80, "bridge:chaos-mq02-a": 0}
    assert took_over.ids == {"bridge:chaos-mq02-a": []} and took_over.held is None
    assert took_over.unread == {
        S0: "browsed 0 messages, PendingQueueSize 80 for subscriber-0",
        S1: "browsed 0 messages, PendingQueueSize 80 for subscriber-1",
    }
    # a run that published persistent messages only: the store holds every message still held, so the 80
    # each subscription counts beyond it are counts, not messages (AMQ-9435), and nothing is undecided
    persistent = split_durable(parse_durable_ids(TOOK_OVER), persistent=True)
    assert (persistent.held, persistent.phantom) == ([], {S0: 80, S1: 80})
    assert persistent.vouched() == {S0: 0, S1: 0, "bridge:chaos-mq02-a": 0}
    backlog = read(BRIDGE_BACKLOG)
    assert backlog.pending == {S0: 0, S1: 0, "bridge:chaos-mq01-a": 1140}  # the same 570, counted twice
    bridge = backlog.ids["bridge:chaos-mq01-a"]  # held for it, every one: nothing else holds any there
    assert (len(bridge), bridge[0], bridge[-1]) == (400, "916ac6-t0-82", "916ac6-t0-481")
    assert backlog.unread == {
        "bridge:chaos-mq01-a": "browsed 400 messages, PendingQueueSize 570 for bridge:chaos-mq01-a"
    }
    # had the browse not stopped, the two subscriptions' 570 would be all the bridge holds
    whole = BRIDGE_BACKLOG.replace("end\t400", "end\t570").replace(
        "browsed\tsubscriber-0\n",
        "browsed\tsubscriber-0\n" + "".join(f"msg\tID:x-{n}\t916ac6-t0-{n + 482}\n" for n in range(170)),
    )
    assert len(read(whole).ids["bridge:chaos-mq01-a"]) == 570 and not read(whole).unread


def test_a_bridge_subscription_is_named_for_the_broker_it_forwards_to() -> None:
    bridge = "sub\tchaos-mq01-a-g1_chaos-mq02-a_inbound_chaos-mq01-a\tNC_DS\t1\t0\ttrue\n"
    output = bridge + "browsed\tNC_DS\nmsg\tID:x-1:1:-1:1:1\tr1-t0-9\nend\t1\t0\tstable\n"
    assert read(output).ids == {"bridge:chaos-mq02-a": ["r1-t0-9"]}
    nameless = output.replace("\tr1-t0-9", "\t")
    assert read(nameless).ids == {"bridge:chaos-mq02-a": ["?"]}


def test_a_listing_that_stopped_part_way_is_an_error() -> None:
    with pytest.raises(ValueError, match="no end record"):
        parse_durable_ids(ONE_HOLDS.replace("end\t3\t0\tstable\n", ""))
    with pytest.raises(ValueError, match="2 messages listed, 3 counted"):
        parse_durable_ids(
            ONE_HOLDS.replace("msg\tID:b3fd3e703faf-39803-1796574310656-4:5:-1:1:1\tr1-t0-3\n", "")
        )
    # the JVM's own lines around the records are not records
    assert read("Picked up JAVA_TOOL_OPTIONS: -Xss1m\n" + ONE_HOLDS).ids == read(ONE_HOLDS).ids
