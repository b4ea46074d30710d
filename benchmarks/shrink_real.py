"""Records a failing run on the real cluster and shrinks it, printing how long each part took.

    .venv/bin/python benchmarks/shrink_real.py [TRIES]

The source run is `hardened` with two faults: a slow link on pair 02's master for 3 s (irrelevant) and the VIP
cut from every broker for 20 s (over hardened's 15 s limit: `available` fails, undeclared). The shrinker should
keep the cut alone, find that a 10 s cut passes (so keep 20 s), and lower the rate while the gap still shows.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time
from pathlib import Path

from harness.chaos.run import ChaosRun
from harness.chaos.schedule import Step
from harness.chaos.spec import RunSpec
from harness.check.weaknesses import SINGLE_FAULT
from harness.cluster.control import Cluster, free_port
from harness.design.catalog import design
from harness.settings import ROOT, Settings, stamped_folder


def record_source(folder: Path) -> Path:
    settings = dataclasses.replace(
        Settings.from_env(), vip_port=free_port(), runs_dir=folder, design=design("hardened")
    )
    with Cluster(settings, log=lambda *_: None) as cluster:
        brokers = frozenset(n.name for n in cluster.topology.nodes)
        run = ChaosRun(
            cluster, RunSpec("shrink-source", 3, folder / "source", expected=SINGLE_FAULT["hardened"])
        )
        with run:
            run.load(100)
            run.play([Step(0.0, "slow", "live:02", 3.0)])
            run.nemesis.inject_grudge({"vip": brokers}, "the VIP from every broker")
            time.sleep(20)
            run.nemesis.heal()
            run.load(100)
    assert run.result is not None
    print(f"source run: unexpected {sorted(run.result.unexpected)}, {run.history.path}")
    return run.history.path


def main() -> None:
    tries = sys.argv[1] if len(sys.argv) > 1 else "1"
    folder = stamped_folder(ROOT / "runs" / "bench", "shrink", "source")
    started = time.monotonic()
    history = record_source(folder)
    recorded = time.monotonic() - started
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "harness", "shrink", str(history), "--tries", tries], cwd=ROOT, check=True
    )
    print(
        f"recording the source: {recorded:.0f} s; shrinking with TRIES={tries}: {time.monotonic() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
