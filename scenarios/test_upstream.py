"""ActiveMQ's own bugs, each reproduced in as few steps as show it, on the versions before its fix.

Each scenario runs the ordinary load around a probe of one behaviour its bug broke, and a checker reads the
probe's record (harness.check.conduit, harness.check.freed, harness.check.marked_slow). On a version the bug affects the scenario is
skipped with the bug named, unless KNOWN_BUGS=1 (make bugs runs it there to show the bug); on a fixed
version it must pass.
"""

from __future__ import annotations

import pytest

from harness.chaos.composite_demand import probe_composite_demand
from harness.chaos.full_consumer import probe_full_consumer
from harness.chaos.unsubscribe_churn import probe_unsubscribe_churn

LOAD = 150  # acknowledged sends between steps (2 producers x 50/s: about 1.5 s)


@pytest.mark.chaos_upstream_bug("AMQ-9262", "5.17.5")
@pytest.mark.chaos_faults()
def test_composite_demand(chaos) -> None:
    """Two consumers on one pair's broker subscribe to a plain topic and to a composite destination of two
    other topics: the other pair's broker must hold as many bridge subscriptions for each of those as for the
    plain topic (one, with conduit subscriptions), so that a message crosses the bridge once."""
    with chaos() as run:
        run.load(LOAD)
        probe_composite_demand(run)
        run.load(LOAD)


@pytest.mark.chaos_upstream_bug("AMQ-9283", "5.17.5")
@pytest.mark.chaos_faults()
def test_unsubscribe_churn(chaos) -> None:
    """One STOMP connection subscribes and unsubscribes 200 times by id, staying connected: its broker must
    not keep the subscriptions it ended (counted in its heap's class histogram)."""
    with chaos() as run:
        run.load(LOAD)
        probe_unsubscribe_churn(run)
        run.load(LOAD)


@pytest.mark.chaos_upstream_bug("AMQ-9153", "5.17.3")
@pytest.mark.chaos_faults()
def test_full_consumer(chaos) -> None:
    """A queue consumer with a prefetch of 5 acknowledges nothing while 20 messages arrive: its broker must
    mark it a slow consumer (what slow-consumer advisories and abortSlowConsumerStrategy act on)."""
    with chaos() as run:
        run.load(LOAD)
        probe_full_consumer(run)
        run.load(LOAD)
