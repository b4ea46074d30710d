"""What each ActiveMQ version line can be configured with, so that a design renders only what its broker has.

A design (catalog.py) says what the operator wants; a version line says which of those settings its broker
knows. `fit` drops what the line lacks and says so; the template then renders the fitted design. Facts from
ActiveMQ's release notes and source (docs/designs.md, "Broker versions and version lines", cites each); every line from 5.16 on
was run here, older ones were not.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from harness.design.catalog import DESIGNS, PUBLIC, Design
from harness.errors import HarnessError

Version = tuple[int, int, int]


def parse_version(text: str) -> Version:
    match = re.match(r"^(\d+)\.(\d+)\.(\d+)", text)
    if match is None:
        raise HarnessError(f"ActiveMQ version {text!r} is not X.Y.Z")
    return int(match[1]), int(match[2]), int(match[3])


@dataclass(frozen=True)
class VersionLine:
    name: str
    first: Version
    # the newest STOMP the broker speaks: 1.0 before 5.6 (a STOMP 1.1 connect frame is "Unknown STOMP
    # action"), 1.1 in 5.6 and 5.7, 1.2 from 5.8; the harness speaks 1.0 or 1.2
    stomp: str
    # pure master/slave (masterConnector, waitForSlave): removed in 5.8 (AMQ-4165)
    pure_master_slave: bool
    # <locker><shared-file-locker lockAcquireSleepInterval>: pluggable lockers, 5.7; before, the same retry
    # is kahaDB's databaseLockedWaitDelay
    pluggable_locker: bool
    # lockKeepAlivePeriod acts on the shared file locker from 5.9
    lock_keep_alive: bool
    # conditionalNetworkBridgeFilterFactory replayWhenNoConsumers (and replayDelay): 5.6
    replay_when_no_consumers: bool
    # <ioExceptionHandler><defaultIOExceptionHandler stopStartConnectors>: the attributes are 5.5's, the
    # nested XBean element is not found in 5.5's source, so 5.6 on
    io_exception_handler: bool
    # options for bridges a discovery agent creates need the `discovered.` prefix; 5.5 passes leftover
    # options on without one (first version with the prefix not found: 5.6 is assumed)
    discovered_prefix: bool
    # how the broker names its MBeans (harness.cluster.jmx_names): "5.8" the hierarchy under
    # type=Broker,brokerName= (AMQ-4237, 5.8.0); "5.6" Type=Queue,Destination= and the like, an offline durable
    # subscription named as an active one; "5.5" the same, but an offline one named Type=Subscription,
    # active=false,name=<client>_<subscription> and counting 0 whatever it holds
    mbean_names: str = "5.8"
    # a destination's ForwardCount (AMQ-5289, 5.11.0)
    forward_count: bool = True


LINES: tuple[VersionLine, ...] = (
    VersionLine("5.5", (5, 5, 0), "1.0", True, False, False, False, False, False, "5.5", False),
    VersionLine("5.6", (5, 6, 0), "1.0", True, False, False, True, True, True, "5.6", False),
    VersionLine("5.7", (5, 7, 0), "1.0", True, True, False, True, True, True, "5.6", False),
    VersionLine("5.8", (5, 8, 0), "1.2", False, True, False, True, True, True, "5.8", False),
    VersionLine("5.9-5.10", (5, 9, 0), "1.2", False, True, True, True, True, True, "5.8", False),
    VersionLine("5.11+", (5, 11, 0), "1.2", False, True, True, True, True, True, "5.8", True),
)
NEWEST_LINE_BEFORE: Version = (7, 0, 0)  # 6.x (ActiveMQ Classic 6) keeps the 5.x configuration


def version_line(version: str) -> VersionLine:
    """The line `version` belongs to; a version the harness has no configuration for is a one-line error."""
    parsed = parse_version(version)
    if not LINES[0].first <= parsed < NEWEST_LINE_BEFORE:
        raise HarnessError(
            f"ActiveMQ {version} is not supported: the harness renders configurations for 5.5.0 up to 6.x"
        )
    return [line for line in LINES if line.first <= parsed][-1]


def designs_for(line: VersionLine) -> list[str]:
    """The public designs a line can run, in catalog order: what "each design" means for its broker."""
    runnable = []
    for name in PUBLIC:
        try:
            fit(DESIGNS[name], line)
        except HarnessError:
            continue
        runnable.append(name)
    return runnable


# the STOMP 1.1 line (5.6, 5.7) is spoken to as 1.0: the harness's client speaks 1.0 or 1.2
def stomp_protocol(line: VersionLine) -> str:
    return "1.2" if line.stomp == "1.2" else "1.0"


@dataclass(frozen=True)
class Dropped:
    """A setting of a design its version line does not have, left out of the rendered configuration."""

    setting: str
    since: str

    def __str__(self) -> str:
        return f"{self.setting} (ActiveMQ {self.since}+)"


def fit(design: Design, line: VersionLine) -> tuple[Design, list[Dropped]]:
    """`design` with what `line` lacks left out, and what was left out (the lock retry is not: lines before
    pluggable lockers render it as kahaDB's databaseLockedWaitDelay)."""
    if design.pure_master_slave and not line.pure_master_slave:
        raise HarnessError(
            f"design {design.name} needs ActiveMQ before 5.8 (pure master/slave was removed in 5.8.0); "
            f"this is the {line.name} line: give a 5.5-5.7 tarball as ACTIVEMQ_DIST, or choose seed or hardened"
        )
    changes: dict[str, object] = {}
    dropped: list[Dropped] = []
    if design.lock_keepalive_ms and not line.lock_keep_alive:
        changes["lock_keepalive_ms"] = None
        dropped.append(Dropped("kahaDB lockKeepAlivePeriod", "5.9"))
    if design.replay_when_no_consumers and not line.replay_when_no_consumers:
        changes["replay_when_no_consumers"] = False
        dropped.append(Dropped("conditionalNetworkBridgeFilterFactory replayWhenNoConsumers", "5.6"))
    if design.store_trouble_pauses_connectors and not line.io_exception_handler:
        changes["store_trouble_pauses_connectors"] = False
        dropped.append(Dropped("defaultIOExceptionHandler stopStartConnectors", "5.6"))
    return (dataclasses.replace(design, **changes) if changes else design), dropped  # type: ignore[arg-type]
