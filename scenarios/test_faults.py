"""The original scenarios: one fault on a node named by its role, mid-load, then heal and check.

Each reads: start -> load -> fault -> load -> (heal, recover, probe, load, drain, check on leaving the
block, which also decides the verdict). A violation passes only where the scenario declares it for the
design (`chaos_declares`: design -> checker -> why), and only when every witness shows the declared mechanism.
"""

from __future__ import annotations

import pytest

from harness.chaos.schedule import COMBINED_KINDS, RANDOM_KINDS, Step, combined_schedule
from harness.check.weaknesses import BRIDGE_SILENT, REDELIVERED, SEED_WEAKNESSES, SINGLE_FAULT

LOAD = 150  # acknowledged sends between steps (2 producers x 50/s: about 1.5 s)


@pytest.mark.chaos_declares(SINGLE_FAULT)
@pytest.mark.chaos_faults("kill")
def test_kill_live_master(chaos) -> None:
    """kill -9 the live broker of a random pair: its partner takes over and drains to the other master."""
    with chaos() as run:
        run.load(LOAD)
        victim = run.nemesis.inject("kill", "live:random")
        run.await_takeover(victim)
        run.load(LOAD)


@pytest.mark.chaos_declares(SINGLE_FAULT)
@pytest.mark.chaos_faults("stop")
def test_graceful_stop_master(chaos) -> None:
    """Controlled shutdown of a live master (the AMQ-3364 pattern the seed post worked around with kill -9)."""
    with chaos() as run:
        run.load(LOAD)
        victim = run.nemesis.inject("stop", "live:random")
        run.await_takeover(victim)
        run.load(LOAD)


@pytest.mark.chaos_declares(SINGLE_FAULT)
@pytest.mark.chaos_faults("restart")
def test_restart_master(chaos) -> None:
    """Restart the live broker of a random pair: either node of the pair ends up live, bridges resume."""
    with chaos() as run:
        run.load(LOAD)
        run.nemesis.inject("restart", "live:random")
        run.load(LOAD)


@pytest.mark.chaos_declares(SINGLE_FAULT)
@pytest.mark.chaos_faults("freeze")
def test_freeze_master(chaos) -> None:
    """Freeze (docker pause) a live master: it keeps its lock, so nobody takes over until it is thawed."""
    with chaos() as run:
        run.load(LOAD)
        run.nemesis.inject("freeze", "live:random")
        run.load(LOAD)
        run.nemesis.heal()
        run.load(LOAD)


@pytest.mark.chaos_declares(SINGLE_FAULT)
@pytest.mark.chaos_faults("freeze")
def test_freeze_consumers_master(chaos) -> None:
    """Consumers placed on the pair whose master freezes, producers on the other: every message crosses the
    bridge toward the consumers, who move to the other master while it is frozen (the stranding pattern).
    Frozen for 8 s: long enough for the VIP to drop them, whatever the load does meanwhile."""
    with chaos(place={"consumer": "victim", "producer": "other"}) as run:
        run.load(LOAD)
        run.play([Step(0.0, "freeze", f"live:{run.pair('victim')}", hold=8.0)])
        run.load(LOAD)


@pytest.mark.chaos_known_bug({"seed": BRIDGE_SILENT})
@pytest.mark.chaos_declares(SINGLE_FAULT)
@pytest.mark.chaos_faults("freeze")
def test_freeze_peer_long(chaos) -> None:
    """A live master frozen for 45 s: longer than a bridge's default inactivity limit (30 s), and long enough
    for the other pair's bridge to give up, reconnect into the frozen peer (whose kernel still accepts the
    connection) and have its handshake stall. After the thaw every bridge must forward again."""
    with chaos() as run:
        run.load(LOAD)
        run.play([Step(0.0, "freeze", "live:random", hold=45.0)])
        run.load(LOAD)


@pytest.mark.chaos_declares({"seed": {"duplicated": REDELIVERED}, "hardened": {"duplicated": REDELIVERED}})
@pytest.mark.chaos_faults("partition-pairs")
def test_partition_pairs(chaos) -> None:
    """The pairs cannot reach each other while the VIP reaches both: bridges stall, clients carry on."""
    with chaos() as run:
        run.load(LOAD)
        run.nemesis.inject("partition-pairs")
        run.load(LOAD)


@pytest.mark.chaos_declares(SINGLE_FAULT)
@pytest.mark.chaos_faults("isolate")
def test_isolate_master(chaos) -> None:
    """A live master loses its peers and its clients (packets dropped, no reset), then comes back."""
    with chaos() as run:
        run.load(LOAD)
        run.nemesis.inject("isolate", "live:random", "both")
        run.load(LOAD)


@pytest.mark.chaos_declares(SEED_WEAKNESSES)
@pytest.mark.chaos_faults("restart")
def test_rolling_restart(chaos) -> None:
    """Restart all four, one at a time, waiting node first in each pair, as an operator would."""
    with chaos() as run:
        run.load(LOAD)
        for pair in run.cluster.topology.pairs:
            run.nemesis.inject("restart", f"waiting:{pair}")
            run.cluster.wait_pairs(run.recovery_timeout)
            run.nemesis.inject("restart", f"live:{pair}")
            run.cluster.wait_pairs(run.recovery_timeout)
            run.load(LOAD // 2)


@pytest.mark.chaos_declares(SEED_WEAKNESSES)
@pytest.mark.chaos_faults(*RANDOM_KINDS)
def test_random_chaos(chaos, chaos_minutes, fault_plan) -> None:
    """Random faults from the seed every 20 s for CHAOS_MINUTES (default 1), each healed after about 8 s
    (FAULTS=, INTERVAL= and HOLD= choose the kinds and the times)."""
    with chaos() as run:
        run.load(LOAD)
        run.play(fault_plan.schedule(run.seed, chaos_minutes * 60))
        run.load(LOAD // 2)


@pytest.mark.chaos_declares({"seed": {"duplicated": REDELIVERED}, "hardened": {"duplicated": REDELIVERED}})
@pytest.mark.chaos_faults("lossy")
def test_lossy_bridge(chaos) -> None:
    """30 % of the packets between the pairs' live nodes dropped for a while: bridges retransmit, nothing is lost."""
    with chaos() as run:
        run.load(LOAD)
        run.nemesis.inject("lossy", "0.3")
        run.load(LOAD)


@pytest.mark.chaos_declares(SINGLE_FAULT)
@pytest.mark.chaos_faults("slow")
def test_slow_master(chaos) -> None:
    """A live master's outgoing bandwidth cut to 256 kbit/s (tc tbf) under load."""
    with chaos() as run:
        run.load(LOAD)
        run.nemesis.inject("slow", "live:random")
        run.load(LOAD)


@pytest.mark.chaos_declares(SEED_WEAKNESSES)
@pytest.mark.chaos_faults(*COMBINED_KINDS)
def test_combined_chaos(chaos, chaos_minutes) -> None:
    """Jepsen's combined nemesis: faults from the seed every ~10 s, each held ~20 s, so about two are in force
    at once (a kill and a partition, a freeze of one pair's master while the other's restarts...), for
    CHAOS_MINUTES (default 1); the end of the run heals whatever is left."""
    with chaos() as run:
        run.load(LOAD)
        run.play(combined_schedule(run.seed, duration=chaos_minutes * 60), overlapping=True)
        run.load(LOAD // 2)
