"""conduit, freed and marked-slow on literal probe readings: the clean reading, the bug each one is for, and every way
the evidence can be missing (unknown, never ok)."""

from __future__ import annotations

from harness.check.conduit import check_conduit
from harness.check.freed import check_freed
from harness.check.ledger import Ledger
from harness.check.marked_slow import check_marked_slow
from harness.check.registry import CHECKERS, check_all
from harness.check.verdict import FinalState

A, B = "chaos-mq01-a", "chaos-mq02-a"


def demand(*bridges: tuple[int, int, int], kind: str = "ok") -> list[dict]:
    """A probe's reading: per bridge, its subscriptions on the plain topic and on each part of the composite."""
    where = {"what": "topic-demand", "local": A, "remote": B, "consumers": 2}
    reading = {"t": 5.0, "p": "probe", "type": kind, "f": "reading", **where}
    counts = {
        f"{B}-bridge-{n}": {"chaos.probe.plain": plain, "chaos.probe.left": left, "chaos.probe.right": right}
        for n, (plain, left, right) in enumerate(bridges)
    }
    reading |= {"bridges": counts}
    if kind == "ok":
        reading |= {"plain": "chaos.probe.plain"}
    else:
        reading |= {"error": "the bridges' demand did not hold still in 30 s"}
    return [{"t": 4.0, "p": "probe", "type": "invoke", "f": "reading", **where}, reading]


def churn(before: int, holding: int, after: int, kind: str = "ok") -> list[dict]:
    where = {"what": "unsubscribed-freed", "node": A, "held": 20, "cycles": 200}
    reading = {"t": 9.0, "p": "probe", "type": kind, "f": "reading", **where}
    if kind == "ok":
        reading |= {"before": before, "holding": holding, "after": after}
    else:
        reading |= {"error": "class histogram failed (1)"}
    return [{"t": 8.0, "p": "probe", "type": "invoke", "f": "reading", **where}, reading]


def full(dispatched: int, size: int, slow: bool, kind: str = "ok") -> list[dict]:
    """A full-consumer reading: the probe's consumer (prefetch 5) holding `dispatched`, `size` on the queue."""
    where = {"what": "full-consumer", "node": A, "prefetch": 5, "sent": 20}
    reading = {"t": 7.0, "p": "probe", "type": kind, "f": "reading", **where}
    if kind == "ok":
        reading |= {"dispatched": dispatched, "size": size, "slow": slow, "held": dispatched}
    else:
        reading |= {"error": "timed out after 30s waiting for a full prefetch with messages behind it"}
    return [{"t": 6.0, "p": "probe", "type": "invoke", "f": "reading", **where}, reading]


def test_composite_parts_with_the_plain_topics_one_subscription_are_conduit() -> None:
    verdict = check_conduit(Ledger.from_history(demand((1, 1, 1), (1, 1, 1))), FinalState())
    assert verdict.valid is True and verdict.counts == {"bridges": 2, "extra-subscriptions": 0}


def test_one_bridge_subscription_per_composite_consumer_fails_conduit() -> None:
    """AMQ-9262 as 5.17.2 shows it: two consumers of a composite destination, two subscriptions on one bridge
    (the other bridge carries none of the composite's demand, which is not this property)."""
    verdict = check_conduit(Ledger.from_history(demand((1, 0, 0), (1, 2, 2))), FinalState())
    assert verdict.valid is False
    assert verdict.counts == {"bridges": 2, "extra-subscriptions": 2}
    assert [(e["bridge"], e["topic"]) for e in verdict.evidence["extra"]] == [
        (f"{B}-bridge-1", "chaos.probe.left"),
        (f"{B}-bridge-1", "chaos.probe.right"),
    ]
    assert f"held 2 subscriptions on chaos.probe.left on {B}" in verdict.note


def test_conduit_is_judged_per_bridge_against_its_plain_topic() -> None:
    # a bridge that subscribes twice for the plain topic as well shows no composite bug
    assert check_conduit(Ledger.from_history(demand((2, 2, 2))), FinalState()).valid is True
    assert check_conduit(Ledger.from_history(demand((2, 4, 2))), FinalState()).valid is False
    # a bridge without the plain topic's demand is not judged: it has no control
    assert check_conduit(Ledger.from_history(demand((1, 1, 1), (0, 2, 2))), FinalState()).valid is True


