"""What a run's faults may leave inside a node, and its removal, for the backends that reach a node by
running commands in it (SSH hosts, Kubernetes pods): the run's tagged filter rules, any shaping on the
broker's interface, the lock holder and the ballast in the store. The names are the ones the fault families
use (harness.chaos.mechanisms.store imports them from here), so a sweep finds what a fault made."""

from __future__ import annotations

import shlex
from collections.abc import Callable

from harness.errors import HarnessError

BALLAST = "amqchaos-ballast"  # the file fill-store writes into a store volume (and its top-up, .rest)
HOLDER_TAG = "amqchaos-hold-lock"  # what the lock holder's command line carries
# pkill's pattern for it: the bracket keeps the pattern from matching the pkill's own command line
HOLDER_PATTERN = f"{HOLDER_TAG[:-1]}[{HOLDER_TAG[-1]}]"

# runs a command in the node with a deadline: (exit code, output); the shape of introspect.Exec, which a
# backend's node_exec gives (not imported: the fault families import this module, never introspection)
Run = Callable[[list[str], float], tuple[int, str]]
TIMEOUT = 30.0


def remove_leftovers(run: Run, node: str, tag: str, interface: str, store: str) -> None:
    """Delete the INPUT rules carrying `tag`, the shaping on `interface`, the lock holder and the ballast in
    `store`. A node whose rules cannot be listed is an error: its partitions may still be in force."""
    code, rules = run(["iptables", "-S", "INPUT"], TIMEOUT)
    if code != 0:
        raise HarnessError(f"{node}: iptables -S failed: {rules.strip()[:200]}")
    for rule in rules.splitlines():
        if rule.startswith("-A ") and tag in rule:
            run(["iptables", "-D", *shlex.split(rule)[1:]], TIMEOUT)
    # shaping and the rest: nothing else there is the harness's to keep
    run(["tc", "qdisc", "del", "dev", interface, "root"], TIMEOUT)
    run(["pkill", "-f", HOLDER_PATTERN], TIMEOUT)
    run(["rm", "-f", f"{store}/{BALLAST}", f"{store}/{BALLAST}.rest"], TIMEOUT)
