"""Scenarios where demand moves: a bridge forwards a queue's messages only toward brokers that advertise
consumers, so what the cluster does with messages already forwarded when the consumers go elsewhere is
the question (the stranding the seed design shows, and hardened's replayWhenNoConsumers answers).
"""

from __future__ import annotations

import pytest

from harness.check.weaknesses import DURABLE, DURABLE_GAP_LOST, SINGLE_FAULT

LOAD = 150  # acknowledged sends between steps (2 producers x 50/s: about 1.5 s)


@pytest.mark.chaos_declares(SINGLE_FAULT)
@pytest.mark.chaos_faults()
def test_move_demand(chaos) -> None:
    """No fault: producers on one pair, consumers on the other (every message crosses the bridge), then the
    consumers move to the producers' pair mid-load. What was forwarded toward them is left behind."""
    with chaos(place={"producer": "producers", "consumer": "consumers"}) as run:
        run.load(LOAD)
        run.move("consumer", "producers")
        run.load(LOAD)


@pytest.mark.chaos_declares(SINGLE_FAULT)
@pytest.mark.chaos_faults("kill")
def test_move_demand_then_kill(chaos) -> None:
    """As move-demand, then the live master the consumers left is killed while it holds what was forwarded
    to it: its partner takes over the store and must get those messages to where the consumers are now."""
    with chaos(place={"producer": "producers", "consumer": "consumers"}) as run:
        run.load(LOAD)
        run.move("consumer", "producers")
        run.load(LOAD // 3)
        victim = run.nemesis.inject("kill", f"live:{run.pair('consumers')}")
        run.await_takeover(victim)
        run.load(LOAD)


@pytest.mark.chaos_declares(SINGLE_FAULT)
@pytest.mark.chaos_faults("restart")
def test_demand_race(chaos) -> None:
    """24 queues nobody has used yet, consumers on one pair and producers on the other starting together, so
    each queue's demand crosses the bridge while the queue is being created on both sides; then the consumers'
    live master restarts and all 24 demands cross again at once (AMQ-8023, fixed in 5.17.0, lost such demand
    and left the messages where they were sent)."""
    with chaos(shape={"queues": 24}, place={"producer": "producers", "consumer": "consumers"}) as run:
        run.load(2 * LOAD)
        run.nemesis.inject("restart", f"live:{run.pair('consumers')}")
        run.load(2 * LOAD)


@pytest.mark.chaos_declares(SINGLE_FAULT)
@pytest.mark.chaos_faults("kill")
def test_many_queues(chaos) -> None:
    """Messages spread over 12 queues by the seed, consumers that leave and come back elsewhere every ~4 s
    (so each queue's demand keeps moving between the pairs), and the live master of a random pair killed."""
    with chaos(shape={"queues": 12, "churn": 4.0}) as run:
        run.load(2 * LOAD)
        victim = run.nemesis.inject("kill", "live:random")
        run.await_takeover(victim)
        run.load(2 * LOAD)


@pytest.mark.chaos_known_bug({"seed": DURABLE_GAP_LOST})
@pytest.mark.chaos_declares(DURABLE)
@pytest.mark.chaos_faults("kill")
def test_durable_topic(chaos) -> None:
    """Two durable subscribers on the pair the publisher is not on (every message crosses a bridge), going
    away and coming back every ~3 s, while the live master of their pair is killed: each must receive every
    message published while its subscription existed, including those published while it was away."""
    shape = {"subscribers": 2, "churn": 3.0}
    with chaos(shape=shape, place={"subscriber": "subscribers", "publisher": "publishers"}) as run:
        run.load(LOAD)
        victim = run.nemesis.inject("kill", f"live:{run.pair('subscribers')}")
        run.await_takeover(victim)
        run.load(LOAD)
