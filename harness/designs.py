"""Configurations of the topology that a run can render: the seed design as written, and variants.

TOPOLOGY selects a public design; variants whose name starts with "control-" exist for negative controls
(a deliberately broken cluster that a checker must catch) and are not offered to users.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.errors import HarnessError


@dataclass(frozen=True)
class Design:
    name: str
    # the slave's non-duplex connector that drains a taken-over store to the other pair's master
    slave_drain_connector: bool = True


DESIGNS: dict[str, Design] = {
    "seed": Design("seed"),
    "control-no-slave-drain": Design("control-no-slave-drain", slave_drain_connector=False),
}
PUBLIC = tuple(name for name in DESIGNS if not name.startswith("control-"))


def design(name: str) -> Design:
    if name not in DESIGNS:
        raise HarnessError(f"unknown TOPOLOGY {name!r}: choose one of {', '.join(PUBLIC)}")
    return DESIGNS[name]
