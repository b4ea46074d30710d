"""The durable-subscription checkers on tiny literal histories: per subscriber, what it was owed, what it got,
what waits for it where, and which copies have a mechanism."""

from __future__ import annotations

import dataclasses

from harness.check.checkers import FinalState, Ledger, check_all, check_unexpected
from harness.check.durable import check_durable_duplicated, check_durable_lost, check_durable_stuck
from tests.test_checkers import B1, B2, FACTS, deadline, fault

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


S0, S1 = "subscriber-0", "subscriber-1"
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
    final = FinalState(durable={B2: {S0: 0, S1: 1}, B1: {S1: 0}})
    assert check_durable_lost(moved, final).valid is True
    stuck = check_durable_stuck(moved, final)
    assert stuck.valid is False and stuck.explained
    assert stuck.evidence["per_subscriber"][S1] == {
        "pending": {B2: 1},
        "late": [],
        "connected_at_deadline": B1,
    }
    # connected to the very broker that holds it: no excuse
    stayed = topic_ledger(*base)
    stuck = check_durable_stuck(stayed, final)
    assert stuck.valid is False and not stuck.explained


def test_messages_on_a_bridge_durable_subscription_are_stuck_in_transit() -> None:
    history = topic_ledger(*BOTH, published("t0-1", 2), deadline(10))
    final = FinalState(durable={B1: {"NC-DS_chaos-mq02-a_chaos.x": 1}})
    assert check_durable_lost(history, final).valid is True  # one in transit may be either's
    stuck = check_durable_stuck(history, final)
    assert stuck.valid is False and not stuck.explained and stuck.evidence["in_transit_on_bridges"] == {B1: 1}
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
