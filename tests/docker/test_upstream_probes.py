"""The probes of upstream bugs on the real broker: Debian's 5.17.2, the default, predates the fixes of
AMQ-9153 (5.17.3), AMQ-9262 and AMQ-9283 (5.17.5), so this run is the negative control of `marked-slow`,
`conduit` and `freed`: each must report its bug, with the reading's own control (a full prefetch with
messages behind it, the plain topic, the subscriptions held open) seen.

On `hardened` (one duplex bridge between the pairs) both composite consumers' demand crosses that bridge,
so AMQ-9262 shows every time; on `seed`'s two bridges the two demands may take one bridge each, and then
no bridge holds more than the plain topic's one (make bugs counts how often)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.chaos.composite_demand import PARTS, probe_composite_demand
from harness.chaos.full_consumer import PREFETCH, SENT, probe_full_consumer
from harness.chaos.run import ChaosRun
from harness.chaos.spec import RunSpec
from harness.chaos.unsubscribe_churn import CYCLES, HELD, probe_unsubscribe_churn
from harness.cluster.control import Cluster
from harness.design.catalog import design
from tests.support import cluster_settings

pytestmark = pytest.mark.docker

RUNS = Path(__file__).resolve().parents[2] / "runs" / "tests" / "upstream"


def test_the_probe_checkers_catch_amq_9153_9262_and_9283_on_5_17_2(docker_available: None) -> None:
    settings = cluster_settings(design=design("hardened"))
    assert settings.version == "5.17.2", "this control needs a version the three bugs affect"
    with Cluster(settings) as cluster:
        run = ChaosRun(cluster, RunSpec("upstream-probes", 1, RUNS / "probes", drain_timeout=10))
        with run:
            run.load(100)
            probe_composite_demand(run)
            probe_unsubscribe_churn(run)
            probe_full_consumer(run)
    conduit, freed = run.result.verdict("conduit"), run.result.verdict("freed")
    assert conduit.valid is False, conduit.to_json()
    reading = conduit.evidence["readings"][-1]
    # conduit holds for the plain topic on every bridge that carries it: the control the parts are judged by
    assert {counts["chaos.probe.plain"] for counts in reading["bridges"].values()} == {1}, reading
    assert {e["topic"] for e in conduit.evidence["extra"]} == set(PARTS)
    assert all(e["subscriptions"] == 2 for e in conduit.evidence["extra"]), conduit.evidence
    # the bridge subscribed to the composite destination whole, once per consumer
    assert list(reading["composite_subscriptions"].values()) == [2], reading
    assert freed.valid is False, freed.to_json()
    churned = freed.evidence["readings"][-1]
    assert churned["holding"] - churned["before"] >= HELD, churned  # the histogram saw the open ones
    assert freed.counts["retained"] >= CYCLES, churned
    slow = run.result.verdict("marked-slow")
    assert slow.valid is False, slow.to_json()
    # the consumer held its full prefetch, every other message waiting behind it, for the probe's grace
    assert slow.evidence["unmarked"][0] | {"t": 0} == {
        "t": 0,
        "broker": slow.evidence["readings"][-1]["node"],
        "prefetch": PREFETCH,
        "held": PREFETCH,
        "waiting": SENT - PREFETCH,
    }, slow.evidence
    # the bugs fail their own properties only: the probes leave nothing behind for lost, stuck or unexpected
    others = run.result.unexpected - {"conduit", "freed", "marked-slow"}
    assert not others, [v.to_json() for v in run.result.verdicts if v.checker in others]
