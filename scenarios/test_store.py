"""The pairs' shared store in trouble: full, its lock file lost, its lock held by something that is no broker.

The store-full scenario runs on size-limited stores (tmpfs volumes of `chaos_cluster(store_size=...)`), the
others on ordinary ones.
"""

from __future__ import annotations

import pytest

from harness.chaos.schedule import Step
from harness.check.weaknesses import ACK_REFUSED_HELD, REFUSED_YET_DELIVERED, SINGLE_FAULT, SPLIT_BRAIN

LOAD = 150  # acknowledged sends between steps (2 producers x 50/s: about 1.5 s)


@pytest.mark.chaos_cluster(store_size="96m")
@pytest.mark.chaos_known_bug(
    {"seed": f"{REFUSED_YET_DELIVERED}; and {ACK_REFUSED_HELD}", "hardened": ACK_REFUSED_HELD}
)
@pytest.mark.chaos_declares(SINGLE_FAULT)
@pytest.mark.chaos_faults("fill-store")
def test_store_full(chaos) -> None:
    """A random pair's store volume fills up under load for 8 s: its live broker must refuse what it cannot
    store, and once there is room again store and forward as before; nothing acknowledged may be lost."""
    with chaos() as run:
        run.load(LOAD)
        run.play([Step(0.0, "fill-store", "random", hold=8.0)])
        run.load(LOAD)


@pytest.mark.chaos_known_bug({"seed": SPLIT_BRAIN})
@pytest.mark.chaos_declares(SINGLE_FAULT)
@pytest.mark.chaos_faults("lose-lock")
def test_lose_lock(chaos) -> None:
    """A random pair's lock file is deleted under its live broker: a broker that checks its lock
    (lockKeepAlivePeriod) stops, its partner takes over, and the clients follow. Where it does not (seed,
    run by make bugs), the pair never gets back to one live broker: 30 s is ample to see that."""
    with chaos(recovery_timeout=30) as run:
        run.load(LOAD)
        # 12 s under load before the pairs are checked: a seed slave tries the lock every 10 s
        run.play([Step(0.0, "lose-lock", "random", hold=12.0)])
        run.load(LOAD)


@pytest.mark.chaos_declares(SINGLE_FAULT)
@pytest.mark.chaos_faults("hold-lock", "kill")
def test_stale_lock(chaos) -> None:
    """A random pair's live broker is killed while a process that is no broker waits for its lock (an NFS
    lease outliving its client): neither node of the pair can serve for 8 s; the other pair carries on, and
    once the lock is released the pair takes over and what its store holds is delivered."""
    with chaos() as run:
        run.load(LOAD)
        pair = run.nemesis.inject("hold-lock", "random")
        # the heal after 8 s heals every fault in force: the killed broker starts, the stand-in ends
        run.play([Step(0.0, "kill", f"live:{pair}", hold=8.0)])
        run.load(LOAD)
