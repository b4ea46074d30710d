"""amq-class-count's output read: a count for each class asked for, or a one-line error, never a 0 made up."""

from __future__ import annotations

import pytest

from harness.cluster.introspect import parse_class_counts
from harness.errors import HarnessError

STOMP_SUB = "org.apache.activemq.transport.stomp.StompSubscription"


def test_counts_are_read_per_class() -> None:
    output = f"OpenJDK warning: sharing\nclass\t{STOMP_SUB}\t224\t10752\nclass\tjava.lang.String\t9\t216\nend\t2100\n"
    assert parse_class_counts(output, [STOMP_SUB, "java.lang.String"]) == {
        STOMP_SUB: 224,
        "java.lang.String": 9,
    }


@pytest.mark.parametrize(
    ("output", "why"),
    [
        (f"class\t{STOMP_SUB}\t224\t10752\n", "no end line"),
        ("end\t2100\n", "no count for " + STOMP_SUB),
        (f"class\t{STOMP_SUB}\tmany\t0\nend\t2100\n", "no count for " + STOMP_SUB),
    ],
)
def test_a_cut_or_garbled_histogram_is_an_error(output: str, why: str) -> None:
    with pytest.raises(HarnessError, match=why):
        parse_class_counts(output, [STOMP_SUB])