def test_conduit_without_its_evidence_is_unknown() -> None:
    for events in (demand((0, 0, 0), kind="fail"), demand((0, 1, 1)), demand((1, 1, 1))[:1], demand()):
        verdict = check_conduit(Ledger.from_history(events), FinalState())
        assert verdict.valid is None, events


def test_freed_subscriptions_pass() -> None:
    verdict = check_freed(Ledger.from_history(churn(4, 24, 25)), FinalState())
    assert verdict.valid is True and verdict.counts == {"readings": 1, "retained": 0}


def test_every_unsubscribed_subscription_kept_fails_freed() -> None:
    """AMQ-9283: the converter keeps each subscription an UNSUBSCRIBE named by id."""
    verdict = check_freed(Ledger.from_history(churn(4, 24, 224)), FinalState())
    assert verdict.valid is False and verdict.counts["retained"] == 200
    assert "still held 200 STOMP subscriptions after 200" in verdict.note


def test_half_the_cycles_kept_fails_freed_and_fewer_do_not() -> None:
    assert check_freed(Ledger.from_history(churn(4, 24, 124)), FinalState()).valid is False
    assert check_freed(Ledger.from_history(churn(4, 24, 123)), FinalState()).valid is True


def test_freed_without_its_evidence_is_unknown() -> None:
    # the histogram did not see the subscriptions held open: it could not see kept ones either
    blind = check_freed(Ledger.from_history(churn(4, 4, 4)), FinalState())
    assert blind.valid is None and "showed 0 of 20 open subscriptions" in blind.note
    assert check_freed(Ledger.from_history(churn(0, 0, 0, "fail")), FinalState()).valid is None
    assert check_freed(Ledger.from_history(churn(0, 0, 0)[:1]), FinalState()).valid is None


def test_a_full_consumer_marked_slow_passes() -> None:
    verdict = check_marked_slow(Ledger.from_history(full(5, 20, True)), FinalState())
    assert verdict.valid is True and verdict.counts == {"readings": 1, "unmarked": 0}


def test_a_full_consumer_left_unmarked_fails_marked_slow() -> None:
    """AMQ-9153 as 5.17.2 shows it: prefetch 5 held, 15 waiting behind it, SlowConsumer false."""
    verdict = check_marked_slow(Ledger.from_history(full(5, 20, False)), FinalState())
    assert verdict.valid is False and verdict.counts == {"readings": 1, "unmarked": 1}
    assert verdict.evidence["unmarked"] == [{"t": 7.0, "broker": A, "prefetch": 5, "held": 5, "waiting": 15}]
    assert "full prefetch of 5 with 15 messages waiting" in verdict.note


def test_marked_slow_without_a_full_consumer_shown_is_unknown() -> None:
    # the prefetch not full, or full with nothing behind it: the condition the flag is for was not shown
    for dispatched, size in ((4, 20), (5, 5)):
        verdict = check_marked_slow(Ledger.from_history(full(dispatched, size, False)), FinalState())
        assert verdict.valid is None and "no full consumer was shown" in verdict.note, (dispatched, size)
    failed = check_marked_slow(Ledger.from_history(full(0, 0, False, "fail")), FinalState())
    assert failed.valid is None and "timed out" in failed.note
    assert check_marked_slow(Ledger.from_history(full(0, 0, False)[:1]), FinalState()).valid is None


def test_the_probe_checkers_judge_only_runs_with_their_probe() -> None:
    plain_run = [{"t": 1.0, "p": "harness", "type": "ok", "f": "phase", "phase": "load"}]
    names = {v.checker for v in check_all(Ledger.from_history(plain_run), FinalState())}
    assert not names & {"conduit", "freed", "marked-slow"}
    probed = check_all(
        Ledger.from_history(demand((1, 1, 1)) + churn(4, 24, 25) + full(5, 20, True)), FinalState()
    )
    assert {"conduit", "freed", "marked-slow"} <= {v.checker for v in probed}
    assert {"conduit", "freed", "marked-slow"} <= CHECKERS.keys()
